"""Input domain shared by the embedding losses (triplet_margin, cosine_embedding, contrastive):
rows of vectors (N, D) or (D,), pairs near coincidence or parallel, +-1 labels."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, strategies as st

from .. import strategies as S
from ..cases import Case

MAX_BATCH, MAX_DIM = 6, 8


@st.composite
def embedding_rows(draw, n_arrays, fmt, power, reduction=None, n_long=0, term_power=1.0, p_norm=2.0):
    """``n_arrays`` arrays of shape (N, D) or (D,), later ones independent or close to the first, and the
    ``(rows, seed)`` of a long example (N rows: :func:`S.lengthen_case`; rows 0: short).  ``power``: the
    rows' p-th powers sum to a finite value; ``term_power``: a term grows as the distance^term_power, and
    N of them (1 for a 'mean') sum to a finite value (a ``p_norm`` distance of rows within cap: at most
    2 D^(1/p) cap)."""
    d = draw(st.integers(1, MAX_DIM))
    shape = (d,) if not n_long and draw(st.booleans()) else (draw(st.integers(1, MAX_BATCH)), d)
    rows, seed = draw(S.extension(n_long, 1))
    cap = fmt.headroom_cap(power=power, count=4 * d)
    if n_long and term_power > 0:  # a distance is at most 2 D^(1/p) cap: N terms of it^term_power
        cap = min(cap, fmt.headroom_cap(power=term_power, count=S.summed_count(reduction, rows, fmt=fmt)) / (2 * d ** (1 / p_norm)))
    return draw(S.related(shape, n_arrays, fmt.tiny ** (1 / power) * 16, cap, 1e12)), (rows, seed)


COSINE_EPS = 1e-12


def no_zero_rows(v: np.ndarray) -> np.ndarray:
    """Give an all-zero row a 1 in its last entry (no zero vectors)."""
    v = v.copy()
    zero = ~np.any(v != 0, axis=-1)
    v[..., -1] = np.where(zero, 1.0, v[..., -1])
    return v


@st.composite
def pair_cases(draw, variant, fmt, margin, cosine: bool, reduction=None, n_long=0, top=math.inf):
    """Pairs of rows and +-1 labels; ``cosine``: in the domain of the cosine comparison
    (``cosine_admits``; the Euclidean contrastive loss has no |a|^2 |b|^2 and no EPS).  ``n_long``: the
    terms of a long example (0: short), whose rows are sized per ``reduction``; ``top``: the margin's cap."""
    # power 4: torch's cosine forms |a|^2 |b|^2 before the square root (overflows for
    # |a| ~ 1e10 in float32 -- a limit of torch's formula the audit reports, not the domain);
    # contrastive terms grow as distance^2
    (a, b), (rows, seed) = draw(embedding_rows(2, fmt, power=4, reduction=reduction, n_long=n_long,
                                      term_power=0.0 if cosine else 2.0))
    if draw(st.booleans()):  # parallel / anti-parallel partner
        b = a * draw(S.reals(1e-3, 1.0, zero=False))
    if cosine and fmt.subnormal > COSINE_EPS:
        # torch adds EPS = 1e-12 to |a|^2 in the input dtype, where it rounds to 0 in float16:
        # a zero vector gives NaN there.  Recorded as known deviation
        # 'cosine_embedding_zero_vector_low_precision' and tested by tests/test_known_deviations.py.
        a, b = no_zero_rows(a), no_zero_rows(b)
    y = draw(S.pm_ones(a.shape[:-1]))
    m = draw(margin)
    if draw(st.booleans()) and np.any(y == -1):  # the margin close to one y = -1 pair's cosine / distance
        k = int(np.flatnonzero(np.reshape(y, -1) == -1)[0])
        ra, rb = np.reshape(a, (-1, a.shape[-1]))[k], np.reshape(b, (-1, b.shape[-1]))[k]
        with np.errstate(all="ignore"):
            value = (float(np.dot(ra, rb) / np.sqrt(np.dot(ra, ra) * np.dot(rb, rb))) if cosine
                     else float(np.sqrt(np.sum((ra - rb) ** 2))))
        moved = float(draw(S.near(np.array(value), np.array(m))))
        if np.isfinite(moved) and (-1.0 <= moved <= 1.0 if cosine else 0.0 < moved <= top):
            m = moved
    case = Case({"input1": a, "input2": b, "target": y}, {"margin": m})
    assume(not cosine or cosine_admits(case, fmt))
    return S.lengthen_case(case, rows, seed, also=("target",))


def cosine_admits(case: Case, fmt) -> bool:
    """torch forms |a|^2 |b|^2 in the input dtype: keep it in the normal range, where the
    relative-error model holds (in float16, |b| = 1e-3 makes it subnormal: 6% error), and
    no zero vector in float16 (the recorded known deviation above)."""
    a, b = case.args["input1"], case.args["input2"]
    if fmt.subnormal > COSINE_EPS and (not np.all(np.any(a != 0, -1)) or not np.all(np.any(b != 0, -1))):
        return False
    with np.errstate(invalid="ignore"):  # NaN rows (edge cases) are admitted
        return bool(not np.any(np.sum(a * a, -1) * np.sum(b * b, -1) < 16 * fmt.tiny) or fmt.tiny < 1e-30)
