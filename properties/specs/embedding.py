"""Specs of the margin / embedding losses: hinge_embedding, triplet_margin,
cosine_embedding, contrastive."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, strategies as st

import refimpl

from .. import broadcast as B
from .. import strategies as S
from .. import tolerance as T
from ..cases import Case
from ..spec import LossSpec

MAX_BATCH, MAX_DIM = 6, 8


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


HINGE_EMBEDDING = LossSpec(
    name="hinge_embedding", reference=refimpl.hinge_embedding, arg_names=("input", "target"),
    torch_function="torch.nn.functional.hinge_embedding_loss", cases=_hinge_cases,
    variants=("distances", "any_sign"), scale=T.scale_hinge_embedding,
    label_args=("target",),
    mirrors="margin (any sign); targets +-1; reduction; any shape; broadcasting (silent)",
)


@st.composite
def _rows(draw, n_arrays, fmt, power, reduction=None, n_long=0, term_power=1.0, p_norm=2.0):
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


TRIPLET_P = st.one_of(st.sampled_from([2.0, 1.0, 3.0, 0.5]), st.floats(0.25, 4.0))


@st.composite
def _triplet_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    p = 2.0 if variant == "p2" else draw(TRIPLET_P)
    (a, pos, neg), (rows, seed) = draw(_rows(3, fmt, power=max(p, 1.0), reduction=reduction, n_long=n_long,
                                             p_norm=min(p, 1.0)))
    top = 1e2 if not n_long else min(1e2, fmt.headroom_cap(count=S.summed_count(reduction, rows, fmt=fmt)) / 2)
    kwargs = {
        "margin": draw(S.parameter(1e-3, top, 16 * fmt.tiny)),
        "p": p,
        "eps": draw(st.sampled_from([1e-6, 0.0, 1e-3])),
        "swap": variant == "swap",
    }
    return S.lengthen_case(Case({"anchor": a, "positive": pos, "negative": neg}, kwargs), rows, seed)


TRIPLET_MARGIN = LossSpec(
    name="triplet_margin", reference=refimpl.triplet_margin, arg_names=("anchor", "positive", "negative"),
    torch_function="torch.nn.functional.triplet_margin_loss", cases=_triplet_cases,
    variants=("p2", "any_p", "swap"), scale=T.scale_triplet_margin,
    event_dims=1, sized_by=("p",),
    mirrors="margin > 0, p > 0, eps (added to the difference), swap; (N,D) and (D,); reduction",
)


COSINE_EPS = 1e-12


def _no_zero_rows(v: np.ndarray) -> np.ndarray:
    """Give an all-zero row a 1 in its last entry (no zero vectors)."""
    v = v.copy()
    zero = ~np.any(v != 0, axis=-1)
    v[..., -1] = np.where(zero, 1.0, v[..., -1])
    return v


@st.composite
def _pair_cases(draw, variant, fmt, margin, cosine: bool, reduction=None, n_long=0, top=math.inf):
    """Pairs of rows and +-1 labels; ``cosine``: in the domain of the cosine comparison
    (``_cosine_admits``; the Euclidean contrastive loss has no |a|^2 |b|^2 and no EPS).  ``n_long``: the
    terms of a long example (0: short), whose rows are sized per ``reduction``; ``top``: the margin's cap."""
    # power 4: torch's cosine forms |a|^2 |b|^2 before the square root (overflows for
    # |a| ~ 1e10 in float32 -- a limit of torch's formula the audit reports, not the domain);
    # contrastive terms grow as distance^2
    (a, b), (rows, seed) = draw(_rows(2, fmt, power=4, reduction=reduction, n_long=n_long,
                                      term_power=0.0 if cosine else 2.0))
    if draw(st.booleans()):  # parallel / anti-parallel partner
        b = a * draw(S.reals(1e-3, 1.0, zero=False))
    if cosine and fmt.subnormal > COSINE_EPS:
        # torch adds EPS = 1e-12 to |a|^2 in the input dtype, where it rounds to 0 in float16:
        # a zero vector gives NaN there.  Recorded as known deviation
        # 'cosine_embedding_zero_vector_low_precision' and tested by tests/test_known_deviations.py.
        a, b = _no_zero_rows(a), _no_zero_rows(b)
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
    assume(not cosine or _cosine_admits(case, fmt))
    return S.lengthen_case(case, rows, seed, also=("target",))


def _cosine_admits(case: Case, fmt) -> bool:
    """torch forms |a|^2 |b|^2 in the input dtype: keep it in the normal range, where the
    relative-error model holds (in float16, |b| = 1e-3 makes it subnormal: 6% error), and
    no zero vector in float16 (the recorded known deviation above)."""
    a, b = case.args["input1"], case.args["input2"]
    if fmt.subnormal > COSINE_EPS and (not np.all(np.any(a != 0, -1)) or not np.all(np.any(b != 0, -1))):
        return False
    with np.errstate(invalid="ignore"):  # NaN rows (edge cases) are admitted
        return bool(not np.any(np.sum(a * a, -1) * np.sum(b * b, -1) < 16 * fmt.tiny) or fmt.tiny < 1e-30)


@st.composite
def _cosine_cases(draw, variant, fmt, reduction=None):
    # terms at most 2 (1 - cos, cos - margin): a 'sum' of more than max / 32 overflows (float16: 2047)
    limit = math.inf if reduction in S.MEAN_LIKE else fmt.headroom_cap(count=2)
    return draw(_pair_cases(variant, fmt, st.one_of(st.sampled_from([0.0, -1.0, 1.0]), st.floats(-1.0, 1.0)),
                            cosine=True, reduction=reduction, n_long=draw(S.long_terms(limit))))


def margin_top(fmt, count: int = 4 * 64) -> float:
    """The contrastive margin's cap: 0.5 margin^2 stays finite in the dtype, with room for a sum of
    ``count`` / 4 terms (float16: margin <= 4)."""
    return min(1e3, fmt.headroom_cap(power=2, count=count))


@st.composite
def _contrastive_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    top = margin_top(fmt, 4 * S.summed_count(reduction, max(64, n_long), fmt=fmt))
    return draw(_pair_cases(variant, fmt, st.one_of(st.just(min(1.0, top)), S.parameter(1e-3, top, 16 * fmt.tiny)),
                            cosine=False, reduction=reduction, n_long=n_long, top=top))


COSINE_EMBEDDING = LossSpec(
    name="cosine_embedding", reference=refimpl.cosine_embedding, arg_names=("input1", "input2", "target"),
    torch_function="torch.nn.functional.cosine_embedding_loss", cases=_cosine_cases, variants=("pairs",),
    scale=T.scale_cosine_embedding, admits=_cosine_admits,
    event_dims=1,
    label_args=("target",),
    mirrors="margin in [-1, 1]; targets +-1; torch's EPS = 1e-12 for zero vectors; (N,D) and (D,); reduction",
)
CONTRASTIVE = LossSpec(
    name="contrastive", reference=refimpl.contrastive, arg_names=("input1", "input2", "target"),
    torch_function=None, cases=_contrastive_cases, variants=("pairs",), scale=T.scale_contrastive,
    event_dims=1,
    label_args=("target",),
    mirrors="Hadsell et al. 2006: margin; targets +-1 (1 = similar); (N,D) and (D,); reduction",
)
