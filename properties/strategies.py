"""Hypothesis building blocks for the loss input domains (on ``hypothesis.extra.numpy``).

Magnitudes are drawn log-uniformly (``sign * 10**e``) so every order of
magnitude between a lower and an upper bound is hit, not just the middle of
the range that ``st.floats`` favours; exact zeros and near-coincident pairs
(where cancellation lives) are mixed in.  Upper bounds come from the dtype's
format (``FloatFormat.headroom_cap``) so results stay finite in that dtype.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


#: element strategies that :func:`array` draws as one array of raw floats and transforms with NumPy
#: in one step: ``id(scalar strategy) -> (raw float strategy, vectorised transform, the scalar
#: strategy)``.  A ``.map`` per element costs Hypothesis ~60 us and a ``one_of`` ~30 us on top of the
#: ~50 us of the float itself, which made element generation most of the suite's time.
_VECTORISED: dict[int, tuple] = {}


def _vectorised(raw: st.SearchStrategy, transform) -> st.SearchStrategy[float]:
    """A scalar strategy ``transform(raw)`` that :func:`array` draws element-wise as ``raw`` and
    transforms as a whole (same values, same shrinking: towards ``transform(0)``)."""
    scalar = raw.map(lambda u: float(transform(np.float64(u))))
    _VECTORISED[id(scalar)] = (raw, transform, scalar)  # the entry keeps the scalar alive: its id stays unique
    return scalar


@functools.lru_cache(maxsize=None)  # strategies are immutable: build (and validate) each once
def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Positive floats with log10 uniform in [log10 lo, log10 hi]; shrinks towards ``lo``... and 1."""
    a, b = math.log10(lo), math.log10(hi)
    if a > b:
        a, b = b, a
    return _vectorised(st.floats(a, b), lambda e: np.power(10.0, e))


@functools.lru_cache(maxsize=None)
def reals(lo: float, hi: float, *, signed: bool = True, zero: bool = True) -> st.SearchStrategy[float]:
    """Magnitudes log-uniform in [lo, hi], either sign, with exact zeros.

    Sign and magnitude come from one float ``u`` (sign of ``u``; ``|u|`` the log10 offset above
    ``lo``), zeros from a ``one_of`` branch (drawn as +inf, transformed to 0): half the cost of
    drawing the sign as a separate choice, and :func:`array` transforms a whole array at once.
    Shrinks towards 0, then towards ``+lo``."""
    a, b = math.log10(lo), math.log10(hi)
    if a > b:
        a, b = b, a

    def transform(u):
        mag = np.power(10.0, a + np.minimum(np.abs(u), b - a))
        out = np.copysign(mag, u) if signed else mag
        return np.where(np.isinf(u), 0.0, out) if zero else out

    val = st.floats(-(b - a) if signed else 0.0, b - a)
    return _vectorised(st.one_of(st.just(math.inf), val) if zero else val, transform)


def unit_interval(closed: bool = True, min_gap: float = 1e-12) -> st.SearchStrategy[float]:
    """Values in [0, 1] spread over the whole interval and within a hair of 0 and of 1."""
    near0 = log_uniform(min_gap, 0.5)
    inner = [near0, near0.map(lambda v: 1.0 - v), st.floats(0.0, 1.0)]
    return st.one_of(st.sampled_from([0.0, 1.0]), *inner) if closed else st.one_of(*inner)


def array(shape, elements: st.SearchStrategy, dtype=np.float64) -> st.SearchStrategy[np.ndarray]:
    """An array of ``elements``; a :func:`reals` / :func:`log_uniform` element is drawn as its raw
    float and transformed for the whole array at once (``_VECTORISED``)."""
    vectorised = _VECTORISED.get(id(elements))
    if vectorised is not None and np.dtype(dtype).kind == "f":
        raw, transform, _ = vectorised
        # fill=nothing(): every element drawn (a bare float would let hnp.arrays fill most of the array
        # with one repeated value, as it does not for a mapped element)
        return hnp.arrays(np.float64, shape, elements=raw, fill=st.nothing()).map(
            lambda u: np.asarray(transform(u), dtype=dtype))
    return hnp.arrays(dtype, shape, elements=elements)


def pm_ones(shape) -> st.SearchStrategy[np.ndarray]:
    """Targets of the embedding losses: +1 / -1."""
    return array(shape, st.sampled_from([1.0, -1.0]))


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4) -> st.SearchStrategy[tuple]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def close_to(draw, base: np.ndarray, rel_lo: float = 1e-12, rel_hi: float = 1.0) -> np.ndarray:
    """``base * (1 + r)`` with relative perturbations ``r`` log-uniform in [rel_lo, rel_hi]:
    a partner of ``base`` whose difference cancels to any degree."""
    r = draw(array(base.shape, reals(rel_lo, rel_hi, zero=True)))
    scale = np.where(base == 0, 1.0, np.abs(base))
    return base + r * scale


@st.composite
def pair(draw, shape, elements: st.SearchStrategy) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays: independent, or the second close to the first (small residuals)."""
    a = draw(array(shape, elements))
    if draw(st.booleans()):
        return a, draw(array(shape, elements))
    return a, draw(close_to(a))


def probability_rows(shape, axis: int) -> st.SearchStrategy[np.ndarray]:
    """Non-negative arrays normalised to sum 1 along ``axis`` (class-probability targets),
    with entries from 1e-12 to 1 and exact zeros."""
    raw = array(shape, st.one_of(st.just(0.0), log_uniform(1e-12, 1.0)))

    def normalise(a):
        s = a.sum(axis=axis, keepdims=True)
        a = np.where(s == 0, 1.0, a)  # an all-zero row becomes uniform
        return a / a.sum(axis=axis, keepdims=True)

    return raw.map(normalise)
