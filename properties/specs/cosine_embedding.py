"""Cosine embedding loss (``torch.nn.functional.cosine_embedding_loss``), reference ``refimpl.cosine_embedding``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch
from hypothesis import assume, strategies as st

import refimpl
from refimpl.cosine_embedding import EPSILON as COSINE_EPS  # float32(1e-12), torch's

from .. import (
    bad_inputs as BI,
    finite_differences as FD,
    gradients as G,
    mutation as M,
    strategies as S,
    tolerance as T,
)
from ..cases import Case
from ..edge_cases.expect import exactly, value
from ..edge_cases.tables import TORCH_F, W3, Z3, A, arg, pair_case, rows
from ..formats import log2_ceil
from ..invariants.core import exact_or_reject
from ..invariants.kinds import (
    equal,
    in_range,
    monotone_in,
    power_of_two,
    scaled,
    symmetric,
)
from ..invariants.tables import inv, structure
from ..known import KnownFailure
from ..spec import LossSpec
from ._pairs import cosine_admits, pair_cases


@st.composite
def _cosine_cases(draw, variant, fmt, reduction=None):
    # terms at most 2 (1 - cos, cos - margin): a 'sum' of more than max / 32 overflows (float16: 2047)
    limit = math.inf if reduction in S.MEAN_LIKE else fmt.headroom_cap(count=2)
    return draw(pair_cases(variant, fmt, st.one_of(st.sampled_from([0.0, -1.0, 1.0]), st.floats(-1.0, 1.0)),
                            cosine=True, reduction=reduction, n_long=draw(S.long_terms(limit))))


def scale_cosine_embedding(case: Case, terms):
    """cos = <a,b> / sqrt((|a|^2+EPS)(|b|^2+EPS)): the dot product's error (L_D + 1) u sum|a b|
    over the denominator, the norms', product's, sqrt's and division's relative error
    (L_D + 5) |cos|; then 1 - cos or cos - margin: 1 + |margin|."""
    a, b = case.args["input1"], case.args["input2"]
    ld = log2_ceil(T.row_len(a))
    den = np.sqrt((np.sum(a * a, -1) + 1e-12) * (np.sum(b * b, -1) + 1e-12))
    cos = np.sum(a * b, -1) / den
    return (ld + 1) * np.sum(np.abs(a * b), -1) / den + (ld + 5) * np.abs(cos) + 1 + abs(case.kwargs.get("margin", 0.0))


def gradient_underflow_cosine(case: Case, fmt, cotangent) -> float:
    """torch's backward of cos = p / sqrt(m1 m2) (p = <a, b>, m = |a|^2 + EPS) forms, per term of upstream
    gradient c, the intermediates c / d (d = sqrt(m1 m2); then times b), c |p| / d^2 (then / 2d, times
    m2, times 2a) and c |p| / (2 d^3) (the product m1 m2's: then times m2 and 2a).  One below the normal
    range loses up to half a subnormal spacing, which its onward factor multiplies: the sum of those, for
    the term where it is largest.  (Measured: float16, a = b = 3.16 (5,), 'mean' of 1140 terms,
    c = 0.0625 / 1140: c |p| / (2 d^3) = 1.1e-8 rounds to 0, and d/da (exactly 0) is -3.4e-6, 49 % of its
    magnitude; the three intermediates are subnormal there, 0.5 (3.2 + 3.2 + 316) spacings = 9.6e-6.)"""
    a, b = (np.atleast_2d(case.args[k]) for k in ("input1", "input2"))
    a, b = np.broadcast_arrays(a, b)
    m1, m2 = np.sum(a * a, -1) + COSINE_EPS, np.sum(b * b, -1) + COSINE_EPS
    d, p = np.sqrt(m1 * m2), np.abs(np.sum(a * b, -1))
    c = np.reshape(cotangent, d.shape)
    big_a, big_b = np.max(np.abs(a), -1, initial=0.0), np.max(np.abs(b), -1, initial=0.0)
    onward = np.maximum(2 * big_a * m2, 2 * big_b * m1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        chain = [(c / d, np.maximum(big_a, big_b)), (c * p / d ** 2, onward / (2 * d)), (c * p / (2 * d ** 3), onward)]
    lost = sum(np.where(v < fmt.tiny, 0.5 * fmt.subnormal * factor, 0.0) for v, factor in chain)
    return float(np.max(np.nan_to_num(lost, nan=0.0, posinf=0.0), initial=0.0))


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="cosine_embedding", reference=refimpl.cosine_embedding, arg_names=("input1", "input2", "target"),
    torch_function="torch.nn.functional.cosine_embedding_loss", cases=_cosine_cases, variants=("pairs",),
    scale=scale_cosine_embedding, admits=cosine_admits, gradient_underflow=gradient_underflow_cosine,
    event_dims=1,
    label_args=("target",),
    mirrors="margin in [-1, 1]; targets +-1; torch's EPS = 1e-12 for zero vectors; (N,D) and (D,); reduction",
)


# ---- edge-case rows ------------------------------------------------------------------------

def _cosine(ctx, y_sign: float, margin: float = 0.0):
    """1 - cos (y = 1) or max(0, cos - margin) (y = -1), with torch's EPS in the squared norms:
    cos = a.b / sqrt((|a|^2 + EPS)(|b|^2 + EPS))."""
    a, b = arg(ctx, "input1"), arg(ctx, "input2")
    cos = np.sum(a * b, -1) / np.sqrt((np.sum(a * a, -1) + COSINE_EPS) * (np.sum(b * b, -1) + COSINE_EPS))
    return 1 - cos if y_sign > 0 else np.maximum(cos - margin, 0.0)


#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "cosine_embedding",
    ("zero_vector", pair_case(Z3, W3, [1.0]), value(A([1.0]), "1"),
     "cos = 0 for a zero vector (torch's EPS = 1e-12 in the norms): 1 - 0",
     {"known_failures": (KnownFailure("cosine_embedding_zero_vector_low_precision",
                                      TORCH_F + "cosine_embedding_loss", ("float16",)),)}),
    ("both_zero-dissimilar", pair_case(Z3, Z3, [-1.0], margin=0.0), exactly([0.0], "0"), "max(0, 0 - 0) = 0",
     {"known_failures": (KnownFailure("cosine_embedding_zero_vector_low_precision",
                                      TORCH_F + "cosine_embedding_loss", ("float16",)),)}),
    ("parallel", pair_case(W3, 2 * W3, [1.0]), value(lambda ctx: _cosine(ctx, 1), "~0"),
     "cos = 1 (less EPS 1e-12 relative): 1 - cos ~ 0"),
    ("anti_parallel", pair_case(W3, -2 * W3, [1.0]), value(lambda ctx: _cosine(ctx, 1), "~2"), "cos = -1: 1 - (-1) = 2"),
    ("parallel-dissimilar", pair_case(W3, W3, [-1.0], margin=0.5), value(lambda ctx: _cosine(ctx, -1, 0.5), "~0.5"),
     "max(0, cos - margin) with cos = 1"),
    ("margin_1", pair_case(W3, W3 * A([1.0, -1.0, 1.0]), [-1.0], margin=1.0), exactly([0.0], "0"),
     "max(0, cos - 1) = 0: margin 1 never penalises"),
    ("margin_-1", pair_case(W3, -W3, [-1.0], margin=-1.0), value(lambda ctx: _cosine(ctx, -1, -1.0), "~0"),
     "max(0, cos + 1) ~ 0 at cos = -1"),
    ("no_batch_dim", Case({"input1": W3[0], "input2": 2 * W3[0], "target": A(1.0)}, {"reduction": "none"}),
     value(lambda ctx: _cosine(ctx, 1), "~0"), "(D,) inputs with a 0-d target are one pair"),
)


# ---- invariants --------------------------------------------------------------------------

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


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("cosine_embedding", "range", "y=1: 1 − cos ∈ [0, 2]; y=−1: max(0, cos − m) ∈ [0, max(0, 1 − m)]",
         "always (|cos| ≤ 1; torch's EPS only shrinks |cos|)", in_range(lambda c: 0.0, _cos_hi)),
    inv("cosine_embedding", "symmetric", "loss(a, b, y) = loss(b, a, y)", "always",
         symmetric("input1", "input2")),
    *structure("cosine_embedding"),
    inv("cosine_embedding", "nonincreasing_in_margin", "m ≤ m' ⇒ loss_m' ≤ loss_m",
         "margin ∈ [−1, 1]: y = −1 terms max(0, cos − m) are NON-INCREASING in m (y = 1 terms independent)",
         monotone_in("margin", lambda m: st.floats(m, 1.0), increasing=False)),
    inv("cosine_embedding", "scale_invariance", "loss(2^k a, b) = loss(a, b)",
         "k ≠ 0, 2^k a inside the strategy's magnitude range (torch forms |a|²|b|², which overflows beyond it); with torch's EPS = 1e-12 the slack EPS/(2 min(|a|², |2^k a|²)) (exact for the EPS-free cosine)",
         equal(lambda ev, c: ev(c["moved"], "none", label="cosine(2^k a, b)"),
               lambda ev, c: ev(c["case"], "none", label="cosine(a, b)"), "scaled == original, every term",
               prepare=_cos_scale, slack=lambda ev, c: c["slack"])),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input1": BI.X, "input2": BI.X[::-1], "target": BI.PM}, {"margin": 0.0})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("cosine_embedding", "target_shape", BI.arg("target", lambda t: np.ones(3)), RuntimeError, "target"),
    BI.BadInput("cosine_embedding", "feature_dim_mismatch", BI.arg("input2", lambda b: b[:, :2]), RuntimeError, "(N, D)"),
    BI.BadInput("cosine_embedding", "rank_3", lambda c: Case({k: v[None] if k != "target" else v for k, v in c.args.items()},
                                                          c.kwargs), RuntimeError, "(N, D)"),
    BI.BadInput("cosine_embedding", "target_not_pm1", BI.arg("target", np.zeros_like), message="1 or -1",
             **BI.accepts("embedding_targets_not_validated", "cosine_embedding_loss")),
    BI.BadInput("cosine_embedding", "margin_above_1", BI.kw(margin=1.5), message="margin",
             **BI.accepts("cosine_margin_not_validated", "cosine_embedding_loss")),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    """The hinge max(0, cos - margin) off its kink for every y = -1 row: the nearest margin in
    [-1, 1] (steps of 4 G.KINK_GAP) at least G.KINK_GAP from every such cosine."""
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    cos = np.sum(a * b, -1) / np.sqrt((np.sum(a * a, -1) + 1e-12) * (np.sum(b * b, -1) + 1e-12))
    m = case.kwargs["margin"]
    candidates = [m + k * 4 * G.KINK_GAP for k in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5)]
    for c in candidates:
        if -1.0 <= c <= 1.0 and not np.any((y == -1) & (np.abs(cos - c) < G.KINK_GAP)):
            return case.with_kwargs(margin=c)
    assume(False)  # cosines spread over every candidate: not a smooth point (rare)
    return case


#: coincident inputs (a = b, r = 0, a distance of 0) in the masked terms, where the loss is differentiable
#: there (``properties.gradients.AT_COINCIDENCE``)
at_coincidence = G.similar_pair


#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("cosine_embedding", "zero_vector", G.fixed_case({"input1": [[0.0, 0.0, 0.0]], "input2": [[1.0, 2.0, 3.0]],
                                                        "target": [1.0]}), ("input1", "input2"),
                "EPS in the norms keeps 1/|a| finite (huge: ~1/sqrt(EPS))",
                (KnownFailure("cosine_embedding_zero_vector_low_precision", "torch.nn.functional." + "cosine_embedding_loss",
                              ("float16",)),)),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = [
    G.SubgradientRow("cosine_embedding", "at_margin",
                   G.fixed_case({"input1": [[1.0, 0.0]], "input2": [[0.0, 1.0]], "target": [-1.0]}, margin=0.0), "input1",
                   G.shift_kwarg("margin"), "max(0, cos - margin) at cos = margin: lambda * d cos"),
]


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _cosine_scale(case, arg):
    """cos is homogeneous in each vector but for EPS: |a|^2 + EPS sets the scale of a's row."""
    v = case.args[arg]
    return np.broadcast_to(np.sqrt(np.sum(v * v, axis=-1, keepdims=True) + 1e-12), v.shape)


def _sig_cosine(case):
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    cos = np.sum(a * b, -1) / np.sqrt((np.sum(a * a, -1) + 1e-12) * (np.sum(b * b, -1) + 1e-12))
    return np.ravel(np.where(y == -1, np.sign(cos - case.kwargs.get("margin", 0.0)), 0.0))


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input1": rng.standard_normal((4, 3)), "input2": rng.standard_normal((4, 3)), "target": np.array([-1.0, 1.0, -1.0, 1.0])},
                {"margin": -0.5})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(_cosine_scale),
    fixed_case=_fd_case,
    dropped=lambda case: Case({**case.args, "target": np.ones(case.args["target"].shape)},
                                                case.kwargs),
    signature=_sig_cosine,
    term=FD.row_term,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _negated_margin(base):
    """The margin enters with the wrong sign."""
    def call(*args, margin=1.0, **kwargs):
        return base(*args, margin=-margin, **kwargs)
    return call


def _cosine_half_normalised(base):
    """cos = <a,b> / (|b|² + EPS): normalised by input2 only (|b|² for |a||b|), so it scales with |a|."""
    def call(a, b, y, margin=0.0, reduction="mean"):
        cos = (a * b).sum(-1) / ((b * b).sum(-1) + 1e-12)
        terms = torch.where(y == 1, 1 - cos, torch.clamp(cos - margin, min=0))
        return M.reduce_terms(terms, reduction)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "nonincreasing_in_margin": _negated_margin,
    "scale_invariance": _cosine_half_normalised,
}
