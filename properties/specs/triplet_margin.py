"""Triplet margin loss (``torch.nn.functional.triplet_margin_loss``), reference ``refimpl.triplet_margin``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, strategies as st

import refimpl
from refimpl._distance import pnorm_rows
from refimpl.triplet_margin import _shifted_difference, pairwise_distance

from .. import (
    bad_inputs as BI,
    finite_differences as FD,
    gradients as G,
    mutation as M,
    strategies as S,
    tolerance as T,
)
from ..cases import Case
from ..edge_cases.expect import value
from ..edge_cases.tables import A, arg, rows
from ..formats import FloatFormat, log2_ceil
from ..invariants.core import exact_or_reject
from ..invariants.kinds import (
    equal,
    lattice,
    less_equal,
    monotone_in,
    nonnegative,
    two_adic_exponent,
)
from ..invariants.tables import inv, structure
from ..spec import LossSpec
from ._pairs import embedding_rows

TRIPLET_P = st.one_of(st.sampled_from([2.0, 1.0, 3.0, 0.5]), st.floats(0.25, 4.0))


@st.composite
def _triplet_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    p = 2.0 if variant == "p2" else draw(TRIPLET_P)
    (a, pos, neg), (rows, seed) = draw(embedding_rows(3, fmt, power=max(p, 1.0), reduction=reduction, n_long=n_long,
                                             p_norm=min(p, 1.0)))
    top = 1e2 if not n_long else min(1e2, fmt.headroom_cap(count=S.summed_count(reduction, rows, fmt=fmt)) / 2)
    kwargs = {
        "margin": draw(S.parameter(1e-3, top, 16 * fmt.tiny)),
        "p": p,
        "eps": draw(st.sampled_from([1e-6, 0.0, 1e-3])),
        "swap": variant == "swap",
    }
    return S.lengthen_case(Case({"anchor": a, "positive": pos, "negative": neg}, kwargs), rows, seed)


def _pnorm_budget(u, v, p, eps):
    """Budget of d = ||u - v + eps||_p relative to itself: the difference and the +eps
    (2u), |.|^p (relative p*2u + 2u), a sum of D (depth L_D), and the 1/p root,
    which scales the sum's relative error by 1/p:  2 + (2 + L_D + 2) / p.
    For p other than 1 and 2 the root is pow(s, 1/p) with 1/p rounded: its relative
    error u/p times |ln s| = p |ln d| adds |ln d| (measured: 102 ulp at d = 1e90, p = 3)."""
    d = pnorm_rows(u - v + eps, p)
    with np.errstate(divide="ignore"):
        root = 0.0 if p in (1.0, 2.0) else np.where(d > 0, np.abs(np.log(np.where(d > 0, d, 1.0))), 0.0)
    return d * (2 + (4 + log2_ceil(T.row_len(u))) / p + 2 + root), d


def scale_triplet_margin(case: Case, terms, fmt: FloatFormat | None = None):
    """margin + d_pos - d_neg cancels: each distance's budget counts, plus 2 |margin|.

    In ``fmt``: torch forms sum |d_i|^p in the dtype, and a component whose p-th power falls below
    the normal range is lost (float32, p = 4, |d_i| = 4.3e-12: |d_i|^4 = 3.4e-46 is 0, d(a, n) = 0
    for 4.3e-12): by the triangle inequality each distance may lose up to (D tiny)^(1/p)
    absolute, counted here in units of u (the comparison's bound multiplies by u)."""
    a, pos, neg = (case.args[k] for k in ("anchor", "positive", "negative"))
    p, eps = float(case.kwargs.get("p", 2)), float(case.kwargs.get("eps", 1e-6))
    b_pos, _ = _pnorm_budget(a, pos, p, eps)
    b_neg, _ = _pnorm_budget(a, neg, p, eps)
    n_dist = 2
    if case.kwargs.get("swap", False):
        b_neg = b_neg + _pnorm_budget(pos, neg, p, eps)[0]
        n_dist = 3
    lost = 0.0 if fmt is None else n_dist * (T.row_len(a) * fmt.tiny) ** (1.0 / p) / fmt.u
    return 2 * case.kwargs.get("margin", 1.0) + b_pos + b_neg + lost


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="triplet_margin", reference=refimpl.triplet_margin, arg_names=("anchor", "positive", "negative"),
    torch_function="torch.nn.functional.triplet_margin_loss", cases=_triplet_cases,
    variants=("p2", "any_p", "swap"), scale=scale_triplet_margin,
    event_dims=1, sized_by=("p",),
    mirrors="margin > 0, p > 0, eps (added to the difference), swap; (N,D) and (D,); reduction",
)


# ---- edge-case rows ------------------------------------------------------------------------

V = A([[1.0, 2.0, -2.0], [0.5, -0.5, 0.25]])


def _tcase(anchor, positive, negative, **kw):
    return Case({"anchor": A(anchor), "positive": A(positive), "negative": A(negative)}, {"reduction": "none", **kw})


#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "triplet_margin",
    ("all_equal", _tcase(V, V, V, margin=0.5), value(A([0.5, 0.5]), "margin"),
     "d(a, p) = d(a, n): the loss is the margin"),
    ("anchor_is_positive", _tcase(V, V, V + 0.5, margin=1.0, eps=0.0),
     value(lambda ctx: np.maximum(1.0 - np.linalg.norm(arg(ctx, "anchor") - arg(ctx, "negative"), axis=1), 0.0),
           "max(0, margin - d(a, n))"), "d(a, a) = 0 with eps = 0"),
    ("anchor_is_negative", _tcase(V, V + 0.5, V, margin=1.0, eps=0.0),
     value(lambda ctx: 1.0 + np.linalg.norm(arg(ctx, "anchor") - arg(ctx, "positive"), axis=1),
           "d(a, p) + margin"), "d(a, n) = 0 with eps = 0"),
    *[(f"p_{p}", _tcase(V, V + 0.25, V - 0.5, margin=1.0, p=p, eps=0.0),
       value(lambda ctx, p=p: np.maximum(
           np.sum(np.abs(arg(ctx, "anchor") - arg(ctx, "positive")) ** p, 1) ** (1 / p)
           - np.sum(np.abs(arg(ctx, "anchor") - arg(ctx, "negative")) ** p, 1) ** (1 / p) + 1.0, 0.0),
           f"max(0, ||a-p||_{p} - ||a-n||_{p} + margin)"), f"the p = {p} (quasi-)norm of the differences")
      for p in (1.0, 2.0, 3.0, 0.5)],
    ("swap", _tcase(V, V + 0.25, V - 0.5, margin=1.0, eps=0.0, swap=True),
     value(lambda ctx: np.maximum(
         np.linalg.norm(arg(ctx, "anchor") - arg(ctx, "positive"), axis=1)
         - np.minimum(np.linalg.norm(arg(ctx, "anchor") - arg(ctx, "negative"), axis=1),
                      np.linalg.norm(arg(ctx, "positive") - arg(ctx, "negative"), axis=1)) + 1.0, 0.0),
         "with d(a, n) -> min(d(a, n), d(p, n))"), "swap uses the harder of the two negatives distances"),
    ("no_batch_dim", _tcase(V[0], V[0], V[0], margin=0.5), value(0.5, "margin"), "(D,) inputs are one triplet"),
)


# ---- invariants --------------------------------------------------------------------------

@st.composite
def _triplet_lattice_cases(draw, spec, fmt):
    case = draw(spec.cases(draw(st.sampled_from(spec.variants)), fmt))
    p = float(case.kwargs["p"])
    a = case.args["anchor"]
    cap = fmt.headroom_cap(power=max(p, 1.0), count=4 * a.shape[-1]) / 2
    stacked = draw(lattice((len(case.args), *a.shape), fmt, cap))  # one exponent e for all three
    return Case(dict(zip(case.args, stacked)), case.kwargs)


def _triplet_translate(ev, case, draw):
    arrays = list(case.args.values())
    e = two_adic_exponent(np.concatenate([a.ravel() for a in arrays]))
    e = -4 if e is None else e
    k_max = 2 ** (ev.fmt.precision - 2)
    d = arrays[0].shape[-1]
    v = np.array(draw(st.lists(st.integers(-k_max, k_max), min_size=d, max_size=d), "translation"), float) * 2.0**e
    moved = Case({k: a + v for k, a in case.args.items()}, case.kwargs)
    return {"case": case, "moved": exact_or_reject(ev, moved)}


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("triplet_margin", "nonnegative", "max(0, m + d(a,p) − d(a,n)) ≥ 0", "always", nonnegative()),
    *structure("triplet_margin"),
    inv("triplet_margin", "nondecreasing_in_margin", "m ≤ m' ⇒ loss_m ≤ loss_m'", "margin > 0",
         monotone_in("margin", lambda m: st.floats(m, 4 * m + 1.0))),
    inv("triplet_margin", "translation_invariance", "loss(a + v, p + v, n + v) = loss(a, p, n)",
         "a common vector v (eps is added to the difference, which v leaves unchanged); inputs on a lattice k·2^e "
         "so the translation is exact",
         equal(lambda ev, c: ev(c["moved"], "none", label="triplet(a+v, p+v, n+v)"),
               lambda ev, c: ev(c["case"], "none", label="triplet(a, p, n)"), "translated == original",
               prepare=_triplet_translate), cases=_triplet_lattice_cases),
    inv("triplet_margin", "swap_at_least_no_swap", "loss(swap=False) ≤ loss(swap=True)",
         "always: swap replaces d(a,n) by min(d(a,n), d(p,n)) ≤ d(a,n), which can only raise m + d(a,p) − d_neg "
         "(so swap=True ≤ swap=False does NOT hold)",
         less_equal(lambda ev, c: ev(c.with_kwargs(swap=False), "none", label="triplet(swap=False)"),
                    lambda ev, c: ev(c.with_kwargs(swap=True), "none", label="triplet(swap=True)"),
                    "swap=False <= swap=True, every term")),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"anchor": BI.X, "positive": BI.X * 0.5, "negative": -BI.X}, {"margin": 1.0})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("triplet_margin", "margin_0", BI.kw(margin=0.0), ValueError, "margin"),
    BI.BadInput("triplet_margin", "margin_negative", BI.kw(margin=-1.0), ValueError, "margin"),
    BI.BadInput("triplet_margin", "rank_mismatch", BI.arg("anchor", lambda a: a[None]), RuntimeError, "dimensions"),
    BI.BadInput("triplet_margin", "feature_dim_mismatch", BI.arg("positive", lambda p: p[:, :2]), RuntimeError, "shape"),
    BI.BadInput("triplet_margin", "p_0", BI.kw(p=0.0), message="p", **BI.accepts("triplet_p_not_validated",
                                                                           "triplet_margin_loss")),
    BI.BadInput("triplet_margin", "p_negative", BI.kw(p=-1.0), message="p", **BI.accepts("triplet_p_not_validated",
                                                                                "triplet_margin_loss")),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case, fmt: FloatFormat = G.GRADCHECK_FORMAT) -> Case:
    """No small component in a - p, a - n (p - n with swap): the p-norm is smooth there, and
    |component|^p stays above the dtype's normal range (torch forms |d_i|^p: in float16 with
    p = 3.6 a component of 0.01 underflows and the gradient is -inf -- known deviation
    triplet_pnorm_underflow_low_precision); the relu's argument margin + d(a, p) - d(a, n) off 0
    (the margin moved where it is close) and, with swap, d(a, n) apart from d(p, n)."""
    norm_p = case.kwargs.get("p", 2.0)
    gap = max(1.0, 2 * (16 * fmt.tiny) ** (1 / norm_p) / G.KINK_GAP)  # in units of G.KINK_GAP
    # the distances carry a few u of the dtype: the relu's and the minimum's kinks are kept
    # 16 u away (bfloat16: 6 %; measured: a 1.2 % gap flips the relu in bfloat16)
    kg = max(G.KINK_GAP, 16 * fmt.u)
    a = case.args["anchor"]
    p, n = G.rows_apart(a, case.args["positive"], gap), G.rows_apart(a, case.args["negative"], gap)
    if case.kwargs.get("swap"):  # n apart from both a and p: alternate (two gaps rarely collide)
        for _ in range(3):
            n = G.rows_apart(a, G.rows_apart(p, n, gap), gap)
        assume(np.array_equal(G.rows_apart(p, n, gap), n))
    dist = _triplet_distance(case)
    for _ in range(4):  # the minimum's kink d(a, n) = d(p, n): move p away from a until they are apart
        if not case.kwargs.get("swap"):
            break
        close = np.abs(dist(a, n) - dist(p, n)) < 4 * kg * np.maximum(dist(a, n), 1.0)
        if not np.any(close):
            break
        p = np.where(close[..., None], a + 1.5 * (p - a), p)
    else:  # (an L1 distance can be unchanged by that move: then the case is not smooth)
        assume(not np.any(np.abs(dist(a, n) - dist(p, n)) < 4 * kg * np.maximum(dist(a, n), 1.0)))
    return _triplet_margin_off(Case({"anchor": a, "positive": p, "negative": n}, case.kwargs), kg)


def _triplet_distance(case: Case):
    eps, norm_p = case.kwargs.get("eps", 1e-6), case.kwargs.get("p", 2.0)
    return lambda u, v: np.sum(np.abs(u - v + eps) ** norm_p, -1) ** (1 / norm_p)


def _triplet_margin_off(c: Case, kg: float) -> Case:
    """The relu's argument margin + d(a, p) - d_neg off 0 by ``kg`` (relative): the margin moved up."""
    a, p, n, m = c.args["anchor"], c.args["positive"], c.args["negative"], c.kwargs["margin"]
    dist = _triplet_distance(c)
    d_neg = np.minimum(dist(a, n), dist(p, n)) if c.kwargs.get("swap") else dist(a, n)
    gap = m + dist(a, p) - d_neg
    scale = max(1.0, m, float(np.max(d_neg, initial=0.0)))
    if np.any(np.abs(gap) < kg * scale):
        c = c.with_kwargs(margin=m + 4 * kg * scale + float(np.max(np.abs(gap))))
    return c


#: coincident inputs (a = b, r = 0, a distance of 0) in the masked terms, where the loss is differentiable
#: there (``properties.gradients.AT_COINCIDENCE``)
def at_coincidence(case: Case, mask: np.ndarray, fmt: FloatFormat) -> Case:
    """positive = anchor in the masked rows (negative = anchor with swap, so that the minimum
    d(a, n) < d(p, n) is not a tie): d = eps D^(1/p) is smooth while eps > 0, its gradient the unit
    direction of (eps, ..., eps).  Only where eps^p is a normal number of the dtype (torch forms
    |d_i|^p: below that it underflows, known deviation triplet_pnorm_underflow_low_precision); eps = 0
    is the norm's kink at 0, left to the finite-gradient rows."""
    eps, norm_p = case.kwargs.get("eps", 1e-6), case.kwargs.get("p", 2.0)
    if eps <= 0 or eps**norm_p < 16 * fmt.tiny:
        return case
    which = "negative" if case.kwargs.get("swap") else "positive"
    a = case.args["anchor"]
    c = Case({**case.args, which: np.where(mask[..., None], a, case.args[which])}, case.kwargs)
    return _triplet_margin_off(c, max(G.KINK_GAP, 16 * fmt.u))


#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("triplet_margin", "anchor_is_positive",
                G.fixed_case({"anchor": [[1.0, 2.0, -1.0]], "positive": [[1.0, 2.0, -1.0]], "negative": [[1.5, 2.0, -1.0]]},
                   margin=2.0), ("anchor", "positive", "negative"), "d(a, p) = eps D^(1/p): smooth"),
    G.GradientRow("triplet_margin", "anchor_is_positive-eps_0",
                G.fixed_case({"anchor": [[1.0, 2.0, -1.0]], "positive": [[1.0, 2.0, -1.0]], "negative": [[1.5, 2.0, -1.0]]},
                   margin=2.0, eps=0.0), ("anchor", "positive", "negative"),
                "the norm at 0: subgradient 0 (torch's convention), not 0/0"),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = [
    G.SubgradientRow("triplet_margin", "relu_at_0",
                   G.fixed_case({"anchor": [[0.0, 0.0]], "positive": [[1.0, 0.0]], "negative": [[0.0, 2.0]]}, margin=1.0, eps=0.0),
                   "anchor", G.shift_kwarg("margin"), "relu(margin + d(a,p) - d(a,n)) at 0: lambda * the active gradient"),
]


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _sig_triplet(case):
    a, p, n = (case.args[k] for k in ("anchor", "positive", "negative"))
    kw = case.kwargs
    pp, eps, m = float(kw.get("p", 2)), float(kw.get("eps", 1e-6)), kw.get("margin", 1.0)
    d_ap, d_an, d_pn = (pairwise_distance(u, v, pp, eps) for u, v in ((a, p), (a, n), (p, n)))
    d_neg = np.minimum(d_an, d_pn) if kw.get("swap", False) else d_an
    parts = [np.sign(m + d_ap - d_neg), np.sign(d_an - d_pn) if kw.get("swap", False) else np.zeros(0)]
    parts += [np.sign(_shifted_difference(u, v, eps)) for u, v in ((a, p), (a, n), (p, n))]
    return np.concatenate([np.ravel(q) for q in parts])


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"anchor": rng.standard_normal((4, 3)), "positive": rng.standard_normal((4, 3)), "negative": rng.standard_normal((4, 3))},
                {"margin": 5.0, "p": 2.0, "eps": 1e-2, "swap": True})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(FD.rows_scale),
    fixed_case=_fd_case,
    dropped={"eps": 0.0},
    signature=_sig_triplet,
    term=FD.row_term,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _triplet_terms(a, p, n, margin, pn, eps, swap, swap_max=False):
    dist = lambda u, v: torch.linalg.vector_norm(u - v + eps, ord=pn, dim=-1)
    d_pos, d_neg = dist(a, p), dist(a, n)
    if swap:
        other = dist(p, n)
        d_neg = torch.maximum(d_neg, other) if swap_max else torch.minimum(d_neg, other)
    return torch.clamp(margin + d_pos - d_neg, min=0)


def _triplet_margin_reciprocal(base):
    """The margin taken as 1/margin (a 'scale' parameter confused with the margin): decreasing in margin."""
    def call(a, pos, n, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
        return base(a, pos, n, margin=1.0 / margin, p=p, eps=eps, swap=swap, reduction=reduction)
    return call


def _triplet_anchor_scaled(base):
    """A stray normalisation factor 17/16 on the anchor only: not translation invariant."""
    def call(a, p, n, **kwargs):
        return base(a * 1.0625, p, n, **kwargs)
    return call


def _triplet_swap_max(base):
    """swap=True takes max(d(a,n), d(p,n)) instead of min."""
    def call(a, pos, n, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
        return M.reduce_terms(_triplet_terms(a, pos, n, margin, p, eps, swap, swap_max=True), reduction)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "nondecreasing_in_margin": _triplet_margin_reciprocal,
    "translation_invariance": _triplet_anchor_scaled,
    "swap_at_least_no_swap": _triplet_swap_max,
}
