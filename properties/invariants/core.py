"""Invariants: mathematical relations a loss satisfies, checked on every implementation.

An :class:`Invariant` is declared once per loss (``properties/invariants/tables.py``) and run on
every implementation under test (torch built-ins, the reference, mutants): its ``relation``
evaluates the implementation on one or more cases (through an :class:`Evaluator`) and returns
:class:`Claim` s -- ``lhs == rhs`` or ``lhs <= rhs`` -- which :func:`run_invariant` checks.

Tolerance (no constant of its own).  Every value an implementation returns for a case ``c``
in dtype ``d`` is, by the agreement tests, within ``bound_for(spec, fmt_d, c, reduction,
reference(c))`` of the exact loss of ``c`` (the tolerance model, ``properties/tolerance.py``;
its ``u_d + u_64`` covers the float64 reference's own error too).  So if the exact values
satisfy ``L == R``, the computed ones satisfy ``|L~ - R~| <= bound(L) + bound(R)``, and for
``L <= R``: ``L~ - R~ <= bound(L) + bound(R)``.  Sides are exact linear combinations
(:class:`Q`): ``c * L`` carries ``|c| * bound(L)``, a sum of values the sum of their bounds.
The combination itself is done in exact rational arithmetic (``fractions.Fraction``), so it adds
no rounding; non-negativity is ``0 <= v`` i.e. ``v >= -bound(v)``.

The cases must be exact in ``d``: a relation evaluates transformed cases (swapped, permuted,
scaled by powers of two, on a lattice ...) built in float64 from the already-rounded case,
and rejects (``hypothesis.assume``) any that do not round-trip through ``d``
(:func:`exact_or_reject`); :class:`Evaluator` refuses an inexact case outright (a bug of
the invariant, not of the implementation).  Where no exact transform exists (``logit(p)``,
``log q``: transcendental), the rounding of the transformed input to ``d`` is a known
perturbation ``delta`` and the claim's ``slack`` is the loss's exact sensitivity to it (a
Lipschitz bound derived in the invariant's text, e.g. ``|BCEL(x + delta) - BCEL(x)| <= |delta|``
since ``|sigmoid(x) - t| <= 1``); closed-form values computed in float64 (an entropy) carry
the tolerance model's float64 bound for their own evaluation.

A claim that fails raises :class:`InvariantViolation` (an ``AssertionError``) whose message
names the invariant and its statement, the subject, dtype, device, the case, both sides'
values at the worst element, the difference against the allowed tolerance, and a
copy-paste reproduction of every call made.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np
from hypothesis import assume, strategies as st

from ..agreement import bound_for
from ..cases import Case
from ..edge_cases.row import KnownFailure, find_known_failure
from ..formats import DTYPE_NAMES, FORMATS, FloatFormat
from ..guard import InputMutationError
from ..spec import LossSpec
from ..subjects import Subject, builtin_subjects, reference_subject


class InvariantViolation(AssertionError):
    """An implementation broke an invariant beyond the tolerance.  ``ratio``: |violation| / allowed."""

    def __init__(self, message: str, ratio: float = float("inf")):
        super().__init__(message)
        self.ratio = ratio


class InexactCase(Exception):
    """A relation asked to evaluate a case that is not exact in the dtype: a bug of the invariant."""


class Unsupported(Exception):
    """The subject lacks a keyword parameter the case needs (the test skips)."""


class _CallFailed(Exception):
    """An evaluation failed outright (raise, wrong type/dtype/shape, non-finite value)."""


# ---- exact quantities -----------------------------------------------------------------------

def fractions(a) -> np.ndarray:
    """A float64 array as an object array of exact ``Fraction`` s (same shape)."""
    a = np.asarray(a, dtype=np.float64)
    out = np.empty(a.shape, dtype=object)
    for i, v in enumerate(a.flat):
        out.flat[i] = Fraction(float(v))
    return out


def _frac(c):
    if isinstance(c, np.ndarray):
        return fractions(c) if c.dtype != object else c
    return c if isinstance(c, Fraction) else Fraction(c)


@dataclass
class Q:
    """A side of a claim: exact value (object array of Fractions) and its error bound (float64)."""

    value: np.ndarray
    bound: np.ndarray
    label: str = ""

    def __post_init__(self):
        if not (isinstance(self.value, np.ndarray) and self.value.dtype == object):
            v = np.empty(np.shape(self.value), dtype=object)
            v[...] = self.value  # a Fraction scalar (0-d result) or a nested array
            self.value = v
        self.bound = np.asarray(self.bound, dtype=np.float64)

    @staticmethod
    def exact(values, label: str = "") -> "Q":
        """A value known exactly (a closed form in exact arithmetic): bound 0."""
        v = values if isinstance(values, np.ndarray) and values.dtype == object else fractions(values)
        return Q(v, np.zeros(np.shape(v)), label)

    @staticmethod
    def closed_form(values, bound, label: str = "") -> "Q":
        """A closed form evaluated in float64 (SciPy), with the bound of that evaluation."""
        values = np.asarray(values, dtype=np.float64)
        return Q(fractions(values), np.broadcast_to(np.asarray(bound, dtype=np.float64), values.shape).copy(), label)

    @property
    def shape(self):
        return np.shape(self.value)

    def __add__(self, other: "Q") -> "Q":
        return Q(self.value + other.value, self.bound + other.bound, f"({self.label} + {other.label})")

    def __sub__(self, other: "Q") -> "Q":
        return Q(self.value - other.value, self.bound + other.bound, f"({self.label} - {other.label})")

    def scale(self, c, label: str | None = None) -> "Q":
        """``c * self`` for an exact factor ``c`` (number or array, converted exactly)."""
        f = _frac(c)
        mag = np.abs(np.asarray(c, dtype=np.float64)) if not isinstance(c, Fraction) else abs(float(c))
        return Q(self.value * f, self.bound * mag, label or f"{c!r}*{self.label}")

    def divide(self, c, label: str | None = None) -> "Q":
        f = _frac(c)
        return Q(self.value / f, self.bound / np.abs(np.asarray(c, dtype=np.float64)), label or f"{self.label}/{c!r}")

    def sum(self, axis=None, label: str | None = None) -> "Q":
        v = np.sum(self.value, axis=axis) if self.value.size else np.asarray(Fraction(0))
        b = np.sum(self.bound, axis=axis)
        return Q(np.asarray(v, dtype=object), np.asarray(b), label or f"sum({self.label})")

    def take(self, index, axis=0, label: str | None = None) -> "Q":
        return Q(np.take(self.value, index, axis=axis), np.take(self.bound, index, axis=axis), label or self.label)

    def reshape(self, shape) -> "Q":
        return Q(self.value.reshape(shape), self.bound.reshape(shape), self.label)

    def floats(self) -> np.ndarray:
        return np.vectorize(float, otypes=[np.float64])(self.value) if self.value.size else np.zeros(self.shape)


def zeros(shape, label="0") -> Q:
    return Q.exact(np.zeros(shape), label)


@dataclass
class Claim:
    """``lhs == rhs`` (``relation='=='``) or ``lhs <= rhs`` (``'<='``), elementwise, within
    ``lhs.bound + rhs.bound + slack`` (``slack``: a derived allowance for an inexact transform)."""

    relation: str
    lhs: Q
    rhs: Q
    text: str
    slack: np.ndarray | float = 0.0


# ---- the evaluator ---------------------------------------------------------------------------

def is_exact(case: Case, dtype: str) -> bool:
    """Every floating array of ``case`` is finite and representable in ``dtype``."""
    r = case.rounded(dtype)
    for (_, a), (_, b) in zip(case.arrays(), r.arrays()):
        if a.dtype.kind == "f" and not (np.all(np.isfinite(a)) and np.array_equal(a, b)):
            return False
    return True


def exact_or_reject(ev: "Evaluator", case: Case) -> Case:
    """``case`` if it is exact in the evaluator's dtype and in the loss's comparable domain, else reject."""
    assume(is_exact(case, ev.dtype))
    assume(ev.spec.admits(case, ev.fmt))
    return case


@dataclass
class Call:
    label: str
    loss: str
    subject: Subject
    case: Case
    value: np.ndarray


class Evaluator:
    """Evaluates the subject (or, for cross-loss identities, another loss) on exact cases.

    ``ev(case, reduction)`` -> :class:`Q`: the subject's value as float64 with the tolerance
    model's bound for ``case``.  ``ev(case, reduction, loss="bce")`` evaluates another loss:
    its torch built-in when the subject is a torch built-in (the reference when torch has none),
    the other reference otherwise (the reference, and the mutants derived from it)."""

    def __init__(self, spec: LossSpec, subject: Subject, dtype: str, device: str):
        self.spec, self.subject, self.dtype, self.device = spec, subject, dtype, device
        self.fmt: FloatFormat = FORMATS[dtype]
        self.calls: list[Call] = []

    def subject_for(self, loss: str) -> Subject:
        if loss == self.spec.name:
            return self.subject
        from ..specs import SPECS

        other = SPECS[loss]
        if self.subject.name == "torch":
            builtins = builtin_subjects(other)
            if builtins:
                return builtins[0]
        return reference_subject(other)

    def __call__(self, case: Case, reduction: str, loss: str | None = None, label: str | None = None) -> Q:
        import torch

        from ..specs import SPECS

        loss = loss or self.spec.name
        spec = SPECS[loss]
        subject = self.subject_for(loss)
        if not is_exact(case, self.dtype):
            raise InexactCase(f"invariant evaluated {loss} on a case not exact in {self.dtype}: {case!r}")
        case = case.with_kwargs(reduction=reduction)
        label = label or f"{loss}({reduction})"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = spec.call_reference(case)
        assume(bool(np.all(np.isfinite(ref))))  # the loss of this case is finite: the domain
        args, kwargs = case.to_torch(self.dtype, self.device)
        missing = subject.missing_params(kwargs)
        if missing:
            raise Unsupported(f"{subject.qualname} has no parameter(s) {missing}")
        self.calls.append(Call(label, loss, subject, case, None))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = subject(args, kwargs)
        except InputMutationError as exc:
            raise _CallFailed(f"{label}: {exc}") from exc
        except Exception as exc:
            raise _CallFailed(f"{label}: {subject.qualname} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(out, torch.Tensor):
            raise _CallFailed(f"{label}: returned {type(out).__name__}, expected a torch.Tensor")
        if out.dtype != getattr(torch, self.dtype):
            raise _CallFailed(f"{label}: dtype {out.dtype}, expected torch.{self.dtype}")
        if tuple(out.shape) != np.shape(ref):
            raise _CallFailed(f"{label}: shape {tuple(out.shape)}, expected {np.shape(ref)} (the reference's)")
        got = out.detach().to("cpu", torch.float64).numpy()
        self.calls[-1].value = got
        if not np.all(np.isfinite(got)):
            raise _CallFailed(f"{label}: non-finite value {got!r} where the loss is finite ({ref!r})")
        bnd = bound_for(spec, self.fmt, case, reduction, ref)
        return Q(fractions(got), np.array(bnd, dtype=np.float64), label)

    def reproduction(self) -> str:
        lines = []
        modules = sorted({c.subject.callee_module for c in self.calls} - {"", "torch"})
        lines.append("import " + ", ".join(["torch", *modules]))
        for i, c in enumerate(self.calls):
            src = c.subject.call_source(c.case, self.dtype, self.device)
            body, _, last = src.rpartition("\n")
            lines.append(f"# {c.label}" + ("" if c.value is None else f"  -> {np.array2string(c.value, precision=17)}"))
            if body:
                lines.append(body)
            lines.append(last.replace("out = ", f"out{i} = ", 1))
        return "\n".join(lines)


# ---- the invariant record and the runner ---------------------------------------------------

Relation = Callable[[Evaluator, Case, Callable], list]


@dataclass(frozen=True)
class Invariant:
    """One invariant of one loss.

    name / statement / holds_when: the README's table (one line each, mathematics).
    relation:  ``relation(ev, case, draw) -> [Claim]``; ``draw`` draws extra values (a permutation,
               a scale exponent) from the test's Hypothesis data.
    variants:  the spec's variants whose cases it is drawn from (None: all), or
    cases:     ``cases(spec, fmt) -> strategy of Case``: its own domain (overrides ``variants``).
    dtypes:    the dtypes it runs in for a torch subject (the reference runs in float64).
    known_failures: subjects known to violate it (a recorded known deviation each).
    """

    loss: str
    name: str
    statement: str
    holds_when: str
    relation: Relation
    variants: tuple[str, ...] | None = None
    cases: Callable[[LossSpec, FloatFormat], st.SearchStrategy] | None = None
    dtypes: tuple[str, ...] = DTYPE_NAMES
    known_failures: tuple[KnownFailure, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"

    def strategy(self, spec: LossSpec, fmt: FloatFormat) -> st.SearchStrategy:
        if self.cases is not None:
            return self.cases(spec, fmt)
        variants = self.variants or spec.variants
        return st.sampled_from(variants).flatmap(lambda v: spec.cases(v, fmt))

    def known_failure(self, subject: Subject, dtype: str) -> KnownFailure | None:
        return find_known_failure(self.known_failures, subject.qualname, dtype)


def _violations(claim: Claim):
    """(mask of violating elements, |violation| per element as float, allowed per element)."""
    diff = np.asarray(claim.lhs.value - claim.rhs.value, dtype=object)
    allowed = np.broadcast_to(claim.lhs.bound + claim.rhs.bound + np.asarray(claim.slack, dtype=np.float64),
                              np.shape(diff))
    if claim.relation == "==":
        excess = np.vectorize(lambda d: abs(d), otypes=[object])(diff) if diff.size else diff
    elif claim.relation == "<=":
        excess = diff
    else:
        raise ValueError(claim.relation)
    excess = np.asarray(excess, dtype=object)
    bad = np.vectorize(lambda e, a: e > Fraction(float(a)), otypes=[bool])(excess, allowed) if excess.size else \
        np.zeros(np.shape(excess), bool)
    return np.asarray(bad), np.vectorize(float, otypes=[np.float64])(excess) if excess.size else np.zeros(0), allowed


def check_claim(claim: Claim) -> tuple[bool, str, float]:
    """(holds, detail of the worst element, worst excess / allowed)."""
    bad, excess, allowed = _violations(claim)
    if not np.any(bad):
        return True, "", 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(bad, excess / np.where(allowed > 0, allowed, np.nan), -np.inf)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    worst = np.unravel_index(int(np.argmax(ratio)), np.shape(ratio)) if np.ndim(ratio) else ()
    lv, rv = claim.lhs.floats(), claim.rhs.floats()
    lhs_b = np.broadcast_to(claim.lhs.bound, np.shape(bad))[worst]
    rhs_b = np.broadcast_to(claim.rhs.bound, np.shape(bad))[worst]
    slack = np.broadcast_to(np.asarray(claim.slack, dtype=np.float64), np.shape(bad))[worst]
    sym = "differ by" if claim.relation == "==" else "lhs exceeds rhs by"
    detail = (
        f"claim {claim.text}: {int(np.sum(bad))} of {bad.size} element(s) violate it\n"
        f"worst element {worst}: lhs {claim.lhs.label} = {np.broadcast_to(lv, np.shape(bad))[worst]!r}, "
        f"rhs {claim.rhs.label} = {np.broadcast_to(rv, np.shape(bad))[worst]!r}\n"
        f"  {sym} {excess[worst]:.6e}; allowed {allowed[worst]:.6e} = bound(lhs) {lhs_b:.3e} + bound(rhs) "
        f"{rhs_b:.3e} + slack {slack:.3e}; violation/allowed = {float(ratio[worst]):.3g}"
    )
    return False, detail, float(ratio[worst])


def run_invariant(inv: Invariant, spec: LossSpec, subject: Subject, dtype: str, device: str, case: Case,
                  draw: Callable) -> None:
    """Check ``subject`` against ``inv`` on ``case`` (already exact in ``dtype``); raise
    :class:`InvariantViolation` with the details, :class:`Unsupported` when the subject lacks a parameter."""
    ev = Evaluator(spec, subject, dtype, device)
    header = (f"invariant {inv.id} [{subject.qualname}, {dtype}, {device}]: {inv.statement}\n"
              f"holds when: {inv.holds_when}\ncase: {case!r}\n")
    try:
        claims = inv.relation(ev, case, draw)
    except _CallFailed as exc:
        raise InvariantViolation(f"{header}{exc}\nReproduce:\n{ev.reproduction()}") from exc
    for claim in claims:
        ok, detail, ratio = check_claim(claim)
        if not ok:
            raise InvariantViolation(f"{header}{detail}\nReproduce:\n{ev.reproduction()}", ratio)
