"""Soft Dice loss (Milletari et al. 2016; MONAI's ``DiceLoss``), reference ``refimpl.dice``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
from hypothesis import assume, strategies as st

import refimpl
from refimpl.dice import dice_parts

from .. import bad_inputs as BI, finite_differences as FD, strategies as S
from ..cases import Case
from ..edge_cases.expect import exactly, nan, value
from ..edge_cases.tables import A, rows
from ..formats import log2_ceil
from ..invariants.core import Q, fractions
from ..invariants.kinds import (
    batch_permutation,
    batch_split,
    in_range,
    symmetric,
    zero_at,
)
from ..invariants.tables import inv, structure
from ..known import KnownFailure
from ..spec import LossSpec


@st.composite
def _dice_cases(draw, variant, fmt, reduction=None):
    # a long example: the spatial sums (intersection, |P|, |G|) run over >= 1000 elements, the last
    # spatial axis extended (its terms, N x C, are few: Dice's long reductions are inside each term)
    n_long = draw(S.long_terms())
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *draw(S.shapes(1, 2, 1, 4)))
    columns, seed = draw(S.extension(n_long, int(np.prod(shape[2:-1], dtype=np.int64))))
    p = draw(S.array(shape, S.unit_interval()))
    g = draw(S.array(shape, st.sampled_from([0.0, 1.0]) if variant == "hard_target" else S.unit_interval()))
    # 0 or a normal number of the dtype (see _dice_admits): MONAI's default 1e-5 is subnormal in float16
    low = max(1e-8, fmt.tiny)
    smooth = st.one_of(st.just(max(1e-5, low)), st.just(0.0), S.log_uniform(low, 1.0))
    kwargs = {
        "smooth_nr": draw(smooth), "smooth_dr": draw(smooth),  # smooth_dr = 0: empty masks are 0/0 (not admitted)
        "squared_pred": draw(st.booleans()), "include_background": draw(st.booleans()), "batch": draw(st.booleans()),
    }
    p, g = S.lengthen([p, g], columns, seed, axis=-1)
    case = Case({"input": p, "target": g}, kwargs)
    assume(_dice_admits(case, fmt))
    return case


def _dice_admits(case: Case, fmt) -> bool:
    """The comparison in ``fmt`` is meaningful where the smoothing constants are 0 or normal numbers
    of the format, every denominator P + G + smooth_dr is a
    normal number of the format (a subnormal one carries a relative error up to 2^-24 / den:
    6 % at den = 1e-6 in float16, outside the relative-error model) and the losses, bounded by
    max(1, smooth_nr / den), sum to a finite value in it (smooth_nr = 1, smooth_dr = 1e-5 on
    empty masks is -99999: not a float16 number).  NaN inputs (edge cases) are admitted."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
        warnings.simplefilter("ignore")
        mismatch, denom = dice_parts(*case.args.values(), **{k: v for k, v in case.kwargs.items()
                                                                       if k != "reduction"})
        f = mismatch / denom
    # smooth_nr / smooth_dr are Python numbers the implementation adds in the dtype: a subnormal one
    # rounds by up to 2^-24 / v relative (1e-6 in float16: 1.3 %, and with an empty target the
    # gradient is proportional to smooth_nr -- measured on MONAI: 8.398e-5 vs 8.268e-5)
    smooth = [case.kwargs.get(k, 1e-5) for k in ("smooth_nr", "smooth_dr")]
    if not all(v == 0 or v >= fmt.tiny for v in smooth):
        return False
    if np.any(np.isnan(denom)):
        return True
    return bool(np.all(denom >= fmt.tiny) and np.sum(np.abs(f)) <= fmt.headroom_cap())


def _dice_sum_length(case: Case) -> int:
    """The spatial sums inside each term: over the spatial elements, and the batch with ``batch=True``."""
    p = case.args["input"]
    return int(np.prod(p.shape[2:], dtype=np.int64)) * (p.shape[0] if case.kwargs.get("batch", False) else 1)


def scale_dice(case: Case, terms):
    """MONAI: 1 - (2I + s_nr) / (G + P + s_dr): three sums over S elements (depth L_S),
    the ratio's relative error (2 L_S + 6) u, then 1 - ratio: 1 + (2 L_S + 6) ratio.
    The reference's cancellation-free mismatch / denominator has relative error
    (2 L_S + 6) u of f instead; the budget covers both algorithms: (2 L_S + 6)(ratio + |f|)."""
    p = case.args["input"]
    spatial = int(np.prod(p.shape[2:])) * (p.shape[0] if case.kwargs.get("batch", False) else 1)
    ratio = np.abs(1 - terms)
    return 1 + (2 * log2_ceil(spatial) + 6) * (ratio + np.abs(terms)) + np.abs(terms)


def underflow_dice(case: Case, terms):
    """Underflow gain of a Dice term: each of its three sums (I = g.p, G, P -- of squares with
    ``squared_pred``) adds S elements, each of which may lose ``FLOOR_SUBNORMALS`` subnormal spacings
    (a squared subnormal flushes to 0 whole), and the loss 1 - (2I + s_nr) / den moves by 2 / den per
    unit of I and by ratio / den per unit of G or P: gain S (2 + 2 ratio) / den.  (Measured: float16,
    2620 targets of 3.05e-5 squared to 0, s = 6.1e-5: the loss 0.038 computed as 0.)"""
    p, g = case.args["input"], case.args["target"]
    if not case.kwargs.get("include_background", True) and p.shape[1] > 1:
        p, g = p[:, 1:], g[:, 1:]
    axes = tuple(range(2, p.ndim)) if not case.kwargs.get("batch", False) else (0, *range(2, p.ndim))
    k = 2 if case.kwargs.get("squared_pred", False) else 1
    with np.errstate(all="ignore"):
        den = np.sum(np.abs(g) ** k, axis=axes) + np.sum(np.abs(p) ** k, axis=axes) + abs(case.kwargs.get("smooth_dr", 1e-5))
    count = int(np.prod([p.shape[a] for a in axes], dtype=np.int64))
    ratio = np.abs(1 - np.asarray(terms))
    with np.errstate(all="ignore"):
        gain = count * (2 + 2 * ratio) / den
    return np.where(np.isfinite(gain), gain, 0.0)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="dice", reference=refimpl.dice, arg_names=("input", "target"),
    torch_function=None, cases=_dice_cases, variants=("soft_target", "hard_target"), scale=scale_dice, admits=_dice_admits,
    sum_length=_dice_sum_length, underflow=underflow_dice,
    mirrors="MONAI DiceLoss conventions: smooth_nr, smooth_dr, squared_pred, include_background, batch, reduction",
)


# ---- edge-case rows ------------------------------------------------------------------------

def _dcase(p, g, **kw):
    return Case({"input": A(p, dtype=float), "target": A(g, dtype=float)}, {"reduction": "none", **kw})


EMPTY = np.zeros((1, 1, 2, 2))


PRED = A([[[[0.5, 0.25], [0.0, 1.0]]]])


#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "dice",
    ("empty_target_empty_prediction", _dcase(EMPTY, EMPTY), exactly([[0.0]], "0"),
     "1 - smooth_nr / smooth_dr = 0 with the default smooth terms (MONAI: a correctly empty prediction)"),
    ("empty_target_nonempty_prediction", _dcase(PRED, EMPTY),
     value(lambda ctx: A([[1.0 - 1e-5 / (1.75 + 1e-5)]]), "1 - s / (sum p + s)"),
     "no overlap possible: the loss is ~1"),
    ("smooth_0-empty", _dcase(EMPTY, EMPTY, smooth_nr=0.0, smooth_dr=0.0), nan(shape=(1, 1)),
     "0 / 0 without smoothing terms"),
    ("smooth_0-perfect", _dcase(A([[[[1.0, 0.0]]]]), A([[[[1.0, 0.0]]]]), smooth_nr=0.0, smooth_dr=0.0),
     exactly([[0.0]], "0"), "2 I / (P + G) = 1"),
    ("single_pixel", _dcase(A([[[[0.75]]]]), A([[[[1.0]]]])), value(lambda ctx: A([[1 - (1.5 + 1e-5) / (1.75 + 1e-5)]]),
                                                                  "1 - (2 p + s) / (p + 1 + s)"), "one pixel"),
    ("include_background_false-one_channel", _dcase(PRED, EMPTY, include_background=False),
     value(lambda ctx: A([[1.0 - 1e-5 / (1.75 + 1e-5)]]), "the single channel kept"),
     "MONAI ignores include_background=False with one channel (warns) and keeps channel 0"),
    ("include_background_false", _dcase(np.concatenate([PRED, 1 - PRED], 1), np.concatenate([EMPTY, 1 - EMPTY], 1),
                                        include_background=False),
     value(lambda ctx: A([[1 - (2 * 2.25 + 1e-5) / (2.25 + 4 + 1e-5)]]), "channel 1 only"),
     "channel 0 (background) is dropped"),
)


# ---- invariants --------------------------------------------------------------------------

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


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("dice", "range", "0 ≤ 1 − (2I + s_nr)/(P + G + s_dr) ≤ 1",
         "p, g ∈ [0, 1], s_dr > 0 and s_nr ≤ s_dr (then P + G − 2I ≥ 0 gives ≥ 0; 2I + s_nr ≥ 0 gives ≤ 1); "
         "the smooths are ordered so", in_range(lambda c: 0.0, lambda c: 1.0, prepare=_dice_smooth_ordered)),
    inv("dice", "value_at_optimum", "dice(g, g) = 1 − (2I + s_nr)/(2I + s_dr), I = Σ g²",
         "input = target; binary target (any squared_pred) or any target with squared_pred=True "
         "(then P = G = I); 0 iff s_nr = s_dr", zero_at(_dice_optimum, expected=_dice_optimum_value,
                                                         text="dice(g, g) == 1 − (2I + s_nr)/(2I + s_dr)")),
    inv("dice", "symmetric", "dice(p, g) = dice(g, p)", "p, g ∈ [0, 1] (I, P + G symmetric)",
         symmetric("input", "target")),
    *structure("dice", perm=batch_permutation(none_permutes=lambda c: not c.kwargs["batch"]),
                split=batch_split(prepare=lambda ev, c, d: c.with_kwargs(batch=False)),
                perm_when="N ≥ 2; with batch=True 'none' is per channel (summed over N) and is unchanged instead",
                split_when="N ≥ 2, batch=False (set so: with batch=True a term pools the whole batch)"),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": BI.P.reshape(1, 2, 3), "target": BI.T01.reshape(1, 2, 3).round()})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("dice", "smooth_nr_negative", BI.kw(smooth_nr=-1.0), Exception, "smooth_nr",
             known_failures=(KnownFailure("monai_dice_negative_smooth_accepted", "monai.losses.DiceLoss"),)),
    BI.BadInput("dice", "no_channel_dim", BI.arg("input", lambda x: x.reshape(-1)), Exception, "shape"),
    BI.BadInput("dice", "shape_mismatch", BI.arg("target", lambda t: t[..., :2]), Exception, "shape"),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
#: Smallest Dice denominator P + G + smooth_dr in the gradient comparisons (see ``_dice``).
DICE_MIN_DENOMINATOR = 1e-2


def away_from_kinks(case: Case) -> Case:
    """Dice is smooth but its curvature grows like 1 / den^3: gradcheck's central differences
    (eps = 1e-6) are off by ~(eps / den)^2 relative -- 1 % at den = 1e-5, measured: 101010 vs
    100000 --, and the gradient (up to (2 + 2 ratio) / den) overflows float16 at small den.
    smooth_dr >= 1e-2 and smooth_nr <= smooth_dr keep den >= 1e-2: FD error <= 1e-8 relative,
    |gradient| <= 400.  Tiny denominators are covered by the value tests and the edge cases."""
    from refimpl.dice import dice_parts

    kw = {k: case.kwargs[k] for k in ("smooth_nr", "smooth_dr", "squared_pred", "include_background", "batch")
          if k in case.kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # include_background=False with one channel
        _, den = dice_parts(case.args["input"], case.args["target"], **kw)
    if den.size and np.all(den >= DICE_MIN_DENOMINATOR) and kw.get("smooth_nr", 0.0) <= kw.get("smooth_dr", 0.0):
        return case  # the data keep every denominator large: smoothing constants as drawn
    dr = max(case.kwargs["smooth_dr"], DICE_MIN_DENOMINATOR)
    return case.with_kwargs(smooth_dr=dr, smooth_nr=min(case.kwargs["smooth_nr"], dr))


#: no coincident inputs at which the loss is differentiable and the smooth points do not go
at_coincidence = None

#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = []

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = []


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _dice_groups(case):
    p, g = case.args["input"], case.args["target"]
    kw = case.kwargs
    start = 0 if kw.get("include_background", True) or p.shape[1] == 1 else 1
    axes = tuple(range(2, p.ndim)) + ((0,) if kw.get("batch", False) else ())
    k = 2 if kw.get("squared_pred", False) else 1
    den = np.sum(p[:, start:] ** k, axis=axes, keepdims=True) + np.sum(g[:, start:] ** k, axis=axes, keepdims=True)
    return start, den + kw.get("smooth_dr", 1e-5)


def _dice_scale(case, arg):
    p = case.args["input"]
    start, den = _dice_groups(case)
    s = np.ones(p.shape)
    s[:, start:] = np.maximum(np.abs(p[:, start:]), den)
    return s


def _term_dice(case, arg, idx):
    start, _ = _dice_groups(case)
    if idx[1] < start:
        return None
    return (idx[1] - start,) if case.kwargs.get("batch", False) else (idx[0], idx[1] - start)


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": rng.uniform(0.05, 0.95, (2, 3, 4)), "target": np.round(rng.uniform(0.05, 0.95, (2, 3, 4)))},
                {"smooth_nr": 0.5, "smooth_dr": 0.5, "squared_pred": True, "include_background": True,
                "batch": False})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(_dice_scale),
    fixed_case=_fd_case,
    dropped={"smooth_nr": 0.0, "smooth_dr": 1e-5},
    term=_term_dice,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _dice_squares_target_only(base):
    """squared_pred applied to the target but not the prediction: Σ p + Σ g² (asymmetric)."""
    def call(p, g, **kwargs):
        return base(p, g * g, **kwargs)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "symmetric": _dice_squares_target_only,
}
