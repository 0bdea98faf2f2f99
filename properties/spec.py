"""The loss spec: one record per loss, the single source of truth the tests are
parametrized over.  Adding a loss = one reference function + one ``LossSpec``
in ``properties/specs/`` (no test code to edit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from .cases import Case
from .formats import FloatFormat


def count_denominator(case: Case, terms: np.ndarray, reduction: str) -> float:
    """A plain mean divides by the number of terms."""
    return float(terms.size)


@dataclass(frozen=True)
class LossSpec:
    """Everything the suite knows about one loss.

    name:        loss name (``cross_entropy``); test ids start with it.
    reference:   the float64 reference in ``refimpl`` (same signature as the torch function).
    arg_names:   the positional tensor arguments, in call order.
    torch_function: dotted path of the torch function it checks, or None (no built-in).
    cases:       ``cases(variant, fmt, reduction=None) -> SearchStrategy[Case]``: the input domain of
                 one variant, with magnitudes sized for the dtype format ``fmt`` and the ``reduction``
                 the case is checked with (None: any; a 'mean' may hold terms whose sum overflows the
                 dtype, a 'sum' may not -- ``properties.strategies.summed_count``).  A minority of the
                 examples are long reductions (``properties.strategies.long_terms``).  Every array of a
                 drawn case gets a memory layout (``properties.layouts.laid_out``, applied here to every
                 spec: all contiguous in about half of the cases).
    variants:    named regions of the parameter space (test-id suffixes); each variant's
                 cases always carry the same keyword parameters.
    scale:       the tolerance model's error budget, ``scale_<name>`` in the unit (properties/specs/<name>.py).
    denominator: what a mean-like reduction divides the sum of terms by.
    underflow:   per-term amplification of an intermediate lost to underflow (default 1).
    gradient_underflow: ``gradient_underflow(case, fmt, cotangent) -> float``: the absolute amount a
                 gradient element may lose to the backward's own intermediates below ``fmt``'s normal
                 range -- half a subnormal spacing each, times what multiplies it afterwards
                 (``cotangent``: each term's upstream gradient); given, it replaces ``underflow`` (the
                 forward's chain) in the gradient bound.  Default: ``underflow``'s gain.
    reductions:  the reduction strings the function accepts.
    mirrors:     the parameters the reference covers, for the generated losses table (``properties.docgen``).
    admits:      ``admits(case, fmt)``: whether a case lies in the domain where the comparison in
                 that dtype is meaningful (the strategies draw only such cases; transformed
                 cases -- edge-case layouts -- are checked with it too).  Default: all.
    label_args:  positional arguments that are labels (+-1 targets), not values: edge cases
                 do not perturb them.
    event_dims:  trailing dimensions of one sample of the first argument (1 for row losses whose
                 (D,) input has no batch dimension: triplet, cosine, contrastive, cross-entropy).
    reference_kwargs: switches that make the reference reproduce a documented choice of the
                 function it mirrors where that departs from the mathematics (BCE's log clamp);
                 each is a recorded known deviation.
    without:     ``{parameter: neutral(case, default) -> Case}``: how a case is rewritten for an
                 implementation that lacks ``parameter`` when the data depend on it (cross-entropy's
                 ignored targets, KL's log-space target); other parameters are simply left out
                 (``properties.fit``).
    shape_kind:  ``shape_kind(case) -> str``: the input layout a case has (cross-entropy: batch, spatial,
                 no_batch), for the coverage measure; default: the first argument's number of dimensions.
    sum_length:  ``sum_length(case) -> int``: the number of terms of the longest sum the loss forms on the
                 case (its reduction's terms; Dice: the spatial sums inside each term), for the measure of
                 long reductions (``properties.coverage``); default: the first argument's elements over
                 its ``event_dims``.
    sized_by:    parameters the strategy sizes magnitudes by (triplet's ``p``: the cap of |x|^p): a case
                 drawn with another value is outside the domain at the default, so an implementation
                 lacking the parameter is checked only on cases drawn at its default.
    builtin_deviations: the torch built-in's recorded known deviations on a region of generated cases
                 (``properties.subjects.CaseDeviation``), attached to its subject.
    broadcast:   what torch 2.13 does with an input and a target of different, broadcastable shapes
                 (``properties.broadcast.CONTRACT``, asserted by tests/test_broadcast.py): "warns" (broadcast
                 with ``properties.broadcast.WARNING``), "silent" (broadcast), ``("refuses", message)`` (a
                 ``ValueError`` whose message contains ``message``, formatted with {t}, {x}), None (shapes
                 are not broadcast pairs: rows, classes).  "warns" and "silent" losses draw broadcast pairs.
    gap:         ``gap(args, kwargs) -> (a, b) | None``: the pair of tensors (one shape) whose difference the
                 formula takes, for the coverage measure of near-coincident inputs
                 (``properties.recording``); None: the generic pair (the first two floating arguments of
                 one shape).
    sigmoid_gradient: its gradient takes a sigmoid as torch does, 1 / (1 + exp(-x)), which flushes to 0
                 below 1 / max (``properties.tolerance.gradient_flush``).
    """

    name: str
    reference: Callable
    arg_names: tuple[str, ...]
    torch_function: str | None
    cases: Callable[[str, FloatFormat], st.SearchStrategy]
    variants: tuple[str, ...]
    scale: Callable[[Case, np.ndarray], np.ndarray]
    denominator: Callable[[Case, np.ndarray, str], float] = count_denominator
    reductions: tuple[str, ...] = ("none", "mean", "sum")
    underflow: Callable[[Case, np.ndarray], np.ndarray] | None = None
    gradient_underflow: Callable | None = None
    mirrors: str = ""
    reference_kwargs: dict = field(default_factory=dict)
    event_dims: int = 0
    label_args: tuple[str, ...] = ()
    admits: Callable[[Case, FloatFormat], bool] = lambda case, fmt: True
    without: dict = field(default_factory=dict)
    sized_by: tuple[str, ...] = ()
    shape_kind: Callable[[Case], str] | None = None
    sum_length: Callable[[Case], int] | None = None
    builtin_deviations: tuple = ()
    sigmoid_gradient: bool = False
    broadcast: str | tuple | None = None
    gap: Callable | None = None

    def summed(self, case: Case) -> int:
        """The number of terms of the longest sum the loss forms on ``case`` (``sum_length``)."""
        if self.sum_length is not None:
            return int(self.sum_length(case))
        x = np.asarray(next(iter(case.args.values())))
        return int(np.prod(x.shape[: x.ndim - self.event_dims], dtype=np.int64)) if x.ndim >= self.event_dims else 1

    def __post_init__(self):
        from .layouts import laid_out

        object.__setattr__(self, "cases", laid_out(self.cases, lambda case, fmt: self.admits(case, fmt)))

    def fit(self, case: Case, strict: bool = False) -> Case | None:
        """The case as the implementation under test takes it: itself (``properties.fit.FittedSpec``
        refits it for a partial plug-in)."""
        return case

    def fmt(self, dtype: str) -> FloatFormat:
        """The format whose unit roundoff the tolerance bound uses for ``dtype`` inputs: the dtype's
        own (``properties.fit.FittedSpec``: a plug-in's declared ``compute_dtype`` where narrower)."""
        from .formats import FORMATS

        return FORMATS[dtype]

    def in_dtype(self, dtype: str) -> "LossSpec":
        """This spec as checked in ``dtype``: itself (``properties.fit.FittedSpec``: with reference
        switches that depend on the dtype a plug-in computes in, BCE's declared clip bounds)."""
        return self

    def call_reference(self, case: Case, **override) -> np.ndarray:
        return self.reference(*case.args.values(), **{**self.reference_kwargs, **case.kwargs, **override})
