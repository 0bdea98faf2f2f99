"""Input domain shared by the binary losses (bce, bce_with_logits, focal): predictions or logits
with {0, 1} or soft targets, weights over the class dimension."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..cases import Case

TARGETS01 = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))


@st.composite
def bce_like(draw, x_elements, weight: bool, pos_weight: bool = False, n_long: int = 0):
    """A short case, and ``(rows, seed)`` that :func:`S.lengthen_case` extends it with (rows 0: short)."""
    shape = draw(S.shapes(1, 3, 1, 4))
    x = draw(S.array(shape, x_elements))
    t = draw(S.array(shape, TARGETS01))
    kwargs = {}
    if weight:  # a per-class (last dim) weight, or a full-shape one: both broadcast
        wshape = draw(st.sampled_from([shape[-1:], shape]))
        kwargs["weight"] = draw(S.array(wshape, S.log_uniform(1e-2, 1e2)))
    if pos_weight:
        kwargs["pos_weight"] = draw(S.array(shape[-1:], st.one_of(st.just(1.0), S.log_uniform(1e-2, 1e2))))
    extension = draw(S.extension(n_long, int(np.prod(shape[1:], dtype=np.int64))))
    return Case({"input": x, "target": t}, kwargs), extension


def logits_cap(fmt, reduction, n_long, gain: float = 1.0):
    """Logits' cap: a term is at most about |x| times the weights (``gain``: their largest product), 1000
    of them (or a long sum's terms) sum to a finite value -- one term for a float16 'mean'
    (``S.summed_count``)."""
    return min(1e30, fmt.headroom_cap(count=S.summed_count(reduction, max(1000, n_long), fmt=fmt, gain=gain)))
