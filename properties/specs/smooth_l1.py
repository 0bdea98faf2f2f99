"""Smooth L1 loss (``torch.nn.functional.smooth_l1_loss``), reference ``refimpl.smooth_l1``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import bad_inputs as BI, broadcast as B, finite_differences as FD, gradients as G, strategies as S
from ..cases import Case
from ..edge_cases.expect import exactly, value
from ..edge_cases.tables import A, arg, rcase, rows
from ..invariants.kinds import (
    equal,
    nonnegative,
    symmetric,
    zero_at,
)
from ..invariants.tables import inv, structure, target_is_input
from ..known import KnownFailure
from ..spec import LossSpec
from ..subjects import reference_subject
from ._residual import BROADCAST, residual_case


@st.composite
def _smooth_l1_cases(draw, variant, fmt, reduction=None):
    # terms at most |x - y| (0.5 z^2 / beta < z / 2 where z < beta): linear.  torch forms 0.5 z^2 before
    # dividing by beta, so beta stays below the square root of the dtype's range (float16: 64), where
    # z^2 is finite for every z < beta
    top = min(1e3, fmt.headroom_cap(power=2))
    beta = 0.0 if variant == "l1" else draw(S.parameter(1e-3, top, 16 * fmt.tiny))
    case = draw(residual_case(fmt, False, reduction, power=1.0, parameters={"beta": beta}, at=beta))
    return draw(B.broadcast_pair(case, **BROADCAST))


def scale_smooth_l1(case: Case, terms):
    """0.5 z^2 / beta (3 ops of ~|t|) or z - beta/2 (the rounding of z counts |z|): 4 roundings."""
    z = np.abs(case.args["input"] - case.args["target"])
    return 4 * np.maximum(np.abs(terms), z)


def underflow_smooth_l1(case: Case, terms):
    """0.5 z^2 / beta: z^2 may round in the subnormal range before the division by beta,
    which amplifies that absolute error by 1/beta.  (Measured: float16, z = 1e-4,
    beta = 1e-3: z^2 flushes to 0, the term 5e-6 becomes 0.)  A residual of exactly 0 rounds
    nothing (0^2 / beta = 0, gradient 0 / beta = 0): no gain -- the gradient floor multiplies the
    largest gain by the terms collected into an element, and zero residuals at beta = 1e-3 beside 790
    terms broadcast to one target element made it 0.38 in float16, enough to pass a backward 16 times off."""
    beta = case.kwargs.get("beta", 1.0)
    if beta == 0:
        return 1.0
    z = np.abs(case.args["input"] - case.args["target"])
    return np.where((z > 0) & (z < beta), 1.0 + 1.0 / beta, 1.0)


def gradient_underflow_smooth_l1(case: Case, fmt, cotangent) -> float:
    """torch's backward of the quadratic branch is norm * r * grad_output / beta (ATen's
    smooth_l1_backward; norm = 1/N for 'mean'): the products norm r and norm r grad_output may each round
    below the normal range (half a spacing), and the division by beta multiplies that: sub / beta per term
    where |c r| < tiny (c: the term's upstream gradient, grad_output / N); the linear branch (+-c) and
    r = 0 lose nothing of their own.  The forward's gain 1 + 1/beta applied to the generic 8-spacing floor
    overstated it 9 times: float16, 1416 terms broadcast to a 0-d target, beta = 0.1, r = 0.009: a target
    gradient 6 % off (a backward 1 + 128 u too large) passed."""
    beta = case.kwargs.get("beta", 1.0)
    if beta == 0:
        return 0.0
    r = np.abs(case.args["input"] - case.args["target"])
    c = np.broadcast_to(cotangent, r.shape)
    lost = np.where((r > 0) & (r < beta) & (c * r < fmt.tiny), fmt.subnormal / beta, 0.0)
    return float(np.max(lost, initial=0.0))


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="smooth_l1", reference=refimpl.smooth_l1, arg_names=("input", "target"),
    torch_function="torch.nn.functional.smooth_l1_loss", cases=_smooth_l1_cases, variants=("plain", "l1"),
    scale=scale_smooth_l1, underflow=underflow_smooth_l1, gradient_underflow=gradient_underflow_smooth_l1,
    mirrors="beta >= 0 (beta = 0 is L1); reduction; any shape; broadcasting",
    broadcast="warns",
    gap=lambda args, kw: ((args[0] - args[1]).abs(), args[0].new_full(args[0].shape, float(kw.get("beta", 1.0)))),
)


# ---- edge-case rows ------------------------------------------------------------------------

#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "smooth_l1",
    ("beta_0_is_l1", rcase({"beta": 0.0}), value(lambda ctx: np.abs(arg(ctx, "input")), "|r|"),
     "beta = 0 is L1 (documented; pytorch#68558, PR #97022)"),
    ("tiny_beta", rcase({"beta": 1e-30}),
     value(lambda ctx: np.where(np.abs(arg(ctx, "input")) < 1e-30, 0.5 * arg(ctx, "input") ** 2 / 1e-30,
                                np.abs(arg(ctx, "input")) - 0.5e-30), "|r| - beta/2 (0.5 r^2/beta below beta)"),
     "no overflow of r^2 / beta for beta = 1e-30"),
    ("at_transition", rcase({"beta": 1.5}, A([1.5, -1.5])), exactly([0.75, 0.75], "beta / 2"),
     "at |r| = beta both branches give beta / 2 (continuity)"),
)


# ---- invariants --------------------------------------------------------------------------

def _sl1_vs_huber(ev, case, draw):
    beta = float(case.kwargs["beta"])
    beta = 2.0 ** int(np.round(np.log2(beta)))  # a power of two: beta * value is exact
    kw = {k: v for k, v in case.kwargs.items() if k != "beta"}
    return {"case": case.with_kwargs(beta=beta), "huber": Case(case.args, {**kw, "delta": beta}), "beta": beta}


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("smooth_l1", "nonnegative", "SmoothL1_β(r) ≥ 0", "β ≥ 0", nonnegative()),
    inv("smooth_l1", "zero_at_optimum", "smooth_l1(x, x) = 0", "input = target, any β ≥ 0",
         zero_at(target_is_input)),
    inv("smooth_l1", "symmetric", "smooth_l1(x, y) = smooth_l1(y, x)", "always", symmetric("input", "target")),
    *structure("smooth_l1"),
    inv("smooth_l1", "scaled_huber", "β · SmoothL1_β(r) = Huber_β(r)", "β > 0 (drawn as a power of two)",
         equal(lambda ev, c: ev(c["case"], "none", label="smooth_l1(beta)").scale(c["beta"], "beta*smooth_l1"),
               lambda ev, c: ev(c["huber"], "none", loss="huber", label="huber(delta=beta)"),
               "beta * smooth_l1_beta == huber_beta, every term", prepare=_sl1_vs_huber), variants=("plain",)),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": BI.X, "target": BI.X[::-1]}, {"beta": 1.0})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("smooth_l1", "beta_negative", BI.kw(beta=-0.5), RuntimeError, "beta",
             known_failures=(KnownFailure("fvcore_negative_parameters_accepted", "fvcore.nn.smooth_l1_loss"),)),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    return G.residual_away(case, case.kwargs.get("beta", 1.0))


#: coincident inputs (a = b, r = 0, a distance of 0) in the masked terms, where the loss is differentiable
#: there (``properties.gradients.AT_COINCIDENCE``)
at_coincidence = G.residual_zero


#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("smooth_l1", "beta_0", G.fixed_case({"input": [1.0, -2.0, 0.0], "target": [0.0, 0.0, 0.0]}, beta=0.0),
                ("input", "target"), "beta = 0 is L1: sign(r), no 1/beta (pytorch#96813, PR #97022)"),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = [
    G.SubgradientRow("smooth_l1", "at_beta", G.fixed_case({"input": [1.5], "target": [0.0]}, beta=1.5), "input",
                   G.shift_input("input", 0), "d/dr at |r| = beta: r / beta = 1 from below, sign(r) = 1 above"),
    G.SubgradientRow("smooth_l1", "l1_at_0", G.fixed_case({"input": [0.0], "target": [0.0]}, beta=0.0), "input",
                   G.shift_input("input", 0), "|r| at 0: subdifferential [-1, 1]"),
]


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _sig_smooth_l1(case):
    return FD.pieces(case.args["input"] - case.args["target"], case.kwargs.get("beta", 1.0))


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": rng.standard_normal((3, 4)), "target": rng.standard_normal((3, 4))}, {"beta": 1.5})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(FD.partner_scale),
    fixed_case=_fd_case,
    dropped={"beta": 0.0},
    signature=_sig_smooth_l1,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _smooth_l1_is_huber(base):
    """SmoothL1(β) computed as Huber(δ = β)."""
    from properties.specs import SPECS

    hub = reference_subject(SPECS["huber"]).fn

    def call(x, y, reduction="mean", beta=1.0):
        return hub(x, y, reduction=reduction, delta=beta) if beta > 0 else base(x, y, reduction=reduction, beta=beta)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "scaled_huber": _smooth_l1_is_huber,
}
