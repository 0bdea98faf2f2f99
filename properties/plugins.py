"""User implementations ("plug-ins") named on the command line: ``LOSS=MODULE:ATTR``.

``MODULE`` is imported as Python would (the current directory first on ``sys.path``); ``ATTR``
(dotted for nested attributes) is a function following the loss's contract -- tensors
positional, parameters by keyword -- or an ``nn.Module`` subclass, which is constructed with
the parameters as keyword arguments, moved to the first tensor's device and called with the
tensors.  Loading never raises for a broken plug-in: the subject carries a one-line diagnosis
(``Subject.broken``) that ``tests/gate/test_gate.py`` reports as a failure.

A plug-in may declare conventions and API limits (``properties.conventions``): an attribute
``lossproof_conventions`` of the function or class, ``--convention LOSS=NAME[=VALUE]`` on the
command line, ``[tool.lossproof] conventions`` in ./pyproject.toml.  They become
``Subject.declared``; a declaration outside the vocabulary is a usage error
(:class:`~properties.conventions.ConventionError`, a ValueError), raised by :func:`load_all`.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import sys

from .subjects import Subject, timeout_seconds

ENV = "LOSSPROOF_IMPL"


def parse(values: list[str], losses) -> dict[str, list[str]]:
    """``["focal=m:f", "dice=m:D,mse=m:g"]`` -> ``{"focal": ["m:f"], ...}``; ValueError naming the problem."""
    out: dict[str, list[str]] = {}
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            loss, eq, target = item.partition("=")
            loss, target = loss.strip(), target.strip()
            if not eq or ":" not in target or not loss:
                raise ValueError(f"--impl {item!r}: expected LOSS=MODULE:ATTR, e.g. focal=mylosses:focal_loss")
            if loss not in losses:
                raise ValueError(f"--impl {item!r}: unknown loss {loss!r}; one of {', '.join(losses)}")
            out.setdefault(loss, []).append(target)
    return out


def _module_call(cls):
    def call(*tensors, **params):
        module = cls(**params)
        first = next((t for t in tensors if hasattr(t, "device")), None)
        if first is not None and hasattr(module, "to"):
            module = module.to(first.device)
        return module(*tensors)

    return call


def load(loss: str, target: str, index: int = 0, cli: dict | None = None, pyproject: dict | None = None) -> Subject:
    """The plug-in ``target`` (``MODULE:ATTR``) for ``loss`` as a subject (``broken`` set on failure),
    with its declared conventions (its attribute, ``cli`` ``{loss: [NAME[=VALUE], ...]}`` and
    ``pyproject`` ``{"LOSS=MODULE:ATTR" or "LOSS": [...]}``; ConventionError for a bad one)."""
    name = "impl" if index == 0 else f"impl{index + 1}"
    module_name, _, attr = target.partition(":")
    broken = lambda why: Subject(loss, name, target, None, origin="plugin", broken=f"{loss}={target}: {why}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except BaseException as exc:  # SyntaxError, SystemExit in a module body ... all become a diagnosis
        return broken(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}")
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        return broken(f"module {module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        return broken(f"{attr!r} is a {type(obj).__name__}, not callable (expected a function or an nn.Module class)")
    qualname = f"{module_name}.{attr}"
    if inspect.isclass(obj):
        import torch

        if not issubclass(obj, torch.nn.Module):
            return broken(f"{attr!r} is a class but not an nn.Module subclass")
        subject = Subject(loss, name, qualname, _module_call(obj), origin="plugin", signature=obj,
                          timeout=timeout_seconds())
    else:
        subject = Subject(loss, name, qualname, obj, origin="plugin", timeout=timeout_seconds())
    from .conventions import declarations

    declared = declarations(loss, target, obj, subject._params, cli or {}, pyproject or {})
    return dataclasses.replace(subject, declared=declared) if declared else subject


def load_all(specs: dict[str, list[str]], conventions: list[str] = (), directory=None) -> dict[str, list[Subject]]:
    """The plug-ins ``{loss: [MODULE:ATTR, ...]}`` as subjects, with the conventions declared for
    them (``conventions``: ``--convention`` values; ``directory``: where pyproject.toml is read,
    default the current directory).  ConventionError (a ValueError) for a declaration that is not
    in the vocabulary, does not apply to its loss, or is made for a loss without a plug-in."""
    from .conventions import ConventionError, parse_cli, read_pyproject
    from .specs import SPECS

    cli = parse_cli(list(conventions), list(SPECS))
    pyproject = read_pyproject(directory)
    for loss in cli:
        if loss not in specs:
            raise ConventionError(f"--convention {loss}=...: no plug-in of {loss} is checked (--impl {loss}=MODULE:ATTR)")
    return {loss: [load(loss, t, i, cli, pyproject) for i, t in enumerate(targets)] for loss, targets in specs.items()}
