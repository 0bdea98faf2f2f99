"""Row-wise p-norms without overflow or underflow, for the embedding losses."""

from __future__ import annotations

import numpy as np


def pnorm_rows(v: np.ndarray, p: float) -> np.ndarray:
    """``(sum_k |v_k|^p)^(1/p)`` along the last axis, scaled by the row maximum.

    ``m * (sum (|v|/m)^p)^(1/p)`` cannot overflow or lose tiny rows to underflow;
    p = 1 and p = 2 avoid the general power.
    """
    a = np.abs(v)
    m = np.max(a, axis=-1, keepdims=True) if a.shape[-1] else np.zeros(a.shape[:-1] + (1,))
    safe = np.where(m > 0, m, 1.0)
    s = a / safe
    if p == 2.0:
        acc = np.sqrt(np.sum(s * s, axis=-1))
    elif p == 1.0:
        acc = np.sum(s, axis=-1)
    else:
        acc = np.sum(s**p, axis=-1) ** (1.0 / p)
    return np.squeeze(m, -1) * acc
