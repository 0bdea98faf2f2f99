"""Findings: the failures of a gate run grouped by cause, one line each, detail once per check family.

One cause (a loss computed in float32 inside, an output of shape (N, 1)) fails dozens of tests in
every check family.  The user needs the cause once, where it is confined (which dtypes,
reductions, variants, rows), its worst example and one reproduction -- not 90 tracebacks.

Every check's failure message begins with a one-line diagnosis
``{qualname} {diagnosis} [{loss} {dtype} {device} ...]`` (``properties.agreement`` and the other
checks); :func:`cause_of` maps the diagnosis to a cause from a fixed list (:data:`CAUSES`):
the contract breaches (raises on valid input, hangs, mutates its inputs, not a tensor, dtype not
kept, wrong device, wrong shape) each on its own, then wrong values (the agreement bound, NaN where
the reference is finite, an edge-case expectation, an invariant), wrong gradients, accepting an
invalid input.  A breach is diagnosed before any check that depends on it, so one breach is one
finding.  A failure whose exception is not a check's (an error of the harness itself) is never a
finding: it is a harness error (its own exit status).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

#: (pattern on the diagnosis, cause).  The first match wins; order: breaches before value checks.
CAUSES = (
    (r"raises on valid input: (\w+)", "raises on valid input ({0})"),
    (r"raised (\w+)", "raises on valid input ({0})"),
    (r"hangs|did not return within", "hangs"),
    (r"mutates its inputs|modified its input|InputMutationError", "mutates its inputs"),
    (r"returned an? (\w+), expected a torch\.Tensor", "returns a {0}, not a tensor"),
    (r"(?:returned )?dtype (torch\.\w+), expected", "does not keep the input dtype (returns {0})"),
    (r"returned a tensor on|device \S+, expected", "output on the wrong device"),
    (r"returned shape|shape \(.*\), expected", "wrong output shape"),
    (r"accepts invalid input|without raising|instead of raising|not refused", "accepts invalid input"),
    (r"gradient|gradcheck|d/d\w+", "wrong gradients"),
    (r"cannot be loaded|cannot import|has no attribute|not callable", "cannot be loaded"),
)
#: a failure that matched no pattern: a check's value disagreement (agreement, edge case, invariant)
WRONG_VALUES = "wrong values"
#: the parameters a finding can be confined to, in the order they are printed
PARAMS = ("dtype", "device", "reduction", "variant", "row")
#: at most this many values of a parameter are named in a finding's line (more: "12 of 40")
MAX_NAMED = 3


def diagnosis_of(message: str) -> str:
    """The one-line diagnosis: the message's first non-empty line."""
    return next((ln.strip() for ln in message.splitlines() if ln.strip()), "")


def cause_of(message: str) -> str:
    """The cause a failure message diagnoses (:data:`CAUSES`, else :data:`WRONG_VALUES`)."""
    first = diagnosis_of(message)
    for pattern, cause in CAUSES:
        m = re.search(pattern, first)
        if m:
            return cause.format(*m.groups())
    return WRONG_VALUES


_RATIO = re.compile(r"error/bound = ([0-9.eE+-]+|inf)")


def ratio_of(message: str) -> float:
    """The largest ``error/bound = X`` a message reports (0 when none)."""
    return max((float(x) for x in _RATIO.findall(message)), default=0.0)


@dataclass
class Failure:
    """One failed test of a plug-in: its id, check family, parameters and message."""

    nodeid: str
    family: str
    params: dict
    message: str
    worst: str = ""  # the worst example seen while searching (agreement: by error/bound), if recorded
    shrunk: bool = True  # False: reported as first found (the plug-in had already failed in this family)

    @property
    def cause(self) -> str:
        return cause_of(self.message)


@dataclass
class Finding:
    """All failures of one plug-in with one cause."""

    plugin: str
    cause: str
    failures: list = field(default_factory=list)

    @property
    def families(self) -> Counter:
        return Counter(f.family for f in self.failures)

    def confined(self, tested: dict[str, set]) -> str:
        """``dtype=float64, reduction=mean`` -- the parameters whose failing values are a strict
        subset of the values tested (``tested``: every value each parameter took in this run)."""
        out = []
        for p in PARAMS:
            seen = {f.params[p] for f in self.failures if p in f.params}
            if seen and len(tested.get(p, ())) > len(seen):
                named = "|".join(sorted(map(str, seen))) if len(seen) <= MAX_NAMED else f"{len(seen)} of {len(tested[p])}"
                out.append(f"{p}={named}")
        return ", ".join(out)

    @property
    def worst_failure(self) -> Failure:
        """The most telling failure: the largest error/bound, then the family that compares values most directly."""
        return max(self.failures, key=_telling)

    def line(self, index: int, tested: dict[str, set], examples: int) -> str:
        fams = ", ".join(f"{k} {n}" for k, n in self.families.most_common())
        where = self.confined(tested)
        first = self.worst_failure
        return (f"FINDING {index} [{self.plugin}] {self.cause}: {len(self.failures)} test(s) ({fams})"
                + (f", {examples} example(s)" if examples else "")
                + (f"; confined to {where}" if where else "; everywhere tested")
                + f"\n    e.g. {first.nodeid}\n    {diagnosis_of(first.message)}")


#: check families in the order their failures tell most about a cause (ties of error/bound)
FAMILY_ORDER = ("agreement", "edge cases", "invariants", "gradients", "bad inputs", "contract")


def _telling(f: Failure):
    rank = FAMILY_ORDER.index(f.family) if f.family in FAMILY_ORDER else len(FAMILY_ORDER)
    return f.shrunk, ratio_of(f.worst or f.message), -rank, -len(f.message)


def group(failures: list[Failure], plugin_of) -> list[Finding]:
    """Failures grouped into findings by (plug-in, cause), largest first.  Wrong gradients where
    the same plug-in also has wrong values are the same cause (a wrong value has a wrong gradient)
    and are folded into that finding."""
    by: dict[tuple[str, str], Finding] = {}
    for f in failures:
        key = (plugin_of(f), f.cause)
        by.setdefault(key, Finding(key[0], key[1])).failures.append(f)
    for (plugin, cause), finding in list(by.items()):
        values = by.get((plugin, WRONG_VALUES))
        if cause == "wrong gradients" and values is not None:
            values.failures.extend(finding.failures)
            values.cause = f"{WRONG_VALUES} (and gradients)"
            del by[(plugin, cause)]
    return sorted(by.values(), key=lambda g: (g.plugin, -len(g.failures)))


def _body(message: str, reproduction: bool = True) -> str:
    """A failure message without its first line (the diagnosis, printed already), Hypothesis's
    "Falsifying example" call (the reproduction replaces it) and, unless asked, the reproduction."""
    lines = message.rstrip().splitlines()[1:]
    out, skipping = [], False
    for ln in lines:
        if ln.startswith("Falsifying example:") or ln.startswith("Falsifying explicit example:"):
            skipping = True
        elif skipping and (ln.startswith("You can reproduce") or ln.startswith("@reproduce_failure")):
            skipping = False
        if not skipping and not ln.startswith("Highest target score"):
            out.append(ln)
    text = "\n".join(out)
    if not reproduction:
        text = text.split("\nReproduce:", 1)[0]
    return text


def detail(finding: Finding) -> list[str]:
    """The finding's detail: the minimal (shrunk) example of its most telling failure in full --
    diagnosis, case, error, reproduction --, the worst example found beside it (largest error/bound,
    where the search recorded one), then one line per other check family (its first test and diagnosis)."""
    ranked = sorted(finding.failures, key=_telling, reverse=True)
    primary = ranked[0]
    label = "minimal example" if primary.shrunk else (
        "first failing example (not shrunk: the plug-in had already failed a test of this check family; "
        "for the minimal one rerun this test alone: -k or its id)")
    out = [f"{label} ({primary.family}): {primary.nodeid}", f"  {diagnosis_of(primary.message)}"]
    out += ["  " + ln for ln in _body(primary.message).splitlines()]
    if primary.worst and diagnosis_of(primary.worst) != diagnosis_of(primary.message):
        out.append(f"worst example found ({primary.family}, largest error/bound = {ratio_of(primary.worst):.3g}):")
        out += ["  " + ln for ln in [diagnosis_of(primary.worst), *_body(primary.worst, False).splitlines()]]
    elif primary.worst:
        out.append(f"worst example found ({primary.family}, largest error/bound = {ratio_of(primary.worst):.3g}): "
                   "the minimal one above")
    others = {}
    for f in ranked[1:]:
        if f.family != primary.family:
            others.setdefault(f.family, f)
    for family, f in others.items():
        out.append(f"also in {family}: {f.nodeid}")
        out.append(f"  {diagnosis_of(f.message)}")
    return out
