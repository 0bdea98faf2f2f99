"""Broadcasting as each loss's contract says: which argument shapes torch 2.13 accepts, which it
refuses, where it warns -- and the strategy step that draws broadcastable shape pairs.

Each unit records its loss's contract in ``LossSpec.broadcast`` (measured on torch 2.13.0+cpu,
``F.<loss>(input, target, reduction='none')`` with arguments of different shapes; the table of what
each torch function does, weights included: docs/broadcasting.md): "warns" or "silent" (broadcast
by ``torch.broadcast_tensors`` rules, output of the broadcast shape), ``("refuses", message)``, or
None (row and class layouts, not broadcast pairs).  The strategies of the losses that broadcast draw
broadcast pairs (:func:`broadcast_pair`, ``BROADCAST_SHARE`` of the cases), the references compute on
the broadcast shape (``refimpl._common.broadcast_pair``: their mean divides by the broadcast count,
their gradients sum back to each argument's shape, ``refimpl.grad._common.sum_to_shape``), and the
tolerance model sees the broadcast terms.  A refusal of a broadcastable target is a bad-input row with
torch's exact message (``properties.bad_inputs``); torch's warning is asserted by
``tests/test_broadcast.py`` and filtered in the suite's own runs (pyproject / ``properties.cli.INI``).
A plug-in that refuses a broadcast pair raises on valid input: a finding (the contract broadcasts).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import strategies as S
from .cases import Case

#: torch's UserWarning for mse_loss / l1_loss / huber_loss / smooth_l1_loss on differing shapes ({t}, {x}:
#: ``torch.Size([...])`` of the target and the input)
WARNING = ("Using a target size ({t}) that is different to the input size ({x}). This will likely lead to "
           "incorrect results due to broadcasting. Please ensure they have the same size.")

def __getattr__(name: str):
    """``CONTRACT``: what torch 2.13 does with an input and a target of different, broadcastable shapes,
    by loss (each unit's ``LossSpec.broadcast``; the table above; tests/test_broadcast.py asserts it on
    torch): broadcast with :data:`WARNING`, broadcast silently, or refuse with a ``ValueError`` whose
    message contains the text given.  ``BROADCASTS``: the losses whose strategies draw broadcast pairs
    (:func:`broadcast_pair`).  Computed on first use: the units import this module."""
    if name not in ("CONTRACT", "BROADCASTS"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .specs import SPECS

    if name == "CONTRACT":
        return {loss: spec.broadcast for loss, spec in SPECS.items() if spec.broadcast is not None}
    return tuple(loss for loss, spec in SPECS.items() if spec.broadcast in ("warns", "silent"))

#: the least share of a broadcasting loss's cases whose argument shapes differ, in every variant
#: (tests/test_broadcast.py measures it on the default profile's draws).  :func:`broadcast_pair` keeps
#: the shapes for one of four values of an integer -- the one Hypothesis shrinks to, so a failure that
#: does not need a broadcast pair shrinks to one shape -- which Hypothesis's preference for that simplest
#: choice (0 in 55 % of the draws, measured) and its repeated examples make 21-51 % broadcast pairs
#: (100 derandomized cases per variant, float64: 21 % to 51 % of the cases, by loss and variant)
BROADCAST_SHARE = 1 / 5

#: how the two shapes of a broadcast pair relate to the broadcast shape S:
#:   target -- the target is reduced (size-1 dims, leading dims dropped, down to 0-d): (N,D) vs (N,1), (D,), ()
#:   input  -- the input is reduced, the target has S
#:   both   -- each side is 1 where the other is not: the last dim D of one side against a new trailing
#:             size-1 dim of the other, (..., D, 1) vs (..., 1, D) -> (..., D, D), and (N, 1) vs (N,) -> (N, N):
#:             the same number of elements on both sides with different shapes (pairing elements in memory
#:             order, ``.view(-1)`` on both, instead of broadcasting goes unnoticed anywhere else)
KINDS = ("target", "input", "both")

#: "both" multiplies the number of terms by D: drawn where the result has at most this many terms (the
#: count the strategies' magnitude caps allow for: their largest shape, (4, 4, 4))
BOTH_MAX_TERMS = 64

#: a crossed pair ((..., D, 1) vs (..., 1, D)) has one dimension more than the drawn shape: drawn only from
#: shapes of fewer dimensions than this (the regression strategies draw up to 3)
CROSS_MAX_RANK = 3


def shape_kind(case: Case, names=("input", "target")) -> str:
    """``same`` where the two arguments have one shape, else the side(s) that broadcast."""
    a, b = (np.shape(case.args[n]) for n in names)
    full = np.broadcast_shapes(a, b)
    if a == b:
        return "same"
    return "target" if a == full else "input" if b == full else "both"


def reduce_to(a: np.ndarray, shape: tuple) -> np.ndarray:
    """The part of ``a`` that broadcasts back to ``a.shape`` from ``shape``: the first index along
    every dim that ``shape`` has as 1 where ``a`` does not, leading dims beyond ``shape``'s dropped
    (a copy: a case owns its arrays)."""
    lead = a.ndim - len(shape)
    index = (0,) * lead + tuple(slice(0, 1) if n == 1 else slice(None) for n in shape)
    return np.array(a[index], copy=True).reshape(shape)


@st.composite
def reduced_shape(draw, full: tuple) -> tuple:
    """A shape other than ``full`` (of at least one dim) that broadcasts to it: some dims 1, some
    leading dims dropped (all of them: 0-d)."""
    ones = [draw(st.booleans()) if n > 1 else False for n in full]
    lead = draw(st.integers(0, len(full)))
    small = tuple(1 if one else n for n, one in zip(full, ones))[lead:]
    return small if small != full else full[1:]  # nothing changed: drop the first dim


def crossed(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a`` as (..., D, 1) and ``b`` as (..., 1, D) -- b as (D,) where S is (D,) -- the same values,
    broadcasting to (..., D, D)."""
    full = a.shape
    b_shape = full[:-1] + (1, full[-1]) if len(full) > 1 else full
    return a.reshape(full + (1,)), b.reshape(b_shape)


@st.composite
def broadcast_pair(draw, case: Case, names=("input", "target"), follow: dict | None = None) -> Case:
    """``case`` (its ``names`` arguments of one shape S) or, in at least ``BROADCAST_SHARE`` of the draws, the
    same case with the arguments of broadcastable shapes (``KINDS``): reduced by keeping the first index
    along the dims they lose, or reshaped (``crossed``), so the values, their magnitudes and
    near-coincident partners stay those the loss's strategy drew.  ``follow``: keyword arrays that must
    keep an argument's shape (mse's weight: exactly input's), ``{kwarg: argument name}``."""
    a, b = names
    full = np.shape(case.args[a])
    if draw(S.spread(4)) == 0:  # see BROADCAST_SHARE
        return case
    x, y = case.args[a], case.args[b]
    if not full:  # a 0-d pair: one side spread over a drawn shape, (N,) ... (N, D) against ()
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
        if draw(st.booleans()):
            y = np.full(shape, float(y))
        else:
            x = np.full(shape, float(x))
    else:
        # crossing adds a dimension: only below CROSS_MAX_RANK, so a crossed pair has a rank the loss's own
        # strategy draws too (every rank drawn in every variant: tests/test_coverage.py)
        crossable = full[-1] > 1 and int(np.prod(full)) * full[-1] <= BOTH_MAX_TERMS and len(full) < CROSS_MAX_RANK
        kinds = KINDS if crossable else KINDS[:2]
        kind = kinds[draw(S.spread(len(kinds)))]
        if kind == "both":
            x, y = crossed(x, y) if draw(st.booleans()) else crossed(y, x)[::-1]
        elif kind == "target":
            y = reduce_to(y, draw(reduced_shape(full)))
        else:
            x = reduce_to(x, draw(reduced_shape(full)))
    kwargs = dict(case.kwargs)
    shaped = {a: x, b: y}
    for kw, owner in (follow or {}).items():
        if kwargs.get(kw) is not None:  # keeps its owner's shape: its first elements along lost dims
            kwargs[kw] = fit_to(np.asarray(kwargs[kw]), shaped[owner].shape)
    return Case({**case.args, a: x, b: y}, kwargs)


def fit_to(w: np.ndarray, shape: tuple) -> np.ndarray:
    """``w`` (of the shape its owner had) for its owner's new ``shape``: the same values reshaped,
    reduced (:func:`reduce_to`) or spread over the new dims."""
    if w.size == int(np.prod(shape)):
        return w.reshape(shape).copy()
    if w.size > int(np.prod(shape)):
        return reduce_to(w, shape)
    return np.broadcast_to(w, shape).copy()


def with_difference(case: Case, r: np.ndarray, names=("input", "target"), follow=("weight",)) -> Case:
    """``case`` with ``input - target = r`` (``r`` of the pair's broadcast shape), by moving the argument
    that has the broadcast shape, so both keep their shapes: the input where it has it (``target + r``),
    else the target (``input - r``).  A pair where neither has it (``both``) cannot hold every
    difference: the input is spread over the broadcast shape (and the ``follow`` keyword arrays with it).
    For the transforms that move residuals (off a kink, onto coincidence) of a broadcast case."""
    a, b = names
    x, y = case.args[a], case.args[b]
    full = np.broadcast_shapes(np.shape(x), np.shape(y))
    r = np.broadcast_to(r, full)
    if np.shape(y) == full and np.shape(x) != full:
        return Case({**case.args, b: np.broadcast_to(x, full) - r}, case.kwargs)
    kwargs = dict(case.kwargs)
    if np.shape(x) != full:
        for kw in follow:
            if kwargs.get(kw) is not None:
                kwargs[kw] = fit_to(np.asarray(kwargs[kw]), full)
    return Case({**case.args, a: np.broadcast_to(y, full) + r}, kwargs)
