"""Hinge embedding loss (``torch.nn.functional.hinge_embedding_loss``), reference ``refimpl.hinge_embedding``.

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


@st.composite
def _hinge_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    shape = draw(S.shapes(1 if n_long else 0, 3, 1, 4))
    rows, seed = draw(S.extension(n_long, int(np.prod(shape[1:], dtype=np.int64))))
    # terms up to |margin| + |x|: 256 of them (or a long sum's) sum to a finite value, one for a 'mean'
    count = S.summed_count(reduction, max(256, rows * int(np.prod(shape[1:], dtype=np.int64))), fmt=fmt)
    cap = fmt.headroom_cap(count=count)
    x = draw(S.array(shape, S.reals(1e-4, cap) if variant == "any_sign" else S.reals(1e-4, cap, signed=False)))
    y = draw(S.pm_ones(shape))
    margin = draw(S.parameter(1e-3, min(1e3, cap / 2), 16 * fmt.tiny))
    if variant == "any_sign":
        margin = draw(st.sampled_from([1.0, -1.0, 0.0])) * margin
    if abs(margin) <= cap / 2 and draw(st.booleans()):  # some y = -1 inputs close to the margin (max(0, m - x) bends)
        x = draw(S.near(np.full(shape, margin), x, y == -1))
        if variant != "any_sign":
            x = np.abs(x)
    return draw(B.broadcast_pair(S.lengthen_case(Case({"input": x, "target": y}, {"margin": margin}), rows, seed)))


def scale_hinge_embedding(case: Case, terms):
    """y = 1: x, exact.  y = -1: max(margin - x, 0): one rounding of |margin| + |x|."""
    x, y = case.args["input"], case.args["target"]
    m = abs(case.kwargs.get("margin", 1.0))
    return np.where(y == 1, 0.0, m + np.abs(x))


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    broadcast="silent",
    gap=lambda args, kw: (args[0], args[0].new_full(args[0].shape, float(kw.get("margin", 1.0)))),
    name="hinge_embedding", reference=refimpl.hinge_embedding, arg_names=("input", "target"),
    torch_function="torch.nn.functional.hinge_embedding_loss", cases=_hinge_cases,
    variants=("distances", "any_sign"), scale=scale_hinge_embedding,
    label_args=("target",),
    mirrors="margin (any sign); targets +-1; reduction; any shape; broadcasting (silent)",
)
