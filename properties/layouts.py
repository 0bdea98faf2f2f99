"""Memory layouts: the one table of them (:data:`LAYOUTS`) and the draw that gives every tensor of a
case one (:func:`laid_out`).

A loss does not depend on how its inputs lie in memory, yet implementations do: a kernel that reads a
target through its storage as if it were contiguous (pytorch/pytorch#67167: ``cross_entropy`` silently
wrong on CUDA for a non-contiguous target), a stride guard that checks ``stride(-1)`` only
(NVIDIA/TransformerEngine#2734: a transposed input read with the wrong row stride), a ``.view`` that
raises on a strided weight, a kernel indexing an expanded (stride-0) ``grad_output`` as if it were
dense (ROCm/TransformerEngine#623).  So every tensor a check passes -- positional and keyword:
inputs, targets (class indices too), ``weight``, ``pos_weight`` -- comes in every layout, in every
parameter variant: the layout of each array is part of the :class:`~properties.cases.Case`
(``Case.layouts``), drawn here once for every spec (``LossSpec.cases`` draws through
:func:`laid_out`), applied by ``Case.to_torch`` and written into every reproduction by
``Case.call_source``.  In about half of the cases every array is contiguous (``CONTIGUOUS_SHARE``),
so the other regions of the input space keep their share of the examples; in the others each array
draws one of the layouts its shape allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from .strategies import LONG_TERMS

#: the share of drawn cases whose every array is contiguous (the others draw a layout per array), and the
#: band tests/test_layouts.py holds the measured share in
CONTIGUOUS_SHARE = 1 / 2
CONTIGUOUS_BAND = (0.35, 0.70)

#: a case is all contiguous when this many-way choice gives its first option.  Hypothesis draws a choice's
#: first (simplest) option far more often than its share once a case has drawn many values: measured on
#: 300 KL cases (derandomized), ``booleans()`` was True in 83, a 4-way ``sampled_from`` gave its first
#: option in 164 (55 %): so one in four options, about half of the cases
_CONTIGUOUS_CHOICE = 4

#: the name of the default layout (no entry in ``Case.layouts``)
CONTIGUOUS = "contiguous"


@dataclass(frozen=True)
class Layout:
    """Present the same values with another memory layout (strides, storage offset).

    ``prepare``: what the values become (NumPy; ``expanded`` repeats the first row, as a stride-0
    tensor can only hold repeated values); ``apply``: the tensor with the layout (same values as
    ``torch.from_numpy(prepare(v))``); ``source``: the same as code (an expression in ``t``; ``{0}``,
    ``{1}``: the dimensions ``dims(shape)`` it works on), for the reproduction; ``when``: the shapes where the layout is what its name says (a transposed 1 x n
    array is still contiguous, a 1-row "expanded" one has no stride 0); ``shows``: what the tensor's
    strides look like in it, the property tests/test_layouts.py checks on every applied layout
    (``strided``: not contiguous; ``stride0``: some stride 0; ``offset``: a storage offset)."""

    name: str
    apply: Callable
    source: str
    shows: str
    when: Callable[[tuple], bool] = lambda shape: True
    prepare: Callable[[np.ndarray], np.ndarray] = lambda v: v
    dims: Callable[[tuple], tuple] = lambda shape: ()

    def code(self, shape: tuple) -> str:
        """``source`` for an array of ``shape``."""
        return self.source.format(*self.dims(tuple(shape)))

    def applies(self, v: np.ndarray) -> bool:
        return v.size > 0 and self.when(v.shape)

    def holds(self, v: np.ndarray) -> bool:
        """Whether ``v`` can be presented in this layout with its own values (``prepare`` changes none)."""
        return self.applies(v) and np.array_equal(self.prepare(v), v, equal_nan=True)


def _torch():
    import torch

    return torch


def _dims(n: int) -> Callable[[tuple], bool]:
    return lambda shape: len(shape) >= n


def _outer_sides(shape: tuple) -> tuple:
    """The first and the last dimension longer than 1: the pair a transposed layout swaps (swapping
    dimensions of length 1 leaves a tensor contiguous)."""
    long = [d for d, side in enumerate(shape) if side > 1]
    return (long[0], long[-1]) if len(long) >= 2 else (0, 0)


def _transposed(t):
    i, j = _outer_sides(tuple(t.shape))
    return t.transpose(i, j).contiguous().transpose(i, j)


LAYOUTS = (
    Layout("non_contiguous", lambda t: _torch().stack([t, t.new_zeros(t.shape)], -1)[..., 0],
           "torch.stack([t, t.new_zeros(t.shape)], -1)[..., 0]", "strided",
           when=lambda shape: len(shape) >= 1 and int(np.prod(shape)) > 1),
    Layout("transposed", _transposed, "t.transpose({0}, {1}).contiguous().transpose({0}, {1})", "strided",
           when=lambda shape: sum(side > 1 for side in shape) >= 2, dims=_outer_sides),
    Layout("expanded", lambda t: t[:1].expand(t.shape), "t[:1].expand(t.shape)", "stride0",
           when=lambda shape: len(shape) >= 1 and shape[0] > 1,
           prepare=lambda v: np.broadcast_to(v[:1], v.shape).copy()),
    Layout("sliced", lambda t: _torch().cat([t[:1], t])[1:], "torch.cat([t[:1], t])[1:]", "offset",
           when=_dims(1)),
    Layout("channels_last", lambda t: t.contiguous(memory_format=_torch().channels_last),
           "t.contiguous(memory_format=torch.channels_last)", "strided",
           when=lambda shape: len(shape) == 4 and shape[1] > 1 and shape[2] * shape[3] > 1),
)

BY_NAME = {layout.name: layout for layout in LAYOUTS}


def layout(name: str) -> Layout:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown memory layout {name!r}; the layouts are {sorted(BY_NAME)}") from None


def layouts_of(case) -> dict[str, str]:
    """The memory layout of every tensor argument of ``case`` (positional and keyword, in call order):
    ``{name: layout name}``, ``"contiguous"`` for one without a layout."""
    return {name: case.layouts.get(name, CONTIGUOUS) for name, _ in case.arrays()}


#: arrays of this many elements (a long reduction's: ``properties.strategies.LONG_TERMS``) are drawn contiguous.
#: torch reduces a dimension that is not contiguous in memory by adding its elements one after the other,
#: not by its cascade sum (pytorch#37234, known deviation torch_sum_of_expanded_tensor_accumulates_sequentially):
#: float32 torch.sum over dims (0, 2) of a transposed (3, 3, 1006) tensor is ~45 u off where the contiguous one
#: is ~2 u, and a Dice computed that way ~100 u in its gradient -- beyond the tolerance model's pairwise
#: ceil(log2 n) u, which a correct implementation on contiguous data meets.  Short cases (at most a few hundred
#: elements) take every layout; there a sequential sum's error stays within the bound.
LONG_CONTIGUOUS = LONG_TERMS[0]


def is_long(case) -> bool:
    """Whether ``case`` holds an array of ``LONG_CONTIGUOUS`` elements or more (a long reduction's)."""
    return max((v.size for _, v in case.arrays()), default=0) >= LONG_CONTIGUOUS


@st.composite
def _draw_layouts(draw, cases, admits, fmt):
    case = draw(cases)
    if draw(st.sampled_from(range(_CONTIGUOUS_CHOICE))) == 0:  # shrinks to all-contiguous
        return case
    if is_long(case):
        return case  # a long reduction stays contiguous (LONG_CONTIGUOUS)
    chosen = {}
    for name, v in case.arrays():
        options = [lay.name for lay in LAYOUTS if lay.applies(v)]
        if not options:
            continue
        # the first of a permutation: about uniform over the options, where sampled_from gives its first
        # option in ~half of the draws and some others in ~2 %.  Contiguous is not among them: with it,
        # transposed (for the shapes that allow it) fell below one in 300 draws of some variants; arrays
        # still mix layouts that are and are not contiguous in strides (sliced is, with an offset)
        chosen[name] = draw(st.permutations(options))[0]
    if not chosen:
        return case
    laid = case.laid_out(chosen)
    # a value rewritten for a stride-0 layout may leave the domain comparable in the dtype (the spec
    # says where: Dice's denominators, cosine's |a|^2 |b|^2): then the case keeps its own values
    if admits(laid, fmt):
        return laid
    arrays = dict(case.arrays())
    return case.laid_out({k: v for k, v in chosen.items() if layout(v).holds(arrays[k])})


def laid_out(cases: Callable, admits: Callable) -> Callable:
    """``cases(variant, fmt, reduction=None)`` (a spec's strategy) with a memory layout drawn for every array of each
    case: all contiguous in about half of the cases (``CONTIGUOUS_SHARE``), else a layout per array among
    those that apply to its shape (contiguous where none does).  ``admits``: the spec's domain check."""
    if getattr(cases, "draws_layouts", False):
        return cases

    def drawn(variant, fmt, reduction=None):
        return _draw_layouts(cases(variant, fmt) if reduction is None else cases(variant, fmt, reduction), admits, fmt)

    drawn.draws_layouts = True
    drawn.__wrapped__ = cases
    return drawn
