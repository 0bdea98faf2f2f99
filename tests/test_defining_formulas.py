"""The tolerance model admits the formulas that define the contracts (issue 15, item 4).

An implementation that *is* a contract's defining formula, op for op in the caller's dtype, must
pass every value check of the gate -- agreement with the reference, the edge-case rows, the
invariants -- in every dtype: the rounding error of the formula that defines a loss is, by
definition, not a finding.  The only findings such a plug-in may have are what the formula itself
does wrong beyond rounding, recorded here one by one:

- torchvision's ``sigmoid_focal_loss`` (``tests/catalogue/formulas.py``): ``(1 - p_t) ** gamma`` at
  a saturated logit, where 1 - p_t is exactly 0, has a NaN gradient for 0 < gamma < 1 (the recorded
  known deviation ``fvcore_focal_nan_gradient_fractional_gamma``; allowed on its finite-gradient
  rows, a finding of the gradient comparison where a drawn case saturates -- in bfloat16 already at
  |x| = 10);
- the Hadsell contrastive loss written naively: ``sqrt`` of a zero squared distance has a NaN
  gradient at a == b (the coincident-input gradient checks), and the branch a target masks out by a
  factor 0 is NaN where it is infinite (0 * inf: the crossed infinite-input edge rows);
- MONAI's Dice arithmetic: nothing.

The torch built-ins, the fourth kind of defining formula, are the default subjects of the whole
suite (every check runs them without ``--impl``), so they are not run again here.

The gate runs as a subprocess, as a user runs it (``tests/catalogue/runner.py``): two runs two at a
time (focal; dice and contrastive as repeated ``--impl``), every dtype (the gate's default), the
inherited Hypothesis profile (``CI=1``: the derandomized ``ci`` profile, 25 examples), ~60-70 s on
two cores.  Deselected in a gate run, like every test without a plug-in subject.
"""

from __future__ import annotations

import re

import pytest

# pytest-xdist (-n): the module-scoped fixture's runs happen once, on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

if __package__ != "tests":
    pytest.skip("the gate's meta-tests run in a checkout of lossproof", allow_module_level=True)
from tests.catalogue.runner import GateResult, failures_of, kind_of, run_many  # noqa: E402

MODULE = "tests.catalogue.formulas"
FORMULAS = {"focal": "torchvision_sigmoid_focal_loss", "dice": "monai_dice", "contrastive": "hadsell_contrastive"}
VALUE_FAMILIES = ("agreement", "edge cases", "invariants")
DTYPES = ("float64", "float32", "float16", "bfloat16")
#: loss -> the findings its defining formula may have: (check family, what the message says)
ALLOWED_FINDINGS = {
    "focal": [("gradients", "non-finite gradient")],  # 0 < gamma < 1, 1 - p_t = 0: 0 * inf
    "contrastive": [("gradients", "non-finite gradient"),  # a == b: sqrt'(0) * 0
                    # Y d^2 / 2 + (1 - Y) max(0, m - d)^2 / 2 masks a branch by multiplying it by 0: 0 * inf = NaN at
                    # an infinite input (the crossed +-inf rows)
                    ("edge cases", "edge case contrastive/pos_inf+pairs: expected"),
                    ("edge cases", "edge case contrastive/neg_inf+pairs: expected")],
    "dice": [],
}
#: loss -> the recorded known deviations the gate may allow its formula (an xfail naming the record)
ALLOWED_DEVIATIONS = {"focal": {"fvcore_focal_nan_gradient_fractional_gamma"}, "dice": set(), "contrastive": set()}
FAMILY_LINE = re.compile(r"^\s*(agreement|gradients|edge cases|invariants|bad inputs)\s+(\d+) examples", re.M)
FINDING_LINE = re.compile(r"^FINDING \d+ \[(\w+)=(\S+)\] ([^:]+):", re.M)
ALLOWED_LINE = re.compile(r"allowed: recorded known deviation '([^']+)'")
TIGHTNESS_HEADER = "lossproof tolerance tightness"


def _allowed(loss: str, family: str, message: str) -> bool:
    """Whether a finding of ``family`` saying ``message`` is one ``loss``'s defining formula is recorded to have."""
    return any(family == f and what in message for f, what in ALLOWED_FINDINGS[loss])


def option(loss: str) -> str:
    return f"{loss}={MODULE}:{FORMULAS[loss]}"


@pytest.fixture(scope="module")
def runs() -> dict[str, GateResult]:
    """``{loss: the GateResult of the run that checked its formula}``."""
    groups = [("focal", ["focal"]), ("dice+contrastive", ["dice", "contrastive"])]
    results = run_many([(key, dict(impl_options=[option(loss) for loss in losses], timeout=600.0))
                        for key, losses in groups], workers=2)
    return {loss: results[key] for key, losses in groups for loss in losses}


def _context(result: GateResult) -> str:
    return f"\nreproduce: {result.command_line}\n{result.describe()}\n--- output (tail) ---\n{result.tail(60)}"


def _tightness(result: GateResult) -> dict[str, list[float]]:
    """The gate's "largest error / bound seen" table: ``{loss: [ratio per dtype column]}``."""
    lines = result.output.splitlines()
    start = next((i for i, ln in enumerate(lines) if TIGHTNESS_HEADER in ln), None)
    out: dict[str, list[float]] = {}
    if start is None:
        return out
    for ln in lines[start + 2:]:
        parts = ln.split()
        if len(parts) != 1 + len(DTYPES) or parts[0] not in FORMULAS:
            break
        out[parts[0]] = [float(p) for p in parts[1:]]
    return out


@pytest.mark.parametrize("loss", sorted(FORMULAS))
def test_defining_formula_passes_every_value_check(runs, loss):
    result = runs[loss]
    context = _context(result)
    assert result.returncode in (0, 1), f"{loss}: the gate run did not end in a verdict{context}"
    failures = failures_of(result, option(loss))
    value = [(nodeid, msg) for _, nodeid, msg in failures if kind_of(nodeid, msg) in VALUE_FAMILIES
             and not _allowed(loss, kind_of(nodeid, msg), msg)]
    assert not value, f"{loss}: the defining formula fails value checks: {value[:5]}{context}"
    # every value family checked examples, and agreement in every dtype (the tightness table's columns)
    block = result.coverage().get(f"{loss}={MODULE}.{FORMULAS[loss]}")
    assert block, f"{loss}: not in the coverage summary{context}"
    examples = {m[0]: int(m[1]) for m in FAMILY_LINE.findall("\n".join(block))}
    for family in VALUE_FAMILIES:
        assert examples.get(family, 0) > 0, f"{loss}: no {family} example: {block}{context}"
    ratios = _tightness(result).get(loss)
    assert ratios and len(ratios) == len(DTYPES) and all(0 <= r <= 1 for r in ratios), (
        f"{loss}: agreement not seen within the bound in every dtype: {ratios}{context}")


@pytest.mark.parametrize("loss", sorted(FORMULAS))
def test_defining_formula_has_only_the_recorded_findings(runs, loss):
    result = runs[loss]
    context = _context(result)
    for _, nodeid, msg in failures_of(result, option(loss)):
        kind = kind_of(nodeid, msg)
        assert _allowed(loss, kind, msg), (
            f"{loss}: a finding its defining formula is not recorded to have: {kind} {nodeid} - {msg}{context}")
    causes = {cause for lo, impl, cause in FINDING_LINE.findall(result.output) if lo == loss}
    families = {family for family, _ in ALLOWED_FINDINGS[loss]}
    allowed_causes = ({"wrong gradients"} if "gradients" in families else set()) | (
        {"wrong values", "wrong values (and gradients)"} if families & set(VALUE_FAMILIES) else set())
    assert causes <= allowed_causes, f"{loss}: {causes}{context}"
    block = "\n".join(result.coverage().get(f"{loss}={MODULE}.{FORMULAS[loss]}", []))
    assert set(ALLOWED_LINE.findall(block)) <= ALLOWED_DEVIATIONS[loss], f"{loss}: {block}{context}"
    if loss == "focal":  # the NaN gradient's shown example is the fractional-gamma one
        for gamma in re.findall(r"case: Case\(inputs=.*?gamma=([0-9.e+-]+)", _finding_detail(result, loss)):
            assert 0 < float(gamma) < 1, f"focal: a gradient finding at gamma = {gamma}{context}"


def _finding_detail(result: GateResult, loss: str) -> str:
    """The detail blocks (``--- FINDING n ---`` to the next) of ``loss``'s findings."""
    numbers = [m.group(0).split()[1] for m in FINDING_LINE.finditer(result.output) if m.group(1) == loss]
    out = []
    for n in numbers:
        m = re.search(rf"-+ FINDING {n}: .*?-+\n(.*?)(?=^-+ FINDING \d+:|^=+ lossproof gate coverage)",
                      result.output, re.S | re.M)
        out.append(m.group(1) if m else "")
    return "\n".join(out)
