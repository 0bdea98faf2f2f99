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

from .cases import Case
from .formats import FORMATS, FloatFormat
from .spec import LossSpec
from .guard import InputMutationError
from .subjects import CallTimeout, Subject
from .tolerance import bound

#: (loss, dtype) -> [largest error/bound seen, number of checks]; the README's tightness figures.
RATIOS: dict[tuple[str, str], list] = defaultdict(lambda: [0.0, 0])


class AgreementError(AssertionError):
    pass


def reproduction(spec: LossSpec, subject: Subject, case: Case, dtype: str, device: str) -> str:
    call = subject.call_source(case, dtype, device)
    ref_args = ", ".join(
        [f"{k}.double().cpu().numpy()" if v.dtype.kind == "f" else f"{k}.cpu().numpy()" for k, v in case.args.items()]
        + [
            f"{k}={k}.double().cpu().numpy()" if isinstance(v, np.ndarray) else f"{k}={v!r}"
            for k, v in case.kwargs.items()
        ]
        + [f"{k}={v!r}" for k, v in spec.reference_kwargs.items()]
    )
    module = subject.callee_module
    return "\n".join(
        [f"import torch, {module}, refimpl" if module not in ("torch", "", "refimpl") else "import torch, refimpl", call,
         f"ref = refimpl.{spec.name}({ref_args})", "print(out, ref)"]
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _describe(label, got, ref, err, bnd, fmt, idx) -> str:
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = err / np.abs(ref)
    ulp = fmt.ulp(ref)
    return (
        f"{label} element {idx}: got {got!r}, reference {ref!r}\n"
        f"  error: abs {err:.3e}, rel {rel:.3e}, {err / ulp:.3g} ulp({fmt.name}); "
        f"bound {bnd:.3e} ({bnd / ulp:.3g} ulp), error/bound = {err / bnd:.3g}"
    )


def bound_for(spec: LossSpec, fmt: FloatFormat, case: Case, reduction: str, result: np.ndarray,
              terms: np.ndarray | None = None) -> np.ndarray:
    """The tolerance model's bound for ``result`` (the reference value of ``case``), shaped like it.
    ``terms``: the reference's unreduced terms of ``case`` when the caller has them already."""
    if terms is None:
        terms = spec.call_reference(case, reduction="none")
    budget = spec.scale(case, terms)
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
    ref = spec.call_reference(case)
    reduction = case.kwargs.get("reduction", "mean")
    return ref, bound_for(spec, FORMATS[dtype], case, reduction, ref, terms=ref if reduction == "none" else None)


def compare(spec: LossSpec, subject: Subject, case: Case, dtype: str, device: str,
            want: tuple[np.ndarray, np.ndarray] | None = None) -> Comparison:
    """Call ``subject`` on ``case`` (already rounded to ``dtype``, reduction in its kwargs) on
    ``device`` and compare with the reference; :class:`ContractBreach` for a broken contract.
    ``want``: :func:`expected` of the case when the caller compares several subjects or devices
    on it (the reference is then evaluated once)."""
    import torch

    args, kwargs = case.to_torch(dtype, device)
    try:
        out = subject(args, kwargs)
    except InputMutationError as exc:
        raise ContractBreach(f"mutates its inputs: {_first_line(exc)}") from exc
    except CallTimeout as exc:
        raise ContractBreach(f"hangs: {_first_line(exc)}") from exc
    except Exception as exc:  # a raise on valid input is a finding, reported, not a crash
        raise ContractBreach(f"raises on valid input: {type(exc).__name__}: {_first_line(exc)}") from exc

    ref, bnd = want if want is not None else expected(spec, case, dtype)
    if not isinstance(out, torch.Tensor):
        raise ContractBreach(f"returned a {type(out).__name__}, expected a torch.Tensor")
    problems = []
    if out.dtype != getattr(torch, dtype):
        problems.append(f"returned dtype {out.dtype}, expected torch.{dtype}")
    if out.device.type != torch.device(device).type:
        problems.append(f"returned a tensor on {out.device}, expected {device}")
    if tuple(out.shape) != ref.shape:
        problems.append(f"returned shape {tuple(out.shape)}, expected {ref.shape}")
    if problems:
        raise ContractBreach("; ".join(problems))

    got = out.detach().to("cpu", torch.float64).numpy()
    with np.errstate(invalid="ignore"):
        err = np.where(np.isnan(ref) | (got == ref), 0.0, np.abs(got - ref))
    err = np.where(np.isnan(err), np.inf, err)  # an inf on one side only
    return Comparison(case, FORMATS[dtype], got, ref, bnd, err)


def check_agreement(spec: LossSpec, subject: Subject, case: Case, dtype: str, device: str, reduction: str,
                    variant: str = "", record: bool = True) -> float:
    """Assert ``subject`` agrees with ``spec.reference`` on ``case``; return max error/bound.

    ``record``: add the ratio to ``RATIOS`` (off for deliberately wrong implementations)."""
    fmt = FORMATS[dtype]
    case = case.rounded(dtype).with_kwargs(reduction=reduction)
    header = (
        f"{spec.name}[{dtype}-{device}-{reduction}-{variant}]: {subject.qualname} vs refimpl.{spec.name}\n"
        f"case: {case!r}\n"
    )
    repro = "\nReproduce:\n" + reproduction(spec, subject, case, dtype, device)
    where = f" [{spec.name} {dtype} {device} reduction={reduction!r}]"

    def breach(diagnosis: str) -> AgreementError:
        # the first line is the one-line diagnosis; the case and the reproduction follow
        return AgreementError(f"{subject.qualname} {diagnosis}{where}\n{header}{repro}")

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
    if max_ratio > 1.0:
        detail = _describe("worst", float(got[worst]), float(ref[worst]), float(err[worst]), float(bnd[worst]),
                           fmt, worst)
        n_bad = int(np.sum(ratio > 1.0))
        raise AgreementError(f"{header}{n_bad} of {ratio.size} output element(s) outside the bound\n{detail}{repro}")
    return max_ratio
