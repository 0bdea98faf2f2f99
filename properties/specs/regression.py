"""Specs of the elementwise regression losses: mse, huber, smooth_l1."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import broadcast as B
from .. import strategies as S
from .. import tolerance as T
from ..cases import Case
from ..formats import FORMATS
from ..spec import LossSpec
from ..subjects import CaseDeviation

MAX_ELEMS = S.SHORT_TERMS


def _residual_cap(fmt, count: int = MAX_ELEMS, power: float = 2.0) -> float:
    """Inputs' magnitude cap: ``count`` terms of up to |x - y|^power (|x - y| <= 2 cap) sum to a finite
    value (``count`` = 1: each term is finite, what a 'mean' needs)."""
    return fmt.headroom_cap(power=power, count=count) / 4


@st.composite
def _residual_case(draw, fmt, weight: bool, reduction=None, power: float = 2.0, mean_like=S.MEAN_LIKE,
                   parameters: dict | None = None, at: float = 0.0) -> Case:
    """Input and target of one scale, drawn for ``reduction`` (None: any), with keyword ``parameters``.

    A long example (``S.long_terms``) is a small drawn one extended along its first axis
    (``S.lengthen``, last: every element Hypothesis draws is in the small one); its cap is per reduction
    (``S.summed_count``): for a 'mean' each term in range, its top magnitude in half of the draws in the
    band where the sum of its terms may overflow (``S.mean_band``).  ``power``: the terms grow as
    |x - y|^power (squared residuals; 1 for L1).  ``at``: a branch transition (delta, beta) that
    residuals are drawn close to in half of the cases (:func:`_at_transition`)."""
    n_long = draw(S.long_terms())
    shape = draw(S.shapes(1 if n_long else 0, 3, 1, 4))
    per_row = int(np.prod(shape[1:], dtype=np.int64))
    rows, seed = draw(S.extension(n_long, per_row))
    n_terms = max(rows * per_row, MAX_ELEMS)
    gain = 1e2 if weight else 1.0  # a weight is at most 1e2
    count = S.summed_count(reduction, n_terms, mean_like, fmt=fmt, gain=gain)
    cap = _residual_cap(fmt, count, power)
    top, in_band = draw(S.mean_band(16 * fmt.tiny, cap,
                                    fmt.headroom_cap(power, n_terms, 1.0) if n_long and count == gain else None))
    if in_band:  # a long mean's band: residuals of one order, |x - y| in [|x|, 2|x|] (the sum ~ n times the mean)
        x = draw(S.related(shape, 1, 16 * fmt.tiny, cap, S.MEAN_BAND_SPAN, top=top, zero=False))[0]
        y = -x * np.random.default_rng(seed).uniform(0.0, 1.0, np.shape(x))
    else:  # one scale for input and target (within 30 decades of each other), the target independent or close
        x, y = draw(S.related(shape, 2, 16 * fmt.tiny, cap, 1e30, top=top))
    w = draw(S.array(shape, S.log_uniform(1e-2, 1e2))) if weight else None
    if not in_band:  # (a band example is about its sum: residuals near a small transition would shrink it)
        x = draw(_at_transition(x, y, at, cap))
    x, y, w = S.lengthen([x, y, w], rows, seed)
    return Case({"input": x, "target": y}, {**({} if w is None else {"weight": w}), **(parameters or {})})


def _weighted_mean_denominator(case, terms, reduction):
    w = case.kwargs.get("weight")
    return float(np.sum(w)) if w is not None else float(terms.size)


#: torch's weighted MSE 'mean' is torch.sum(w l) / torch.sum(w) in the input dtype: its numerator overflows
#: float16 where the mean fits (known deviation mse_weighted_mean_sums_in_input_dtype), so a weighted
#: 'mean' is drawn as a sum is
_MSE_WEIGHTED_MEAN_LIKE = ("none",)

#: input and target broadcast (torch warns); mse's and huber's weight has exactly input's shape
_BROADCAST = dict(names=("input", "target"), follow={"weight": "input"})


@st.composite
def _mse_cases(draw, variant, fmt, reduction=None):
    weighted = variant == "weight"
    case = draw(_residual_case(fmt, weighted, reduction, mean_like=_MSE_WEIGHTED_MEAN_LIKE if weighted else S.MEAN_LIKE))
    return draw(B.broadcast_pair(case, **_BROADCAST))


@st.composite
def _at_transition(draw, x, y, at: float, cap: float):
    """In half of the cases, residuals |r| close to the transition ``at`` (delta, beta) at some elements:
    where the two branches meet and an implementation's comparison or its branch formula matters --
    where ``at`` is within the example's residual cap ``cap`` (as every drawn input is)."""
    if at <= 0 or 2 * at > cap or not draw(st.booleans()):
        return x
    side = np.where(x >= y, 1.0, -1.0)
    r = draw(S.near(np.full(np.shape(x), float(at)), np.abs(x - y)))
    return y + side * r


@st.composite
def _huber_cases(draw, variant, fmt, reduction=None):
    # delta down to the dtype's normal range (a subnormal one is rounded by up to 2^-p / delta relative)
    delta = draw(S.parameter(1e-3, 1e3, 16 * fmt.tiny))
    case = draw(_residual_case(fmt, variant == "weight", reduction, parameters={"delta": delta}, at=delta))
    return draw(B.broadcast_pair(case, **_BROADCAST))


@st.composite
def _smooth_l1_cases(draw, variant, fmt, reduction=None):
    # terms at most |x - y| (0.5 z^2 / beta < z / 2 where z < beta): linear.  torch forms 0.5 z^2 before
    # dividing by beta, so beta stays below the square root of the dtype's range (float16: 64), where
    # z^2 is finite for every z < beta
    top = min(1e3, fmt.headroom_cap(power=2))
    beta = 0.0 if variant == "l1" else draw(S.parameter(1e-3, top, 16 * fmt.tiny))
    case = draw(_residual_case(fmt, False, reduction, power=1.0, parameters={"beta": beta}, at=beta))
    return draw(B.broadcast_pair(case, **_BROADCAST))


def _weight_sum_overflows(case, dtype) -> bool:
    """A weighted 'mean' whose torch.sum(weight), returned in the input dtype, is beyond its range (float16:
    from 65520 the sum rounds to inf and the mean to 0; known deviation mse_weighted_mean_sums_in_input_dtype)."""
    w = case.kwargs.get("weight")
    if w is None or case.kwargs.get("reduction", "mean") != "mean":
        return False
    return float(np.sum(np.abs(np.asarray(w, dtype=np.float64)))) >= FORMATS[dtype].overflow


MSE = LossSpec(
    name="mse", reference=refimpl.mse, arg_names=("input", "target"),
    torch_function="torch.nn.functional.mse_loss", cases=_mse_cases, variants=("plain", "weight"),
    scale=T.scale_mse, denominator=_weighted_mean_denominator, underflow=T.underflow_weighted,
    mirrors="reduction; weight (torch>=2.6: weighted mean = sum(w l)/sum(w)); any shape incl. 0-d; broadcasting",
    builtin_deviations=(CaseDeviation(
        "torch_sum_of_expanded_tensor_accumulates_sequentially", "agreement",
        lambda case, dtype: case.kwargs.get("reduction") == "mean" and case.layouts.get("weight") == "expanded",
        why="an expanded (stride-0) weight: the weighted mean's torch.sum(weight) adds its elements one by one"),
    ) + tuple(CaseDeviation("mse_weighted_mean_sums_in_input_dtype", check, _weight_sum_overflows,
                            why="the weights' sum beyond the input dtype's range: torch.sum(weight) is inf")
              for check in ("agreement", "gradient")),
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
