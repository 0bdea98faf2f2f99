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

from ..agreement import bound_for
from ..cases import Case
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
        raise NotImplementedError

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

    def want(self, ctx: Context) -> np.ndarray:
        v = self.expected(ctx) if callable(self.expected) else self.expected
        return np.asarray(v, dtype=np.float64)

    def check(self, got, ctx):
        want = self.want(ctx)
        if want.shape != got.shape:
            return _shape_problem(got, want.shape)
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        if self.nan_ok:
            same |= np.isnan(got)
        if not self.exact:
            finite = np.isfinite(want) & np.isfinite(got)
            if finite.any():
                with np.errstate(invalid="ignore", over="ignore"):  # NaN / inf inputs elsewhere in the case
                    bnd = self.tol(ctx, want) if self.tol else bound_for(ctx.spec, ctx.fmt, ctx.case, ctx.reduction,
                                                                         want)
                bnd = np.broadcast_to(np.asarray(bnd, dtype=np.float64), want.shape)
                if not np.all(np.isfinite(bnd[finite])):
                    return f"the row's tolerance is not finite ({_fmt(bnd)}): a defect of the row, not a pass"
                with np.errstate(invalid="ignore"):
                    same |= finite & (np.abs(got - want) <= bnd)
        if np.all(same):
            return None
        return f"got {_fmt(got)}, expected {_fmt(want)}" + (" (or NaN)" if self.nan_ok else "")


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

    def must_raise(self, ctx):
        try:
            ctx.result
        except ValueError:
            return True
        return False


def agrees() -> Agrees:
    return Agrees()


@dataclass(frozen=True)
class Empty(Expectation):
    """An empty result shaped as the mathematics says (the reference's shape for the case)."""

    text: str = "an empty tensor"

    def check(self, got, ctx):
        want = ctx.result.shape
        if got.size != 0 or got.shape != want:
            return f"shape {got.shape} ({got.size} elements), expected the empty shape {want}"
        return None


@dataclass(frozen=True)
class Raises(Expectation):
    """The call must raise (a return value is the violation)."""

    text: str = "raises an exception"

    def must_raise(self, ctx):
        return True

    def check(self, got, ctx):
        return f"returned {_fmt(got)} instead of raising"
