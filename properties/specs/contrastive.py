"""Euclidean pairwise contrastive loss (Hadsell et al. 2006; no torch built-in), reference ``refimpl.contrastive``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

import refimpl
from refimpl._distance import pnorm_rows

from .. import strategies as S
from .. import tolerance as T
from ..cases import Case
from ..formats import FLOAT64, FloatFormat, log2_ceil
from ..spec import LossSpec
from ._pairs import pair_cases


def margin_top(fmt, count: int = 4 * 64) -> float:
    """The contrastive margin's cap: 0.5 margin^2 stays finite in the dtype, with room for a sum of
    ``count`` / 4 terms (float16: margin <= 4)."""
    return min(1e3, fmt.headroom_cap(power=2, count=count))


@st.composite
def _contrastive_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    top = margin_top(fmt, 4 * S.summed_count(reduction, max(64, n_long), fmt=fmt))
    return draw(pair_cases(variant, fmt, st.one_of(st.just(min(1.0, top)), S.parameter(1e-3, top, 16 * fmt.tiny)),
                            cosine=False, reduction=reduction, n_long=n_long, top=top))


def scale_contrastive(case: Case, terms, fmt: FloatFormat = FLOAT64):
    """d = ||a - b||_2 (relative L_D + 4); similar: 0.5 d^2 doubles it (+2);
    dissimilar: 0.5 (margin - d)^2 with the subtraction's error delta = u e, e = margin + (L_D+4) d:
    0.5 (gap + delta)^2 - 0.5 gap^2 = gap delta + delta^2 / 2 -- the linear part doubled (2 gap e), and the
    square of the error itself, u e^2 in units of u, which is all there is where d is within delta of the
    margin (gap ~ 0: float16, d ~ margin ~ 2.2, 0.5 (m - d)^2 = 1.9e-9 computed as 1.9e-6).  It depends on
    the dtype's u: the budget takes the format."""
    a, b, y = case.args["input1"], case.args["input2"], case.args["target"]
    ld = log2_ceil(T.row_len(a))
    d = pnorm_rows(a - b, 2.0)
    m = case.kwargs.get("margin", 1.0)
    gap = np.maximum(m - d, 0.0)
    e = abs(m) + (ld + 4) * d
    near = np.where(d < abs(m) + fmt.u * e, fmt.u * e * e, 0.0)  # d within the error of the margin, or below it
    return np.where(y == 1, (2 * ld + 10) * 0.5 * d * d, 2 * gap * e + near) + 2 * np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="contrastive", reference=refimpl.contrastive, arg_names=("input1", "input2", "target"),
    torch_function=None, cases=_contrastive_cases, variants=("pairs",), scale=scale_contrastive,
    event_dims=1,
    label_args=("target",),
    mirrors="Hadsell et al. 2006: margin; targets +-1 (1 = similar); (N,D) and (D,); reduction",
)
