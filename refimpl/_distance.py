"""Row-wise p-norms without overflow or underflow, for the embedding losses."""

from __future__ import annotations

import numpy as np

from ._common import rowwise


def pnorm_rows(v: np.ndarray, p: float, *, overwrite: bool = False) -> np.ndarray:
    """``(sum_k |v_k|^p)^(1/p)`` along the last axis, scaled by the row maximum.

    ``m * (sum (|v|/m)^p)^(1/p)`` cannot overflow or lose tiny rows to underflow;
    p = 1 and p = 2 avoid the general power.  ``overwrite=True`` lets the function
    use ``v`` (a temporary of the caller's) as its scratch space.
    """
    if overwrite:
        return rowwise(lambda b: _pnorm_of_abs(np.abs(b, out=b), p), v)
    return rowwise(lambda b: _pnorm_of_abs(np.abs(b), p), v)


def _pnorm_of_abs(a: np.ndarray, p: float) -> np.ndarray:
    """:func:`pnorm_rows` of ``a = |v|``, overwriting ``a``."""
    m = np.max(a, axis=-1, keepdims=True) if a.shape[-1] else np.zeros(a.shape[:-1] + (1,))
    safe = np.where(m > 0, m, 1.0)
    with np.errstate(invalid="ignore"):  # inf / inf: the row's norm is inf (below)
        s = np.divide(a, safe, out=a)
    if p == 2.0:
        acc = np.sqrt(np.sum(np.multiply(s, s, out=s), axis=-1))
    elif p == 1.0:
        acc = np.sum(s, axis=-1)
    else:
        s **= p
        acc = np.sum(s, axis=-1) ** (1.0 / p)
    m = np.squeeze(m, -1)
    # a row holding an infinity (and no NaN, which max propagates) has an infinite norm: inf / inf in the
    # scaling would make it NaN
    return np.where(np.isposinf(m), np.inf, m * acc)
