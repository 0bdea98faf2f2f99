"""Shared machinery of the mpmath transcriptions (``refimpl.exact.<loss>``): exact conversion,
high-precision context, exact sums, reductions and the few formulas several losses share."""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np

_DPS = 60  # working precision in significant decimal digits (>= 50 required)

_REDUCTIONS = ("none", "mean", "sum")
_NAN = mpmath.mpf("nan")
_ZERO = mpmath.mpf(0)
_ONE = mpmath.mpf(1)


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------

def _high_precision(fn):
    """Run ``fn`` inside a local ``mpmath.workdps`` context (>= ``_DPS`` digits)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with mpmath.workdps(max(_DPS, mpmath.mp.dps)):
            return fn(*args, **kwargs)

    return wrapper


def _mp(x) -> np.ndarray:
    """Exact conversion of a float array (or scalar) to an object array of ``mpf``; ``mpf`` entries of
    an object array are kept as they are (a derivative taken through one entry, ``mpmath.diff``)."""
    a = np.asarray(x, dtype=object if np.asarray(x).dtype == object else np.float64)
    out = np.empty(a.shape, dtype=object)
    for idx, v in np.ndenumerate(a):
        out[idx] = v if isinstance(v, mpmath.mpf) else mpmath.mpf(float(v))
    return out


def _map(fn, *arrays) -> np.ndarray:
    """Apply the scalar function ``fn`` elementwise over numpy-broadcast arrays."""
    arrays = np.broadcast_arrays(*[np.asarray(a, dtype=object) for a in arrays])
    shape = arrays[0].shape if arrays else ()
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = fn(*(a[idx] for a in arrays))
    return out


def _rows(fn, *arrays, axes=(-1,), per_row=()) -> np.ndarray:
    """Apply ``fn`` to the sub-arrays spanned by ``axes``; those axes are removed.

    The arrays must share one shape.  ``fn`` receives, for each position of the
    remaining axes, the flattened 1-D object arrays of the reduced axes,
    followed by that position's element of each ``per_row`` array (arrays of
    the output shape).
    """
    arrays = [np.asarray(a, dtype=object) for a in arrays]
    nd = arrays[0].ndim
    axes = sorted({ax % nd for ax in axes})
    keep = [ax for ax in range(nd) if ax not in axes]
    moved = [np.transpose(a, keep + axes) for a in arrays]
    out_shape = tuple(arrays[0].shape[ax] for ax in keep)
    out = np.empty(out_shape, dtype=object)
    for idx in np.ndindex(out_shape):
        out[idx] = fn(*(m[idx].reshape(-1) for m in moved), *(r[idx] for r in per_row))
    return out


def _scalar(v) -> np.ndarray:
    """A 0-d object array holding ``v``."""
    out = np.empty((), dtype=object)
    out[()] = v
    return out


def _sum(values) -> mpmath.mpf:
    """Sum of ``mpf`` values (mpmath.fsum: exact accumulation, one final rounding)."""
    return mpmath.fsum(list(np.asarray(values, dtype=object).reshape(-1)))


def _div(num, den) -> mpmath.mpf:
    """``num / den`` with IEEE-like results for a zero denominator (0/0 -> nan, a/0 -> +-inf)."""
    if den == 0:
        if num == 0 or mpmath.isnan(num):
            return _NAN
        return mpmath.inf if num > 0 else -mpmath.inf
    return num / den


def _xadd(*values) -> mpmath.mpf:
    """Exact sum (no rounding) of ``mpf`` values."""
    return functools.reduce(lambda a, b: mpmath.fadd(a, b, exact=True), values, _ZERO)


def _xdot(a, b) -> mpmath.mpf:
    """Exact inner product (no rounding) of two equal-length ``mpf`` sequences."""
    return _xadd(*(mpmath.fmul(u, v, exact=True) for u, v in zip(a, b)))


def _check_reduction(reduction, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"invalid reduction {reduction!r}; expected one of {', '.join(map(repr, allowed))}")


def _reduce(terms, reduction: str, allowed=_REDUCTIONS) -> np.ndarray:
    """'none' -> terms unchanged, 'sum' -> exact sum, 'mean' -> sum / count (empty -> nan)."""
    _check_reduction(reduction, allowed)
    terms = np.asarray(terms, dtype=object)
    if reduction == "none":
        return terms
    total = _sum(terms)
    if reduction == "sum":
        return _scalar(total)
    if reduction == "mean":
        return _scalar(_div(total, mpmath.mpf(terms.size)))
    raise ValueError(f"reduction {reduction!r} must be handled by the caller")


def _finite_param(name: str, value) -> mpmath.mpf:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return mpmath.mpf(v)


def _sigmoid(z) -> mpmath.mpf:
    """sigma(z) = 1 / (1 + exp(-z)); accurate for every z since exp cannot overflow."""
    return 1 / (1 + mpmath.exp(-z))


def _softplus(z) -> mpmath.mpf:
    """log(1 + exp(z)) = -log(sigmoid(-z)) = -log(1 - sigmoid(z))."""
    return mpmath.log1p(mpmath.exp(z))


def _pnorm(v, p) -> mpmath.mpf:
    """(sum_k |v_k|^p)^(1/p) for p > 0; max_k |v_k| for p = inf."""
    if mpmath.isinf(p):
        return max((abs(x) for x in v), default=_ZERO)
    return mpmath.power(mpmath.fsum(mpmath.power(abs(x), p) for x in v), 1 / p)


def _pm1_where(t, pos, neg) -> mpmath.mpf:
    """Select ``pos`` for target +1 and ``neg`` for target -1 (other targets are an error)."""
    if t == 1:
        return pos
    if t == -1:
        return neg
    raise ValueError(f"target values must be 1 or -1, got {t}")


def _check_bce_shape(input, target) -> None:
    if np.shape(input) != np.shape(target):
        raise ValueError(f"target shape {np.shape(target)} must equal input shape {np.shape(input)}")


def _check_embedding_dims(*arrays) -> None:
    shape = arrays[0].shape
    if len(shape) not in (1, 2) or any(a.shape != shape for a in arrays):
        raise ValueError(f"inputs must share one shape (N, D) or (D,), got {[a.shape for a in arrays]}")
