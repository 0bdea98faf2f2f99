"""Soft Dice loss (Milletari et al. 2016; MONAI's ``DiceLoss``), reference ``refimpl.dice``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import assume, strategies as st

import refimpl
from refimpl.dice import dice_parts

from .. import strategies as S
from ..cases import Case
from ..formats import log2_ceil
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
