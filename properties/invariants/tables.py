"""The per-loss invariant tables.  Each entry: a name, a one-line mathematical statement, the
exact condition under which it holds (the README's table), the relation (``kinds``), and the
domain it is drawn from (variants of the loss's own strategy, or its own strategy).

Inexact transforms (``logit``, ``log``) carry a derived slack, stated with the invariant: the
loss's Lipschitz constant in the perturbed input times the rounding of that input to the dtype
(the rounding is known exactly: float64 value minus dtype value), plus the float64 error of the
transform itself (log: 2 u_64 |log|, the model's convention for a transcendental).

Known deviation NOT tested as an invariant: cross-entropy with one-hot probability targets
equals index targets only without a weight under reduction='mean' -- with a weight, index
targets divide by the sum of the targets' weights and probability targets by N
(``cross_entropy_one_hot_vs_index_weighted_mean``, pytorch#107680); the invariant below
covers the weighted case under 'none' and 'sum' only.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import assume, strategies as st
from scipy.special import logsumexp, xlogy

from .. import strategies as S
from ..cases import Case
from ..formats import FLOAT64
from ..formats import log2_ceil
from .core import Claim, Invariant, Q, exact_or_reject, fractions, zeros
from .kinds import (
    batch_permutation, batch_split, equal, in_range, lattice, less_equal, monotone_in, nonnegative,
    power_of_two, reduction_identities, scaled, symmetric, two_adic_exponent, with_kwargs_equal, zero_at,
)

U64 = FLOAT64.u


def _inv(loss_name, name, statement, holds_when, relation, **kw) -> Invariant:
    return Invariant(loss_name, name, statement, holds_when, relation, **kw)


def _structure(loss_name, variants=None, batch_variants=None, perm=None, split=None, what="every variant",
               perm_when="batch size ≥ 2", split_when="batch size ≥ 2, 0 < k < N"):
    """The reduction identities and the batch structure (every loss has them)."""
    bv = batch_variants if batch_variants is not None else variants
    return [
        _inv(loss_name, "reductions", "sum = Σ none; mean = Σ none / spec.denominator (batchmean: / batch size); "
             "none has the unreduced shape", what, reduction_identities(), variants=variants),
        _inv(loss_name, "batch_permutation", "loss(x[π])_none = loss(x)_none[π]; loss(x[π])_sum = loss(x)_sum",
             perm_when, perm or batch_permutation(), variants=bv),
        _inv(loss_name, "batch_split", "loss(x)_sum = loss(x[:k])_sum + loss(x[k:])_sum", split_when,
             split or batch_split(), variants=bv),
    ]


def _target_is_input(ev, case, draw):
    return Case({**case.args, "target": case.args["input"]}, case.kwargs)


def _exp(draw, lo=-6, hi=6):
    return power_of_two(draw, lo, hi)


# ---- regression ---------------------------------------------------------------------------------------

def _in_residual_range(ev, case):
    """Reject a scaled case beyond the regression strategies' magnitude cap (so that squares and
    their sums stay finite in the dtype, as for every drawn case)."""
    from ..specs._residual import MAX_ELEMS

    cap = ev.fmt.headroom_cap(power=2, count=MAX_ELEMS) / 4
    assume(all(np.all(np.abs(case.args[k]) <= cap) for k in ("input", "target")))
    return case


def _mse_homogeneous(ev, case, draw):
    k = _exp(draw)
    moved = _in_residual_range(ev, exact_or_reject(ev, scaled(case, ("input", "target"), k)))
    return {"case": case, "k": k, "scaled": moved}


MSE = [
    _inv("mse", "nonnegative", "w (x − y)² ≥ 0", "weight ≥ 0 (the strategy's weights are > 0)", nonnegative()),
    _inv("mse", "zero_at_optimum", "mse(x, x) = 0", "input = target (any weight)", zero_at(_target_is_input)),
    _inv("mse", "symmetric", "mse(x, y) = mse(y, x)", "always (weight unchanged)", symmetric("input", "target")),
    *_structure("mse"),
    _inv("mse", "homogeneous_deg2", "mse(2^k x, 2^k y) = 4^k mse(x, y)",
         "k integer, 2^k x and 2^k y exact (no underflow) and inside the strategy's magnitude cap (no overflow)",
         equal(lambda ev, c: ev(c["scaled"], "sum", label="mse(2^k x, 2^k y)"),
               lambda ev, c: ev(c["case"], "sum", label="mse(x, y)").scale(Fraction(4) ** c["k"], "4^k mse(x, y)"),
               "mse(2^k x, 2^k y) == 4^k mse(x, y) (sum)", prepare=_mse_homogeneous)),
]


def _huber_delta_scaling(ev, case, draw):
    k = _exp(draw)
    lhs = case.with_kwargs(delta=2.0 ** k)
    rhs = _in_residual_range(ev, exact_or_reject(ev, scaled(case, ("input", "target"), -k).with_kwargs(delta=1.0)))
    return {"lhs": lhs, "rhs": rhs, "k": k}


def _huber_quadratic(ev, case, draw):
    r = np.abs(case.args["input"] - case.args["target"])
    m = float(np.max(r)) if r.size else 0.0
    delta = 2.0 ** (int(np.floor(np.log2(m))) + 1) if m > 0 else 1.0  # a power of two > max|r|
    kw = {k: v for k, v in case.kwargs.items() if k != "delta"}
    return {"case": case.with_kwargs(delta=delta), "mse": Case(case.args, kw)}


HUBER = [
    _inv("huber", "nonnegative", "Huber_δ(r) ≥ 0", "δ > 0, weight ≥ 0", nonnegative()),
    _inv("huber", "zero_at_optimum", "huber(x, x) = 0", "input = target", zero_at(_target_is_input)),
    _inv("huber", "symmetric", "huber(x, y) = huber(y, x)", "always (weight unchanged)",
         symmetric("input", "target")),
    *_structure("huber"),
    _inv("huber", "delta_scaling", "Huber_δ(r) = δ² Huber_1(r/δ)", "δ = 2^k (k ≠ 0), x/δ, y/δ exact and inside the strategy's magnitude cap",
         equal(lambda ev, c: ev(c["lhs"], "none", label="huber(x, y, delta=2^k)"),
               lambda ev, c: ev(c["rhs"], "none", label="huber(x/2^k, y/2^k, delta=1)").scale(
                   Fraction(4) ** c["k"], "4^k huber(x/2^k, y/2^k, 1)"),
               "huber_{2^k}(x, y) == 4^k huber_1(x/2^k, y/2^k)", prepare=_huber_delta_scaling)),
    _inv("huber", "quadratic_regime", "Huber_δ(r) = ½ r² = ½ mse(x, y) (terms)", "δ > max|r| (δ = a power of two)",
         equal(lambda ev, c: ev(c["case"], "none", label="huber(delta > max|r|)"),
               lambda ev, c: ev(c["mse"], "none", loss="mse", label="mse").scale(Fraction(1, 2), "½ mse"),
               "huber == ½ mse, every term", prepare=_huber_quadratic)),
]


def _sl1_vs_huber(ev, case, draw):
    beta = float(case.kwargs["beta"])
    beta = 2.0 ** int(np.round(np.log2(beta)))  # a power of two: beta * value is exact
    kw = {k: v for k, v in case.kwargs.items() if k != "beta"}
    return {"case": case.with_kwargs(beta=beta), "huber": Case(case.args, {**kw, "delta": beta}), "beta": beta}


SMOOTH_L1 = [
    _inv("smooth_l1", "nonnegative", "SmoothL1_β(r) ≥ 0", "β ≥ 0", nonnegative()),
    _inv("smooth_l1", "zero_at_optimum", "smooth_l1(x, x) = 0", "input = target, any β ≥ 0",
         zero_at(_target_is_input)),
    _inv("smooth_l1", "symmetric", "smooth_l1(x, y) = smooth_l1(y, x)", "always", symmetric("input", "target")),
    *_structure("smooth_l1"),
    _inv("smooth_l1", "scaled_huber", "β · SmoothL1_β(r) = Huber_β(r)", "β > 0 (drawn as a power of two)",
         equal(lambda ev, c: ev(c["case"], "none", label="smooth_l1(beta)").scale(c["beta"], "beta*smooth_l1"),
               lambda ev, c: ev(c["huber"], "none", loss="huber", label="huber(delta=beta)"),
               "beta * smooth_l1_beta == huber_beta, every term", prepare=_sl1_vs_huber), variants=("plain",)),
]

# ---- classification --------------------------------------------------------------------------------------



def _ce_axis(x):
    return 0 if x.ndim == 1 else 1


@st.composite
def _ce_lattice_cases(draw, spec, fmt):
    """The loss's own cases (every variant) with logits on a lattice k 2^e: a per-sample shift by a
    multiple of 2^e is exact."""
    variant = draw(st.sampled_from(spec.variants))
    case = draw(spec.cases(variant, fmt))
    x = case.args["input"]
    n_classes = x.shape[_ce_axis(x)]
    cap = min(1e30, fmt.headroom_cap(count=4 * n_classes * max(1, x.size // n_classes)))
    return Case({**case.args, "input": draw(lattice(x.shape, fmt, cap))}, case.kwargs)


def _ce_shift(ev, case, draw):
    x = case.args["input"]
    axis = _ce_axis(x)
    e = two_adic_exponent(x)
    e = -4 if e is None else e
    k_max = 2 ** (ev.fmt.precision - 2)
    sample_shape = x.shape[:axis] + (1,) + x.shape[axis + 1:]
    c = draw(S.long_array(int(np.prod(sample_shape)), st.integers(-k_max, k_max)), "shift multiples").astype(np.float64)
    shift = c.reshape(sample_shape) * 2.0 ** e
    return {"case": case, "shifted": exact_or_reject(ev, Case({**case.args, "input": x + shift}, case.kwargs))}


@st.composite
def _ce_optimum_cases(draw, spec, fmt):
    """Positive probability rows q (entries ≥ 16 · tiny of the format) and logits log q rounded later."""
    n_classes = draw(st.integers(1, 6))
    shape = (n_classes,) if draw(st.booleans()) else (draw(st.integers(1, 6)), n_classes)
    axis = _ce_axis(np.empty(shape))
    raw = draw(S.array(shape, S.log_uniform(max(1e-12, 16 * fmt.tiny), 1.0)))
    q = raw / raw.sum(axis=axis, keepdims=True)
    return Case({"input": np.zeros(shape), "target": q})


def _ce_at_optimum(ev, case, draw):
    q = case.args["target"]
    assume(np.all(q > 0))
    logq = np.log(q)
    x_d = Case({"input": logq}).rounded(ev.dtype).args["input"]
    assume(np.all(np.isfinite(x_d)))
    return {"case": Case({"input": x_d, "target": q}), "logq": logq, "x": x_d}


def _ce_entropy_side(ev, c):
    """-Σ q log q + s log s per sample (s = Σ q; = H(q) when s = 1), with the model's float64 bound."""
    q = c["case"].args["target"]
    axis = _ce_axis(q)
    terms = -xlogy(q, q)
    s = np.sum(q, axis=axis)
    value = np.sum(terms, axis=axis) + xlogy(s, s)
    n = q.shape[axis]
    # float64 evaluation: each -q log q 3 roundings, the sum depth ceil(log2 C), s log s: s's sum and the log
    budget = np.sum(3 * np.abs(terms) + log2_ceil(n) * np.abs(terms), axis=axis) + (log2_ceil(n) + 3) * s
    return Q.closed_form(value, 2 * U64 * budget + U64 * np.abs(value), "-Σ q log q + s log s")


def _ce_optimum_slack(ev, c):
    """|CE(x + δ, q) − CE(x, q)| ≤ 2 s max_c |δ_c| (the gradient s·softmax − q has L1 norm ≤ 2s)."""
    q = c["case"].args["target"]
    axis = _ce_axis(q)
    delta = np.abs(c["x"] - c["logq"]) + 2 * U64 * np.abs(c["logq"])
    return 2 * np.sum(q, axis=axis) * np.max(delta, axis=axis)


def _one_hot(case: Case) -> Case:
    x, t = case.args["input"], case.args["target"]
    axis = _ce_axis(x)
    n_classes = x.shape[axis]
    oh = np.moveaxis(np.eye(n_classes)[t], -1, axis)
    return Case({"input": x, "target": oh}, case.kwargs)


def _ce_one_hot_reductions(case):
    return ("none", "sum") if "weight" in case.kwargs else ("none", "mean")


def _ce_one_hot(ev, case, draw):
    oh = _one_hot(case)
    return [Claim("==", ev(oh, r, label=f"cross_entropy(x, one_hot(t), {r})"),
                  ev(case, r, label=f"cross_entropy(x, t, {r})"), f"one-hot probability targets == index targets ({r})")
            for r in _ce_one_hot_reductions(case)]


def _ce_smoothing_mixture(ev, case, draw):
    """CE_ε(x, t) = (1−ε) CE(x, onehot t) + (ε/C) CE(x, 1): CE is linear in a probability target."""
    eps = Fraction(float(case.kwargs["label_smoothing"]))
    x = case.args["input"]
    n_classes = x.shape[_ce_axis(x)]
    plain = {k: v for k, v in case.kwargs.items() if k != "label_smoothing"}
    oh = Case(_one_hot(case).args, plain)
    ones = Case({"input": x, "target": np.ones_like(x)}, plain)
    claims = []
    for r in ("none", "mean"):
        lhs = ev(case, r, label=f"cross_entropy(x, t, label_smoothing=ε, {r})")
        rhs = ev(oh, r, label="CE(x, one_hot(t))").scale(1 - eps, "(1−ε) CE(x, one_hot t)") + \
            ev(ones, r, label="CE(x, ones)").scale(eps / n_classes, "(ε/C) CE(x, ones)")
        claims.append(Claim("==", lhs, rhs, f"label smoothing == mixture with the uniform distribution ({r})"))
    return claims


CROSS_ENTROPY = [
    _inv("cross_entropy", "nonnegative", "−Σ_c q_c log softmax(x)_c ≥ 0 (index: −w_t log p_t)",
         "targets and weights ≥ 0", nonnegative()),
    *_structure("cross_entropy", what="every variant (mean: non-empty denominator); the batch relations on "
                "cases with a batch axis"),
    _inv("cross_entropy", "shift_invariance", "CE(x + c·1, t) = CE(x, t) for a per-sample constant c",
         "any target kind, weight, ignore_index, label_smoothing; x and x + c exact (logits on a lattice k·2^e)",
         equal(lambda ev, c: ev(c["shifted"], "none", label="CE(x + c)"),
               lambda ev, c: ev(c["case"], "none", label="CE(x)"), "CE(x + c) == CE(x), every sample",
               prepare=_ce_shift), cases=_ce_lattice_cases),
    _inv("cross_entropy", "entropy_at_optimum", "CE(log q, q) = −Σ q log q + s log s (= H(q) when s = Σq = 1)",
         "probability targets q > 0, no weight, no smoothing; logits log q rounded to the dtype: slack "
         "2 s max|δ| (CE's gradient s·softmax − q has L1 norm ≤ 2s)",
         equal(lambda ev, c: ev(c["case"], "none", label="CE(log q, q)"), _ce_entropy_side,
               "CE(log q, q) == H(q) + s log s, every sample", prepare=_ce_at_optimum, slack=_ce_optimum_slack),
         cases=_ce_optimum_cases),
    _inv("cross_entropy", "one_hot_equals_index", "CE(x, one_hot(t)) = CE(x, t)",
         "no weight: reductions none and mean; with weight: none and sum only (weighted mean differs: known "
         "deviation cross_entropy_one_hot_vs_index_weighted_mean, pytorch#107680); label smoothing either way; "
         "no ignore_index", _ce_one_hot, variants=("index", "weight", "label_smoothing", "weight-label_smoothing")),
    _inv("cross_entropy", "label_smoothing_mixture",
         "CE_ε(x, t) = CE(x, (1−ε) one_hot(t) + ε/C) = (1−ε) CE(x, one_hot t) + (ε/C) CE(x, 1)",
         "index targets, no weight, no ignore_index; reductions none and mean", _ce_smoothing_mixture,
         variants=("label_smoothing",)),
    _inv("cross_entropy", "weight_of_ones", "CE(x, t, weight=1) = CE(x, t)", "every target kind, all reductions",
         with_kwargs_equal(lambda c: {"weight": np.ones(c.args["input"].shape[_ce_axis(c.args["input"])])},
                           "weight of ones == no weight", reductions=("none", "mean", "sum")),
         variants=("index", "ignore_index", "label_smoothing", "ignore_index-label_smoothing", "prob",
                   "prob-label_smoothing")),
]


def _bce_hard_optimum(ev, case, draw):
    t = np.round(case.args["target"])
    return Case({"input": t, "target": t}, case.kwargs)


BCE = [
    _inv("bce", "nonnegative", "−w (t log p + (1−t) log(1−p)) ≥ 0", "p, t ∈ [0, 1], w ≥ 0 (log clamp at −100 "
         "keeps it finite and ≥ 0)", nonnegative()),
    _inv("bce", "zero_at_optimum", "bce(t, t) = 0 for t ∈ {0, 1}", "hard targets, input = target (0·log 0 = 0 "
         "via the clamp)", zero_at(_bce_hard_optimum)),
    *_structure("bce"),
    _inv("bce", "weight_of_ones", "bce(p, t, weight=1) = bce(p, t)", "all reductions",
         with_kwargs_equal(lambda c: {"weight": np.ones(c.args["input"].shape[-1:])}, "weight of ones == no weight",
                           reductions=("none", "mean", "sum")), variants=("plain",)),
]


@st.composite
def _bcel_vs_bce_cases(draw, spec, fmt):
    """The bce spec's cases with p clipped to [g, 1 − g], g = max(1e-12, eps of the dtype)."""
    from ..specs import SPECS

    variant = draw(st.sampled_from(("plain", "weight")))
    case = draw(SPECS["bce"].cases(variant, fmt))
    gap = max(1e-12, fmt.eps)  # p and 1 - p stay representable and nonzero in the dtype: finite logits
    return Case({**case.args, "input": np.clip(case.args["input"], gap, 1 - gap)}, case.kwargs)


def _bcel_vs_bce(ev, case, draw):
    p = case.args["input"]
    assume(np.all((p > np.exp(-100)) & (p < 1 - np.exp(-100))))  # BCE's -100 log clamp is not reached
    log_p, log_1mp = np.log(p), np.log1p(-p)
    x64 = log_p - log_1mp
    x_d = Case({"input": x64}).rounded(ev.dtype).args["input"]
    assume(np.all(np.isfinite(x_d)))
    # |x_d − logit p| <= |x_d − x64| + float64 error of x64 (two logs 2u each, the difference u)
    delta = np.abs(x_d - x64) + U64 * (2 * (np.abs(log_p) + np.abs(log_1mp)) + np.abs(x64))
    w = case.kwargs.get("weight", 1.0)
    return {"bce": case, "bcel": Case({"input": x_d, "target": case.args["target"]}, case.kwargs),
            "slack": np.abs(w) * delta}


BCE_WITH_LOGITS = [
    _inv("bce_with_logits", "nonnegative", "w (softplus(−x)·pw·t + softplus(x)·(1−t)) ≥ 0", "t ∈ [0, 1], w, pw ≥ 0",
         nonnegative()),
    *_structure("bce_with_logits"),
    _inv("bce_with_logits", "pos_weight_of_ones", "bcel(x, t, pos_weight=1) = bcel(x, t)", "all reductions",
         with_kwargs_equal(lambda c: {"pos_weight": np.ones(c.args["input"].shape[-1:])},
                           "pos_weight of ones == no pos_weight", reductions=("none", "mean", "sum")),
         variants=("plain", "weight")),
    _inv("bce_with_logits", "weight_of_ones", "bcel(x, t, weight=1) = bcel(x, t)", "all reductions",
         with_kwargs_equal(lambda c: {"weight": np.ones(c.args["input"].shape[-1:])}, "weight of ones == no weight",
                           reductions=("none", "mean", "sum")), variants=("plain", "pos_weight")),
    _inv("bce_with_logits", "equals_bce_of_sigmoid", "bcel(logit p, t) = bce(p, t)",
         "p ∈ (e^−100, 1 − e^−100) (BCE's −100 log clamp not reached), no pos_weight; logit p rounded to the "
         "dtype: slack w|δ| (|∂bcel/∂x| = w|σ(x) − t| ≤ w)",
         equal(lambda ev, c: ev(c["bcel"], "none", label="bce_with_logits(logit p, t)"),
               lambda ev, c: ev(c["bce"], "none", loss="bce", label="bce(p, t)"),
               "bce_with_logits(logit p) == bce(p), every term", prepare=_bcel_vs_bce, slack=lambda ev, c: c["slack"]),
         cases=_bcel_vs_bce_cases),
]


def _focal_plain(case: Case, **kw) -> Case:
    return Case({"input": case.args["inputs"], "target": case.args["targets"]}, kw)


def _focal_vs_bcel_g0(ev, case, draw):
    return {"focal": case.with_kwargs(alpha=-1.0, gamma=0.0), "bcel": _focal_plain(case)}


def _focal_vs_bcel(ev, case, draw):
    return {"focal": case, "bcel": _focal_plain(case)}


FOCAL = [
    _inv("focal", "nonnegative", "α_t (1 − p_t)^γ ce ≥ 0", "targets in [0, 1], γ ≥ 0, α < 0 or α ∈ [0, 1]",
         nonnegative()),
    *_structure("focal"),
    _inv("focal", "gamma0_equals_bce_with_logits", "focal(x, t, α<0, γ=0) = bce_with_logits(x, t)",
         "α < 0 (no α weighting), γ = 0 (0^0 = 1); any targets in [0, 1]",
         equal(lambda ev, c: ev(c["focal"], "none", label="focal(alpha=-1, gamma=0)"),
               lambda ev, c: ev(c["bcel"], "none", loss="bce_with_logits", label="bce_with_logits"),
               "focal(α<0, γ=0) == bce_with_logits, every term", prepare=_focal_vs_bcel_g0)),
    _inv("focal", "at_most_bce_with_logits", "focal(x, t) ≤ bce_with_logits(x, t)",
         "γ ≥ 0 and α < 0 (α_t = 1) — also α ∈ [0, 1] (then α_t ≤ 1); (1 − p_t)^γ ≤ 1 since 1 − p_t ∈ [0, 1]",
         less_equal(lambda ev, c: ev(c["focal"], "none", label="focal"),
                    lambda ev, c: ev(c["bcel"], "none", loss="bce_with_logits", label="bce_with_logits"),
                    "focal <= bce_with_logits, every term", prepare=_focal_vs_bcel)),
    _inv("focal", "nonincreasing_in_gamma", "γ ≤ γ' ⇒ focal_γ' ≤ focal_γ",
         "every term: ce ≥ 0, α_t ≥ 0 and 1 − p_t = t σ(−x) + (1−t) σ(x) ∈ [0, 1] — for hard AND soft targets "
         "(a convex combination of two values in [0, 1])",
         monotone_in("gamma", lambda g: st.floats(g, g + 5.0), increasing=False)),
]

# ---- divergence ------------------------------------------------------------------------------------------


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


KL_DIV = [
    *_structure("kl_div"),
    _inv("kl_div", "zero_at_optimum", "kl_div(log t, t) = 0; log_target: kl_div(t, t) = 0",
         "prob targets: input = log t (rounded to the dtype: slack t|δ|, the term's Lipschitz constant in x is t; "
         "t = 0 terms are 0 for any x); log_target: input = target, exact",
         _kl_at_optimum),
    _inv("kl_div", "ce_minus_entropy", "KL(t‖q) = CE(log q, t) − H(t) (rows: Σ kl_div = Σ CE − Σ(s LSE(x) − Σ t log t))",
         "prob targets (any t ≥ 0; s = Σ_c t, LSE(x) = 0 when x = log q normalised); classes = last axis",
         equal(lambda ev, c: ev(c["kl"], "sum", label="kl_div(sum)"),
               lambda ev, c: ev(c["ce"], "sum", loss="cross_entropy", label="cross_entropy(sum)") - c["g"],
               "kl_div(x, t) == CE(x, t) − Σ(s LSE(x) − Σ t log t)", prepare=_kl_ce),
         variants=("prob_target",)),
]

# ---- embeddings ------------------------------------------------------------------------------------------

HINGE_EMBEDDING = [
    _inv("hinge_embedding", "nonnegative", "y=1: x ≥ 0; y=−1: max(0, m − x) ≥ 0",
         "inputs x ≥ 0 (distances); any margin (y = −1 terms are ≥ 0 always; y = 1 terms equal x)",
         nonnegative(), variants=("distances",)),
    *_structure("hinge_embedding"),
    _inv("hinge_embedding", "nondecreasing_in_margin", "m ≤ m' ⇒ loss_m ≤ loss_m'",
         "any inputs and margin sign: y = −1 terms max(0, m − x) are non-decreasing in m, y = 1 terms independent",
         monotone_in("margin", lambda m: st.floats(m, m + 2 * abs(m) + 1.0))),
]


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


TRIPLET_MARGIN = [
    _inv("triplet_margin", "nonnegative", "max(0, m + d(a,p) − d(a,n)) ≥ 0", "always", nonnegative()),
    *_structure("triplet_margin"),
    _inv("triplet_margin", "nondecreasing_in_margin", "m ≤ m' ⇒ loss_m ≤ loss_m'", "margin > 0",
         monotone_in("margin", lambda m: st.floats(m, 4 * m + 1.0))),
    _inv("triplet_margin", "translation_invariance", "loss(a + v, p + v, n + v) = loss(a, p, n)",
         "a common vector v (eps is added to the difference, which v leaves unchanged); inputs on a lattice k·2^e "
         "so the translation is exact",
         equal(lambda ev, c: ev(c["moved"], "none", label="triplet(a+v, p+v, n+v)"),
               lambda ev, c: ev(c["case"], "none", label="triplet(a, p, n)"), "translated == original",
               prepare=_triplet_translate), cases=_triplet_lattice_cases),
    _inv("triplet_margin", "swap_at_least_no_swap", "loss(swap=False) ≤ loss(swap=True)",
         "always: swap replaces d(a,n) by min(d(a,n), d(p,n)) ≤ d(a,n), which can only raise m + d(a,p) − d_neg "
         "(so swap=True ≤ swap=False does NOT hold)",
         less_equal(lambda ev, c: ev(c.with_kwargs(swap=False), "none", label="triplet(swap=False)"),
                    lambda ev, c: ev(c.with_kwargs(swap=True), "none", label="triplet(swap=True)"),
                    "swap=False <= swap=True, every term")),
]


def _cos_hi(case):
    y = case.args["target"]
    m = Fraction(float(case.kwargs["margin"]))
    out = np.empty(y.shape, dtype=object)
    for i, v in enumerate(np.asarray(y).flat):
        out.flat[i] = Fraction(2) if v == 1 else max(Fraction(0), 1 - m)
    return out


def _cos_scale(ev, case, draw):
    k = power_of_two(draw, -8, 8)
    moved = exact_or_reject(ev, scaled(case, ("input1",), k))
    # stay in the strategy's magnitude domain: torch forms |a|² |b|² in the dtype (overflow beyond it,
    # a documented limit of torch's formula, not of the invariant)
    cap = ev.fmt.headroom_cap(power=4, count=4 * case.args["input1"].shape[-1])
    assume(np.all(np.abs(moved.args["input1"]) <= cap))
    a = case.args["input1"]
    norm2 = np.minimum(np.sum(a * a, axis=-1), np.sum(a * a, axis=-1) * 4.0**k)  # the smaller of |a|², |2^k a|²
    # EPS = 1e-12 under the square root: cos_eps = cos · (1 + EPS/|a|²)^(−1/2) (1 + EPS/|b|²)^(−1/2); scaling a
    # changes the first factor by at most EPS/(2 min(|a|², |2^k a|²)), and every term is 1-Lipschitz in cos
    slack = np.where(norm2 > 0, 1e-12 / (2 * np.where(norm2 > 0, norm2, 1.0)), 0.0)
    return {"case": case, "moved": moved, "slack": slack}


COSINE_EMBEDDING = [
    _inv("cosine_embedding", "range", "y=1: 1 − cos ∈ [0, 2]; y=−1: max(0, cos − m) ∈ [0, max(0, 1 − m)]",
         "always (|cos| ≤ 1; torch's EPS only shrinks |cos|)", in_range(lambda c: 0.0, _cos_hi)),
    _inv("cosine_embedding", "symmetric", "loss(a, b, y) = loss(b, a, y)", "always",
         symmetric("input1", "input2")),
    *_structure("cosine_embedding"),
    _inv("cosine_embedding", "nonincreasing_in_margin", "m ≤ m' ⇒ loss_m' ≤ loss_m",
         "margin ∈ [−1, 1]: y = −1 terms max(0, cos − m) are NON-INCREASING in m (y = 1 terms independent)",
         monotone_in("margin", lambda m: st.floats(m, 1.0), increasing=False)),
    _inv("cosine_embedding", "scale_invariance", "loss(2^k a, b) = loss(a, b)",
         "k ≠ 0, 2^k a inside the strategy's magnitude range (torch forms |a|²|b|², which overflows beyond it); with torch's EPS = 1e-12 the slack EPS/(2 min(|a|², |2^k a|²)) (exact for the EPS-free cosine)",
         equal(lambda ev, c: ev(c["moved"], "none", label="cosine(2^k a, b)"),
               lambda ev, c: ev(c["case"], "none", label="cosine(a, b)"), "scaled == original, every term",
               prepare=_cos_scale, slack=lambda ev, c: c["slack"])),
]


def _similar_identical(ev, case, draw):
    y = np.ones_like(case.args["target"])
    return Case({"input1": case.args["input1"], "input2": case.args["input1"], "target": y}, case.kwargs)


CONTRASTIVE = [
    _inv("contrastive", "nonnegative", "½ d² ≥ 0, ½ max(0, m − d)² ≥ 0", "always", nonnegative()),
    _inv("contrastive", "zero_at_optimum", "contrastive(a, a, y=1) = 0", "identical similar pairs (y = 1)",
         zero_at(_similar_identical)),
    _inv("contrastive", "symmetric", "loss(a, b, y) = loss(b, a, y)", "always", symmetric("input1", "input2")),
    *_structure("contrastive"),
    _inv("contrastive", "nondecreasing_in_margin", "m ≤ m' ⇒ loss_m ≤ loss_m'",
         "any margin: max(0, m − d)² is non-decreasing in m (y = 1 terms independent)",
         monotone_in("margin", lambda m: st.floats(m, 4 * m + 1.0))),
]

# ---- segmentation ----------------------------------------------------------------------------------------


def _dice_smooth_ordered(ev, case, draw):
    nr, dr = case.kwargs["smooth_nr"], case.kwargs["smooth_dr"]
    return case.with_kwargs(smooth_nr=min(nr, dr), smooth_dr=max(nr, dr))


def _dice_optimum(ev, case, draw):
    g = case.args["target"]
    if not case.kwargs["squared_pred"]:
        g = np.round(g)  # k = 1 needs a binary target (Σ g² = Σ g)
    return Case({"input": g, "target": g}, case.kwargs)


def _dice_optimum_value(case):
    """1 − (2 Σ g² + s_nr) / (2 Σ g^k + s_dr) per (n, c) or per c (batch), in exact arithmetic."""
    g = case.args["target"]
    kw = case.kwargs
    if not kw["include_background"] and g.shape[1] > 1:
        g = g[:, 1:]
    gf = fractions(g)
    axes = tuple(range(2, g.ndim))
    if kw["batch"]:
        axes = (0,) + axes
    sq = np.sum(gf * gf, axis=axes)
    gk = sq if kw["squared_pred"] else np.sum(gf, axis=axes)
    nr, dr = Fraction(float(kw["smooth_nr"])), Fraction(float(kw["smooth_dr"]))
    value = np.empty(np.shape(sq), dtype=object)
    for i, (s, k) in enumerate(zip(np.ravel(sq), np.ravel(gk))):
        value.flat[i] = 1 - (2 * s + nr) / (2 * k + dr)
    return Q.exact(value, "1 − (2I + s_nr)/(2I + s_dr)")


DICE = [
    _inv("dice", "range", "0 ≤ 1 − (2I + s_nr)/(P + G + s_dr) ≤ 1",
         "p, g ∈ [0, 1], s_dr > 0 and s_nr ≤ s_dr (then P + G − 2I ≥ 0 gives ≥ 0; 2I + s_nr ≥ 0 gives ≤ 1); "
         "the smooths are ordered so", in_range(lambda c: 0.0, lambda c: 1.0, prepare=_dice_smooth_ordered)),
    _inv("dice", "value_at_optimum", "dice(g, g) = 1 − (2I + s_nr)/(2I + s_dr), I = Σ g²",
         "input = target; binary target (any squared_pred) or any target with squared_pred=True "
         "(then P = G = I); 0 iff s_nr = s_dr", zero_at(_dice_optimum, expected=_dice_optimum_value,
                                                         text="dice(g, g) == 1 − (2I + s_nr)/(2I + s_dr)")),
    _inv("dice", "symmetric", "dice(p, g) = dice(g, p)", "p, g ∈ [0, 1] (I, P + G symmetric)",
         symmetric("input", "target")),
    *_structure("dice", perm=batch_permutation(none_permutes=lambda c: not c.kwargs["batch"]),
                split=batch_split(prepare=lambda ev, c, d: c.with_kwargs(batch=False)),
                perm_when="N ≥ 2; with batch=True 'none' is per channel (summed over N) and is unchanged instead",
                split_when="N ≥ 2, batch=False (set so: with batch=True a term pools the whole batch)"),
]

TABLES: dict[str, list[Invariant]] = {
    "mse": MSE, "huber": HUBER, "smooth_l1": SMOOTH_L1, "cross_entropy": CROSS_ENTROPY, "bce": BCE,
    "bce_with_logits": BCE_WITH_LOGITS, "focal": FOCAL, "kl_div": KL_DIV, "hinge_embedding": HINGE_EMBEDDING,
    "triplet_margin": TRIPLET_MARGIN, "cosine_embedding": COSINE_EMBEDDING, "contrastive": CONTRASTIVE, "dice": DICE,
}
