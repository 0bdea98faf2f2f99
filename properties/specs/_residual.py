"""Input domain shared by the elementwise residual losses (mse, huber, smooth_l1): input and
target of one scale, residuals near a branch transition, broadcast pairs."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..cases import Case

MAX_ELEMS = S.SHORT_TERMS


def residual_cap(fmt, count: int = MAX_ELEMS, power: float = 2.0) -> float:
    """Inputs' magnitude cap: ``count`` terms of up to |x - y|^power (|x - y| <= 2 cap) sum to a finite
    value (``count`` = 1: each term is finite, what a 'mean' needs)."""
    return fmt.headroom_cap(power=power, count=count) / 4


@st.composite
def residual_case(draw, fmt, weight: bool, reduction=None, power: float = 2.0, mean_like=S.MEAN_LIKE,
                   parameters: dict | None = None, at: float = 0.0) -> Case:
    """Input and target of one scale, drawn for ``reduction`` (None: any), with keyword ``parameters``.

    A long example (``S.long_terms``) is a small drawn one extended along its first axis
    (``S.lengthen``, last: every element Hypothesis draws is in the small one); its cap is per reduction
    (``S.summed_count``): for a 'mean' each term in range, its top magnitude in half of the draws in the
    band where the sum of its terms may overflow (``S.mean_band``).  ``power``: the terms grow as
    |x - y|^power (squared residuals; 1 for L1).  ``at``: a branch transition (delta, beta) that
    residuals are drawn close to in half of the cases (:func:`at_transition`)."""
    n_long = draw(S.long_terms(share=S.long_share(fmt, reduction)))
    shape = draw(S.shapes(1 if n_long else 0, 3, 1, 4))
    per_row = int(np.prod(shape[1:], dtype=np.int64))
    rows, seed = draw(S.extension(n_long, per_row))
    n_terms = max(rows * per_row, MAX_ELEMS)
    gain = 1e2 if weight else 1.0  # a weight is at most 1e2
    count = S.summed_count(reduction, n_terms, mean_like, fmt=fmt, gain=gain)
    cap = residual_cap(fmt, count, power)
    top, in_band = draw(S.mean_band(16 * fmt.tiny, cap,
                                    fmt.headroom_cap(power, n_terms, 1.0) if n_long and count == gain else None))
    if in_band:  # a long mean's band: residuals of one order, |x - y| in [|x|, 2|x|] (the sum ~ n times the mean)
        x = draw(S.related(shape, 1, 16 * fmt.tiny, cap, S.MEAN_BAND_SPAN, top=top, zero=False))[0]
        y = -x * np.random.default_rng(seed).uniform(0.0, 1.0, np.shape(x))
    else:  # one scale for input and target (within 30 decades of each other), the target independent or close
        x, y = draw(S.related(shape, 2, 16 * fmt.tiny, cap, 1e30, top=top))
    w = draw(S.array(shape, S.log_uniform(1e-2, 1e2))) if weight else None
    if not in_band:  # (a band example is about its sum: residuals near a small transition would shrink it)
        x = draw(at_transition(x, y, at, cap))
    x, y, w = S.lengthen([x, y, w], rows, seed)
    return Case({"input": x, "target": y}, {**({} if w is None else {"weight": w}), **(parameters or {})})


#: input and target broadcast (torch warns); mse's and huber's weight has exactly input's shape
BROADCAST = dict(names=("input", "target"), follow={"weight": "input"})


@st.composite
def at_transition(draw, x, y, at: float, cap: float):
    """In half of the cases, residuals |r| close to the transition ``at`` (delta, beta) at some elements:
    where the two branches meet and an implementation's comparison or its branch formula matters --
    where ``at`` is within the example's residual cap ``cap`` (as every drawn input is)."""
    if at <= 0 or 2 * at > cap or not draw(st.booleans()):
        return x
    side = np.where(x >= y, 1.0, -1.0)
    r = draw(S.near(np.full(np.shape(x), float(at)), np.abs(x - y)))
    return y + side * r
