"""Third-party implementations as subjects (MONAI, kornia, torchvision, pytorch-metric-learning).

One module per library (``monai``, ``kornia``, ``torchvision``, ``metric_learning``), each with

- ``LIBRARY``: the module that must import for its subjects to exist (``torchvision.ops``), and
- ``subjects(version) -> {loss: [Subject, ...]}``: the adapters, each a function with the loss's
  contract signature (tensors positional, parameters by keyword) that translates the library's
  conventions to the contract, and says where the comparison holds (``admits``, ``dtypes``,
  ``variants``, ``limits``) and what it translates (``conventions``); ``origin="thirdparty"``,
  a per-call ``timeout``.

``thirdparty_subjects(spec)`` returns the adapters of ``spec``'s loss whose library imports.  A
library that does not import (absent, or broken: torchvision raises RuntimeError on a torch
version mismatch) gives no subjects, silently; the import is tried once per process and the
result cached.  An error in an adapter module itself is not swallowed.  Where a library's loss
cannot reproduce the contract exactly (kornia's dice_loss, pytorch-metric-learning's
ContrastiveLoss), its module says why and defines no subject.
"""

from __future__ import annotations

import importlib
from functools import cache

#: Adapter modules (in this package), in the order their subjects are listed.
MODULES = ("torchvision", "monai", "kornia", "metric_learning", "keras", "fvcore")


@cache
def library_version(library: str) -> str | None:
    """The version of ``library`` (an importable module name) if it imports, else None (cached)."""
    try:
        importlib.import_module(library)
    except Exception:  # absent, or broken at import: no adapters
        return None
    root = importlib.import_module(library.partition(".")[0])
    return str(getattr(root, "__version__", "unknown"))


@cache
def _all_subjects() -> dict[str, tuple]:
    by_loss: dict[str, list] = {}
    for name in MODULES:
        adapter = importlib.import_module(f"{__name__}.{name}")
        version = library_version(adapter.LIBRARY)
        if version is None:
            continue
        for loss, subjects in adapter.subjects(version).items():
            by_loss.setdefault(loss, []).extend(subjects)
    return {loss: tuple(subjects) for loss, subjects in by_loss.items()}


def thirdparty_subjects(spec) -> list:
    """The adapters of ``spec``'s loss whose library imports (the same Subject objects every call)."""
    return list(_all_subjects().get(spec.name, ()))
