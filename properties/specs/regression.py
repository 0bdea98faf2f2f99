"""Specs of the elementwise regression losses: mse, huber, smooth_l1."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import broadcast as B
from .. import strategies as S
from .. import tolerance as T
from ..cases import Case
from ..spec import LossSpec

MAX_ELEMS = 64


def _residual_cap(fmt) -> float:
    """Inputs' magnitude cap: squared residuals of up to MAX_ELEMS terms sum to a finite value."""
    return fmt.headroom_cap(power=2, count=MAX_ELEMS) / 4


@st.composite
def _residual_case(draw, fmt, weight: bool) -> Case:
    shape = draw(S.shapes(0, 3, 1, 4))
    cap = _residual_cap(fmt)
    # one scale for input and target (within 30 decades of each other), the target independent or close
    x, y = draw(S.related(shape, 2, 16 * fmt.tiny, cap, 1e30))
    kwargs = {}
    if weight:
        kwargs["weight"] = draw(S.array(shape, S.log_uniform(1e-2, 1e2)))
    return Case({"input": x, "target": y}, kwargs)


def _weighted_mean_denominator(case, terms, reduction):
    w = case.kwargs.get("weight")
    return float(np.sum(w)) if w is not None else float(terms.size)


#: input and target broadcast (torch warns); mse's and huber's weight has exactly input's shape
_BROADCAST = dict(names=("input", "target"), follow={"weight": "input"})


@st.composite
def _mse_cases(draw, variant, fmt):
    return draw(B.broadcast_pair(draw(_residual_case(fmt, weight=variant == "weight")), **_BROADCAST))


@st.composite
def _at_transition(draw, case: Case, at: float, fmt) -> Case:
    """In half of the cases, residuals |r| close to the transition ``at`` (delta, beta) at some elements:
    where the two branches meet and an implementation's comparison or its branch formula matters --
    where ``at`` is within the dtype's residual cap (as every drawn input is)."""
    if at <= 0 or 2 * at > _residual_cap(fmt) or not draw(st.booleans()):
        return case
    x, y = case.args["input"], case.args["target"]
    side = np.where(x >= y, 1.0, -1.0)
    r = draw(S.near(np.full(np.shape(x), float(at)), np.abs(x - y)))
    return Case({**case.args, "input": y + side * r}, case.kwargs)


@st.composite
def _huber_cases(draw, variant, fmt):
    case = draw(_residual_case(fmt, weight=variant == "weight"))
    # delta down to the dtype's normal range (a subnormal one is rounded by up to 2^-p / delta relative)
    delta = draw(S.parameter(1e-3, 1e3, 16 * fmt.tiny))
    return draw(B.broadcast_pair(draw(_at_transition(case.with_kwargs(delta=delta), delta, fmt)), **_BROADCAST))


@st.composite
def _smooth_l1_cases(draw, variant, fmt):
    case = draw(_residual_case(fmt, weight=False))
    beta = 0.0 if variant == "l1" else draw(S.parameter(1e-3, 1e3, 16 * fmt.tiny))
    return draw(B.broadcast_pair(draw(_at_transition(case.with_kwargs(beta=beta), beta, fmt)), **_BROADCAST))


MSE = LossSpec(
    name="mse", reference=refimpl.mse, arg_names=("input", "target"),
    torch_function="torch.nn.functional.mse_loss", cases=_mse_cases, variants=("plain", "weight"),
    scale=T.scale_mse, denominator=_weighted_mean_denominator, underflow=T.underflow_weighted,
    mirrors="reduction; weight (torch>=2.6: weighted mean = sum(w l)/sum(w)); any shape incl. 0-d; broadcasting",
)
HUBER = LossSpec(
    name="huber", reference=refimpl.huber, arg_names=("input", "target"),
    torch_function="torch.nn.functional.huber_loss", cases=_huber_cases, variants=("plain", "weight"),
    scale=T.scale_huber, underflow=T.underflow_weighted,
    mirrors="delta > 0; reduction; weight (torch>=2.6: mean = mean(w l)); any shape; broadcasting",
)
SMOOTH_L1 = LossSpec(
    name="smooth_l1", reference=refimpl.smooth_l1, arg_names=("input", "target"),
    torch_function="torch.nn.functional.smooth_l1_loss", cases=_smooth_l1_cases, variants=("plain", "l1"),
    scale=T.scale_smooth_l1, underflow=T.underflow_smooth_l1,
    mirrors="beta >= 0 (beta = 0 is L1); reduction; any shape; broadcasting",
)
