"""``lossproof audit``: the measurements, the JSON file's schema, the edge-case matrix, the
command line and the baseline gate (``properties.audit``).

Plug-ins for the audit are written into a temporary module: a conforming MSE (torch's), one off
by a relative 2**-20 (beyond float64's bound, inside float16's rounding), one that raises, and
one that fails on an empty batch.  The audit must tell them apart.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from properties.audit.command import main, parse_options, run_audit, validate
from properties.audit.measure import DeviceDiff, Tally, decade, element_decades, well_conditioned
from properties.audit.progress import Progress
from properties.audit.report import render
from properties.agreement import Comparison, compare
from properties.formats import FORMATS
from properties.cases import Case
from properties.specs import SPECS
from properties.subjects import builtin_subjects

jsonschema = pytest.importorskip("jsonschema")

PLUGINS = textwrap.dedent('''
    import torch
    import torch.nn.functional as F

    def mse(input, target, reduction="mean"):
        return F.mse_loss(input, target, reduction=reduction)

    def mse_off(input, target, reduction="mean"):
        return F.mse_loss(input, target, reduction=reduction) * (1 + 2.0 ** -20)

    def mse_raises(input, target, reduction="mean"):
        raise RuntimeError("not implemented")

    def mse_no_empty(input, target, reduction="mean"):
        if input.numel() == 0:
            raise ValueError("empty batch")
        return F.mse_loss(input, target, reduction=reduction)

    def mse_float64(input, target, reduction="mean"):
        return F.mse_loss(input.double(), target.double(), reduction=reduction)

    def mse_flat(input, target, reduction="mean"):
        return F.mse_loss(input, target, reduction=reduction).reshape(-1)
''')


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    mod = tmp_path / "audit_plugins.py"
    mod.write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("audit_plugins", None)
    return tmp_path


def _audit(*argv):
    opts = parse_options(list(argv))
    audit = run_audit(opts, list(argv))
    validate(audit)
    return audit


def _m(audit, subject, dtype="float64", reduction="none"):
    return next(m for m in audit["measurements"]
                if m["subject"] == subject and m["dtype"] == dtype and m["reduction"] == reduction)


def test_audit_follows_its_schema_and_is_strict_json(plugins):
    audit = _audit("--loss", "mse", "--dtype", "float64,float16", "--examples", "5", "--progress", "none")
    json.dumps(audit, allow_nan=False)
    assert audit["schema_version"] == 1
    assert {m["dtype"] for m in audit["measurements"]} == {"float64", "float16"}
    subjects = {m["subject"] for m in audit["measurements"]}  # torch and any installed adapter
    assert "torch" in subjects
    assert len(audit["measurements"]) == len(subjects) * len(SPECS["mse"].variants) * 2 * len(SPECS["mse"].reductions)
    assert audit["claims"] and audit["edge_cases"]
    assert audit["environment"]["versions"]["torch"] == torch.__version__


def test_schema_rejects_what_breaks_the_contract(plugins):
    """The schema is not vacuous: a missing field, an unknown outcome, a NaN number fail it."""
    audit = _audit("--loss", "mse", "--dtype", "float32", "--examples", "2", "--progress", "none", "--no-edge-cases")
    broken = [json.loads(json.dumps(audit)) for _ in range(3)]
    del broken[0]["measurements"][0]["ulp"]
    broken[1]["measurements"][0]["origin"] = "somewhere"
    broken[2]["measurements"][0]["over_bound"] = -1
    for b in broken:
        with pytest.raises(jsonschema.ValidationError):
            validate(b)


def test_a_wrong_implementation_is_measured_over_the_bound_and_the_right_one_is_not(plugins):
    audit = _audit("--impl", "mse=audit_plugins:mse", "--impl", "mse=audit_plugins:mse_off", "--dtype", "float64,float16",
                   "--examples", "8", "--progress", "none", "--no-edge-cases")
    assert {"torch", "impl", "impl2"} <= {m["subject"] for m in audit["measurements"]}  # (+ installed adapters)
    right, off = _m(audit, "impl"), _m(audit, "impl2")
    assert right["over_bound"] == 0 and right["elements"] > 0
    # 2**-20 relative is 2**32 ulp in float64 ...
    assert off["over_bound"] > 0 and float(off["ulp"]["max"]) > 1e6
    assert off["worst_vs_bound"]["bound_ratio"] > 1
    # ... and below float16's rounding (2**-11): there the two agree
    assert _m(audit, "impl2", "float16")["over_bound"] == 0


def test_a_raising_implementation_is_counted_not_crashed(plugins):
    audit = _audit("--impl", "mse=audit_plugins:mse_raises", "--subject", "impl", "--dtype", "float32",
                   "--examples", "3", "--progress", "none", "--no-edge-cases")
    m = _m(audit, "impl", "float32")
    assert m["raised"] == m["inputs"] > 0 and "RuntimeError: not implemented" in m["raised_example"]
    assert m["ulp"] is None and m["worst"] is None


def test_the_worst_inputs_reproduction_recomputes_it(plugins):
    """The reproduction snippet in the record, run as is, gives the recorded value and reference."""
    audit = _audit("--loss", "cross_entropy", "--dtype", "float16", "--examples", "6", "--progress", "none",
                   "--no-edge-cases", "--reduction", "none")
    worst = max((m for m in audit["measurements"] if m["worst"]), key=lambda m: float(m["worst"]["ulp"]))["worst"]
    scope: dict = {}
    exec(compile(worst["reproduction"].replace("print(out, ref)", ""), "<repro>", "exec"), scope)
    at = tuple(worst["element"])
    assert float(scope["out"].double()[at]) == worst["got"]
    assert float(np.asarray(scope["ref"])[at]) == worst["reference"]


def test_same_seed_same_measurements(plugins):
    args = ("--loss", "huber", "--dtype", "bfloat16", "--examples", "5", "--progress", "none", "--no-edge-cases")
    a, b = _audit(*args), _audit(*args)
    assert a["measurements"] == b["measurements"]
    c = _audit(*args, "--seed", "7")
    assert c["measurements"] != a["measurements"]


def test_decade_of_the_first_argument():
    assert decade(Case({"input": np.array([0.5, -20.0]), "target": np.array([1e9, 0.0])})) == 1
    assert decade(Case({"input": np.array([1e-7]), "target": np.array([0.0])})) == -7
    assert decade(Case({"input": np.zeros(3), "target": np.ones(3)})) is None


def test_by_magnitude_covers_every_element(plugins):
    audit = _audit("--loss", "mse", "--dtype", "float32", "--examples", "10", "--progress", "none", "--no-edge-cases")
    for m in audit["measurements"]:
        assert sum(b["count"] for b in m["by_magnitude"]) == m["elements"]
        assert max(float(b["max_ulp"]) for b in m["by_magnitude"]) == float(m["ulp"]["max"])


def test_element_decades_follow_the_output_shape():
    x = np.array([[1e3, -2.0], [0.0, 0.0], [5e-3, 1e-7]])
    case = Case({"input": x, "target": np.zeros_like(x)})
    np.testing.assert_array_equal(element_decades(case, (3, 2)), [[3, 0], [np.nan, np.nan], [-3, -7]])
    np.testing.assert_array_equal(element_decades(case, (3,)), [3, np.nan, -3])  # rows: max over the row
    np.testing.assert_array_equal(element_decades(case, ()), 3)  # a reduced output: the whole input
    ce = Case({"input": np.ones((2, 3, 4)) * 10.0, "target": np.zeros((2, 4), dtype=np.int64)})
    np.testing.assert_array_equal(element_decades(ce, (2, 4)), np.ones((2, 4)))  # class axis 1: whole input


def test_edge_case_matrix_records_what_each_subject_returns(plugins):
    audit = _audit("--impl", "mse=audit_plugins:mse_no_empty", "--subject", "torch,impl", "--dtype", "float32",
                   "--examples", "1", "--progress", "none")
    rows = {(e["subject"], e["row"]): e for e in audit["edge_cases"]}
    torch_empty = rows[("torch", "empty_batch-none")]
    assert torch_empty["outcome"] == "met" and torch_empty["returned"].startswith("empty")
    mine = rows[("impl", "empty_batch-none")]
    assert mine["outcome"] == "unmet" and mine["returned"] == "raises ValueError: empty batch"
    nan = rows[("torch", "nan_propagates")]
    assert nan["outcome"] == "met" and "nan" in nan["returned"] and nan["gradient"] == "non-finite"
    assert {e["gradient"] for e in audit["edge_cases"]} <= {"finite", "non-finite", "none", "raises", "not applicable"}
    md = render(audit)  # the matrix in the report: one cell per row x subject x dtype
    # the row's empty case is cut from a drawn one: (0,) or (0, d1, ...)
    assert re.search(r"\| empty_batch-none \| ok: empty \(0,[\d, ]*\) \| \*\*UNMET\*\*: raises ValueError: empty batch \|", md), \
        [ln for ln in md.splitlines() if "empty_batch-none" in ln]


def test_device_difference_counts_and_ulps():
    spec = SPECS["mse"]
    torch_mse = builtin_subjects(spec)[0]
    case = Case({"input": np.array([1.0, 2.0]), "target": np.array([0.5, 0.25])}, {"reduction": "none"}).rounded("float32")
    a = compare(spec, torch_mse, case, "float32", "cpu")
    b = compare(spec, torch_mse, case, "float32", "cpu")
    d = DeviceDiff()
    d.add(a, b)
    assert (d.inputs, d.elements, d.differing, d.max_ulp) == (1, 2, 0, 0.0)
    shifted = type(b)(b.case, b.fmt, b.got + np.array([0.0, 2.0 ** -22]), b.reference, b.bound, b.err)
    d.add(a, shifted)
    assert d.differing == 1 and d.max_ulp == 1.0  # 2**-22 is one float32 ulp at 3.0625


def test_cancellation_is_kept_out_of_the_conditioned_ulp_figure():
    """A result that cancels to 0 (1 - cos of parallel vectors) with a rounding of 1 in float32 is 1e38
    ulp of the smallest subnormal but within the bound; a well-conditioned element 3 ulp off counts."""
    f32 = FORMATS["float32"]
    ref = np.array([0.0, 1.0])
    got = np.array([2.0 ** -23, 1.0 + 3 * 2.0 ** -23])
    bound = np.array([4 * f32.u, 4 * f32.u])  # |budget| ~ 1 for both: relative to |ref| only for the second
    c = Comparison(Case({"input": ref}), f32, got, ref, bound, np.abs(got - ref))
    np.testing.assert_array_equal(well_conditioned(c), [False, True])
    t = Tally()
    t.add(c)
    rec = t.record(SPECS["mse"], builtin_subjects(SPECS["mse"])[0], "float32", "cpu", "plain", "none")
    assert float(rec["ulp"]["max"]) > 1e30 and rec["ulp_conditioned"]["max"] == 3.0
    assert rec["by_magnitude"][-1]["max_ulp_conditioned"] == 3.0


def test_progress_bar_on_a_terminal_and_lines_elsewhere():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        p = Progress(3, "auto", stream)
        for i in range(3):
            p.step(f"unit {i}")
    assert "\r[" in tty.getvalue() and tty.getvalue().endswith("\n") and "3/3" in tty.getvalue()
    assert "\r" not in log.getvalue() and log.getvalue().splitlines()[-1].startswith("audit 3/3")


def test_usage_errors_are_clear(capsys):
    for argv, text in ((["--loss", "nope"], "unknown loss"), (["--dtype", "float8"], "unknown dtype"),
                       (["--examples", "0"], "at least 1"), (["--baseline", "/no/such.json"], "no such file"),
                       (["--impl", "mse"], "LOSS=MODULE:ATTR")):
        with pytest.raises(SystemExit) as exc:
            parse_options(argv)
        assert exc.value.code == 2 and text in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for a missing CUDA device")
def test_cuda_without_a_device_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_options(["--device", "cuda"])
    assert exc.value.code == 2 and "not usable here" in capsys.readouterr().err


def test_command_writes_report_json_and_plots_and_gates_on_a_baseline(plugins, capsys):
    out_ok, out_bad = plugins / "ok", plugins / "bad"
    common = ["--loss", "mse", "--dtype", "float64", "--examples", "4", "--progress", "none", "--no-edge-cases",
              "--subject", "impl"]
    assert main(["--impl", "mse=audit_plugins:mse", *common, "-o", str(out_ok)]) == 0
    printed = capsys.readouterr().out
    assert "lossproof audit:" in printed and "| mse | impl |" in printed
    md = (out_ok / "audit.md").read_text()
    for section in ("## Summary", "## Error distributions per setting", "## Largest errors found",
                    "## Error vs input magnitude", "## CPU vs CUDA", "## Environment"):
        assert section in md, section
    assert "## The source article's claims" not in md  # only a plug-in audited (see the test below)
    validate(json.loads((out_ok / "audit.json").read_text()))
    if importlib.util.find_spec("matplotlib"):
        assert (out_ok / "max_ulp_heatmap.png").read_bytes()[:4] == b"\x89PNG"
    # the same implementation against its own baseline: no regression
    assert main(["--impl", "mse=audit_plugins:mse", *common, "-o", str(plugins / "again"),
                 "--baseline", str(out_ok / "audit.json")]) == 0
    # a regression beyond the bound: exit 1, named in the output and the report
    rc = main(["--impl", "mse=audit_plugins:mse_off", *common, "-o", str(out_bad), "--baseline", str(out_ok / "audit.json")])
    printed = capsys.readouterr().out
    assert rc == 1 and "REGRESSION" in printed
    assert "Baseline comparison" in (out_bad / "audit.md").read_text()


def test_python_dash_m_and_the_console_entry_point(plugins):
    """``python -m properties.audit`` and ``lossproof audit`` (properties.cli) run the same command."""
    root = Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "PYTHONPATH": str(root)}
    for cmd in ([sys.executable, "-m", "properties.audit"], [sys.executable, "-m", "properties", "audit"]):
        run = subprocess.run([*cmd, "--loss", "hinge_embedding", "--dtype", "float32", "--examples", "2", "--no-plots",
                              "--no-edge-cases", "-o", str(plugins / "cli")], capture_output=True, text=True, env=env,
                             timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        assert "hinge_embedding" in run.stdout and (plugins / "cli" / "audit.json").is_file()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cpu_vs_cuda_differences_are_recorded(plugins):
    audit = _audit("--loss", "cross_entropy", "--dtype", "float16,float32", "--device", "cpu,cuda", "--examples", "4",
                   "--progress", "none", "--no-edge-cases")
    assert {m["device"] for m in audit["measurements"]} == {"cpu", "cuda"}
    assert audit["device_differences"] and all(d["devices"] == ["cpu", "cuda"] for d in audit["device_differences"])
    assert audit["environment"]["devices"][1]["cuda_version"]


def test_a_contract_breach_is_counted_apart_from_raises(plugins):
    """A wrong dtype or shape is a contract breach, not a raise: each has its own count and example."""
    audit = _audit("--impl", "mse=audit_plugins:mse_float64", "--impl", "mse=audit_plugins:mse_flat",
                   "--impl", "mse=audit_plugins:mse_raises", "--subject", "impl,impl2,impl3", "--dtype", "float32",
                   "--examples", "3", "--progress", "none", "--no-edge-cases")
    dtype, flat, raises = (_m(audit, s, "float32", "mean") for s in ("impl", "impl2", "impl3"))
    assert dtype["breached"] == dtype["inputs"] > 0 and dtype["raised"] == 0
    assert "returned dtype torch.float64, expected torch.float32" in dtype["breach_example"]
    assert flat["breached"] == flat["inputs"] > 0 and flat["raised"] == 0
    assert "returned shape (1,), expected ()" in flat["breach_example"]
    assert raises["raised"] == raises["inputs"] > 0 and raises["breached"] == 0 and raises["breach_example"] is None
    md = render(audit)
    assert "contract breach(es)**" in md and "broke the contract on" in md


def test_the_article_claims_are_left_out_of_an_audit_of_plugins_only(plugins):
    """The source article's claims are about the built-ins: an audit of ``--impl`` subjects only leaves
    them out (JSON and report); with a built-in audited too they are there."""
    common = ("--loss", "mse", "--dtype", "float32", "--examples", "2", "--progress", "none", "--no-edge-cases")
    mine = _audit("--impl", "mse=audit_plugins:mse", "--subject", "impl", *common)
    assert mine["claims"] == [] and "article claims" not in render(mine)
    assert "## The source article's claims" not in render(mine)
    both = _audit("--impl", "mse=audit_plugins:mse", *common)
    assert both["claims"] and "## The source article's claims" in render(both)
