"""Euclidean pairwise contrastive loss (Hadsell et al. 2006; no torch built-in), reference ``refimpl.contrastive``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import refimpl
from refimpl._distance import pnorm_rows

from .. import (
    bad_inputs as BI,
    finite_differences as FD,
    gradients as G,
    mutation as M,
    strategies as S,
    tolerance as T,
)
from ..cases import Case
from ..edge_cases.expect import exactly
from ..edge_cases.tables import W3, Z3, A, pair_case, rows
from ..formats import FLOAT64, FloatFormat, log2_ceil
from ..invariants.kinds import (
    monotone_in,
    nonnegative,
    symmetric,
    zero_at,
)
from ..invariants.tables import inv, structure
from ..spec import LossSpec
from ._pairs import pair_cases


def margin_top(fmt, count: int = 4 * 64) -> float:
    """The contrastive margin's cap: 0.5 margin^2 stays finite in the dtype, with room for a sum of
    ``count`` / 4 terms (float16: margin <= 4)."""
    return min(1e3, fmt.headroom_cap(power=2, count=count))


@st.composite
def _contrastive_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    top = margin_top(fmt, 4 * S.summed_count(reduction, max(64, n_long), fmt=fmt))
    return draw(pair_cases(variant, fmt, st.one_of(st.just(min(1.0, top)), S.parameter(1e-3, top, 16 * fmt.tiny)),
                            cosine=False, reduction=reduction, n_long=n_long, top=top))


def scale_contrastive(case: Case, terms, fmt: FloatFormat = FLOAT64):
    """d = ||a - b||_2 (relative L_D + 4); similar: 0.5 d^2 doubles it (+2);
    dissimilar: 0.5 (margin - d)^2 with the subtraction's error delta = u e, e = margin + (L_D+4) d:
    0.5 (gap + delta)^2 - 0.5 gap^2 = gap delta + delta^2 / 2 -- the linear part doubled (2 gap e), and the
    square of the error itself, u e^2 in units of u, which is all there is where d is within delta of the
    margin (gap ~ 0: float16, d ~ margin ~ 2.2, 0.5 (m - d)^2 = 1.9e-9 computed as 1.9e-6).  It depends on
    the dtype's u: the budget takes the format."""
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    ld = log2_ceil(T.row_len(a))
    d = pnorm_rows(a - b, 2.0)
    m = case.kwargs.get("margin", 1.0)
    gap = np.maximum(m - d, 0.0)
    e = abs(m) + (ld + 4) * d
    near = np.where(d < abs(m) + fmt.u * e, fmt.u * e * e, 0.0)  # d within the error of the margin, or below it
    return np.where(y == 1, (2 * ld + 10) * 0.5 * d * d, 2 * gap * e + near) + 2 * np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="contrastive", reference=refimpl.contrastive, arg_names=("input1", "input2", "target"),
    torch_function=None, cases=_contrastive_cases, variants=("pairs",), scale=scale_contrastive,
    event_dims=1,
    label_args=("target",),
    mirrors="Hadsell et al. 2006: margin; targets +-1 (1 = similar); (N,D) and (D,); reduction",
)


# ---- edge-case rows ------------------------------------------------------------------------

#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "contrastive",
    ("identical_similar", pair_case(W3, W3, [1.0]), exactly([0.0], "0"), "d = 0: 0.5 d^2 = 0"),
    ("identical_dissimilar", pair_case(W3, W3, [-1.0], margin=2.0), exactly([2.0], "0.5 margin^2"),
     "d = 0 < margin: 0.5 (margin - 0)^2"),
    ("zero_vectors", pair_case(Z3, Z3, [-1.0], margin=1.0), exactly([0.5], "0.5"), "d(0, 0) = 0"),
    ("beyond_margin", pair_case(Z3, W3, [-1.0], margin=3.0), exactly([0.0], "0"), "d = 3 = margin: max(0, 0)^2 = 0"),
    ("no_batch_dim", Case({"input1": Z3[0], "input2": W3[0], "target": A(1.0)}, {"reduction": "none"}),
     exactly(4.5, "0.5 * 9"), "(D,) inputs with a 0-d target are one pair"),
)


# ---- invariants --------------------------------------------------------------------------

def _similar_identical(ev, case, draw):
    y = np.ones_like(case.args["target"])
    return Case({"input1": case.args["input1"], "input2": case.args["input1"], "target": y}, case.kwargs)


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("contrastive", "nonnegative", "½ d² ≥ 0, ½ max(0, m − d)² ≥ 0", "always", nonnegative()),
    inv("contrastive", "zero_at_optimum", "contrastive(a, a, y=1) = 0", "identical similar pairs (y = 1)",
         zero_at(_similar_identical)),
    inv("contrastive", "symmetric", "loss(a, b, y) = loss(b, a, y)", "always", symmetric("input1", "input2")),
    *structure("contrastive"),
    inv("contrastive", "nondecreasing_in_margin", "m ≤ m' ⇒ loss_m ≤ loss_m'",
         "any margin: max(0, m − d)² is non-decreasing in m (y = 1 terms independent)",
         monotone_in("margin", lambda m: st.floats(m, 4 * m + 1.0))),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input1": BI.X, "input2": BI.X[::-1], "target": BI.PM}, {"margin": 1.0})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("contrastive", "target_not_pm1", BI.arg("target", np.zeros_like), Exception, "1 or -1"),
    BI.BadInput("contrastive", "feature_dim_mismatch", BI.arg("input2", lambda b: b[:, :2]), Exception, "(N, D)"),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    a = case.args["input1"]
    b = a + G.push(case.args["input2"] - a, 0.0, np.maximum(1.0, np.abs(a)))
    c = Case({**case.args, "input2": b}, case.kwargs)
    d = np.sqrt(np.sum((a - b) ** 2, -1))
    return G.margin_off(c, d, case.args["target"] == -1)


#: coincident inputs (a = b, r = 0, a distance of 0) in the masked terms, where the loss is differentiable
#: there (``properties.gradients.AT_COINCIDENCE``)
at_coincidence = G.similar_pair


#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("contrastive", "coincident_pairs",
                G.fixed_case({"input1": [[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], "input2": [[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]],
                    "target": [1.0, -1.0]}, margin=1.0), ("input1", "input2"),
                "a = b: the similar term 0.5 d^2 has gradient 0; the dissimilar one has no gradient at d = 0 (the "
                "direction (a - b) / d is undefined), torch's norm backward gives 0 -- finite, not 0 * inf"),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = []


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _sig_contrastive(case):
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    v = a - b
    gap = case.kwargs.get("margin", 1.0) - np.sqrt(np.sum(v * v, -1))
    live = (y == -1) & (gap > 0)
    return np.concatenate([np.ravel(np.where(y == -1, np.sign(gap), 0.0)), np.ravel(np.sign(v) * live[..., None])])


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input1": rng.standard_normal((4, 3)), "input2": rng.standard_normal((4, 3)), "target": np.array([-1.0, 1.0, -1.0, 1.0])},
                {"margin": 3.0})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(FD.rows_scale),
    fixed_case=_fd_case,
    dropped={"margin": 10.0},
    signature=_sig_contrastive,
    term=FD.row_term,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _inverted_labels(base):
    """Treats y = 1 as dissimilar (label convention swapped)."""
    def call(a, b, y, **kwargs):
        return base(a, b, -y, **kwargs)
    return call


def _contrastive_reversed_margin(base):
    """Dissimilar pairs penalised by max(0, d − m)² instead of max(0, m − d)²."""
    def call(a, b, y, margin=1.0, reduction="mean"):
        d = torch.linalg.vector_norm(a - b, dim=-1)
        terms = 0.5 * torch.where(y == 1, d * d, torch.clamp(d - margin, min=0) ** 2)
        return M.reduce_terms(terms, reduction)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "zero_at_optimum": _inverted_labels,
    "nondecreasing_in_margin": _contrastive_reversed_margin,
}
