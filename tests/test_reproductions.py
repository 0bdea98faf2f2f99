"""Every reproduction a failure prints runs in a fresh interpreter and shows the failure.

One gate run (``tests/catalogue/runner.py``: ``python -m pytest --impl LOSS=MODULE:ATTR ...``, as a user
runs it) over deliberately buggy plug-ins, one test of each selected with ``-k`` (:data:`TARGETS`): every
check family fails once -- agreement (a wrong value, a Python float instead of a tensor, a Module class,
an input written in place), edge cases (NaN expected, a wrong shape, a raise on a strided layout, a wrong
value on a non-contiguous layout through a Module class), gradients (autograd against ``refimpl.grad``,
gradcheck's first derivative (no gradient reaches an input), gradgradcheck's second), an invariant,
an invalid input accepted.  The buggy plug-ins are the catalogue's (``tests/catalogue``) and one written
here (a backward that detaches, wrong only in its second derivative).

Every ``Reproduce:`` block in the gate's output is then run as a script (``python -c``) from the
directory its plug-in imports from, and must show what the failure's first line diagnoses
(:func:`evidence`): the exception it names; the wrong type, dtype or shape against the contract; the
input changed in place; the failing element's got and expected values, bit for bit as the message
reports them (which it says differ beyond the bound); the two sides of a violated invariant farther
apart than allowed; the second derivative by double backward against finite differences.  And every
first line has the fixed form ``{qualname} {diagnosis} [{loss} {dtype} {device} {row or variant}]``.

Cost (2 cores): the gate run uses the catalogue's quick profile without the shrink phase (shrinking
the 12 failures is most of a run's time, and a reproduction is checked the same way shrunk or not) and
``-k`` instead of ``-x`` (one run, each target's test only: ~15 s); then the scripts run two at a time
(each a fresh interpreter importing torch: ~2.5 s).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytest-xdist (-n): the module-scoped fixture's runs happen once, on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])
from hypothesis import Phase, settings

pytest.importorskip("tests.catalogue.runner", reason="the reproduction self-test runs in a checkout of lossproof")
from tests.catalogue import quick_profile  # noqa: E402
from tests.catalogue.runner import REPO, plugin_names, run_gate  # noqa: E402

#: the catalogue's quick profile without shrinking (registered when the gate loads this module: ``-p``)
PROFILE = "reproductions-quick"
settings.register_profile(PROFILE, parent=settings.get_profile(quick_profile.NAME),
                          phases=(Phase.explicit, Phase.reuse, Phase.generate))

#: a plug-in written for this test: right value and first derivative, wrong second derivative
PLUGIN_MODULE = "repro_plugins"
PLUGIN_SOURCE = '''
import torch


class _SquaredError(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return (x - y) ** 2

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        g = 2 * (x - y).detach() * grad  # BUG: detached, so the second derivative is 0
        return g, -g


def mse_detached_backward(input, target, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"unknown reduction {reduction!r}")
    terms = _SquaredError.apply(input, target)
    return {"none": terms, "mean": terms.mean(), "sum": terms.sum()}[reduction]
'''

CAT = "tests.catalogue."


@dataclass(frozen=True)
class Target:
    """One failure to provoke: the plug-in (``--impl``), the one test that fails (a ``-k`` expression of
    the test function and the parameters of its id, in any order; ``{impl}`` stands for the gate's name
    of the plug-in) and what the first line must diagnose."""

    option: str
    test: str
    diagnosis: str

    @property
    def qualname(self) -> str:
        return self.option.partition("=")[2].replace(":", ".")


REG, CLS, EMB, DIV = (CAT + m + ":" for m in ("regression", "classification", "embedding", "divergence_segmentation"))

TARGETS = [
    # agreement
    Target(f"mse={REG}MSEWeightedMeanOverNumel", "test_mse and {impl}- and float32 and cpu and mean and weight",
           r"value outside the bound"),
    Target(f"mse={REG}mse_returns_python_float", "test_mse and {impl}- and float32 and cpu and mean and plain",
           r"returned a float, expected a torch\.Tensor"),
    Target(f"kl_div={DIV}kl_clamps_target_inplace",
           "test_kl_div and {impl}- and float32 and cpu and none and prob_target", r"mutates its inputs: "),
    # invariants
    Target(f"mse={REG}mse_mean_over_batch", "test_invariant_mse and {impl}- and float64 and cpu and reductions",
           r"violates invariant mse/reductions: "),
    # gradients
    Target(f"triplet_margin={EMB}triplet_detached_negative", "test_gradcheck_triplet_margin and {impl}- and cpu and p2",
           r"gradcheck: first derivative w\.r\.t\. negative"),
    Target(f"mse={PLUGIN_MODULE}:mse_detached_backward", "test_gradcheck_mse and {impl}- and cpu and plain",
           r"gradgradcheck: second derivative"),
    Target(f"huber={REG}huber_detached_quadratic", "test_gradient_huber and {impl}- and float32 and cpu and plain",
           r"gradient outside the bound w\.r\.t\. input"),
    # bad inputs
    Target(f"huber={REG}huber_unknown_reduction_sums",
           "test_bad_input_is_refused and huber-{impl}- and cpu and reduction_avg",
           r"accepts invalid input: huber/reduction_avg"),
    # edge cases
    Target(f"focal={CLS}focal_empty_mean_zero", "test_edge_focal and {impl}- and float32 and cpu and empty_batch-mean",
           r"edge case focal/empty_batch-mean: expected NaN, returned 0\.0"),
    Target(f"dice={DIV}dice_drops_single_channel",
           "test_edge_dice and {impl}- and float32 and cpu and include_background_false-one_channel",
           r"returned shape \(1, 0\), expected \(1, 1\)"),
    Target(f"hinge_embedding={EMB}HingeEmbeddingAsStrided",
           "test_edge_hinge_embedding and {impl}- and float32 and cpu and layout-non_contiguous",
           r"edge case hinge_embedding/layout-non_contiguous: expected "),
    Target(f"smooth_l1={REG}smooth_l1_flattens_with_view",
           "test_edge_smooth_l1 and {impl}- and float32 and cpu and layout-transposed",
           r"raises on valid input: RuntimeError: "),
]

FILES = ["tests/gate/test_agreement.py", "tests/gate/test_edge_cases.py", "tests/gate/test_gradients.py", "tests/gate/test_invariants.py",
         "tests/gate/test_bad_inputs.py"]

#: the phrases a diagnosis starts with (the first line's fixed form)
PHRASES = ("raises on valid input: ", "hangs: ", "mutates its inputs: ", "returned a ", "returned dtype ",
           "returned shape ", "returned NaN where the reference is finite", "value outside the bound",
           "edge case ", "violates invariant ", "gradient outside the bound w.r.t. ", "non-finite gradient w.r.t. ",
           "gradcheck: first derivative", "gradgradcheck: second derivative", "accepts invalid input: ",
           "returns without raising where it must raise")
HEADLINE = re.compile(r"(?P<qualname>[\w.]+) (?P<diagnosis>.+) \[(?P<loss>\w+) (?P<dtype>b?float\d+) "
                      r"(?P<device>\w+) (?P<where>[^\]]+)\]$")
#: what may come before a first line: pytest's short summary ("FAILED id - "), the exception's class
BEFORE = re.compile(r"^(?:(?:FAILED|ERROR) \S+ - )?(?:[\w.]+(?:Error|Failure|Violation): )?")
#: where a Reproduce block ends: Hypothesis's notes, the gate's separators
STOP = ("Falsifying example", "Draw ", "You can reproduce", "Explanation:", "Trying example", "Unreliable", "-", "=",
        "FAILED", "ERROR", "Traceback")


@dataclass
class Reproduction:
    headline: re.Match
    message: str  # the failure message down to "Reproduce:"
    script: str
    run: subprocess.CompletedProcess | None = None


def blocks(output: str) -> list[Reproduction]:
    """Every ``Reproduce:`` block of the gate's output (failure sections, prefixed ``E   ``, and the
    findings' details alike), with the message it ends; the same script once."""
    lines = output.splitlines()
    found: dict[str, Reproduction] = {}
    for i, line in enumerate(lines):
        at = line.find("Reproduce:")
        if at < 0 or line[at:].strip() != "Reproduce:":
            continue
        prefix = line[:at]
        body = []
        for nxt in lines[i + 1:]:
            if not nxt.startswith(prefix) or nxt[len(prefix):].startswith(STOP):
                break
            body.append(nxt[len(prefix):])
        while body:  # a trailing note that is not code (whatever the separators)
            try:
                compile("\n".join(body), "<reproduction>", "exec")
                break
            except SyntaxError:
                body.pop()
        above, head = [], None
        for prev in reversed(lines[:i]):
            if not prev.startswith(prefix):
                break
            above.insert(0, prev[len(prefix):])
            head = HEADLINE.fullmatch(BEFORE.sub("", above[0], count=1))
            if head:
                break
        assert head, f"no first line of the fixed form above the reproduction at output line {i + 1}"
        script = "\n".join(body)
        found.setdefault(script, Reproduction(head, "\n".join(above), script))
    return list(found.values())


def _run(r: Reproduction, plugins_dir: Path) -> None:
    module = r.script.splitlines()[0].split(", ")[1]  # "import torch, MODULE, ..."
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r.run = subprocess.run([sys.executable, "-c", r.script], cwd=plugins_dir if module == PLUGIN_MODULE else REPO,
                           env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def reproductions(tmp_path_factory) -> list[Reproduction]:
    plugins_dir = tmp_path_factory.mktemp("plugins")
    (plugins_dir / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE)
    options = list(dict.fromkeys(t.option for t in TARGETS))
    names = plugin_names(options)
    select = " or ".join(f"({t.test.format(impl=names[t.option][1])})" for t in TARGETS)
    env = {**os.environ, "CI": "1", "PYTHONPATH": str(plugins_dir)}  # CI: derandomized
    result = run_gate(options, ["-p", "tests.catalogue.quick_profile", "-p", __name__, "--hypothesis-profile",
                                PROFILE, "-k", select, *FILES], timeout=300, env=env)
    assert result.returncode == 1, f"the gate should report findings: {result.describe()}\n{result.tail()}"
    assert result.counts.get("failed") == len(TARGETS), "\n".join(f"{k} {i}" for k, i, _ in result.failures)
    found = blocks(result.output)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda r: _run(r, plugins_dir), found))
    return found


# ---- what a reproduction must show ---------------------------------------------------------------

def _number(text: str) -> float:
    return float(text.rstrip(","))


def _printed(stdout: str, label: str):
    """The value a script printed after ``label`` (a number or a nested list; nan / inf allowed)."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith(label)), None)
    assert line is not None, f"the reproduction printed no {label!r} line:\n{stdout}"
    return eval(line[len(label):].strip(), {"__builtins__": {}}, {"nan": math.nan, "inf": math.inf})


def _at(value, index):
    for i in index:
        value = value[i]
    return value


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


#: a failing element as _describe reports it: "<label> element (i, j): got X, reference Y" / "... where the Y is Z"
ELEMENT = re.compile(r"(?:d/d(?P<name>\w+) )?worst element \((?P<idx>[\d, ]*)\): (?P<a>\w+) (?P<got>\S+?)"
                     r"(?:, (?P<b>[\w ]+?) (?P<ref>\S+)| where the (?P<b2>[\w ]+?) is (?P<ref2>\S+))$", re.M)
LABELS = {"got": "got:", "reference": "reference:", "expected value": "expected:", "autograd": "autograd d/d{}:",
          "analytic": "analytic d/d{}:"}


def _element_evidence(r: Reproduction, stdout: str) -> None:
    """The failing element's two values, printed by the script bit for bit as the message reports them,
    and the message says they differ beyond the bound (or one is not finite where the other is)."""
    m = ELEMENT.search(r.message)
    assert m, f"no failing element in the message:\n{r.message}"
    idx = tuple(int(i) for i in m["idx"].replace(" ", "").split(",") if i)
    got, ref = _number(m["got"]), _number(m["ref"] or m["ref2"])
    got_label, ref_label = (LABELS[k].format(m["name"]) for k in (m["a"], m["b"] or m["b2"]))
    printed_got, printed_ref = _at(_printed(stdout, got_label), idx), _at(_printed(stdout, ref_label), idx)
    assert _same(printed_got, got) and _same(printed_ref, ref), (
        f"the script printed {printed_got!r} / {printed_ref!r} at {idx}, the message {got!r} / {ref!r}")
    if math.isfinite(got) and math.isfinite(ref):
        ratio = re.search(r"error/bound = (\S+)", r.message[m.end():])
        assert got != ref and ratio and float(ratio[1]) > 1, r.message
    else:
        assert not _same(got, ref)


def _invariant_evidence(r: Reproduction, stdout: str) -> None:
    diff = next(ln.partition(":")[0] + ":" for ln in stdout.splitlines() if ln.startswith(("(lhs - rhs)", "lhs - rhs")))
    pairs = list(zip(_flat(_printed(stdout, diff)), _flat(_printed(stdout, "allowed:"))))
    assert any(d > a for d, a in pairs), f"the two sides are within the allowed tolerance: {pairs}"


def _second_derivative_evidence(r: Reproduction, stdout: str) -> None:
    names = re.findall(r"^H d, double backward, d/d(\w+):", stdout, re.M)
    assert names, stdout
    pairs = [(a, n) for name in names for a, n in zip(_flat(_printed(stdout, f"H d, double backward, d/d{name}:")),
                                                      _flat(_printed(stdout, f"H d, finite differences, d/d{name}:")))]
    # gradcheck's tolerance: atol 1e-5, rtol 1e-3
    assert any(abs(a - n) > 1e-5 + 1e-3 * abs(n) for a, n in pairs), f"double backward agrees: {pairs}"


def _flat(v):
    return [x for item in v for x in _flat(item)] if isinstance(v, list) else [v]


def evidence(r: Reproduction) -> None:
    """Assert that ``r``'s script, run, shows what its first line diagnoses."""
    run, diagnosis = r.run, r.headline["diagnosis"]
    out = run.stdout
    if diagnosis.startswith("raises on valid input: "):
        last = (run.stderr.strip().splitlines() or [""])[-1]
        assert run.returncode != 0 and last == diagnosis.removeprefix("raises on valid input: "), run.stderr[-2000:]
        return
    assert run.returncode == 0, f"the reproduction failed:\n{r.script}\n{run.stderr[-3000:]}"
    if diagnosis.startswith("mutates its inputs: "):
        assert _printed(out, "changed in place:"), out
    elif diagnosis.startswith("returned "):
        returned, contract = (next(ln for ln in out.splitlines() if ln.startswith(k))
                              for k in ("returned:", "contract:"))
        assert returned.split()[1:] != contract.split()[1:], out
        what = re.match(r"returned (?:a (\w+),|dtype (\S+),|shape (\(.*?\)),)", diagnosis)
        assert what and (what[1] or what[2] or what[3]) in returned, (diagnosis, returned)
    elif diagnosis.startswith("accepts invalid input: "):
        assert "returned:  Tensor" in out and "expected:  an exception" in out, out
    elif diagnosis.startswith("violates invariant "):
        _invariant_evidence(r, out)
    elif diagnosis.startswith("gradgradcheck: "):
        _second_derivative_evidence(r, out)
    else:  # a value: agreement, edge case, gradient, gradcheck's first derivative
        _element_evidence(r, out)


# ---- the tests -------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.qualname.rpartition('.')[2]}-{t.test.split()[0]}")
def test_the_failure_says_what_happened_and_its_reproduction_shows_it(reproductions, target):
    mine = [r for r in reproductions if r.headline["qualname"] == target.qualname
            and re.match(target.diagnosis, r.headline["diagnosis"])]
    assert mine, (f"no failure of {target.qualname} diagnosed {target.diagnosis!r} with a reproduction; first lines: "
                  + "; ".join(r.headline[0] for r in reproductions))
    for r in mine:
        evidence(r)


def test_every_first_line_has_the_fixed_form(reproductions):
    for r in reproductions:
        assert r.headline["diagnosis"].startswith(PHRASES), r.headline[0]
        assert r.message.splitlines()[0].endswith(r.headline[0]), r.message  # one line


def test_every_printed_reproduction_is_checked(reproductions):
    """No reproduction of the run goes unchecked: each belongs to a target (its evidence is asserted there)."""
    for r in reproductions:
        assert any(r.headline["qualname"] == t.qualname and re.match(t.diagnosis, r.headline["diagnosis"])
                   for t in TARGETS), r.headline[0]
