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


#: The magnitudes ordinary code runs at (activations, logits, embeddings, residuals): where an
#: implementation's epsilon, clamp or threshold (cosine_similarity's 1e-8, a distance floor) matters.
#: Every magnitude strategy whose range reaches beyond it draws a whole example inside it in about
#: half of the draws (``ORDINARY_SHARE``, measured by ``properties.coverage``), and over its whole
#: range -- the dtype's extremes -- in the others.
ORDINARY = (1e-4, 1e4)

#: The share of examples whose largest magnitude must lie in ``ORDINARY`` (tests/test_coverage.py).
ORDINARY_SHARE = 1 / 3

#: ``id(mixed scalar strategy) -> (ordinary-band strategy, whole-range strategy)``: :func:`array`
#: draws a whole array from one of the two, so an example is ordinary as a whole (the largest of 64
#: elements drawn independently would almost never be).
_MIXED: dict[int, tuple] = {}


def _ordinary_mix(lo: float, hi: float, build) -> st.SearchStrategy[float]:
    """``build(lo, hi)`` (a magnitude strategy over [lo, hi]), drawn in ``ORDINARY`` ∩ [lo, hi] in about
    half of the draws where that band is a proper part of the range; the band first, so a failing
    example shrinks towards ordinary magnitudes."""
    full = build(lo, hi)
    a, b = max(min(lo, hi), ORDINARY[0]), min(max(lo, hi), ORDINARY[1])
    if a >= b or (a, b) == (min(lo, hi), max(lo, hi)):
        return full
    ordinary = build(a, b)
    mixed = st.one_of(ordinary, full)
    _MIXED[id(mixed)] = (ordinary, full, mixed)  # keeps the strategy alive: its id stays unique
    return mixed


def _log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    a, b = math.log10(lo), math.log10(hi)
    if a > b:
        a, b = b, a
    return _vectorised(st.floats(a, b), lambda e: np.power(10.0, e))


@functools.lru_cache(maxsize=None)  # strategies are immutable: build (and validate) each once
def log_uniform(lo: float, hi: float, *, ordinary: bool = True) -> st.SearchStrategy[float]:
    """Positive floats with log10 uniform in [log10 lo, log10 hi]; shrinks towards ``lo``... and 1.
    ``ordinary``: a magnitude, drawn in ``ORDINARY`` about half of the time (False for a gap or a
    relative perturbation, whose small values are the point)."""
    return _ordinary_mix(lo, hi, _log_uniform) if ordinary else _log_uniform(lo, hi)


#: the share of ``reals``' raw float range that is an exact zero (see :func:`reals`)
ZERO_BAND = 0.2


def _reals(lo: float, hi: float, signed: bool, zero: bool) -> st.SearchStrategy[float]:
    a, b = math.log10(lo), math.log10(hi)
    if a > b:
        a, b = b, a

    z = ZERO_BAND if zero else 0.0

    def transform(u):
        v = np.abs(u)
        # |u| in [0, 1] without the zero band around 1/2, stretched back onto [0, 1]
        pos = np.where(v < 0.5, v, v - z) / (1.0 - z)
        mag = np.power(10.0, a + np.clip(pos, 0.0, 1.0) * (b - a))
        out = np.copysign(mag, u) if signed else mag
        return np.where(np.abs(v - 0.5 - z / 2) < z / 2, 0.0, out) if zero else out

    # |u| within ZERO_BAND / 2 of 1/2 + ZERO_BAND / 2: an exact zero (about a fifth of the elements;
    # a one_of branch, or a band at 0 or at the bounds, which Hypothesis favours, is nearly half);
    # u = 0 is lo, u = +-1 (a bound, which Hypothesis draws often) is +-hi, the dtype's extreme
    return _vectorised(st.floats(-1.0 if signed else 0.0, 1.0), transform)


@functools.lru_cache(maxsize=None)
def reals(lo: float, hi: float, *, signed: bool = True, zero: bool = True, ordinary: bool = True
          ) -> st.SearchStrategy[float]:
    """Magnitudes log-uniform in [lo, hi], either sign, with exact zeros; ``ordinary`` as in
    :func:`log_uniform`.

    Sign, magnitude and zeros come from one float ``u`` in [-1, 1]: the sign of ``u``; ``|u|`` in a
    band of width ``ZERO_BAND`` just above 1/2 an exact zero, elsewhere the log10 position between
    ``lo`` (``u`` = 0) and ``hi`` (``|u|`` = 1) -- half the cost of drawing the sign as a separate choice, and :func:`array` transforms
    a whole array at once.  Shrinks towards ``+lo``."""
    build = lambda lo_, hi_: _reals(lo_, hi_, signed, zero)
    return _ordinary_mix(lo, hi, build) if ordinary else build(lo, hi)


@st.composite
def related(draw, shape, n: int, lo: float, hi: float, span: float, *, signed: bool = True, zero: bool = True,
            top: float | None = None) -> list[np.ndarray]:
    """``n`` arrays of one scale: magnitudes within ``span`` of a largest one ``top``, drawn log-uniform
    in [lo, hi] (in ``ORDINARY`` about half of the time); elements are ``top`` times magnitudes in
    [1/span, 1], the largest scaled to 1 (clamped up to ``lo``).  Real tensors span a few dozen decades, not the whole exponent
    range that elements drawn independently over [lo, hi] would.  Each array after the first is either
    drawn the same way or :func:`close_to` the first (cancellation in their difference)."""
    top = draw(log_uniform(lo, hi)) if top is None else top  # ``top``: drawn by the caller (mean_band)
    unit = array(shape, reals(1.0 / span, 1.0, signed=signed, zero=zero, ordinary=False))

    def at_scale(u):
        big = np.max(np.abs(u), initial=0.0)
        v = top * (u / big if big > 0 else u)  # the largest element is +-top itself
        return np.where((v != 0) & (np.abs(v) < lo), np.copysign(lo, v), v)

    first = at_scale(draw(unit))
    return [first] + [at_scale(draw(unit)) if draw(st.booleans()) else draw(close_to(first)) for _ in range(n - 1)]


def parameter(lo: float, hi: float, boundary: float) -> st.SearchStrategy[float]:
    """A positive parameter (a margin, Huber's delta, SmoothL1's beta): log-uniform in [lo, hi], and in
    about a third of the draws in its boundary region [boundary, lo] (down to the dtype's smallest
    normal number, where a formula dividing by it or comparing against it breaks)."""
    inner = log_uniform(lo, hi)
    return st.one_of(inner, inner, log_uniform(boundary, lo, ordinary=False)) if boundary < lo else inner


def unit_interval(closed: bool = True, min_gap: float = 1e-12) -> st.SearchStrategy[float]:
    """Values in [0, 1] spread over the whole interval and within a hair of 0 and of 1."""
    near0 = log_uniform(min_gap, 0.5, ordinary=False)  # a gap to 0 or to 1, not a magnitude
    inner = [near0, near0.map(lambda v: 1.0 - v), st.floats(0.0, 1.0)]
    return st.one_of(st.sampled_from([0.0, 1.0]), *inner) if closed else st.one_of(*inner)


def array(shape, elements: st.SearchStrategy, dtype=np.float64) -> st.SearchStrategy[np.ndarray]:
    """An array of ``elements``; a :func:`reals` / :func:`log_uniform` element is drawn as its raw
    float and transformed for the whole array at once (``_VECTORISED``).  Built once per shape,
    elements and dtype (:func:`_array`): Hypothesis validates every strategy it has not drawn from
    before, and a case strategy asks for its arrays anew on every draw."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
    return _array(shape, elements, np.dtype(dtype))


@functools.lru_cache(maxsize=4096)  # keyed by the elements strategy itself (kept alive while cached)
def _array(shape: tuple, elements: st.SearchStrategy, dtype: np.dtype) -> st.SearchStrategy[np.ndarray]:
    mixed = _MIXED.get(id(elements))
    if mixed is not None:  # the whole array in the ordinary band, or over the whole range
        return st.one_of(_array(shape, mixed[0], dtype), _array(shape, mixed[1], dtype))
    vectorised = _VECTORISED.get(id(elements))
    if vectorised is not None and dtype.kind == "f":
        raw, transform, _ = vectorised
        # fill=nothing(): every element drawn (a bare float would let hnp.arrays fill most of the array
        # with one repeated value, as it does not for a mapped element)
        return hnp.arrays(np.float64, shape, elements=raw, fill=st.nothing()).map(
            lambda u: np.asarray(transform(u), dtype=dtype))
    return hnp.arrays(dtype, shape, elements=elements)


#: Long reductions (issue 19): a minority of the examples sums LONG_TERMS terms, where summing term by
#: term in half precision stops growing (float16: 2048 + 1 rounds to 2048; bfloat16 already at 256 + 1)
#: and where a 'mean' fits the dtype while the sum of its terms overflows (float16: 65504).  Drawn in
#: LONG_SHARE of the examples, never element by element: :func:`lengthen` extends a small drawn case
#: with NumPy in one vectorised step, so a long example costs about what a short one does.
LONG_TERMS = (1000, 4096)
LONG_SHARE = 1 / 5
#: the share where a 'mean' in half precision may hold terms whose sum overflows the dtype (the band of
#: :func:`mean_band`): Hypothesis's preference for simple and repeated choices leaves about half of the
#: intended share long inside a case strategy (smooth_l1 float16 'mean', 250 examples: 19 long at 1/5,
#: 45 at 1/3), and a fifth left such a 'mean' unreached in 1 of 5 seeded gate runs (12 examples whose
#: sum overflows in 250, 29 at a third).  Used by the residual losses' strategy, where that region's
#: bugs are (``_residual.residual_case``); agreement time unchanged (28.4 s at 1/5, 27.4 s at 1/3).
HALF_MEAN_LONG_SHARE = 1 / 3

#: the most terms a short example sums (shapes up to 4 x 4 x 4): the count its magnitude caps have
#: always assumed for a sum
SHORT_TERMS = 64

#: reductions whose result does not grow with the number of terms: a term in the dtype's range is
#: enough (the implementation must not form an intermediate sum that overflows, as torch's does not)
MEAN_LIKE = ("mean", "none")


def _spread(u: int) -> int:
    """Knuth's multiplicative hash of a drawn integer: Hypothesis favours simple and repeated values (0, the
    bounds, constants of the code under test, choices copied from earlier examples), so a residue of the
    drawn value itself is far from uniform (float32 mse: 5 long examples of 150 where 1/5 was meant, 1 of
    150 once every properties module was imported); a residue of its hash is near uniform.  0 maps to 0."""
    return (u * 0x9E3779B1) & 0xFFFFFFFF


@functools.lru_cache(maxsize=None)
def spread(n: int) -> st.SearchStrategy[int]:
    """An index in [0, n), near uniform whatever Hypothesis favours (:func:`_spread`); shrinks to 0."""
    return st.integers(0, 2**20 - 1).map(lambda u: _spread(u) % n)


def long_share(fmt, reduction) -> float:
    """The share of long examples for a case drawn in ``fmt`` for ``reduction``: ``HALF_MEAN_LONG_SHARE``
    for a 'mean' in half precision (where its terms' sum may overflow), else ``LONG_SHARE``."""
    half = fmt is not None and fmt.precision <= 11
    return HALF_MEAN_LONG_SHARE if half and reduction == "mean" else LONG_SHARE


@functools.lru_cache(maxsize=None)
def long_terms(limit: float = math.inf, share: float | None = None) -> st.SearchStrategy[int]:
    """0 (a short example) in 1 - ``share`` (default ``LONG_SHARE``) of the draws, else a number of terms in
    ``LONG_TERMS``.

    One integer in [0, 2^20) decides both: long where the residue mod 5 of its hash (:func:`_spread`) is 4,
    the number of terms from the quotient.  (A choice among 5 drawn by Hypothesis, which favours its
    simplest value and mutates the examples it has, made 3 of 50 examples long in one seeded run; the
    residue of the wide integer itself, 5 of 150.)  Shrinks to 0: short, where the failure does not need a long sum.  ``limit``: the most terms
    whose sum stays finite in the dtype where their magnitude is bounded by the loss itself, not by a
    cap (BCE's terms reach 100: a float16 'sum' of more than 40 overflows); below ``LONG_TERMS[0]`` no
    example is long."""
    k = round(1 / (LONG_SHARE if share is None else share))
    lo, hi = LONG_TERMS[0], int(min(LONG_TERMS[1], limit))

    def terms(u: int) -> int:
        h = _spread(u)  # 0 (the simplest draw) stays short
        if hi < lo or h % k != k - 1:
            return 0
        return lo + (h // k) % (hi - lo + 1)

    return st.integers(0, 2**20 - 1).map(terms)


#: the accumulator a correct implementation sums half-precision terms in (torch: float32 for float16 and
#: bfloat16 on CPU and CUDA): a 'mean' may hold terms whose sum overflows the dtype as long as it does
#: not overflow this
ACCUMULATOR_MAX = float(np.finfo(np.float32).max)


def summed_count(reduction: str | None, n_terms: int, mean_like: tuple[str, ...] = MEAN_LIKE, fmt=None,
                 gain: float = 1.0) -> float:
    """How many terms whose magnitudes must add up to a finite value in the dtype ``fmt``: for a reduction
    in ``mean_like`` only as many as a float32 accumulator needs (``ACCUMULATOR_MAX``): 1 in float16 --
    a 'mean' of terms each in range is in range, its *sum* may overflow float16 and must not matter --
    but all of them in bfloat16, float32 and float64, whose sums a float32 (or the dtype's own)
    accumulator cannot hold beyond the dtype's range (torch's mean is inf there too); else (a 'sum', or
    ``None``: a case drawn for any reduction) ``n_terms``.  A spec passes a narrower ``mean_like``
    where the function it mirrors computes its mean as a sum in the dtype divided afterwards (a
    recorded known deviation).  ``gain``: the largest factor a term carries beyond the magnitude the
    caller caps (a weight of up to 1e2): the count is in units of capped terms, ``gain`` times the terms."""
    if reduction in mean_like and fmt is not None and fmt.max * n_terms < ACCUMULATOR_MAX:
        return gain
    return n_terms * gain


#: the spread of a long 'mean' example drawn in its mean band (:func:`mean_band`): terms of one order, as a
#: batch of per-sample losses has, so that their sum is about n times their mean
MEAN_BAND_SPAN = 10.0


@st.composite
def mean_band(draw, lo: float, hi: float, sum_hi: float | None):
    """``(top, in_band)``: the largest magnitude of an example, per reduction.  Log-uniform in [lo, hi]
    (:func:`log_uniform`); where ``hi`` is a mean's cap above ``sum_hi`` -- the magnitude at which the
    example's n terms sum to the dtype's largest value -- in two thirds of the draws within
    [2 sum_hi, hi] (``in_band``): the band where a 'mean' fits the dtype and the sum of its terms, of one
    order and about half the top each, does not (float16 squared residuals of 2000 terms: 11 .. 16;
    absolute residuals: 66 .. 1024).  There the caller draws terms of one order (``MEAN_BAND_SPAN``), so the sum
    does exceed the dtype's range in a good share of the examples (``properties.coverage``)."""
    if sum_hi is not None and lo < 2 * sum_hi < hi and draw(st.integers(0, 2)) > 0:
        return draw(log_uniform(2 * sum_hi, hi, ordinary=False)), True
    return draw(log_uniform(lo, hi)), False


@st.composite
def extension(draw, n_terms: int, per_row: int = 1):
    """``(rows, seed)`` for :func:`lengthen`: how many rows of ``per_row`` terms make ``n_terms`` terms
    (0 for a short example: ``n_terms`` = 0), and a NumPy seed drawn by Hypothesis (shrinks to 0)."""
    if n_terms <= 0:
        return 0, 0
    return -(-n_terms // max(per_row, 1)), draw(st.integers(0, 2**32 - 1))


def lengthen(arrays, rows: int, seed: int, axis: int = 0):
    """``arrays`` (sharing ``axis``, of k drawn rows; None entries pass through) with ``rows`` rows: the k
    drawn rows first, then rows picked among them by ``numpy.random.default_rng(seed)`` -- one gather,
    no element drawn by Hypothesis.  Every relation between the arrays of a row (a target close to its
    input, a label, a weight) is kept; ``rows`` <= k returns the arrays as drawn."""
    if rows <= 0:
        return list(arrays)
    first = next(a for a in arrays if a is not None)
    k = first.shape[axis]
    if rows <= k or k == 0:
        return list(arrays)
    index = np.concatenate([np.arange(k), np.random.default_rng(seed).integers(0, k, rows - k)])
    return [None if a is None else np.take(a, index, axis=axis) for a in arrays]


@st.composite
def long_array(draw, size: int, elements: st.SearchStrategy, dtype=np.int64) -> np.ndarray:
    """A 1-d array of ``size`` values of ``elements``: at most ``SHORT_TERMS`` drawn by Hypothesis (shrinkable),
    the rest picked among them (:func:`lengthen`) -- a long case's per-element values (an invariant's shifts,
    lattice points) without Hypothesis drawing thousands of elements one by one."""
    k = min(int(size), SHORT_TERMS)
    drawn = np.array(draw(st.lists(elements, min_size=k, max_size=k)), dtype=dtype)
    if size <= k:
        return drawn
    return lengthen([drawn], int(size), draw(st.integers(0, 2**32 - 1)))[0]


def lengthen_case(case, rows: int, seed: int, also: tuple[str, ...] = ()):
    """``case`` (a :class:`properties.cases.Case`) with ``rows`` rows along its first argument's first
    axis (:func:`lengthen`): every array argument or keyword of the same rank and first dimension (a target,
    a full-shape weight) is extended with it, and the arguments named in ``also`` (the (N,) labels of
    (N, D) rows); the others (a per-class weight) stay."""
    from .cases import Case

    first = next(iter(case.args.values()))
    if rows <= 0 or first.ndim == 0 or rows <= first.shape[0]:
        return case
    names = [(where, k) for where, d in (("args", case.args), ("kwargs", case.kwargs)) for k, v in d.items()
             if isinstance(v, np.ndarray) and (v.ndim == first.ndim or k in also) and v.ndim
             and v.shape[0] == first.shape[0]]
    grown = dict(zip(names, lengthen([getattr(case, w)[k] for w, k in names], rows, seed)))
    return Case({k: grown.get(("args", k), v) for k, v in case.args.items()},
                {k: grown.get(("kwargs", k), v) for k, v in case.kwargs.items()})


def pm_ones(shape) -> st.SearchStrategy[np.ndarray]:
    """Targets of the embedding losses: +1 / -1."""
    return array(shape, st.sampled_from([1.0, -1.0]))


@functools.lru_cache(maxsize=None)
def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4) -> st.SearchStrategy[tuple]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


#: relative gaps of a near-coincident pair: where cancellation between the two starts to cost digits
#: (1e-2) down to where it costs all but a few of float64's (1e-12)
NEAR_GAPS = (1e-12, 1e-2)


@st.composite
def near(draw, base: np.ndarray, keep: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """``keep`` with a random subset of its elements (at least one, among ``where``) replaced by
    ``base`` moved by relative gaps log-uniform in ``NEAR_GAPS`` (either sign): a partner of ``base``
    that a formula subtracting the two cancels on."""
    moved = draw(close_to(base, *NEAR_GAPS))
    allowed = np.ones(base.shape, bool) if where is None else np.broadcast_to(where, base.shape)
    mask = draw(hnp.arrays(bool, base.shape, elements=st.booleans())) & allowed
    if allowed.any() and not mask.any():
        mask.flat[int(np.flatnonzero(allowed)[0])] = True
    return np.where(mask, moved, keep)


@st.composite
def close_to(draw, base: np.ndarray, rel_lo: float = 1e-12, rel_hi: float = 1.0) -> np.ndarray:
    """``base * (1 + r)`` with relative perturbations ``r`` log-uniform in [rel_lo, rel_hi]:
    a partner of ``base`` whose difference cancels to any degree."""
    r = draw(array(base.shape, reals(rel_lo, rel_hi, zero=True, ordinary=False)))
    scale = np.where(base == 0, 1.0, np.abs(base))
    return base + r * scale


def probability_rows(shape, axis: int) -> st.SearchStrategy[np.ndarray]:
    """Non-negative arrays normalised to sum 1 along ``axis`` (class-probability targets),
    with entries from 1e-12 to 1 and exact zeros."""
    raw = array(shape, st.one_of(st.just(0.0), log_uniform(1e-12, 1.0)))

    def normalise(a):
        s = a.sum(axis=axis, keepdims=True)
        a = np.where(s == 0, 1.0, a)  # an all-zero row becomes uniform
        return a / a.sum(axis=axis, keepdims=True)

    return raw.map(normalise)
