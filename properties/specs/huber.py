"""Huber loss (``torch.nn.functional.huber_loss``), reference ``refimpl.huber``.

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
from ..spec import LossSpec
from ._residual import BROADCAST, residual_case


@st.composite
def _huber_cases(draw, variant, fmt, reduction=None):
    # delta down to the dtype's normal range (a subnormal one is rounded by up to 2^-p / delta relative)
    delta = draw(S.parameter(1e-3, 1e3, 16 * fmt.tiny))
    case = draw(residual_case(fmt, variant == "weight", reduction, parameters={"delta": delta}, at=delta))
    return draw(B.broadcast_pair(case, **BROADCAST))


def scale_huber(case: Case, terms):
    """z = |x-y|; 0.5 z^2 (2 ops of ~|t|) or delta (z - delta/2): the rounding of z
    is amplified to delta*z (<= 2|t|); 4 roundings of max(|t|, delta z), times |w|."""
    x, y = case.args["input"], case.args["target"]
    delta = case.kwargs.get("delta", 1.0)
    z = np.abs(x - y)
    w = np.abs(case.kwargs.get("weight", 1.0))
    return 4 * np.maximum(np.abs(terms), w * delta * z)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    broadcast="warns",
    gap=lambda args, kw: ((args[0] - args[1]).abs(), args[0].new_full(args[0].shape, float(kw.get("delta", 1.0)))),
    name="huber", reference=refimpl.huber, arg_names=("input", "target"),
    torch_function="torch.nn.functional.huber_loss", cases=_huber_cases, variants=("plain", "weight"),
    scale=scale_huber, underflow=T.underflow_weighted,
    mirrors="delta > 0; reduction; weight (torch>=2.6: mean = mean(w l)); any shape; broadcasting",
)
