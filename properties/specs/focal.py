"""Sigmoid focal loss (Lin et al. 2017; torchvision's ``sigmoid_focal_loss``), reference ``refimpl.focal``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import refimpl
from refimpl.bce_with_logits import softplus

from .. import bad_inputs as BI, finite_differences as FD, gradients as G, mutation as M, strategies as S
from ..cases import Case
from ..edge_cases.expect import exactly, value
from ..edge_cases.tables import INF, LOGITS, T01, A, arg, bcel, rows
from ..formats import FLOAT64, FloatFormat
from ..invariants.kinds import (
    equal,
    less_equal,
    monotone_in,
    nonnegative,
)
from ..invariants.tables import inv, structure
from ..known import KnownFailure
from ..spec import LossSpec
from ._binary import bce_like, logits_cap


@st.composite
def _focal_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    case, (rows, seed) = draw(bce_like(S.reals(1e-4, logits_cap(fmt, reduction, n_long)), weight=False, n_long=n_long))
    x, t = case.args["input"], case.args["target"]
    if variant == "hard_targets":
        t = np.round(t)
    # alpha is a Python number the implementation multiplies in the dtype: below its normal range it
    # rounds away (alpha = 6e-61 is 0 in float32, while the reference keeps 6e-44 of loss)
    # ... and rounded to it (alpha = 1 - 2^-53 is 1 in float32: the reference's 1 - alpha = 1.1e-16
    # would weigh a term the implementation zeroes)
    alpha = fmt.round(draw(st.one_of(st.sampled_from([0.25, -1.0, 0.0, 1.0]),
                                     st.floats(0.0, 1.0).filter(lambda a: a == 0.0 or a >= fmt.tiny))))
    gamma = draw(st.one_of(st.sampled_from([2.0, 0.0, 0.5, 1.0]), st.floats(0.0, 5.0)))
    return S.lengthen_case(Case({"inputs": x, "targets": t}, {"alpha": alpha, "gamma": gamma}), rows, seed)


def scale_focal(case: Case, terms, fmt: FloatFormat = FLOAT64):
    """torchvision: ce * (1 - p_t)^gamma * alpha_t, with q = 1 - p_t and f = q^gamma.

    * ce: its budget as BCE-with-logits (``ce_b``: torch's ``(1-t) x - log_sigmoid(x)`` cancels
      for x << 0, t -> 0, so each part's magnitude carries 4 roundings).
    * q is formed as ``1 - (p t + (1-p)(1-t))``: an absolute error up to ``delta = 4 u``, whatever
      q is (1 - p_t cancels; the reference forms q without cancellation).  The factor's worst
      change under it is taken exactly, not linearised:
          h = max((q + delta)^g - q^g,  q^g - max(q - delta, 0)^g)
      (q^g is monotone, so the extremes lie at the ends; the computed q is >= 0).  For
      delta << q this is the old linear estimate ``4 g u q^(g-1)`` (same budget); where delta is
      comparable to q it is not: for 0 < g < 1 a q that rounds to 0 loses the whole factor, up
      to 1/g times the linear estimate (counterexample, torchvision's formula: float64, x = 37.5,
      t = 1, g = 0.01: sigmoid(37.5) rounds to 1, 1 - p_t = 0, the term 8.9e-18 becomes 0,
      5.8 times the linear bound; float32 x = 17: 17 times; bfloat16 x = 8: 2 times), and for
      g > 1 the convex factor grows faster than linearly.  h depends on the dtype's u, so this
      budget takes the format (``fmt``; ``budget`` passes it).  Computed with expm1/log1p where
      delta < q (no cancellation) and directly elsewhere: no q^(g-1), which overflowed float64
      for a subnormal q and small g (q = 2.2e-313, g = 0.0078: 1.7e310 -> inf, which
      ``bound`` turns into a budget of 0 -- the bound collapsed to the subnormal floor).
    * the product: ce's error multiplies the *computed* factor, at most q^g + h; f's error
      multiplies ce:  S = alpha_t (ce_b (q^g + h) + ce h / u) + 4 |t|  (units of u = u_d + u_64;
      the 4 |t| for the products with (1 - p_t)^g and alpha_t and alpha_t's own roundings)."""
    x, t = case.args["inputs"], case.args["targets"]
    alpha, gamma = case.kwargs.get("alpha", 0.25), case.kwargs.get("gamma", 2.0)
    from refimpl.bce_with_logits import sigmoid

    u = fmt.u + FLOAT64.u
    delta = 4 * u
    q = t * sigmoid(-x) + (1 - t) * sigmoid(x)  # 1 - p_t
    ce = t * softplus(-x) + (1 - t) * softplus(x)
    ce_b = 4 * (np.abs((1 - t) * x) + softplus(-x)) + 2 * ce
    at = np.abs(alpha * t + (1 - alpha) * (1 - t)) if alpha >= 0 else 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f = q**gamma
        r = np.where(q > delta, delta / np.where(q > delta, q, 1.0), 0.0)  # < 1 where used
        small_up = f * np.expm1(gamma * np.log1p(r))
        small_down = -f * np.expm1(gamma * np.log1p(-r))
        h = np.where(q > delta, np.maximum(small_up, small_down),
                     np.maximum((q + delta) ** gamma - f, f - np.maximum(q - delta, 0.0) ** gamma))
    h = np.where(ce == 0, 0.0, h) if gamma > 0 else np.zeros_like(f)
    return at * (ce_b * (f + h) + ce * h / u) + 4 * np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="focal", reference=refimpl.focal, arg_names=("inputs", "targets"),
    torch_function=None, cases=_focal_cases, variants=("soft_targets", "hard_targets"), scale=scale_focal, sigmoid_gradient=True,
    mirrors="torchvision.ops.sigmoid_focal_loss: alpha (<0 disables), gamma >= 0, soft targets, reduction",
)


# ---- edge-case rows ------------------------------------------------------------------------

def _focal(x, t, alpha, gamma):
    p = 1 / (1 + np.exp(-x))
    one_minus_pt = t * (1 - p) + (1 - t) * p
    w = 1.0 if alpha < 0 else alpha * t + (1 - alpha) * (1 - t)
    return w * bcel(x, t) * one_minus_pt ** gamma


def _focal_case(x, t, alpha, gamma):
    return Case({"inputs": A(x, dtype=float), "targets": A(t, dtype=float)},
                {"alpha": alpha, "gamma": gamma, "reduction": "none"})


#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "focal",
    ("saturated_logits-fractional_gamma", _focal_case(LOGITS, T01, 0.25, 0.5),
     value(lambda ctx: A([0.75e4, 0.0, 0.0, 0.25e4]), "[7500, 0, 0, 2500]"),
     "(1 - p_t)^gamma is 1 for a wrong and 0 for a right saturated prediction; finite for 0 < gamma < 1"),
    ("infinite_logits", _focal_case([INF, INF, -INF, -INF], T01, 0.25, 2.0),
     value(A([INF, 0.0, 0.0, INF]), "[inf, 0, 0, inf] (or NaN)", nan_ok=True), "the limits; NaN also accepted"),
    ("alpha_0", _focal_case([2.0, -1.0], [1.0, 1.0], 0.0, 2.0), exactly([0.0, 0.0], "zeros"),
     "alpha = 0 gives positives weight alpha = 0"),
    ("alpha_1", _focal_case([2.0, -1.0], [0.0, 0.0], 1.0, 2.0), exactly([0.0, 0.0], "zeros"),
     "alpha = 1 gives negatives weight 1 - alpha = 0"),
    ("gamma_0", _focal_case([2.0, -1.0, 0.5], [1.0, 0.0, 0.5], -1.0, 0.0),
     value(lambda ctx: bcel(arg(ctx, "inputs"), arg(ctx, "targets")), "BCE with logits"),
     "gamma = 0 and alpha < 0: the focal factor is 1, the loss is BCE with logits (0^0 = 1)"),
    ("gamma_fractional", _focal_case([2.0, -1.0, 0.5], [1.0, 0.0, 1.0], 0.25, 0.5),
     value(lambda ctx: _focal(arg(ctx, "inputs"), arg(ctx, "targets"), 0.25, 0.5), "closed form"),
     "(1 - p_t)^0.5 scaling of alpha-weighted BCE (Lin et al. 2017, eq. 5)"),
)


# ---- invariants --------------------------------------------------------------------------

def _focal_plain(case: Case, **kw) -> Case:
    return Case({"input": case.args["inputs"], "target": case.args["targets"]}, kw)


def _focal_vs_bcel_g0(ev, case, draw):
    return {"focal": case.with_kwargs(alpha=-1.0, gamma=0.0), "bcel": _focal_plain(case)}


def _focal_vs_bcel(ev, case, draw):
    return {"focal": case, "bcel": _focal_plain(case)}


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("focal", "nonnegative", "α_t (1 − p_t)^γ ce ≥ 0", "targets in [0, 1], γ ≥ 0, α < 0 or α ∈ [0, 1]",
         nonnegative()),
    *structure("focal"),
    inv("focal", "gamma0_equals_bce_with_logits", "focal(x, t, α<0, γ=0) = bce_with_logits(x, t)",
         "α < 0 (no α weighting), γ = 0 (0^0 = 1); any targets in [0, 1]",
         equal(lambda ev, c: ev(c["focal"], "none", label="focal(alpha=-1, gamma=0)"),
               lambda ev, c: ev(c["bcel"], "none", loss="bce_with_logits", label="bce_with_logits"),
               "focal(α<0, γ=0) == bce_with_logits, every term", prepare=_focal_vs_bcel_g0)),
    inv("focal", "at_most_bce_with_logits", "focal(x, t) ≤ bce_with_logits(x, t)",
         "γ ≥ 0 and α < 0 (α_t = 1) — also α ∈ [0, 1] (then α_t ≤ 1); (1 − p_t)^γ ≤ 1 since 1 − p_t ∈ [0, 1]",
         less_equal(lambda ev, c: ev(c["focal"], "none", label="focal"),
                    lambda ev, c: ev(c["bcel"], "none", loss="bce_with_logits", label="bce_with_logits"),
                    "focal <= bce_with_logits, every term", prepare=_focal_vs_bcel)),
    inv("focal", "nonincreasing_in_gamma", "γ ≤ γ' ⇒ focal_γ' ≤ focal_γ",
         "every term: ce ≥ 0, α_t ≥ 0 and 1 − p_t = t σ(−x) + (1−t) σ(x) ∈ [0, 1] — for hard AND soft targets "
         "(a convex combination of two values in [0, 1])",
         monotone_in("gamma", lambda g: st.floats(g, g + 5.0), increasing=False)),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"inputs": BI.X, "targets": BI.T01}, {"alpha": 0.25, "gamma": 2.0})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("focal", "gamma_negative", BI.kw(gamma=-1.0), Exception, "gamma",
             known_failures=(KnownFailure("thirdparty_focal_gamma_negative_accepted", "monai.losses.FocalLoss"),
                             KnownFailure("thirdparty_focal_gamma_negative_accepted",
                                          "kornia.losses.binary_focal_loss_with_logits"),
                             KnownFailure("fvcore_negative_parameters_accepted", "fvcore.nn.sigmoid_focal_loss"))),
    BI.BadInput("focal", "shape_mismatch", BI.arg("targets", lambda t: t[:, :2]), Exception, "shape"),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    """Smooth everywhere: every drawn case is a smooth point."""
    return case


#: no coincident inputs at which the loss is differentiable and the smooth points do not go
at_coincidence = None

#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("focal", "saturated_logits-fractional_gamma",
                Case({"inputs": np.array([1e4, -1e4, 1e4, -1e4]), "targets": np.array([0., 0., 1., 1.])},
                     {"alpha": 0.25, "gamma": 0.5, "reduction": "sum"}), ("inputs",),
                "(1 - p_t)^gamma with 0 < gamma < 1 has an infinite derivative at p_t = 1, but it is multiplied "
                "by ce = 0 there: the product's derivative is 0 (torchvision's formula gives NaN)",
                (KnownFailure("fvcore_focal_nan_gradient_fractional_gamma", "fvcore.nn.sigmoid_focal_loss"),)),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = []


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _focal_step(case, arg):
    """Soft targets live in [0, 1] (the loss is not a focal loss outside: 1 - p_t < 0): a step
    relative to the distance to the nearer end, as bce's; hard targets (0 / 1) are not differenced."""
    return FD.bounded_step(case, arg) if arg == "targets" else FD.H0 * FD.default_scale(case, arg)


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"inputs": rng.standard_normal((3, 4)) * 2, "targets": rng.uniform(0.05, 0.95, (3, 4))}, {"alpha": 0.25, "gamma": 2.0})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=_focal_step,
    fixed_case=_fd_case,
    dropped={"gamma": 0.0},
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _focal_alpha_not_disabled(base):
    """Applies α_t = α t + (1 − α)(1 − t) even for α < 0 (torchvision disables it)."""
    def call(x, t, alpha=0.25, gamma=2.0, reduction="none"):
        terms = base(x, t, alpha=-1.0, gamma=gamma, reduction="none") * (alpha * t + (1 - alpha) * (1 - t))
        return M.reduce_terms(terms, reduction)
    return call


def _focal_gamma_off_by_one(base):
    """Modulating factor (1 + (1 − p_t))^γ instead of (1 − p_t)^γ: grows with γ."""
    def call(x, t, alpha=0.25, gamma=2.0, reduction="none"):
        q = t * torch.sigmoid(-x) + (1 - t) * torch.sigmoid(x)
        terms = base(x, t, alpha=alpha, gamma=0.0, reduction="none") * (1 + q) ** gamma
        return M.reduce_terms(terms, reduction)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "gamma0_equals_bce_with_logits": _focal_alpha_not_disabled,
    "at_most_bce_with_logits": _focal_alpha_not_disabled,
    "nonincreasing_in_gamma": _focal_gamma_off_by_one,
}
