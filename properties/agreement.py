"""The agreement check: one implementation, one generated case, one dtype and
device, against the float64 reference within the tolerance model's bound.

A failure raises ``AgreementError`` whose message carries everything needed to
act on it: the worst element, the implementation's and the reference's values,
the error in absolute, relative and ulp terms against the bound, and a
copy-paste reproduction.  Every check also records ``error / bound`` so the
suite can report how tight the model is (``RATIOS``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import tally
from .cases import Case
from .formats import FloatFormat
from .spec import LossSpec
from .subjects import Subject
from .tolerance import bound, budget as _budget

#: (loss, dtype) -> [largest error/bound seen, number of checks]; the README's tightness figures.
RATIOS: dict[tuple[str, str], list] = defaultdict(lambda: [0.0, 0])


class AgreementError(AssertionError):
    pass


def reproduction(spec: LossSpec, subject: Subject, case: Case, dtype: str, device: str) -> str:
    """A complete script: the tensors (exact values), the call, the reference, and what each
    returned, at full precision (``properties.diagnosis``)."""
    from .diagnosis import reference_arguments, script, shown_output

    return script(subject, case, dtype, device, modules=("refimpl",), after=[
        f"ref = refimpl.{spec.name}({reference_arguments(spec, case)})", *shown_output(dtype, device, "ref.shape"),
        'print("reference:", ref.tolist())'])


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _describe(label, got, ref, err, bnd, fmt, idx, names=("got", "reference")) -> str:
    """One element against its expected value: the values at full precision and, where both are
    finite, the error in abs / rel / ulp terms against the bound (``names``: what the two are)."""
    g, r = names
    head = f"{label} element {tuple(int(i) for i in np.atleast_1d(idx))}: "
    if not (np.isfinite(got) and np.isfinite(ref)):  # no error in ulps or against a bound exists
        word = lambda v: "NaN" if np.isnan(v) else repr(v)
        return head + f"{g} {word(got)} where the {r} is {word(ref)}"
    ulp = float(fmt.ulp(ref))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # a huge bound in subnormal ulps: inf
        rel = err / abs(ref) if ref else float("inf") if err else 0.0
        versus = (f"bound {bnd:.3e} ({np.float64(bnd) / ulp:.3g} ulp), error/bound = {err / bnd:.3g}" if bnd > 0 else
                  "bound 0 (an exact value), error/bound = " + ("inf" if err else "0"))
        ulps = np.float64(err) / ulp
    return (f"{head}{g} {got!r}, {r} {ref!r}\n"
            f"  error: abs {err:.3e}, rel {rel:.3e}, {ulps:.3g} ulp({fmt.name}); {versus}")


def rounded_to_inf(got: np.ndarray, ref: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """Where ``got`` is the correctly rounded value of an exact loss ``ref`` beyond the dtype's range: +-inf
    (IEEE 754 rounds a magnitude from ``fmt.overflow`` on -- float16: 65520 -- to infinity)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(ref) & (np.abs(ref) >= fmt.overflow) & (got == np.copysign(np.inf, ref))


def bound_for(spec: LossSpec, fmt: FloatFormat, case: Case, reduction: str, result: np.ndarray,
              terms: np.ndarray | None = None) -> np.ndarray:
    """The tolerance model's bound for ``result`` (the reference value of ``case``), shaped like it.
    ``terms``: the reference's unreduced terms of ``case`` when the caller has them already."""
    if terms is None:
        terms = spec.call_reference(case, reduction="none")
    budget = _budget(spec.scale, case, terms, fmt)  # in fmt: a budget may depend on the dtype's u
    denom = spec.denominator(case, terms, reduction) if reduction not in ("none", "sum") else None
    gain = spec.underflow(case, terms) if spec.underflow else 1.0
    return np.broadcast_to(bound(fmt, reduction, terms, budget, result, denom, gain), np.shape(result))


class ContractBreach(AssertionError):
    """The implementation broke its contract on a valid input (raised, hung, mutated an input,
    returned something other than a tensor of the case's shape, dtype and device); the message
    is the one-line diagnosis."""


@dataclass(frozen=True)
class Comparison:
    """One implementation's output on one case against the reference: ``got`` and ``reference``
    (float64, the output's shape), the tolerance model's ``bound`` and the error ``err``
    (0 where both are NaN or equal, inf where only one side is finite)."""

    case: Case
    fmt: FloatFormat
    got: np.ndarray
    reference: np.ndarray
    bound: np.ndarray
    err: np.ndarray

    @property
    def nan_where_finite(self) -> np.ndarray:
        return np.isnan(self.got) & np.isfinite(self.reference)

    @property
    def ratio(self) -> np.ndarray:
        """error / bound (inf where exactly one side is NaN)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(np.isnan(self.got) != np.isnan(self.reference), np.inf,
                            np.where(self.err == 0, 0.0, self.err / self.bound))

    @property
    def ulps(self) -> np.ndarray:
        """error in ulps of the dtype at the reference value."""
        return self.err / self.fmt.ulp(self.reference)

    @property
    def rel(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.err == 0, 0.0, self.err / np.abs(self.reference))


def expected(spec: LossSpec, case: Case, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """``(reference, bound)`` of ``case`` (rounded to ``dtype``, reduction in its kwargs)."""
    spec = spec.in_dtype(dtype)  # a plug-in's declared conventions in this dtype (properties.conventions)
    ref = spec.call_reference(case)
    reduction = case.kwargs.get("reduction", "mean")
    return ref, bound_for(spec, spec.fmt(dtype), case, reduction, ref, terms=ref if reduction == "none" else None)


def compare(spec: LossSpec, subject: Subject, case: Case, dtype: str, device: str,
            want: tuple[np.ndarray, np.ndarray] | None = None) -> Comparison:
    """Call ``subject`` on ``case`` (already rounded to ``dtype``, reduction in its kwargs) on
    ``device`` and compare with the reference; :class:`ContractBreach` for a broken contract.
    ``want``: :func:`expected` of the case when the caller compares several subjects or devices
    on it (the reference is then evaluated once)."""
    import torch

    from .diagnosis import run_subject

    args, kwargs = case.to_torch(dtype, device)
    ref, bnd = want if want is not None else expected(spec, case, dtype)
    out = run_subject(subject, args, kwargs, dtype, device, ref.shape)

    got = out.detach().to("cpu", torch.float64).numpy()
    fmt = spec.fmt(dtype)
    with np.errstate(invalid="ignore"):
        err = np.where(np.isnan(ref) | (got == ref) | rounded_to_inf(got, ref, fmt), 0.0, np.abs(got - ref))
    err = np.where(np.isnan(err), np.inf, err)  # an inf on one side only
    return Comparison(case, fmt, got, ref, bnd, err)


def check_agreement(spec: LossSpec, subject: Subject, case: Case, dtype: str, device: str, reduction: str,
                    variant: str = "", record: bool = True) -> float:
    """Assert ``subject`` agrees with ``spec.reference`` on ``case``; return max error/bound.

    ``record``: add the ratio to ``RATIOS`` (off for deliberately wrong implementations)."""
    spec = spec.in_dtype(dtype)
    fmt = spec.fmt(dtype)
    case = case.rounded(dtype).with_kwargs(reduction=reduction)
    # the case and its reproduction are written only for a failure (a long case's source is ~100 kB)
    header = lambda: (f"{spec.name}[{dtype}-{device}-{reduction}-{variant}]: {subject.qualname} vs "
                      f"refimpl.{spec.name}\ncase: {case!r}\n")
    repro = lambda: "\nReproduce:\n" + reproduction(spec, subject, case, dtype, device)
    where = f" [{spec.name} {dtype} {device} reduction={reduction!r}{' ' + variant if variant else ''}]"

    def breach(diagnosis: str) -> AgreementError:
        # the first line is the one-line diagnosis; the case and the reproduction follow
        return AgreementError(f"{subject.qualname} {diagnosis}{where}\n{header()}{repro()}")

    try:
        c = compare(spec, subject, case, dtype, device)
    except ContractBreach as exc:
        raise breach(str(exc)) from exc.__cause__
    got, ref, err, bnd = c.got, c.reference, c.err, c.bound
    nan_where_finite = c.nan_where_finite
    if np.any(nan_where_finite):
        raise breach(f"returned NaN where the reference is finite ({int(np.sum(nan_where_finite))} of {got.size} "
                     f"element(s); first at {tuple(int(i) for i in np.argwhere(nan_where_finite)[0])}, "
                     f"reference {float(ref[nan_where_finite][0])!r})")
    ratio = c.ratio
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.size else ()
    max_ratio = float(ratio[worst]) if ratio.size else 0.0
    if record:
        rec = RATIOS[(spec.name, dtype)]
        rec[0], rec[1] = max(rec[0], max_ratio if np.isfinite(max_ratio) else rec[0]), rec[1] + 1

    def message() -> str:
        detail = _describe("worst", float(got[worst]), float(ref[worst]), float(err[worst]), float(bnd[worst]),
                           fmt, worst)
        n_bad = int(np.sum(ratio > 1.0))
        return (f"{subject.qualname} value outside the bound: {n_bad} of {ratio.size} output element(s), "
                f"error/bound = {max_ratio:.3g}{where}\n{header()}{detail}{repro()}")

    tally.worst(max_ratio, message)  # the worst example of the search is reported beside the minimal one
    if max_ratio > 1.0:
        raise AgreementError(message())
    return max_ratio
