"""Triplet margin loss (``torch.nn.functional.triplet_margin_loss``), reference ``refimpl.triplet_margin``.

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
from ..formats import FloatFormat, log2_ceil
from ..spec import LossSpec
from ._pairs import embedding_rows


TRIPLET_P = st.one_of(st.sampled_from([2.0, 1.0, 3.0, 0.5]), st.floats(0.25, 4.0))


@st.composite
def _triplet_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    p = 2.0 if variant == "p2" else draw(TRIPLET_P)
    (a, pos, neg), (rows, seed) = draw(embedding_rows(3, fmt, power=max(p, 1.0), reduction=reduction, n_long=n_long,
                                             p_norm=min(p, 1.0)))
    top = 1e2 if not n_long else min(1e2, fmt.headroom_cap(count=S.summed_count(reduction, rows, fmt=fmt)) / 2)
    kwargs = {
        "margin": draw(S.parameter(1e-3, top, 16 * fmt.tiny)),
        "p": p,
        "eps": draw(st.sampled_from([1e-6, 0.0, 1e-3])),
        "swap": variant == "swap",
    }
    return S.lengthen_case(Case({"anchor": a, "positive": pos, "negative": neg}, kwargs), rows, seed)


def _pnorm_budget(u, v, p, eps):
    """Budget of d = ||u - v + eps||_p relative to itself: the difference and the +eps
    (2u), |.|^p (relative p*2u + 2u), a sum of D (depth L_D), and the 1/p root,
    which scales the sum's relative error by 1/p:  2 + (2 + L_D + 2) / p.
    For p other than 1 and 2 the root is pow(s, 1/p) with 1/p rounded: its relative
    error u/p times |ln s| = p |ln d| adds |ln d| (measured: 102 ulp at d = 1e90, p = 3)."""
    d = pnorm_rows(u - v + eps, p)
    with np.errstate(divide="ignore"):
        root = 0.0 if p in (1.0, 2.0) else np.where(d > 0, np.abs(np.log(np.where(d > 0, d, 1.0))), 0.0)
    return d * (2 + (4 + log2_ceil(T.row_len(u))) / p + 2 + root), d


def scale_triplet_margin(case: Case, terms, fmt: FloatFormat | None = None):
    """margin + d_pos - d_neg cancels: each distance's budget counts, plus 2 |margin|.

    In ``fmt``: torch forms sum |d_i|^p in the dtype, and a component whose p-th power falls below
    the normal range is lost (float32, p = 4, |d_i| = 4.3e-12: |d_i|^4 = 3.4e-46 is 0, d(a, n) = 0
    for 4.3e-12): by the triangle inequality each distance may lose up to (D tiny)^(1/p)
    absolute, counted here in units of u (the comparison's bound multiplies by u)."""
    a, pos, neg = (case.args[k] for k in ("anchor", "positive", "negative"))
    p, eps = float(case.kwargs.get("p", 2)), float(case.kwargs.get("eps", 1e-6))
    b_pos, _ = _pnorm_budget(a, pos, p, eps)
    b_neg, _ = _pnorm_budget(a, neg, p, eps)
    n_dist = 2
    if case.kwargs.get("swap", False):
        b_neg = b_neg + _pnorm_budget(pos, neg, p, eps)[0]
        n_dist = 3
    lost = 0.0 if fmt is None else n_dist * (T.row_len(a) * fmt.tiny) ** (1.0 / p) / fmt.u
    return 2 * case.kwargs.get("margin", 1.0) + b_pos + b_neg + lost


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="triplet_margin", reference=refimpl.triplet_margin, arg_names=("anchor", "positive", "negative"),
    torch_function="torch.nn.functional.triplet_margin_loss", cases=_triplet_cases,
    variants=("p2", "any_p", "swap"), scale=scale_triplet_margin,
    event_dims=1, sized_by=("p",),
    mirrors="margin > 0, p > 0, eps (added to the difference), swap; (N,D) and (D,); reduction",
)
