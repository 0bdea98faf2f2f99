"""Reusable invariant relations.  Each constructor returns ``relation(ev, case, draw) -> [Claim]``
(see :mod:`properties.invariants.core`); the per-loss tables combine them.

Sides are functions ``side(ev, ctx) -> Q`` of the evaluator and a context: the case, or what a
``prepare(ev, case, draw)`` built from it (transformed cases, drawn factors) -- shared by both sides.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import numpy as np
from hypothesis import assume, strategies as st

from .. import strategies as S
from ..cases import Case
from .core import Claim, Q, exact_or_reject, zeros

Side = Callable  # (ev, ctx) -> Q


def _identity(ev, case, draw):
    return case


# ---- generic relations -------------------------------------------------------------------------

def equal(lhs: Side, rhs: Side, text: str, prepare=_identity, slack=None):
    """``lhs == rhs`` (elementwise) within bound(lhs) + bound(rhs) (+ ``slack(ev, ctx)``)."""
    def relation(ev, case, draw):
        ctx = prepare(ev, case, draw)
        return [Claim("==", lhs(ev, ctx), rhs(ev, ctx), text, 0.0 if slack is None else slack(ev, ctx))]
    return relation


def less_equal(lhs: Side, rhs: Side, text: str, prepare=_identity, slack=None):
    """``lhs <= rhs`` (elementwise) within bound(lhs) + bound(rhs) (+ ``slack``)."""
    def relation(ev, case, draw):
        ctx = prepare(ev, case, draw)
        return [Claim("<=", lhs(ev, ctx), rhs(ev, ctx), text, 0.0 if slack is None else slack(ev, ctx))]
    return relation


def loss(reduction: str = "none", of: str | None = None, label: str | None = None) -> Side:
    """The side "the implementation's value of the context's case" (``of``: another loss)."""
    def side(ev, ctx):
        case = ctx if isinstance(ctx, Case) else ctx["case"]
        return ev(case, reduction, loss=of, label=label)
    return side


def nonnegative(prepare=_identity):
    """Every unreduced term >= 0, i.e. value >= -bound."""
    def relation(ev, case, draw):
        v = ev(prepare(ev, case, draw), "none", label="loss(none)")
        return [Claim("<=", zeros(v.shape), v, "0 <= every term of reduction='none'")]
    return relation


def in_range(lo: Callable[[Case], np.ndarray], hi: Callable[[Case], np.ndarray], prepare=_identity):
    """lo(case) <= every unreduced term <= hi(case); lo/hi exact (Fraction object arrays or floats)."""
    def relation(ev, case, draw):
        case = prepare(ev, case, draw)
        v = ev(case, "none", label="loss(none)")
        low = Q.exact(np.broadcast_to(lo(case), v.shape), "lower end")
        high = Q.exact(np.broadcast_to(hi(case), v.shape), "upper end")
        return [Claim("<=", low, v, "lower end <= every term"), Claim("<=", v, high, "every term <= upper end")]
    return relation


def zero_at(transform, expected=None, slack=None, text="loss == 0 at the optimum"):
    """After ``transform(ev, case, draw) -> case'`` (exactness checked), every term equals
    ``expected(case')`` (a Q; default 0) within the bound (+ ``slack(ev, case, case')``)."""
    def relation(ev, case, draw):
        case2 = exact_or_reject(ev, transform(ev, case, draw))
        v = ev(case2, "none", label="loss(none) at the optimum")
        want = zeros(v.shape, "0") if expected is None else expected(case2)
        return [Claim("==", v, want, text, 0.0 if slack is None else slack(ev, case, case2))]
    return relation


def swapped(case: Case, i: str, j: str) -> Case:
    args = dict(case.args)
    args[i], args[j] = args[j], args[i]
    return Case(args, case.kwargs)


def symmetric(i: str, j: str, prepare=_identity):
    """Unchanged when the positional arguments ``i`` and ``j`` are swapped (terms of 'none')."""
    def relation(ev, case, draw):
        case = exact_or_reject(ev, prepare(ev, case, draw))
        # a weight has exactly the input's shape (mse, huber): a broadcast pair swapped has no valid call
        assume(np.shape(case.args[i]) == np.shape(case.args[j])
               or not any(isinstance(v, np.ndarray) for v in case.kwargs.values()))
        a = ev(case, "none", label=f"loss({i}, {j})")
        b = ev(swapped(case, i, j), "none", label=f"loss({j}, {i})")
        return [Claim("==", a, b, f"loss({i}, {j}) == loss({j}, {i}), every term")]
    return relation


def reduction_identities():
    """'sum' == sum of 'none'; 'mean' (and 'batchmean') == sum of 'none' / ``spec.denominator``;
    (every evaluation also checks its shape against the reference's, so 'none' has the
    documented unreduced shape).  The float64 denominator's own rounding (<= ceil(log2 n) u_64
    relative) is inside the mean's bound ((ceil(log2 n) + 2) u |result|)."""
    def relation(ev, case, draw):
        spec = ev.spec
        none = ev(case, "none", label="loss(none)")
        terms = spec.call_reference(case, reduction="none")
        claims = []
        if "sum" in spec.reductions:
            claims.append(Claim("==", ev(case, "sum", label="loss(sum)"), none.sum(label="sum(loss(none))"),
                                "reduction='sum' == sum of reduction='none'"))
        for red in ("mean", "batchmean"):
            if red in spec.reductions:
                d = spec.denominator(case, terms, red)
                assume(d != 0)  # an empty mean is 0/0 (its own edge case)
                claims.append(Claim("==", ev(case, red, label=f"loss({red})"),
                                    none.sum().divide(d, label=f"sum(loss(none))/{d!r}"),
                                    f"reduction='{red}' == sum of reduction='none' / denominator {d!r}"))
        return claims
    return relation


# ---- batch structure -----------------------------------------------------------------------------

def batch_shape(spec, case: Case) -> tuple:
    """The shape whose axis 0 is the batch: the first argument's -- the broadcast shape of the arguments
    for the losses whose input and target broadcast (``properties.broadcast``)."""
    from ..broadcast import BROADCASTS

    shapes = [np.shape(v) for v in case.args.values()]
    return np.broadcast_shapes(*shapes) if spec.name in BROADCASTS else shapes[0]


def batch_size(spec, case: Case) -> int | None:
    """The size of the batch axis (axis 0 of :func:`batch_shape`), None if there is none."""
    shape = batch_shape(spec, case)
    return shape[0] if len(shape) > spec.event_dims else None


def has_batch(spec, case: Case) -> bool:
    """Whether ``case`` has a batch of at least 2 (what the batch-structure relations need)."""
    n = batch_size(spec, case)
    return n is not None and n >= 2


def map_batch(case: Case, fn, spec=None) -> Case:
    """Apply ``fn`` (an axis-0 operation) to every positional array and every keyword array of
    the first argument's shape (per-element weights); broadcast parameters stay.  With ``spec`` (a
    loss whose arguments broadcast): only the arguments that have the batch axis of the broadcast
    shape -- one broadcast along it (a missing leading dim, a size-1 one) is the same for every
    sample and stays, and so do the weights of such an argument."""
    from ..broadcast import BROADCASTS

    first = next(iter(case.args.values()))
    if spec is not None and spec.name in BROADCASTS:
        full = batch_shape(spec, case)
        on_batch = lambda v: v.ndim > 0 and v.ndim == len(full) and v.shape[0] == full[0]
    else:
        on_batch = lambda v: v.ndim > 0
    args = {k: fn(v) if on_batch(v) else v for k, v in case.args.items()}
    kwargs = {k: fn(v) if isinstance(v, np.ndarray) and v.shape == first.shape and on_batch(first) else v
              for k, v in case.kwargs.items()}
    return Case(args, kwargs)


def batch_permutation(prepare=_identity, none_permutes=lambda case: True):
    """Permuting the batch permutes 'none' (or leaves it unchanged when ``none_permutes(case)``
    is False: the batch is reduced inside a term) and leaves 'sum' unchanged."""
    def relation(ev, case, draw):
        case = prepare(ev, case, draw)
        n = batch_size(ev.spec, case)
        assume(n is not None and n >= 2)
        perm = np.array(draw(st.permutations(range(n)), "permutation"))
        case2 = map_batch(case, lambda v: v[perm], ev.spec)
        a = ev(case, "none", label="loss(none)")
        b = ev(case2, "none", label="loss(none) of the permuted batch")
        want = a.take(perm, 0, label="loss(none)[perm]") if none_permutes(case) else a
        return [Claim("==", b, want, f"loss(x[perm]) == loss(x)[perm], perm={perm.tolist()}"),
                Claim("==", ev(case2, "sum", label="loss(sum) of the permuted batch"),
                      ev(case, "sum", label="loss(sum)"), f"sum unchanged by perm={perm.tolist()}")]
    relation.needs = has_batch
    return relation


def batch_split(prepare=_identity):
    """sum over the whole batch == sum over x[:k] + sum over x[k:]."""
    def relation(ev, case, draw):
        case = prepare(ev, case, draw)
        n = batch_size(ev.spec, case)
        assume(n is not None and n >= 2)
        k = draw(st.integers(1, n - 1), "split")
        head, tail = map_batch(case, lambda v: v[:k], ev.spec), map_batch(case, lambda v: v[k:], ev.spec)
        parts = ev(head, "sum", label=f"loss(sum) of x[:{k}]") + ev(tail, "sum", label=f"loss(sum) of x[{k}:]")
        return [Claim("==", parts, ev(case, "sum", label="loss(sum)"), f"sum(x[:{k}]) + sum(x[{k}:]) == sum(x)")]
    relation.needs = has_batch  # the test redraws an unbatched case before the assume rejects it
    return relation


# ---- parameters ------------------------------------------------------------------------------------

def monotone_in(param: str, larger: Callable[[float], st.SearchStrategy], increasing: bool = True,
                prepare=_identity):
    """Every term non-decreasing (``increasing``) or non-increasing in keyword ``param``:
    the value at ``larger(p)`` (a strategy of values >= p) against the value at p."""
    def relation(ev, case, draw):
        case = prepare(ev, case, draw)
        p = float(case.kwargs[param])
        p2 = float(draw(larger(p), f"larger {param}"))
        assume(p2 >= p)
        case2 = case.with_kwargs(**{param: p2})
        a = ev(case, "none", label=f"loss({param}={p!r})")
        b = ev(case2, "none", label=f"loss({param}={p2!r})")
        if increasing:
            return [Claim("<=", a, b, f"loss({param}={p!r}) <= loss({param}={p2!r})")]
        return [Claim("<=", b, a, f"loss({param}={p2!r}) <= loss({param}={p!r})")]
    return relation


def with_kwargs_equal(extra: Callable[[Case], dict], text: str, reductions=("none",), prepare=_identity):
    """Adding keyword arguments ``extra(case)`` (e.g. a weight of ones) changes nothing."""
    def relation(ev, case, draw):
        case = prepare(ev, case, draw)
        case2 = exact_or_reject(ev, case.with_kwargs(**extra(case)))
        return [Claim("==", ev(case2, r, label=f"loss({r}) with {sorted(extra(case))}"),
                      ev(case, r, label=f"loss({r}) without"), f"{text} (reduction={r!r})") for r in reductions]
    return relation


# ---- exact transforms ---------------------------------------------------------------------------

def power_of_two(draw, lo: int = -6, hi: int = 6, nonzero: bool = True) -> int:
    """An exponent k in [lo, hi] (k != 0 if ``nonzero``): scaling by 2**k is exact barring range."""
    k = draw(st.integers(lo, hi).filter(lambda k: k != 0 or not nonzero), "exponent k")
    return k


def scaled(case: Case, names, k: int) -> Case:
    """``case`` with the positional arrays ``names`` multiplied by 2**k."""
    f = 2.0 ** k
    return Case({n: v * f if n in names else v for n, v in case.args.items()}, case.kwargs)


def two_adic_exponent(values: np.ndarray) -> int | None:
    """Largest e with every entry an integer multiple of 2**e (None when all are 0)."""
    best = None
    for v in np.asarray(values, dtype=np.float64).ravel():
        if v == 0:
            continue
        f = Fraction(float(v))
        num, den = abs(f.numerator), f.denominator
        e = (num & -num).bit_length() - 1 - (den.bit_length() - 1)
        best = e if best is None else min(best, e)
    return best


@st.composite
def lattice(draw, shape, fmt, cap: float, spare_bits: int = 2) -> np.ndarray:
    """Arrays of integer multiples k 2**e, |k| <= 2**(p - spare_bits), |values| <= cap / 2**(spare_bits - 1):
    adding two such arrays (same e) is exact in the format, and stays below ``cap``."""
    k_max = 2 ** (fmt.precision - spare_bits)
    e_hi = int(np.floor(np.log2(cap / (2 * k_max))))
    e_lo = max(e_hi - 16, int(np.ceil(np.log2(fmt.tiny))) + 1)
    e = draw(st.integers(min(e_lo, e_hi), e_hi), "lattice exponent")
    ks = draw(S.long_array(int(np.prod(shape)), st.integers(-k_max, k_max)))
    return (ks.astype(np.float64) * 2.0**e).reshape(shape)
