"""Hinge embedding loss (``torch.nn.functional.hinge_embedding_loss``), reference ``refimpl.hinge_embedding``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import bad_inputs as BI, broadcast as B, finite_differences as FD, gradients as G, strategies as S
from ..broadcast import reduce_to
from ..cases import Case
from ..edge_cases.expect import exactly
from ..edge_cases.tables import A, rows
from ..formats import FloatFormat
from ..invariants.kinds import (
    monotone_in,
    nonnegative,
)
from ..invariants.tables import inv, structure
from ..spec import LossSpec


@st.composite
def _hinge_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    shape = draw(S.shapes(1 if n_long else 0, 3, 1, 4))
    rows, seed = draw(S.extension(n_long, int(np.prod(shape[1:], dtype=np.int64))))
    # terms up to |margin| + |x|: 256 of them (or a long sum's) sum to a finite value, one for a 'mean'
    count = S.summed_count(reduction, max(256, rows * int(np.prod(shape[1:], dtype=np.int64))), fmt=fmt)
    cap = fmt.headroom_cap(count=count)
    x = draw(S.array(shape, S.reals(1e-4, cap) if variant == "any_sign" else S.reals(1e-4, cap, signed=False)))
    y = draw(S.pm_ones(shape))
    margin = draw(S.parameter(1e-3, min(1e3, cap / 2), 16 * fmt.tiny))
    if variant == "any_sign":
        margin = draw(st.sampled_from([1.0, -1.0, 0.0])) * margin
    if abs(margin) <= cap / 2 and draw(st.booleans()):  # some y = -1 inputs close to the margin (max(0, m - x) bends)
        x = draw(S.near(np.full(shape, margin), x, y == -1))
        if variant != "any_sign":
            x = np.abs(x)
    return draw(B.broadcast_pair(S.lengthen_case(Case({"input": x, "target": y}, {"margin": margin}), rows, seed)))


def scale_hinge_embedding(case: Case, terms):
    """y = 1: x, exact.  y = -1: max(margin - x, 0): one rounding of |margin| + |x|."""
    x, y = case.args["input"], case.args["target"]
    m = abs(case.kwargs.get("margin", 1.0))
    return np.where(y == 1, 0.0, m + np.abs(x))


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="hinge_embedding", reference=refimpl.hinge_embedding, arg_names=("input", "target"),
    torch_function="torch.nn.functional.hinge_embedding_loss", cases=_hinge_cases,
    variants=("distances", "any_sign"), scale=scale_hinge_embedding,
    label_args=("target",),
    mirrors="margin (any sign); targets +-1; reduction; any shape; broadcasting (silent)",
    broadcast="silent",
    gap=lambda args, kw: (args[0], args[0].new_full(args[0].shape, float(kw.get("margin", 1.0)))),
)


# ---- edge-case rows ------------------------------------------------------------------------

#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "hinge_embedding",
    ("negative_input-positive_target", Case({"input": A([-2.0, 0.5]), "target": A([1.0, -1.0])},
                                           {"reduction": "none", "margin": 1.0}),
     exactly([-2.0, 0.5], "[-2, 0.5]"),
     "the documented formula: x for y = 1 (negative for x < 0; pytorch#22965), max(0, margin - x) for y = -1"),
    ("at_margin", Case({"input": A([1.0, 1.0]), "target": A([-1.0, 1.0])}, {"reduction": "none", "margin": 1.0}),
     exactly([0.0, 1.0], "[0, 1]"), "max(0, margin - margin) = 0"),
    ("negative_margin", Case({"input": A([0.5, 0.0]), "target": A([-1.0, -1.0])}, {"reduction": "none", "margin": -1.0}),
     exactly([0.0, 0.0], "zeros"), "max(0, -1 - x) = 0 for x >= 0"),
    ("zero_dim", Case({"input": A(0.25), "target": A(-1.0)}, {"reduction": "none"}), exactly(0.75, "0.75"),
     "max(0, 1 - 0.25) on 0-d inputs"),
)


# ---- invariants --------------------------------------------------------------------------

#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("hinge_embedding", "nonnegative", "y=1: x ≥ 0; y=−1: max(0, m − x) ≥ 0",
         "inputs x ≥ 0 (distances); any margin (y = −1 terms are ≥ 0 always; y = 1 terms equal x)",
         nonnegative(), variants=("distances",)),
    *structure("hinge_embedding"),
    inv("hinge_embedding", "nondecreasing_in_margin", "m ≤ m' ⇒ loss_m ≤ loss_m'",
         "any inputs and margin sign: y = −1 terms max(0, m − x) are non-decreasing in m, y = 1 terms independent",
         monotone_in("margin", lambda m: st.floats(m, m + 2 * abs(m) + 1.0))),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": BI.P, "target": np.array([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])}, {"margin": 1.0})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("hinge_embedding", "shape_mismatch", BI.arg("target", lambda t: t[:, :2]), RuntimeError, "shape"),
    BI.BadInput("hinge_embedding", "target_not_pm1", BI.arg("target", lambda t: np.zeros_like(t)), message="1 or -1",
             **BI.accepts("embedding_targets_not_validated", "hinge_embedding_loss")),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    """The margin kept off the y = -1 inputs (max(0, margin - x) bends there)."""
    return G.margin_off(case, case.args["input"], case.args["target"] == -1)


#: coincident inputs (a = b, r = 0, a distance of 0) in the masked terms, where the loss is differentiable
#: there (``properties.gradients.AT_COINCIDENCE``)
def at_coincidence(case: Case, mask: np.ndarray, fmt: FloatFormat) -> Case:
    """Distances of exactly 0 where masked (gradient 1 for y = 1, -1 for y = -1 while margin > 0),
    the margin kept off them."""
    x = case.args["input"]  # a broadcast input: the mask's first index along the dims it is broadcast over
    x = np.where(mask if mask.shape == x.shape else reduce_to(mask, x.shape), 0.0, x)
    return G.margin_off(Case({**case.args, "input": x}, case.kwargs), x, case.args["target"] == -1)


#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("hinge_embedding", "negative_margin", G.fixed_case({"input": [0.5, -0.5], "target": [-1.0, 1.0]}, margin=-1.0),
                ("input",), "piecewise linear: 0 or +-1"),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = [
    G.SubgradientRow("hinge_embedding", "at_margin", G.fixed_case({"input": [1.0], "target": [-1.0]}, margin=1.0), "input",
                   G.shift_input("input", 0), "max(0, margin - x) at x = margin: subdifferential [-1, 0]"),
]


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _hinge_scale(case, arg):
    x = case.args["input"]
    return np.maximum(np.maximum(np.abs(x), abs(case.kwargs.get("margin", 1.0))), 1.0)


def _sig_hinge(case):
    x, y = case.args["input"], case.args["target"]
    return np.where(y == -1, np.sign(case.kwargs.get("margin", 1.0) - x), 0.0).ravel()


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": rng.uniform(0.05, 0.95, (3, 4)), "target": -np.ones((3, 4))}, {"margin": 1.5})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(_hinge_scale),
    fixed_case=_fd_case,
    dropped={"margin": 0.0},
    signature=_sig_hinge,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _hinge_reversed_margin(base):
    """The y = -1 branch written max(0, x - margin) instead of max(0, margin - x): decreasing in
    the margin wherever x > margin (most drawn distances; the old 'margin negated' mutant only
    differed for x < -margin, which a search over distances can miss)."""
    def call(input, target, margin=1.0, **kwargs):
        return base(-input, target, margin=-margin, **kwargs)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "nondecreasing_in_margin": _hinge_reversed_margin,
}
