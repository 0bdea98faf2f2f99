"""KL divergence (``torch.nn.functional.kl_div``), reference ``refimpl.kl_div``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, strategies as st
from scipy.special import logsumexp, xlogy

import refimpl

from .. import (
    bad_inputs as BI,
    broadcast as B,
    finite_differences as FD,
    gradients as G,
    mutation as M,
    strategies as S,
)
from ..cases import Case
from ..edge_cases.expect import exactly, value
from ..edge_cases.tables import INF, TORCH_F, A, rows
from ..formats import log2_ceil
from ..invariants.core import Claim, Q, exact_or_reject, zeros
from ..invariants.kinds import (
    equal,
)
from ..invariants.tables import U64, inv, structure
from ..known import KnownFailure
from ..spec import LossSpec


@st.composite
def _kl_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    shape = draw(S.shapes(1, 3, 1, 4))
    rows, seed = draw(S.extension(n_long, int(np.prod(shape[1:], dtype=np.int64))))
    log_target = variant == "log_target"
    # log-probabilities down to -cap (exp(-cap) underflows in every dtype beyond ~-100); 'batchmean' is
    # torch's sum / N, formed in the dtype: sized as a sum
    count = S.summed_count(reduction, max(64, rows * int(np.prod(shape[1:], dtype=np.int64))), fmt=fmt)
    cap = min(1e3, fmt.headroom_cap(count=count) / 4)
    x = -draw(S.array(shape, S.reals(1e-6, cap, signed=False)))
    if log_target:
        t = -draw(S.array(shape, S.reals(1e-6, cap, signed=False)))
    else:
        t = draw(S.array(shape, st.one_of(st.just(0.0), S.log_uniform(1e-30, 1.0))))
    if draw(st.booleans()):  # inputs close to the target's log at some elements: t (log t - x) cancels
        with np.errstate(divide="ignore"):
            log_t = t if log_target else np.log(t)
        ok = np.isfinite(log_t)
        x = np.minimum(draw(S.near(np.where(ok, log_t, x), x, ok)), 0.0)
    return draw(B.broadcast_pair(S.lengthen_case(Case({"input": x, "target": t}, {"log_target": log_target}), rows, seed)))


def _kl_denominator(case, terms, reduction):
    x = case.args["input"]
    if reduction == "batchmean":  # the input's first dim, whatever the target broadcasts it to
        return float(x.shape[0]) if x.ndim else 1.0
    return float(terms.size)


def _without_log_target(case, default):
    """For an implementation without ``log_target``: a log-space target as the probability it stands for."""
    if not case.kwargs.get("log_target", default):
        return case
    return Case({**case.args, "target": np.exp(case.args["target"])}, case.kwargs)


def underflow_kl_div(case: Case, terms):
    """log_target: exp(t) is rounded to the dtype before the product (a composite op), so
    an exp(t) lost to underflow (< half a subnormal) costs |t - x| subnormals.
    (Measured: bfloat16 exp(-93) = 0, the term -3.8e-39 becomes -0.)"""
    if not case.kwargs.get("log_target", False):
        return 1.0
    return 1.0 + np.abs(case.args["target"] - case.args["input"])


def gradient_underflow_kl_div(case: Case, fmt, cotangent) -> float:
    """What a gradient element may lose to torch's backward intermediates below ``fmt``'s normal range
    (half a subnormal spacing each, times what multiplies it afterwards), per term of upstream gradient
    ``c`` (a 'mean''s divide comes first), for the term where it is largest.  kl_div is composite:

    - probability target, ``xlogy(t, t) - t x``: xlogy's backward w.r.t. its second argument is
      ``(c t) / t``, so where ``c t`` rounds below the normal range the division by t multiplies its half
      spacing: sub / (2 t);
    - log-space target, ``exp(t) (t - x)``: ``c (t - x)`` then times exp(t) (sub exp(t) / 2), and exp(t)
      itself (a forward intermediate: bfloat16 exp(-93) = 0) then times c (1 + |t - x|).

    (Measured: float16, 'mean' of 3752 terms, t = 0.02, x = -1e-4, upstream 0.0625: c = 1.7e-5 and
    c t = 3.3e-7 are subnormal, c t rounds to 6 spacings (7 % off) and d/dt is 2.8 % off, 1.36e-6 where
    the plain floor allowed 8.8e-7; this amount is 1.5e-6 there.)  (A subnormal ``c`` itself, times the
    local derivative, is every loss's and within the generic floor of 8 spacings here.)"""
    x, t = np.broadcast_arrays(np.asarray(case.args["input"], float), np.asarray(case.args["target"], float))
    c = np.broadcast_to(np.abs(cotangent), x.shape)
    half = fmt.subnormal / 2
    with np.errstate(over="ignore", invalid="ignore"):
        if case.kwargs.get("log_target", False):
            e = np.exp(t)
            lost = (np.where(c * np.abs(t - x) < fmt.tiny, half * e, 0.0)
                    + np.where(e < fmt.tiny, half * c * (1 + np.abs(t - x)), 0.0))
        else:
            lost = np.where((t > 0) & (c * t < fmt.tiny), half / np.where(t > 0, t, 1.0), 0.0)
    return float(np.max(np.nan_to_num(lost, nan=0.0, posinf=np.inf), initial=0.0))


def scale_kl_div(case: Case, terms):
    """xlogy(t, t) - t x: 3 roundings of |t log t| (log 2u), 2 of |t x|, 1 of |t|;
    log_target: exp(t) (t - x), no cancellation beyond the exact inputs': 4 |t|."""
    x, t = case.args["input"], case.args["target"]
    if case.kwargs.get("log_target", False):
        return 4 * np.abs(terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        tlogt = np.where(t == 0, 0.0, np.abs(t * np.log(t)))
        tx = np.where(t == 0, 0.0, np.abs(t * x))
    return 3 * tlogt + 2 * tx + np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="kl_div", reference=refimpl.kl_div, arg_names=("input", "target"),
    torch_function="torch.nn.functional.kl_div", cases=_kl_cases, variants=("prob_target", "log_target"),
    scale=scale_kl_div, underflow=underflow_kl_div, gradient_underflow=gradient_underflow_kl_div,
    denominator=_kl_denominator, reductions=("none", "mean", "sum", "batchmean"),
    without={"log_target": _without_log_target},
    mirrors="log_target; reduction none/mean/sum/batchmean; target 0 -> 0 contribution; broadcasting (silent)",
    broadcast="silent", gap=lambda args, kw: (args[0], args[1] if kw.get("log_target") else args[1].log()),
)


# ---- edge-case rows ------------------------------------------------------------------------

#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "kl_div",
    ("zero_targets", Case({"input": A([-1.0, -2.5, 0.0]), "target": A([0.0, 0.0, 0.0])}, {"reduction": "none"}),
     exactly([0.0, 0.0, 0.0], "zeros"), "0 log(0 / q) = 0: a zero target contributes nothing"),
    ("zero_target-neg_inf_input", Case({"input": A([-INF, -1.0]), "target": A([0.0, 1.0])}, {"reduction": "none"}),
     exactly([0.0, 1.0], "[0, 1]"), "0 log(0 / 0) = 0 by the KL convention (q = 0 where p = 0 is allowed)",
     {"known_failures": (KnownFailure("kl_div_zero_target_neg_inf_input", TORCH_F + "kl_div"),)}),
    ("log_target-neg_inf_target", Case({"input": A([-1.0, -INF]), "target": A([-INF, -INF])},
                                       {"reduction": "none", "log_target": True}),
     exactly([0.0, 0.0], "zeros"), "exp(-inf) = 0 is a zero target probability: contributes 0",
     {"known_failures": (KnownFailure("kl_div_zero_target_neg_inf_input", TORCH_F + "kl_div"),)}),
    ("neg_inf_input-positive_target", Case({"input": A([-INF]), "target": A([0.5])}, {"reduction": "none"}),
     exactly([INF], "inf"), "q = 0 where p > 0: the divergence is infinite"),
    ("zero_dim-batchmean", Case({"input": A(-1.0), "target": A(0.5)}, {"reduction": "batchmean"}),
     value(lambda ctx: 0.5 * (np.log(0.5) + 1.0), "0.5 (log 0.5 + 1)"), "a 0-d input has batch size 1"),
)


# ---- invariants --------------------------------------------------------------------------

def _kl_optimum(ev, case, draw):
    t = case.args["target"]
    if case.kwargs.get("log_target"):
        return {"case": exact_or_reject(ev, Case({"input": t, "target": t}, case.kwargs)), "slack": 0.0}
    with np.errstate(divide="ignore"):
        logt = np.where(t > 0, np.log(np.where(t > 0, t, 1.0)), case.args["input"])
    x_d = Case({"input": logt}).rounded(ev.dtype).args["input"]
    assume(np.all(np.isfinite(x_d)))
    # term t (log t − x): Lipschitz t in x
    slack = t * (np.abs(x_d - logt) + 2 * U64 * np.abs(logt))
    return {"case": Case({"input": x_d, "target": t}, case.kwargs), "slack": slack}


def _kl_at_optimum(ev, case, draw):
    c = _kl_optimum(ev, case, draw)
    v = ev(c["case"], "none", label="kl_div at the optimum")
    return [Claim("==", v, zeros(v.shape), "kl_div == 0 at the optimum, every term", c["slack"])]


def _kl_ce(ev, case, draw):
    x, t = np.broadcast_arrays(case.args["input"], case.args["target"])  # the rows of a broadcast pair
    c = x.shape[-1]
    x2, t2 = x.reshape(-1, c), t.reshape(-1, c)
    lse = logsumexp(x2, axis=1)
    s = np.sum(t2, axis=1)
    tlogt = xlogy(t2, t2)
    g = s * lse - np.sum(tlogt, axis=1)  # CE_sum − KL_sum, per row
    # float64 evaluation (the model's conventions): logsumexp as -log_softmax's budget (|m| + C + 6 per row,
    # scaled by s), -Σ t log t 3 roundings per term plus its sum, the product and difference 2 |g|
    lc = log2_ceil(c)
    budget = s * (np.abs(lse) + np.max(np.abs(x2), axis=1) + lc + 6) + (3 + lc) * np.sum(np.abs(tlogt), axis=1) \
        + 2 * np.abs(g)
    gq = Q.closed_form(g, 2 * U64 * budget, "s·LSE(x) − Σ t log t").sum(label="Σ_rows (s LSE − Σ t log t)")
    return {"kl": case, "ce": Case({"input": x2, "target": t2}), "g": gq}


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    *structure("kl_div"),
    inv("kl_div", "zero_at_optimum", "kl_div(log t, t) = 0; log_target: kl_div(t, t) = 0",
         "prob targets: input = log t (rounded to the dtype: slack t|δ|, the term's Lipschitz constant in x is t; "
         "t = 0 terms are 0 for any x); log_target: input = target, exact",
         _kl_at_optimum),
    inv("kl_div", "ce_minus_entropy", "KL(t‖q) = CE(log q, t) − H(t) (rows: Σ kl_div = Σ CE − Σ(s LSE(x) − Σ t log t))",
         "prob targets (any t ≥ 0; s = Σ_c t, LSE(x) = 0 when x = log q normalised); classes = last axis",
         equal(lambda ev, c: ev(c["kl"], "sum", label="kl_div(sum)"),
               lambda ev, c: ev(c["ce"], "sum", loss="cross_entropy", label="cross_entropy(sum)") - c["g"],
               "kl_div(x, t) == CE(x, t) − Σ(s LSE(x) − Σ t log t)", prepare=_kl_ce),
         variants=("prob_target",)),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": np.log(BI.P[:, :2] + 0.125), "target": BI.P[:, :2]})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("kl_div", "shape_mismatch", BI.arg("target", lambda t: np.ones((2, 3)) / 3), RuntimeError, "shape"),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    t = case.args["target"]
    if not case.kwargs.get("log_target", False):  # d/dt t log t = log t + 1 is -inf at t = 0
        t = np.where(t < G.KINK_GAP, t + 2 * G.KINK_GAP, t)
    return Case({**case.args, "target": t}, case.kwargs)


#: no coincident inputs at which the loss is differentiable and the smooth points do not go
at_coincidence = None

#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("kl_div", "zero_targets", G.fixed_case({"input": [-1.0, -2.0], "target": [0.0, 0.5]}), ("input",),
                "d/dx = -t: 0 for a zero target (d/dt = log t + 1 - x is -inf there: not checked)"),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = []


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _kl_step(case, arg):
    v = case.args[arg]
    if arg == "target" and not case.kwargs.get("log_target", False):
        return FD.H0 * np.abs(v)  # t >= 0: relative step, t = 0 (boundary) is not differenced
    return FD.H0 * np.maximum(np.abs(v), 1.0)


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": -rng.uniform(0.05, 0.95, (3, 4)) * 3, "target": rng.uniform(0.05, 0.95, (3, 4))}, {"log_target": False})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=_kl_step,
    fixed_case=_fd_case,
    dropped={"log_target": True},
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _kl_without_entropy(base):
    """KL computed as −Σ t x (the cross-entropy part only, the t log t term dropped)."""
    def call(x, t, reduction="mean", log_target=False):
        if log_target:
            return base(x, t, reduction=reduction, log_target=log_target)
        terms = base(x, t, reduction="none") - torch.xlogy(t, t)
        if reduction == "batchmean":
            return terms.sum() / (x.shape[0] if x.ndim else 1)
        return M.reduce_terms(terms, reduction)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "zero_at_optimum": _kl_without_entropy,
    "ce_minus_entropy": _kl_without_entropy,
}
