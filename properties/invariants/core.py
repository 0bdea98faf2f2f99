"""Invariants: mathematical relations a loss satisfies, checked on every implementation.

An :class:`Invariant` is declared once per loss (``INVARIANTS`` in its unit, ``properties/specs/<loss>.py``) and run on
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
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import numpy as np
from hypothesis import assume, strategies as st

from ..agreement import ContractBreach, bound_for
from ..cases import Case, literal
from ..edge_cases.row import find_known_failure
from ..known import KnownDeviation
from ..formats import DTYPE_NAMES, FloatFormat
from ..diagnosis import run_subject, headline, parts, script, shown_output
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
    """An evaluation failed outright: a contract breach (raise, hang, mutation, wrong type, dtype,
    device or shape) or a non-finite value where the loss is finite.  The message is the
    diagnosis; ``label`` names the evaluation."""

    def __init__(self, diagnosis: str, label: str = ""):
        super().__init__(diagnosis)
        self.label = label


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


def _number_source(c) -> str:
    """An exact factor of :meth:`Q.scale` / :meth:`Q.divide` as source (a float64 tensor for an array)."""
    if isinstance(c, np.ndarray):
        return literal(np.vectorize(float, otypes=[np.float64])(c) if c.dtype == object else c)
    return repr(float(c))


def _take_source(src: str, index, axis) -> str | None:
    idx = np.asarray(index)
    if idx.ndim == 0:
        return f"{src}.select({axis}, {int(idx)})"
    return f"{src}.index_select({axis}, torch.tensor({idx.tolist()!r}))" if idx.ndim == 1 else None


@dataclass
class Q:
    """A side of a claim: exact value (object array of Fractions) and its error bound (float64).

    ``source``: how a reproduction computes it (``source()`` -> Python over the calls' float64
    outputs ``v0``, ``v1`` ...; None, or a None result: the value as a literal, for a quantity
    the harness computed, such as a closed form)."""

    value: np.ndarray
    bound: np.ndarray
    label: str = ""
    source: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)

    def expr(self) -> str:
        """Python source (torch, float64) of this side in a reproduction."""
        src = self.source() if self.source is not None else None
        return src if src is not None else literal(self.floats())

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
        return Q(self.value + other.value, self.bound + other.bound, f"({self.label} + {other.label})",
                 lambda: f"({self.expr()} + {other.expr()})")

    def __sub__(self, other: "Q") -> "Q":
        return Q(self.value - other.value, self.bound + other.bound, f"({self.label} - {other.label})",
                 lambda: f"({self.expr()} - {other.expr()})")

    def scale(self, c, label: str | None = None) -> "Q":
        """``c * self`` for an exact factor ``c`` (number or array, converted exactly)."""
        f = _frac(c)
        mag = np.abs(np.asarray(c, dtype=np.float64)) if not isinstance(c, Fraction) else abs(float(c))
        return Q(self.value * f, self.bound * mag, label or f"{c!r}*{self.label}",
                 lambda: f"({self.expr()} * {_number_source(c)})")

    def divide(self, c, label: str | None = None) -> "Q":
        f = _frac(c)
        return Q(self.value / f, self.bound / np.abs(np.asarray(c, dtype=np.float64)), label or f"{self.label}/{c!r}",
                 lambda: f"({self.expr()} / {_number_source(c)})")

    def sum(self, axis=None, label: str | None = None) -> "Q":
        v = np.sum(self.value, axis=axis) if self.value.size else np.asarray(Fraction(0))
        b = np.sum(self.bound, axis=axis)
        dims = "" if axis is None or not self.value.size else repr(axis)
        return Q(np.asarray(v, dtype=object), np.asarray(b), label or f"sum({self.label})",
                 lambda: f"{self.expr()}.sum({dims})")

    def take(self, index, axis=0, label: str | None = None) -> "Q":
        return Q(np.take(self.value, index, axis=axis), np.take(self.bound, index, axis=axis), label or self.label,
                 lambda: _take_source(self.expr(), index, axis))

    def reshape(self, shape) -> "Q":
        return Q(self.value.reshape(shape), self.bound.reshape(shape), self.label,
                 lambda: f"{self.expr()}.reshape({tuple(int(k) for k in np.atleast_1d(shape))!r})")

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
    assume(is_exact(case, ev.fmt.name))  # the dtype the subject computes in (a declared compute_dtype)
    assume(ev.spec.admits(case, ev.fmt))
    return case


#: the most terms an invariant evaluates one by one for an implementation without ``reduction``
#: (one call each; larger cases are left to the agreement checks)
MAX_TERMS = 8


def term_cases(spec: LossSpec, case: Case, shape: tuple) -> list[Case] | None:
    """One case per unreduced term of ``case`` (``shape``: the shape of its reduction='none'), each of
    which an implementation reduces to that term alone -- or None where the loss's terms cannot be
    cut apart so (array parameters such as ``weight``, which a weighted mean divides out again;
    ignored targets, whose one-term mean is 0/0; terms that are not per element or per row)."""
    if "ignore_index" in case.kwargs or any(isinstance(v, np.ndarray) for v in case.kwargs.values()):
        return None
    args = case.args
    first = next(iter(args.values()))
    if spec.event_dims == 0 and shape == first.shape and all(a.shape == first.shape for a in args.values()):
        return [Case({k: v.reshape(-1)[i:i + 1] for k, v in args.items()}, case.kwargs) for i in range(first.size)]
    if (spec.event_dims == 1 and first.ndim == 2 and shape == first.shape[:1]
            and all(a.shape[:1] == first.shape[:1] for a in args.values())):
        return [Case({k: v[i:i + 1] for k, v in args.items()}, case.kwargs) for i in range(first.shape[0])]
    return None


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
        from ..fit import fitted

        self.spec, self.subject, self.dtype, self.device = spec, subject, dtype, device
        self.fmt: FloatFormat = fitted(spec, subject).fmt(dtype)  # a declared compute_dtype's, where narrower
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

        from ..fit import fitted
        from ..specs import SPECS

        loss = loss or self.spec.name
        spec = SPECS[loss]
        subject = self.subject_for(loss)
        if not is_exact(case, self.dtype):
            raise InexactCase(f"invariant evaluated {loss} on a case not exact in {self.dtype}: {case!r}")
        case = case.with_kwargs(reduction=reduction)
        label = label or f"{loss}({reduction})"
        fspec = fitted(spec, subject).in_dtype(self.dtype)  # a plug-in's declared conventions
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = fspec.call_reference(case)
        # the domain: the loss of this case is finite in the dtype -- an exact value from fmt.overflow on
        # (float16: 65520) rounds to inf, which no relation between values can be checked on (a float16
        # 'sum' of 800 BCE terms clamped at 100 is inf for every correct implementation; agreement checks
        # that inf itself, agreement.rounded_to_inf)
        assume(bool(np.all(np.isfinite(ref)) and np.all(np.abs(ref) < self.fmt.overflow)))
        if reduction == "none" and "reduction" in getattr(fspec, "lacking", ()) and fspec.reductions != ("none",):
            terms = term_cases(spec, case.with_kwargs(reduction=fspec.reductions[0]), np.shape(ref))
            if terms is not None:  # a mean-only plug-in: each term is its mean over that term alone
                assume(len(terms) <= MAX_TERMS)
                return self._by_terms(spec, subject, case, terms, ref, label)
        args, kwargs = case.to_torch(self.dtype, self.device)
        if subject.origin != "plugin" and subject.missing_params(case.kwargs):  # an adapter's narrower API
            raise Unsupported(f"{subject.qualname} has no parameter(s) {subject.missing_params(case.kwargs)}")
        if fspec.fit(case, strict=True) is None:  # a parameter value (or data) it lacks
            raise Unsupported(f"{subject.qualname} cannot take {loss}({', '.join(sorted(case.kwargs))}) as drawn: "
                              f"it has no parameter(s) {subject.lacking(case.kwargs) or list(fitted(spec, subject).lacking)}")
        index = len(self.calls)  # the reproduction's out{index} / v{index}
        self.calls.append(Call(label, loss, subject, case, None))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = run_subject(subject, args, kwargs, self.dtype, self.device, np.shape(ref))
        except ContractBreach as exc:
            raise _CallFailed(str(exc), label) from exc.__cause__
        got = out.detach().to("cpu", torch.float64).numpy()
        self.calls[-1].value = got
        if not np.all(np.isfinite(got)):
            bad = ~np.isfinite(got)
            at = tuple(int(k) for k in np.argwhere(bad)[0])
            what = ("returned NaN where the reference is finite" if np.isnan(got).any() else
                    "value outside the bound: returned inf where the reference is finite")
            raise _CallFailed(f"{what} ({label}: {int(bad.sum())} of {got.size} element(s); first at {at}: "
                              f"{float(got[at])!r}, reference {float(np.asarray(ref)[at])!r})", label)
        bnd = bound_for(fspec, self.fmt, case, reduction, ref)
        return Q(fractions(got), np.array(bnd, dtype=np.float64), label, lambda: f"v{index}")

    def _by_terms(self, spec: LossSpec, subject: Subject, case: Case, terms: list, ref, label: str) -> "Q":
        """The unreduced terms of ``case`` from an implementation without ``reduction``: its value on
        each one-term case (:func:`term_cases`; the mean of one term is that term)."""
        values = []
        for i, term in enumerate(terms):
            values.append(self(term, term.kwargs["reduction"], loss=spec.name, label=f"{label}[term {i}]").value)
        got = fractions(np.array([float(v) for v in values], dtype=np.float64).reshape(np.shape(ref)))
        bnd = bound_for(spec, self.fmt, case.with_kwargs(reduction="none"), "none", ref)
        return Q(got, np.array(bnd, dtype=np.float64), label)

    def reproduction(self, claim: "Claim | None" = None) -> str:
        """Every call made, each output as float64 ``v0``, ``v1`` ...; then the violated ``claim``'s
        two sides computed from them, their difference and the allowed tolerance -- or, when a
        call failed, what that call returned against the contract."""
        from ..specs import SPECS

        modules = sorted({c.subject.callee_module for c in self.calls} - {"", "torch"})
        lines = ["import " + ", ".join(["torch", *modules])]
        for i, c in enumerate(self.calls):
            if c.value is None:  # the call that failed: what it returned against the contract, its inputs
                shape = repr(np.shape(SPECS[c.loss].call_reference(c.case)))
                failed = script(c.subject, c.case, self.dtype, self.device,
                                after=shown_output(self.dtype, self.device, shape))
                lines += [f"# {c.label}: the call that failed", *failed.splitlines()[1:]]
                continue
            tensors, call = parts(c.subject, c.case, self.dtype, self.device)
            lines += [f"# {c.label}", *tensors, call.replace("out = ", f"out{i} = ", 1),
                      f"v{i} = torch.as_tensor(out{i}, dtype=torch.float64)"]
        if claim is None:
            return "\n".join(lines)
        _, _, allowed = _violations(claim)
        diff = "(lhs - rhs).abs()" if claim.relation == "==" else "lhs - rhs"
        lines += [f"# claim: {claim.text}", f"lhs = {claim.lhs.expr()}", f"rhs = {claim.rhs.expr()}",
                  f"allowed = {literal(np.asarray(allowed, dtype=np.float64))}  # bound(lhs) + bound(rhs) + slack",
                  f"print({'lhs ' + claim.lhs.label + ':'!r}, lhs.tolist())",
                  f"print({'rhs ' + claim.rhs.label + ':'!r}, rhs.tolist())",
                  f"print({diff + ':'!r}, ({diff}).tolist())",
                  "print('allowed:', allowed.tolist())"]
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
    known_failures: tuple[KnownDeviation, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"

    def strategy(self, spec: LossSpec, fmt: FloatFormat) -> st.SearchStrategy:
        if self.cases is not None:
            return self.cases(spec, fmt)
        variants = self.variants or spec.variants
        return st.sampled_from(variants).flatmap(lambda v: spec.cases(v, fmt))

    def known_failure(self, subject: Subject, dtype: str) -> KnownDeviation | None:
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
        f"worst element {tuple(int(i) for i in worst)}: "
        f"lhs {claim.lhs.label} = {float(np.broadcast_to(lv, np.shape(bad))[worst])!r}, "
        f"rhs {claim.rhs.label} = {float(np.broadcast_to(rv, np.shape(bad))[worst])!r}\n"
        f"  {sym} {excess[worst]:.6e}; allowed {allowed[worst]:.6e} = bound(lhs) {lhs_b:.3e} + bound(rhs) "
        f"{rhs_b:.3e} + slack {slack:.3e}; violation/allowed = {float(ratio[worst]):.3g}"
    )
    return False, detail, float(ratio[worst])


def run_invariant(inv: Invariant, spec: LossSpec, subject: Subject, dtype: str, device: str, case: Case,
                  draw: Callable) -> None:
    """Check ``subject`` against ``inv`` on ``case`` (already exact in ``dtype``); raise
    :class:`InvariantViolation` with the details, :class:`Unsupported` when the subject lacks a parameter.
    A violation that the plug-in's declared conventions explain -- the reference under them violates
    ``inv`` on the same example (clipped BCE: bce(0, 0) = -log(1 - 1e-7) > 0) -- rejects the example
    (``properties.conventions.under_conventions``)."""
    from ..conventions import under_conventions

    return under_conventions(spec, subject, dtype, draw, InvariantViolation,
                             lambda s, d: _run_invariant(inv, spec, s, dtype, device, case, d), inv.id)


def _run_invariant(inv: Invariant, spec: LossSpec, subject: Subject, dtype: str, device: str, case: Case,
                   draw: Callable) -> None:
    ev = Evaluator(spec, subject, dtype, device)
    first = lambda diagnosis: headline(subject.qualname, diagnosis, spec.name, dtype, device, inv.name)
    about = lambda: f"invariant {inv.id}: {inv.statement}\nholds when: {inv.holds_when}\ncase: {case!r}\n"
    try:
        claims = inv.relation(ev, case, draw)
    except _CallFailed as exc:  # a breach (or NaN) is diagnosed as such, before the invariant
        raise InvariantViolation(f"{first(str(exc))}\n{about()}while evaluating {exc.label} for the invariant\n"
                                 f"Reproduce:\n{ev.reproduction()}") from exc
    for claim in claims:
        ok, detail, ratio = check_claim(claim)
        if not ok:
            raise InvariantViolation(f"{first(f'violates invariant {inv.id}: {claim.text}')}\n{about()}{detail}\n"
                                     f"Reproduce:\n{ev.reproduction(claim)}", ratio)
