"""Expectations of the edge-case tables: what an implementation must return, as predicates.

Each expectation states its value from the mathematics or from the documented
semantics of the function the loss mirrors (never from running the
implementation under test), and ``check(got, ctx)`` returns None when the result
``got`` (float64 NumPy, converted from the tensor) meets it, or a one-line
description of the violation.

Comparisons are exact where the mathematics gives an exact floating value
(NaN, +-inf, 0, an empty result, a loss of exactly 100) and otherwise use the
tolerance model (``properties.tolerance`` through ``agreement.bound_for``): the
same bound the agreement tests use, so a row is as tight as the arithmetic allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from ..agreement import Comparison, _describe, bound_for, rounded_to_inf
from ..cases import Case
from ..diagnosis import array_source, reference_arguments
from ..formats import FloatFormat
from ..spec import LossSpec


@dataclass(frozen=True)
class Context:
    """What an expectation may look at: the loss, the case (rounded to the dtype), the format."""

    spec: LossSpec
    case: Case
    fmt: FloatFormat

    @property
    def reduction(self) -> str:
        return self.case.kwargs.get("reduction", "mean")

    @cached_property
    def result(self) -> np.ndarray:
        """The reference's value of the case (evaluated once per example; ValueError if it refuses)."""
        return self.spec.call_reference(self.case)


class Expectation:
    text: str = ""

    def must_raise(self, ctx: Context) -> bool:
        """Whether the right behaviour is to raise (then ``check`` is not consulted)."""
        return False

    def check(self, got: np.ndarray, ctx: Context) -> str | None:
        """None, or what is wrong: a first line naming what was expected and what was returned
        (the failure's diagnosis), then details."""
        raise NotImplementedError

    def shape(self, ctx: Context) -> tuple:
        """The shape the result must have (the contract, checked before ``check``)."""
        return np.shape(ctx.result)

    def expected_lines(self, ctx: Context) -> list[str]:
        """Reproduction lines that print the expected result."""
        return [f'print("expected: ", {self.text!r})']

    def __str__(self) -> str:
        return self.text


def _shape_problem(got, want_shape) -> str | None:
    return None if got.shape == tuple(want_shape) else f"shape {got.shape}, expected {tuple(want_shape)}"


def _fmt(a) -> str:
    return np.array2string(np.asarray(a), precision=6, threshold=8)


@dataclass(frozen=True)
class Value(Expectation):
    """Equal to ``expected`` (a number, an array, or ``expected(ctx)``), elementwise.

    ``exact``: bit-for-bit in value (NaN matches NaN; 0 matches -0).  Otherwise a
    finite expected element must be within the tolerance model's bound, computed
    for the case (``tol(ctx)`` overrides it, e.g. where an infinite input makes
    the model's budget infinite); a non-finite one must match exactly.
    ``nan_ok``: NaN is also accepted for any element (an infinite input has a
    mathematical limit but no value in finite arithmetic: NaN is an honest
    answer there; a finite wrong number is not).
    """

    expected: object
    text: str = ""
    exact: bool = False
    nan_ok: bool = False
    tol: Callable[[Context, np.ndarray], np.ndarray] | None = None
    #: NaN is also accepted where the expected element is +-inf (an infinite input's limit, which
    #: finite arithmetic may reach as inf - inf: the tables' ``nan_ok`` rows), not where it is finite
    nan_for_infinite: bool = False

    def want(self, ctx: Context) -> np.ndarray:
        v = self.expected(ctx) if callable(self.expected) else self.expected
        return np.asarray(v, dtype=np.float64)

    def shape(self, ctx):
        return self.want(ctx).shape

    def expected_lines(self, ctx):
        return [f'print("expected: ", {array_source(self.want(ctx))})' + ("  # or NaN" if self.nan_ok else "")]

    def check(self, got, ctx):
        want = self.want(ctx)
        if want.shape != got.shape:
            return _shape_problem(got, want.shape)
        bnd = np.zeros(want.shape)  # exact: a non-finite expected element, or an exact row
        if not self.exact:
            finite = np.isfinite(want) & np.isfinite(got)
            if finite.any():
                with np.errstate(invalid="ignore", over="ignore"):  # NaN / inf inputs elsewhere in the case
                    tol = self.tol(ctx, want) if self.tol else bound_for(ctx.spec, ctx.fmt, ctx.case, ctx.reduction,
                                                                         want)
                tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), want.shape)
                if not np.all(np.isfinite(tol[finite])):
                    return f"the row's tolerance is not finite ({_fmt(tol)}): a defect of the row, not a pass"
                bnd = np.where(finite, tol, 0.0)
        with np.errstate(invalid="ignore"):
            err = np.where(np.isnan(want) | (got == want) | rounded_to_inf(got, want, ctx.fmt), 0.0, np.abs(got - want))
        c = Comparison(ctx.case, ctx.fmt, got, want, bnd, np.where(np.isnan(err), np.inf, err))
        with np.errstate(over="ignore"):  # an error over a subnormal bound: inf
            ratio = np.where(np.isnan(got), 0.0, c.ratio) if self.nan_ok else c.ratio
            if self.nan_for_infinite:
                ratio = np.where(np.isnan(got) & np.isinf(want), 0.0, ratio)
        bad = ratio > 1.0
        if not np.any(bad):
            return None
        at = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        idx = tuple(int(i) for i in at)
        g, w = float(got[at]), float(want[at])
        word = lambda v: "NaN" if np.isnan(v) else repr(v)
        first = f"expected {word(w)}{' (or NaN)' if self.nan_ok else ''}{f' at element {idx}' if idx else ''}, " \
                f"returned {word(g)}"
        if np.isfinite(g) and np.isfinite(w):
            first += f" (error/bound = {float(ratio[at]):.3g})"
        if bad.size > 1:
            first += f"; {int(np.sum(bad))} of {bad.size} elements not as expected"
        return first + "\n" + _describe("worst", g, w, float(c.err[at]), float(bnd[at]), ctx.fmt, idx,
                                        names=("got", "expected value"))


def value(expected, text: str, **kw) -> Value:
    return Value(expected, text, **kw)


def exactly(expected, text: str) -> Value:
    return Value(expected, text, exact=True)


def nan(text: str = "NaN", shape=()) -> Value:
    return Value(np.full(shape, np.nan), text, exact=True)


@dataclass(frozen=True)
class Agrees(Value):
    """The mathematics as the (mpmath-verified) reference computes it on this case, NaN
    pattern included; where the reference refuses the input (ValueError), raising is right."""

    expected: object = None
    text: str = "agrees with the reference within the tolerance model (NaN where it is NaN)"

    def want(self, ctx):
        return ctx.result

    def expected_lines(self, ctx):
        return [f"ref = refimpl.{ctx.spec.name}({reference_arguments(ctx.spec, ctx.case)})",
                'print("expected: ", ref.tolist())  # the reference']

    def must_raise(self, ctx):
        try:
            ctx.result
        except ValueError:
            return True
        return False


def agrees(nan_for_infinite: bool = False) -> Agrees:
    return Agrees(nan_for_infinite=nan_for_infinite)


@dataclass(frozen=True)
class Empty(Expectation):
    """An empty result shaped as the mathematics says (the reference's shape for the case)."""

    text: str = "an empty tensor"

    def check(self, got, ctx):
        want = ctx.result.shape
        if got.size != 0 or got.shape != want:
            return f"expected an empty tensor of shape {want}, returned shape {got.shape} ({got.size} elements)"
        return None


@dataclass(frozen=True)
class Raises(Expectation):
    """The call must raise (a return value is the violation)."""

    text: str = "raises an exception"

    def must_raise(self, ctx):
        return True

    def check(self, got, ctx):
        return f"returned {_fmt(got)} instead of raising"
