"""Binary cross-entropy on probabilities (``torch.nn.functional.binary_cross_entropy``), reference ``refimpl.bce``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import strategies as S
from .. import tolerance as T
from ..cases import Case
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
    broadcast=("refuses", "that is different to the input size ({x}) is deprecated. Please ensure they have the same size."),
    gap=lambda args, kw: (args[0], args[1]),
    name="bce", reference=refimpl.bce, arg_names=("input", "target"),
    torch_function="torch.nn.functional.binary_cross_entropy", cases=_bce_cases, variants=("plain", "weight"),
    scale=scale_bce, underflow=T.underflow_weighted, reference_kwargs={"clamp_log": True},
    mirrors="weight (broadcast); reduction; mathematics by default, torch's documented log clamp at -100 "
    "with clamp_log=True (what the comparison uses)",
)
