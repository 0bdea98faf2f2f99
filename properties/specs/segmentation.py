"""Spec of the soft Dice loss."""

from __future__ import annotations

from hypothesis import strategies as st

import refimpl

from .. import strategies as S
from .. import tolerance as T
from ..cases import Case
from ..spec import LossSpec


@st.composite
def _dice_cases(draw, variant, fmt):
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *draw(S.shapes(1, 2, 1, 4)))
    p = draw(S.array(shape, S.unit_interval()))
    g = draw(S.array(shape, st.sampled_from([0.0, 1.0]) if variant == "hard_target" else S.unit_interval()))
    smooth = st.one_of(st.just(1e-5), st.just(0.0), S.log_uniform(1e-8, 1.0))
    kwargs = {
        "smooth_nr": draw(smooth), "smooth_dr": draw(smooth.filter(lambda v: v > 0)),
        "squared_pred": draw(st.booleans()), "include_background": draw(st.booleans()), "batch": draw(st.booleans()),
    }
    return Case({"input": p, "target": g}, kwargs)


DICE = LossSpec(
    name="dice", reference=refimpl.dice, arg_names=("input", "target"),
    torch_function=None, cases=_dice_cases, variants=("soft_target", "hard_target"), scale=T.scale_dice,
    mirrors="MONAI DiceLoss conventions: smooth_nr, smooth_dr, squared_pred, include_background, batch, reduction",
)
