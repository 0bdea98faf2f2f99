"""The audit's measurements: how far each implementation is from the exact loss.

For one loss, one variant (a region of its parameter space) and one dtype, one Hypothesis run
draws inputs from the loss's strategy -- the same ``LossSpec.cases`` the tests draw from -- and
evaluates every subject on every device and reduction on each input against the float64
reference (``properties.agreement.compare``: the same comparison as the agreement tests).  Each
(subject, device, reduction) accumulates a :class:`Tally`: the error of every output element in
ulps of the dtype (at the reference value), relative, and against the tolerance model's bound.

The run steers towards larger error: each subject's largest ulp error on an input is a
``hypothesis.target`` observation, so after sampling Hypothesis mutates the inputs with the
largest errors seen (its targeting phase) -- the worst input is searched for, not only sampled.
The distributions are over every evaluated input, the targeted ones included (they lean towards
the large errors a sampler rarely hits; the report says so).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..agreement import ContractBreach, compare, expected, reproduction
from ..diagnosis import is_raise
from ..cases import Case
from ..formats import FLOAT64, FORMATS
from ..spec import LossSpec
from ..subjects import Subject
from .numbers import encode

#: Largest value given to ``hypothesis.target`` (an inf error is a finding, not a score).
TARGET_CAP = 1e30

#: An element is well-conditioned when the tolerance bound is at most this many (u_dtype + u_64)
#: times |reference| (as in tests/test_reference_exact.py): no cancellation to scale the error by.
#: Its ulp error is the figure a user means by "how many ulps off"; near a cancelling result (1 - cos
#: for parallel vectors, -log_softmax of a dominant class) the exact value is tiny or 0, an ulp there
#: is tiny too, and a rounding of the large intermediates is billions of ulps of it -- within the bound.
WELL_CONDITIONED = 16


def stats(values: list[np.ndarray]):
    """``{max, p50, p99}`` over the concatenated values (None when there are none)."""
    v = np.concatenate([np.ravel(a) for a in values]) if values else np.zeros(0)
    if v.size == 0:
        return None
    p50, p99 = np.percentile(v, [50, 99], method="higher")  # actual elements: inf stays inf
    return {"max": encode(np.max(v)), "p50": encode(p50), "p99": encode(p99)}


def _decades(m: np.ndarray) -> np.ndarray:
    """floor(log10(m)) per magnitude, as floats (nan for 0 or non-finite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((m > 0) & np.isfinite(m), np.floor(np.log10(np.where(m > 0, m, 1.0))), np.nan)


def decade(case: Case) -> int | None:
    """floor(log10(max |first argument|)) of an input (None for an all-zero one)."""
    first = next(iter(case.args.values()))
    d = _decades(np.asarray(float(np.max(np.abs(first), initial=0.0)) if first.size else 0.0))
    return None if np.isnan(d) else int(d)


def element_decades(case: Case, out_shape: tuple) -> np.ndarray:
    """The input magnitude behind each output element, as a decade (nan: all zero): the x axis of
    "error as a function of input magnitude".  An unreduced output whose shape is a leading part
    of the first argument's -- elementwise losses, rows (N, D) -> (N,), Dice's (B, C, ...) -> (B, C)
    -- gets max |x| over its own trailing dimensions; any other output (a mean or sum, or
    cross-entropy's (N, C, d1..) -> (N, d1..)) the max |x| of the whole input."""
    first = np.abs(next(iter(case.args.values())))
    k = len(out_shape)
    if first.shape[:k] == tuple(out_shape) and first.size:
        m = first.reshape(*out_shape, -1).max(axis=-1) if first.ndim > k else first
        return _decades(m)
    d = decade(case)
    return np.full(out_shape, np.nan if d is None else float(d))


def well_conditioned(c) -> np.ndarray:
    """Elements whose bound is at most ``WELL_CONDITIONED`` (u_d + u_64) |reference| (see there)."""
    with np.errstate(invalid="ignore"):
        return (c.bound <= WELL_CONDITIONED * (c.fmt.u + FLOAT64.u) * np.abs(c.reference)) & np.isfinite(c.reference)


@dataclass
class Example:
    """One output element of one input, kept for the report (the worst ones)."""

    ulp: float
    rel: float
    abs: float
    bound_ratio: float
    got: float
    reference: float
    element: tuple
    case: Case

    def record(self, spec: LossSpec, subject: Subject, dtype: str, device: str) -> dict:
        return {"ulp": encode(self.ulp), "rel": encode(self.rel), "abs": encode(self.abs),
                "bound_ratio": encode(self.bound_ratio), "got": encode(self.got), "reference": encode(self.reference),
                "element": [int(i) for i in self.element], "case": repr(self.case),
                "reproduction": reproduction(spec, subject, self.case, dtype, device)}


@dataclass
class Tally:
    """Everything measured for one loss x subject x dtype x device x variant x reduction."""

    inputs: int = 0
    skipped: int = 0
    skip_reason: str | None = None
    raised: int = 0
    raised_example: str | None = None
    breached: int = 0
    breach_example: str | None = None
    nonfinite: int = 0
    over_bound: int = 0
    ulps: list = field(default_factory=list)
    conditioned: list = field(default_factory=list)
    rels: list = field(default_factory=list)
    ratios: list = field(default_factory=list)
    worst: Example | None = None
    worst_vs_bound: Example | None = None
    by_decade: dict = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped += 1
        self.skip_reason = self.skip_reason or why

    def breach(self, why: str, case: Case, raised: bool = True) -> None:
        """An input on which the subject broke its contract: ``raised`` (a raise on valid input),
        else another breach (a wrong type, dtype, device or shape, a hang, a mutated input)."""
        self.inputs += 1
        if raised:
            self.raised += 1
            self.raised_example = self.raised_example or f"{why}; case: {case!r}"
        else:
            self.breached += 1
            self.breach_example = self.breach_example or f"{why}; case: {case!r}"

    def add(self, c) -> float:
        """Add one comparison (``properties.agreement.Comparison``); return its largest ulp error."""
        self.inputs += 1
        ulps, rels, ratio = c.ulps, c.rel, c.ratio
        self.nonfinite += int(np.sum(~np.isfinite(c.got) & np.isfinite(c.reference)))
        self.over_bound += int(np.sum(ratio > 1.0))
        self.ulps.append(np.ravel(ulps))
        well = well_conditioned(c)
        self.conditioned.append(np.ravel(ulps[well]))
        self.rels.append(np.ravel(rels))
        self.ratios.append(np.ravel(ratio))
        if ulps.size == 0:
            return 0.0
        for key, attr in ((ulps, "worst"), (ratio, "worst_vs_bound")):
            at = np.unravel_index(int(np.argmax(key)), key.shape)
            current = getattr(self, attr)
            if current is None or key[at] > (current.ulp if attr == "worst" else current.bound_ratio):
                setattr(self, attr, Example(float(ulps[at]), float(rels[at]), float(c.err[at]), float(ratio[at]),
                                            float(c.got[at]), float(c.reference[at]), at, c.case))
        decades = element_decades(c.case, c.got.shape)
        for d in np.unique(decades):  # nan (all-zero inputs) comes once: np.unique collapses nans
            at = np.isnan(decades) if np.isnan(d) else decades == d
            row = self.by_decade.setdefault(None if np.isnan(d) else int(d), [0, 0.0, 0.0, 0.0, 0.0])
            row[0] += int(np.sum(at))
            row[1], row[2], row[3] = (max(row[1], float(np.max(ulps[at]))), max(row[2], float(np.max(rels[at]))),
                                      max(row[3], float(np.max(ratio[at]))))
            row[4] = max(row[4], float(np.max(ulps[at & well], initial=0.0)))
        return float(np.max(ulps))

    def record(self, spec: LossSpec, subject: Subject, dtype: str, device: str, variant: str, reduction: str) -> dict:
        """The measurement's JSON record (``properties/audit/schema.json``, ``measurement``)."""
        ex = lambda e: None if e is None else e.record(spec, subject, dtype, device)
        decades = sorted(self.by_decade.items(), key=lambda kv: (kv[0] is not None, kv[0] or 0))
        return {
            "loss": spec.name, "subject": subject.name, "qualname": subject.qualname, "origin": subject.origin,
            "dtype": dtype, "device": device, "variant": variant, "reduction": reduction,
            "inputs": self.inputs, "skipped": self.skipped, "skip_reason": self.skip_reason,
            "elements": int(sum(a.size for a in self.ulps)), "raised": self.raised,
            "raised_example": self.raised_example, "breached": self.breached, "breach_example": self.breach_example,
            "nonfinite": self.nonfinite,
            "ulp": stats(self.ulps), "ulp_conditioned": stats(self.conditioned), "rel": stats(self.rels), "bound_ratio": stats(self.ratios),
            "over_bound": self.over_bound, "worst": ex(self.worst), "worst_vs_bound": ex(self.worst_vs_bound),
            "by_magnitude": [{"decade": d, "count": n, "max_ulp": encode(u), "max_ulp_conditioned": encode(uc),
                              "max_rel": encode(r), "max_bound_ratio": encode(b)} for d, (n, u, r, b, uc) in decades],
        }


@dataclass
class DeviceDiff:
    """The same subject, dtype and input on two devices: how often and how far they differ."""

    inputs: int = 0
    elements: int = 0
    differing: int = 0
    max_ulp: float = 0.0
    max_abs: float = 0.0

    def add(self, a, b) -> None:
        self.inputs += 1
        self.elements += a.got.size
        with np.errstate(invalid="ignore"):
            same = (a.got == b.got) | (np.isnan(a.got) & np.isnan(b.got))
            diff = np.where(same, 0.0, np.abs(a.got - b.got))
        diff = np.where(np.isnan(diff), np.inf, diff)
        self.differing += int(np.sum(~same))
        if diff.size:
            self.max_abs = max(self.max_abs, float(np.max(diff)))
            self.max_ulp = max(self.max_ulp, float(np.max(diff / a.fmt.ulp(a.reference))))

    def record(self, spec, subject, dtype, variant, reduction, devices) -> dict:
        return {"loss": spec.name, "subject": subject.name, "dtype": dtype, "variant": variant,
                "reduction": reduction, "devices": list(devices), "inputs": self.inputs, "elements": self.elements,
                "differing": self.differing, "max_ulp": encode(self.max_ulp), "max_abs": encode(self.max_abs)}


def run_seed(seed: int, *key: str) -> int:
    """The Hypothesis seed of one run: the audit's seed mixed with the run's key, so runs are
    independent of each other and each is reproducible on its own."""
    return (seed * 1_000_003 + zlib.crc32("/".join(key).encode())) % 2**32


@dataclass
class Run:
    """One Hypothesis run: one loss x variant x dtype, every subject x device x reduction."""

    spec: LossSpec
    variant: str
    dtype: str
    subjects: list
    devices: tuple
    reductions: tuple
    tallies: dict = field(default_factory=dict)
    diffs: dict = field(default_factory=dict)

    def evaluate(self, case: Case) -> None:
        from hypothesis import target

        fmt_case = case.rounded(self.dtype)
        cases = {r: fmt_case.with_kwargs(reduction=r) for r in self.reductions}
        wanted: dict = {}  # reduction -> (reference, bound): evaluated once for every subject and device
        for subject in self.subjects:
            worst = 0.0
            for reduction in self.reductions:
                rcase = cases[reduction]
                per_device = {}
                for device in self.devices:
                    tally = self.tallies.setdefault((subject.name, device, reduction), Tally())
                    why = subject.unsupported(dtype=self.dtype, variant=self.variant, case=rcase)
                    if why:
                        tally.skip(why)
                        continue
                    try:
                        if reduction not in wanted:
                            wanted[reduction] = expected(self.spec, rcase, self.dtype)
                        c = compare(self.spec, subject, rcase, self.dtype, device, wanted[reduction])
                    except ContractBreach as exc:
                        tally.breach(f"{subject.qualname} {exc}", rcase, raised=is_raise(exc))
                        worst = TARGET_CAP
                        continue
                    per_device[device] = c
                    worst = max(worst, tally.add(c))
                if len(per_device) == 2:
                    a, b = per_device.values()
                    self.diffs.setdefault((subject.name, reduction), DeviceDiff()).add(a, b)
            target(min(worst, TARGET_CAP) if math.isfinite(worst) else TARGET_CAP, label=subject.name)

    def execute(self, examples: int, seed: int, steer: bool = True) -> None:
        """Run Hypothesis: ``examples`` inputs, generated then targeted (``steer``; else sampled
        only), no shrinking (nothing fails)."""
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as hseed

        strategy = self.spec.cases(self.variant, FORMATS[self.dtype])

        @hseed(run_seed(seed, self.spec.name, self.variant, self.dtype))
        @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                  phases=(Phase.generate, Phase.target) if steer else (Phase.generate,), suppress_health_check=list(HealthCheck),
                  verbosity=Verbosity.quiet)
        @given(case=strategy)
        def audit_run(case):
            self.evaluate(case)

        audit_run()

    def records(self) -> tuple[list[dict], list[dict]]:
        subjects = {s.name: s for s in self.subjects}
        measurements = [t.record(self.spec, subjects[name], self.dtype, device, self.variant, reduction)
                        for (name, device, reduction), t in self.tallies.items()]
        diffs = [d.record(self.spec, subjects[name], self.dtype, self.variant, reduction, self.devices)
                 for (name, reduction), d in self.diffs.items()]
        return measurements, diffs
