"""Cosine embedding loss (``torch.nn.functional.cosine_embedding_loss``), reference ``refimpl.cosine_embedding``.

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
from ..formats import log2_ceil
from ..spec import LossSpec
from ._pairs import cosine_admits, pair_cases


@st.composite
def _cosine_cases(draw, variant, fmt, reduction=None):
    # terms at most 2 (1 - cos, cos - margin): a 'sum' of more than max / 32 overflows (float16: 2047)
    limit = math.inf if reduction in S.MEAN_LIKE else fmt.headroom_cap(count=2)
    return draw(pair_cases(variant, fmt, st.one_of(st.sampled_from([0.0, -1.0, 1.0]), st.floats(-1.0, 1.0)),
                            cosine=True, reduction=reduction, n_long=draw(S.long_terms(limit))))


def scale_cosine_embedding(case: Case, terms):
    """cos = <a,b> / sqrt((|a|^2+EPS)(|b|^2+EPS)): the dot product's error (L_D + 1) u sum|a b|
    over the denominator, the norms', product's, sqrt's and division's relative error
    (L_D + 5) |cos|; then 1 - cos or cos - margin: 1 + |margin|."""
    a, b = case.args["input1"], case.args["input2"]
    ld = log2_ceil(T.row_len(a))
    den = np.sqrt((np.sum(a * a, -1) + 1e-12) * (np.sum(b * b, -1) + 1e-12))
    cos = np.sum(a * b, -1) / den
    return (ld + 1) * np.sum(np.abs(a * b), -1) / den + (ld + 5) * np.abs(cos) + 1 + abs(case.kwargs.get("margin", 0.0))


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="cosine_embedding", reference=refimpl.cosine_embedding, arg_names=("input1", "input2", "target"),
    torch_function="torch.nn.functional.cosine_embedding_loss", cases=_cosine_cases, variants=("pairs",),
    scale=scale_cosine_embedding, admits=cosine_admits,
    event_dims=1,
    label_args=("target",),
    mirrors="margin in [-1, 1]; targets +-1; torch's EPS = 1e-12 for zero vectors; (N,D) and (D,); reduction",
)
