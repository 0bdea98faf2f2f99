"""``properties.audit.plots``: the audit's PNG plots on synthetic audits that follow
``properties/audit/schema.json``, and the behaviour without matplotlib (an optional extra)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

# pytest-xdist (-n): the module-scoped fixture's runs happen once, on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])

from properties.audit import plots
from properties.audit.plots import plots_unavailable, write_plots
from properties.audit.numbers import compact

SCHEMA_PATH = Path(plots.__file__).with_name("schema.json")
DTYPES = ("float64", "float32", "float16", "bfloat16")
PNG = b"\x89PNG\r\n\x1a\n"


def measurement(loss, subject, dtype, *, device="cpu", variant="plain", reduction="mean", scale=1.0,
                by_magnitude=None, over_bound=0) -> dict:
    """One measurement whose ulp error grows with the input's magnitude (decades -3 .. 4)."""
    if by_magnitude is None:
        by_magnitude = [(d, scale * 1.7 ** (d + 4)) for d in range(-3, 5)]
    rows = [{"decade": d, "count": 5, "max_ulp": u, "max_ulp_conditioned": u, "max_rel": 1e-6, "max_bound_ratio": 0.1} for d, u in by_magnitude]
    finite = [u for _, u in by_magnitude if not isinstance(u, str)]
    top = "inf" if any(u == "inf" for _, u in by_magnitude) else max(finite, default=0.0)
    return {"loss": loss, "subject": subject, "qualname": f"{subject}.{loss}", "origin": "builtin", "dtype": dtype,
            "device": device, "variant": variant, "reduction": reduction, "inputs": 5 * len(rows), "skipped": 0,
            "skip_reason": None, "elements": 5 * len(rows), "raised": 0, "raised_example": None, "nonfinite": 0,
            "ulp": {"max": top, "p50": 0.5, "p99": top}, "ulp_conditioned": {"max": top, "p50": 0.5, "p99": top}, "rel": {"max": 1e-6, "p50": 1e-8, "p99": 1e-7},
            "bound_ratio": {"max": 0.1, "p50": 0.01, "p99": 0.05}, "over_bound": over_bound, "worst": None,
            "worst_vs_bound": None, "by_magnitude": rows}


def make_audit(measurements) -> dict:
    audit = {
        "schema": "lossproof-audit", "schema_version": 1, "generated": "2025-01-01T00:00:00Z",
        "command": ["lossproof", "audit"], "duration_s": 3.0,
        "options": {"losses": sorted({m["loss"] for m in measurements}),
                    "subjects": sorted({m["subject"] for m in measurements}), "dtypes": list(DTYPES),
                    "devices": sorted({m["device"] for m in measurements}), "examples": 10, "quick": True, "seed": 0,
                    "reductions": ["none", "mean", "sum"], "targeted": True},
        "environment": {"python": "3.11.7", "platform": "Linux", "versions": {"torch": "2.13.0"},
                        "devices": [{"device": "cpu", "name": "x86_64"}], "torch_threads": 2,
                        "deterministic_algorithms": False, "seed": 0},
        "measurements": list(measurements), "device_differences": [], "edge_cases": [], "claims": []}
    jsonschema = pytest.importorskip("jsonschema")
    errors = [e.message for e in jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).iter_errors(audit)]
    assert not errors, errors
    return audit


def full_audit() -> dict:
    """2 losses x 2 subjects x 4 dtypes x 2 reductions."""
    return make_audit([measurement(loss, subject, dtype, reduction=r, scale=2.0 ** i)
                       for loss in ("cross_entropy", "smooth_l1") for subject in ("monai", "torch")
                       for i, dtype in enumerate(DTYPES) for r in ("mean", "sum")])


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG), path
    assert len(data) > 10_000, (path, len(data))


@pytest.fixture(scope="module", autouse=True)
def _matplotlib():
    pytest.importorskip("matplotlib", reason="plots are an optional extra")


def test_plots_are_available_with_matplotlib_installed():
    assert plots_unavailable() is None


def test_write_plots_writes_both_pngs(tmp_path):
    out = tmp_path / "new" / "dir"  # created
    paths = write_plots(full_audit(), out)
    assert [p.name for p in paths] == ["error_vs_magnitude.png", "max_ulp_heatmap.png"]
    for p in paths:
        assert p.parent == out
        assert_png(p)


def test_inf_nan_null_decades_and_missing_stats_do_not_crash(tmp_path):
    odd = [
        measurement("mse", "torch", "float16", by_magnitude=[(None, 0.0), (-2, 0.0), (0, "inf"), (3, 4.0)]),
        measurement("mse", "torch", "bfloat16", by_magnitude=[(None, "inf"), (1, "nan")]),
        measurement("mse", "impl", "float32", by_magnitude=[], over_bound=3),
        measurement("mse", "torch", "float32", device="cuda", by_magnitude=[(0, "inf")]),
        measurement("kl_div", "kornia", "float64", by_magnitude=[(-300, 0.0), (300, 1e12)]),
    ]
    no_elements = measurement("kl_div", "kornia", "float32", by_magnitude=[])
    no_elements.update(ulp=None, rel=None, bound_ratio=None, elements=0, raised=5, raised_example="TypeError: x")
    nan_stats = measurement("kl_div", "kornia", "float16")
    nan_stats["ulp"] = {"max": "nan", "p50": "nan", "p99": "nan"}
    for p in write_plots(make_audit(odd + [no_elements, nan_stats]), tmp_path):
        assert_png(p)


def test_an_audit_without_measurements_still_writes_plots(tmp_path):
    paths = write_plots(make_audit([]), tmp_path)
    assert len(paths) == 2 and all(p.read_bytes().startswith(PNG) for p in paths)


def test_compact_numbers():
    assert [compact(v) for v in (0.0, 0.5, 3.14159, 12.4, 345.0, 31415.0, 1.2e-5, float("inf"), float("nan"))] \
        == ["0", "0.5", "3.1", "12", "345", "3.1e4", "1.2e-5", "inf", "nan"]


def test_without_matplotlib_write_plots_returns_nothing(tmp_path, monkeypatch):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)  # import of matplotlib (and its submodules) fails
    monkeypatch.delitem(sys.modules, "properties.audit.plots")
    monkeypatch.setattr(sys.modules["properties.audit"], "plots", plots)  # restored afterwards
    fresh = importlib.import_module("properties.audit.plots")  # importing the module needs no matplotlib
    assert fresh is not plots
    reason = fresh.plots_unavailable()
    assert reason is not None and "matplotlib" in reason and "\n" not in reason
    assert fresh.write_plots(full_audit(), tmp_path / "out") == []
    assert plots_unavailable() == reason  # the already imported module too: matplotlib is imported when called
    assert write_plots(full_audit(), tmp_path / "out") == []
    assert not (tmp_path / "out").exists()
