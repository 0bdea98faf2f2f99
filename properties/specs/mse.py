"""Mean squared error (``torch.nn.functional.mse_loss``), reference ``refimpl.mse``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

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
from ._residual import BROADCAST, residual_case


def _weighted_mean_denominator(case, terms, reduction):
    w = case.kwargs.get("weight")
    return float(np.sum(w)) if w is not None else float(terms.size)


#: torch's weighted MSE 'mean' is torch.sum(w l) / torch.sum(w) in the input dtype: its numerator overflows
#: float16 where the mean fits (known deviation mse_weighted_mean_sums_in_input_dtype), so a weighted
#: 'mean' is drawn as a sum is
_MSE_WEIGHTED_MEAN_LIKE = ("none",)


@st.composite
def _mse_cases(draw, variant, fmt, reduction=None):
    weighted = variant == "weight"
    case = draw(residual_case(fmt, weighted, reduction, mean_like=_MSE_WEIGHTED_MEAN_LIKE if weighted else S.MEAN_LIKE))
    return draw(B.broadcast_pair(case, **BROADCAST))


def _weight_sum_overflows(case, dtype) -> bool:
    """A weighted 'mean' whose torch.sum(weight), returned in the input dtype, is beyond its range (float16:
    from 65520 the sum rounds to inf and the mean to 0; known deviation mse_weighted_mean_sums_in_input_dtype)."""
    w = case.kwargs.get("weight")
    if w is None or case.kwargs.get("reduction", "mean") != "mean":
        return False
    return float(np.sum(np.abs(np.asarray(w, dtype=np.float64)))) >= FORMATS[dtype].overflow


def scale_mse(case: Case, terms):
    """w (x - y)^2: subtract, square, weight, and the weighted mean's divide: 4 roundings of |t|."""
    return 4 * np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    broadcast="warns",
    name="mse", reference=refimpl.mse, arg_names=("input", "target"),
    torch_function="torch.nn.functional.mse_loss", cases=_mse_cases, variants=("plain", "weight"),
    scale=scale_mse, denominator=_weighted_mean_denominator, underflow=T.underflow_weighted,
    mirrors="reduction; weight (torch>=2.6: weighted mean = sum(w l)/sum(w)); any shape incl. 0-d; broadcasting",
    builtin_deviations=(CaseDeviation(
        "torch_sum_of_expanded_tensor_accumulates_sequentially", "agreement",
        lambda case, dtype: case.kwargs.get("reduction") == "mean" and case.layouts.get("weight") == "expanded",
        why="an expanded (stride-0) weight: the weighted mean's torch.sum(weight) adds its elements one by one"),
    ) + tuple(CaseDeviation("mse_weighted_mean_sums_in_input_dtype", check, _weight_sum_overflows,
                            why="the weights' sum beyond the input dtype's range: torch.sum(weight) is inf")
              for check in ("agreement", "gradient")),
)
