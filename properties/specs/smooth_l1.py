"""Smooth L1 loss (``torch.nn.functional.smooth_l1_loss``), reference ``refimpl.smooth_l1``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import broadcast as B
from .. import strategies as S
from ..cases import Case
from ..spec import LossSpec
from ._residual import BROADCAST, residual_case


@st.composite
def _smooth_l1_cases(draw, variant, fmt, reduction=None):
    # terms at most |x - y| (0.5 z^2 / beta < z / 2 where z < beta): linear.  torch forms 0.5 z^2 before
    # dividing by beta, so beta stays below the square root of the dtype's range (float16: 64), where
    # z^2 is finite for every z < beta
    top = min(1e3, fmt.headroom_cap(power=2))
    beta = 0.0 if variant == "l1" else draw(S.parameter(1e-3, top, 16 * fmt.tiny))
    case = draw(residual_case(fmt, False, reduction, power=1.0, parameters={"beta": beta}, at=beta))
    return draw(B.broadcast_pair(case, **BROADCAST))


def scale_smooth_l1(case: Case, terms):
    """0.5 z^2 / beta (3 ops of ~|t|) or z - beta/2 (the rounding of z counts |z|): 4 roundings."""
    z = np.abs(case.args["input"] - case.args["target"])
    return 4 * np.maximum(np.abs(terms), z)


def underflow_smooth_l1(case: Case, terms):
    """0.5 z^2 / beta: z^2 may round in the subnormal range before the division by beta,
    which amplifies that absolute error by 1/beta.  (Measured: float16, z = 1e-4,
    beta = 1e-3: z^2 flushes to 0, the term 5e-6 becomes 0.)"""
    beta = case.kwargs.get("beta", 1.0)
    if beta == 0:
        return 1.0
    z = np.abs(case.args["input"] - case.args["target"])
    return np.where(z < beta, 1.0 + 1.0 / beta, 1.0)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    broadcast="warns",
    gap=lambda args, kw: ((args[0] - args[1]).abs(), args[0].new_full(args[0].shape, float(kw.get("beta", 1.0)))),
    name="smooth_l1", reference=refimpl.smooth_l1, arg_names=("input", "target"),
    torch_function="torch.nn.functional.smooth_l1_loss", cases=_smooth_l1_cases, variants=("plain", "l1"),
    scale=scale_smooth_l1, underflow=underflow_smooth_l1,
    mirrors="beta >= 0 (beta = 0 is L1); reduction; any shape; broadcasting",
)
