"""Known deviations (``known_deviations.toml``) and the checks that show each still holds.

Each check calls the implementation on a minimal input and returns the pair
``(observed, mathematics)``; the test asserts the observation matches the
recorded behaviour, so a change upstream (a fix) is noticed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

DEVIATIONS_FILE = Path(__file__).with_name("known_deviations.toml")
REQUIRED_FIELDS = ("loss", "subject", "condition", "behaviour", "mathematics", "reason", "upstream", "check")


def load() -> dict[str, dict]:
    with DEVIATIONS_FILE.open("rb") as f:
        return tomllib.load(f)


def cosine_zero_vector_float16_is_nan() -> bool:
    """torch float16 cosine_embedding_loss of a zero vector is NaN; the reference gives 1 - 0 = 1."""
    import torch
    import torch.nn.functional as F

    import refimpl

    a = np.zeros((1, 3))
    b = np.array([[1.0, 2.0, 3.0]])
    y = np.ones(1)
    out = F.cosine_embedding_loss(*(torch.tensor(v, dtype=torch.float16) for v in (a, b, y)), reduction="none")
    ref = refimpl.cosine_embedding(a, b, y, reduction="none")
    return bool(torch.isnan(out).all()) and bool(np.all(ref == 1.0))


CHECKS = {"cosine_zero_vector_float16_is_nan": cosine_zero_vector_float16_is_nan}
