"""Binary cross-entropy on probabilities (``torch.nn.functional.binary_cross_entropy``), reference ``refimpl.bce``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import bad_inputs as BI, finite_differences as FD, gradients as G, strategies as S, tolerance as T
from ..cases import Case
from ..edge_cases.expect import Raises, exactly, value
from ..edge_cases.tables import A, arg, rows
from ..invariants.kinds import (
    nonnegative,
    with_kwargs_equal,
    zero_at,
)
from ..invariants.tables import inv, structure
from ..known import KnownFailure, Refusal
from ..spec import LossSpec
from ._binary import bce_like


#: BCE's terms are at most 100 (torch's log clamp) times the weight (<= 1e2): the most terms a 'sum'
#: keeps finite in the dtype (float16: none long)
def _bce_terms_limit(fmt, reduction, weighted):
    return math.inf if reduction in S.MEAN_LIKE else fmt.headroom_cap() / (100.0 * (1e2 if weighted else 1.0))


@st.composite
def _bce_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms(_bce_terms_limit(fmt, reduction, variant == "weight")))
    case, (rows, seed) = draw(bce_like(S.unit_interval(), weight=variant == "weight", n_long=n_long))
    if draw(st.booleans()):  # predictions close to their targets at some elements: t log p + (1-t) log(1-p) at p ~ t
        x, t = case.args["input"], case.args["target"]
        case = Case({**case.args, "input": np.clip(draw(S.near(t, x)), 0.0, 1.0)}, case.kwargs)
    return S.lengthen_case(case, rows, seed)


def scale_bce(case: Case, terms):
    """(t-1) max(log1p(-x), -100) - t max(log x, -100), times w: each log 2u, each
    product and the difference u: 4 roundings of each part's magnitude."""
    x, t = case.args["input"], case.args["target"]
    with np.errstate(divide="ignore"):
        a = np.abs(t) * np.minimum(-np.log(x), 100.0)
        b = np.abs(1 - t) * np.minimum(-np.log1p(-x), 100.0)
    w = np.abs(case.kwargs.get("weight", 1.0))
    return 4 * w * (a + b) + 2 * np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="bce", reference=refimpl.bce, arg_names=("input", "target"),
    torch_function="torch.nn.functional.binary_cross_entropy", cases=_bce_cases, variants=("plain", "weight"),
    scale=scale_bce, underflow=T.underflow_weighted, reference_kwargs={"clamp_log": True},
    mirrors="weight (broadcast); reduction; mathematics by default, torch's documented log clamp at -100 "
    "with clamp_log=True (what the comparison uses)",
    broadcast=("refuses", "that is different to the input size ({x}) is deprecated. Please ensure they have the same size."),
    gap=lambda args, kw: (args[0], args[1]),
)


# ---- edge-case rows ------------------------------------------------------------------------

#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "bce",
    ("probabilities_0_and_1", Case({"input": A([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]), "target": A([0.0, 1.0, 0.5, 0.0, 1.0, 0.5])},
                                   {"reduction": "none"}),
     exactly([0.0, 100.0, 50.0, 100.0, 0.0, 50.0], "[0, 100, 50, 100, 0, 50]"),
     "nn.BCELoss documents each log clamped at >= -100 (known deviation bce_log_clamp: the mathematics is +inf)"),
    ("soft_targets_at_0_and_1", Case({"input": A([0.0, 1.0]), "target": A([0.25, 0.75])}, {"reduction": "none"}),
     value(lambda ctx: 100.0 * A([arg(ctx, "target")[0], 1 - arg(ctx, "target")[1]]), "[25, 25]"),
     "only the clamped log contributes: 100 t (or 100 (1 - t))"),
    ("input_outside_0_1", Case({"input": A([0.5, 1.5]), "target": A([1.0, 0.0])}, {"reduction": "none"}), Raises(),
     "torch requires input in [0, 1] ('all elements of input should be between 0 and 1')"),
    ("zero_dim", Case({"input": A(0.25), "target": A(1.0)}, {"reduction": "none"}),
     value(lambda ctx: -np.log(arg(ctx, "input")), "-log 0.25"), "a 0-d input is one term"),
)


# ---- invariants --------------------------------------------------------------------------

def _bce_hard_optimum(ev, case, draw):
    t = np.round(case.args["target"])
    return Case({"input": t, "target": t}, case.kwargs)


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("bce", "nonnegative", "−w (t log p + (1−t) log(1−p)) ≥ 0", "p, t ∈ [0, 1], w ≥ 0 (log clamp at −100 "
         "keeps it finite and ≥ 0)", nonnegative()),
    inv("bce", "zero_at_optimum", "bce(t, t) = 0 for t ∈ {0, 1}", "hard targets, input = target (0·log 0 = 0 "
         "via the clamp)", zero_at(_bce_hard_optimum)),
    *structure("bce"),
    inv("bce", "weight_of_ones", "bce(p, t, weight=1) = bce(p, t)", "all reductions",
         with_kwargs_equal(lambda c: {"weight": np.ones(c.args["input"].shape[-1:])}, "weight of ones == no weight",
                           reductions=("none", "mean", "sum")), variants=("plain",)),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": BI.P, "target": BI.T01})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("bce", "input_above_1", BI.arg("input", lambda x: x + 0.5), RuntimeError, "[0, 1]"),
    BI.BadInput("bce", "input_nan", BI.arg("input", lambda x: np.where(x == 0.5, np.nan, x)), RuntimeError, "[0, 1]"),
    BI.BadInput("bce", "target_above_1", BI.arg("target", lambda t: t * 2), RuntimeError, "[0, 1]"),
    BI.BadInput("bce", "shape_mismatch", BI.arg("target", lambda t: t[:, :2]), ValueError, "shape"),
    # broadcastable, and still refused (properties.broadcast.CONTRACT)
    BI.BadInput("bce", "target_broadcastable", BI.arg("target", lambda t: t[:, :1]), ValueError, "shape",
             torch_message=BI.broadcast_refusal(SPEC.broadcast, (2, 1), (2, 3))),
    BI.BadInput("bce", "target_0d", BI.arg("target", lambda t: t[0, 0]), ValueError, "shape",
             torch_message=BI.broadcast_refusal(SPEC.broadcast, (), (2, 3))),
    BI.BadInput("bce", "weight_not_broadcastable", BI.kw(weight=np.ones(4)), RuntimeError, "weight"),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    # off log's clamp and the 1/(x(1-x)) pole; targets inside (0, 1) so differences stay valid
    x = np.clip(case.args["input"], G.KINK_GAP, 1 - G.KINK_GAP)
    t = np.clip(case.args["target"], G.KINK_GAP, 1 - G.KINK_GAP)
    return Case({**case.args, "input": x, "target": t}, case.kwargs)


#: no coincident inputs at which the loss is differentiable and the smooth points do not go
at_coincidence = None

#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {"weight": Refusal("bce_weight_not_differentiable")}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("bce", "probabilities_0_and_1", G.fixed_case({"input": [0.0, 1.0, 0.0, 1.0], "target": [0.0, 1.0, 1.0, 0.0]}),
                ("input",), "torch's backward divides by max(x (1 - x), 1e-12): finite (+-1e12 where wrong)",
                (KnownFailure("bce_backward_float16_at_0_1", "torch.nn.functional." + "binary_cross_entropy", ("float16",)),)),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = []


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _sig_bce(case):
    x = case.args["input"]
    with np.errstate(divide="ignore"):
        return np.concatenate([(np.log(x) >= -100).ravel(), (np.log1p(-x) >= -100).ravel()]).astype(float)


def _skip_bce(case, arg):
    """Torch's conventions, not derivatives (clamp_log=True): the EPSILON floor of x(1-x)
    (input), the unclamped -logit (target) where the forward's log clamp at -100 is active."""
    x = case.args["input"]
    if not case.kwargs.get("clamp_log", SPEC.reference_kwargs.get("clamp_log", False)):
        return np.zeros(case.args[arg].shape, dtype=bool)
    if arg == "input":
        return (x * (1 - x) < 1e-12 * (1 + 1e-6)) | (x == 0) | (x == 1)
    with np.errstate(divide="ignore"):
        return (np.log(x) < -100) | (np.log1p(-x) < -100)


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": rng.uniform(0.05, 0.95, (3, 4)), "target": rng.uniform(0.05, 0.95, (3, 4))}, {"weight": rng.uniform(0.05, 0.95, (4,)) * 2})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.bounded_step,
    fixed_case=_fd_case,
    dropped={"weight": None},
    signature=_sig_bce,
    skip=_skip_bce,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _bce_clamps_input(base):
    """Clamps probabilities to [2^-20, 1 − 2^-20] before the log (a Keras-style epsilon)."""
    def call(p, t, **kwargs):
        return base(p.clamp(2.0**-20, 1 - 2.0**-20), t, **kwargs)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "zero_at_optimum": _bce_clamps_input,
}
