"""``properties.audit.baseline``: comparing two audits (``lossproof audit --baseline``), the CI
gate's rules on synthetic audits that follow ``properties/audit/schema.json``."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from properties.audit import baseline
from properties.audit.baseline import BaselineError, compare, exit_code, load_audit, render_markdown

SCHEMA_PATH = Path(baseline.__file__).with_name("schema.json")


def measurement(loss="mse", dtype="float32", *, subject="torch", device="cpu", variant="plain", reduction="mean",
                max_ulp=0.5, over_bound=0, nonfinite=0, raised=0, inputs=100, elements=100) -> dict:
    stats = None if max_ulp is None else {"max": max_ulp, "p50": 0.0, "p99": max_ulp}
    return {"loss": loss, "subject": subject, "qualname": f"torch.nn.functional.{loss}_loss", "origin": "builtin",
            "dtype": dtype, "device": device, "variant": variant, "reduction": reduction, "inputs": inputs,
            "skipped": 0, "skip_reason": None, "elements": elements, "raised": raised,
            "raised_example": "RuntimeError: boom" if raised else None, "nonfinite": nonfinite,
            "ulp": stats, "ulp_conditioned": stats, "rel": stats,
            "bound_ratio": None if stats is None else {"max": 0.25, "p50": 0.0, "p99": 0.2},
            "over_bound": over_bound, "worst": None, "worst_vs_bound": None,
            "by_magnitude": [{"decade": 0, "count": inputs, "max_ulp": max_ulp if max_ulp is not None else 0,
                              "max_ulp_conditioned": max_ulp if max_ulp is not None else 0,
                              "max_rel": 1e-7, "max_bound_ratio": 0.25}]}


def edge_case(loss="mse", row="empty input", *, subject="torch", dtype="float32", device="cpu", outcome="met",
              gradient="finite") -> dict:
    return {"loss": loss, "row": row, "subject": subject, "qualname": f"torch.nn.functional.{loss}_loss",
            "dtype": dtype, "device": device, "expectation": "nan (mean of nothing)", "outcome": outcome,
            "deviation": None, "returned": "nan", "gradient": gradient}


def make_audit(measurements=(), edge_cases=()) -> dict:
    """A minimal audit of schema version 1, checked against the schema."""
    measurements, edge_cases = list(measurements), list(edge_cases)
    audit = {
        "schema": "lossproof-audit", "schema_version": 1, "generated": "2025-01-01T00:00:00Z",
        "command": ["lossproof", "audit"], "duration_s": 1.5,
        "options": {"losses": sorted({m["loss"] for m in measurements}), "subjects": ["torch"],
                    "dtypes": ["float64", "float32", "float16", "bfloat16"], "devices": ["cpu"], "examples": 10,
                    "quick": True, "seed": 0, "reductions": ["none", "mean", "sum"], "targeted": True},
        "environment": {"python": "3.11.7", "platform": "Linux", "versions": {"torch": "2.13.0", "monai": None},
                        "devices": [{"device": "cpu", "name": "x86_64"}], "torch_threads": 2,
                        "deterministic_algorithms": False, "seed": 0},
        "measurements": measurements, "device_differences": [], "edge_cases": edge_cases, "claims": []}
    validate(audit)
    return audit


def validate(audit: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(audit)]
    assert not errors, errors


def pair(old_m=None, new_m=None, old_e=None, new_e=None):
    """compare() of two one-record audits."""
    return compare(make_audit([old_m] if old_m else [], [old_e] if old_e else []),
                   make_audit([new_m] if new_m else [], [new_e] if new_e else []))


def counts(c: dict) -> dict:
    return {k: len(v) for k, v in c.items() if isinstance(v, list)}


def test_identical_audits_have_no_regression():
    audit = make_audit([measurement(), measurement("bce", "float16", max_ulp=12.0, over_bound=2)],
                       [edge_case(), edge_case(row="inf target", outcome="unmet", gradient="non-finite")])
    c = compare(audit, copy.deepcopy(audit))
    assert counts(c) == {"regressions": 0, "worse": 0, "improved": 0, "new": 0, "missing": 0}
    assert c["compared"] == 4 and exit_code(c) == 0
    assert "no regression" in render_markdown(c, "old.json", "new.json")


def test_over_bound_from_zero_is_a_regression_naming_the_loss_dtype_and_numbers():
    c = pair(measurement("smooth_l1", "bfloat16"), measurement("smooth_l1", "bfloat16", over_bound=3, max_ulp=40.0))
    assert exit_code(c) == 1 and len(c["regressions"]) == 1
    f = c["regressions"][0]
    assert f["kind"] == "measurement"
    assert f["key"] == {"loss": "smooth_l1", "subject": "torch", "dtype": "bfloat16", "device": "cpu",
                        "variant": "plain", "reduction": "mean"}
    assert "smooth_l1" in f["what"] and "bfloat16" in f["what"] and "0 -> 3" in f["what"]
    assert f["old"]["over_bound"] == 0 and f["new"]["over_bound"] == 3
    assert c["worse"] == []  # a regression is not listed again as worse
    md = render_markdown(c, "torch-2.12.json", "torch-2.13.json")
    assert "## Baseline comparison" in md and "no regression" not in md
    assert "0 -> 3" in md and "smooth_l1" in md and "torch-2.12.json" in md


def test_over_bound_before_and_after_is_not_a_new_regression():
    c = pair(measurement(over_bound=2), measurement(over_bound=5))
    assert exit_code(c) == 0


@pytest.mark.parametrize("field, old, new, words", [
    ("nonfinite", 0, 4, "non-finite where the reference is finite 0 -> 4"),
    ("nonfinite", 1, 2, "non-finite where the reference is finite 1 -> 2"),
    ("raised", 0, 7, "raises on 7 of 100 valid inputs (was 0): RuntimeError: boom"),
])
def test_nonfinite_growth_and_raising_are_regressions(field, old, new, words):
    c = pair(measurement(**{field: old}), measurement(**{field: new}))
    assert exit_code(c) == 1 and len(c["regressions"]) == 1
    assert words in c["regressions"][0]["what"], c["regressions"][0]["what"]


def test_raised_more_often_than_before_is_not_a_new_regression():
    assert exit_code(pair(measurement(raised=1), measurement(raised=3))) == 0


@pytest.mark.parametrize("old_outcome", ["met", "known deviation"])
def test_edge_case_met_to_unmet_is_a_regression(old_outcome):
    c = pair(old_e=edge_case(outcome=old_outcome), new_e=edge_case(outcome="unmet"))
    assert exit_code(c) == 1
    f = c["regressions"][0]
    assert f["kind"] == "edge_case" and set(f["key"]) == {"loss", "row", "subject", "dtype", "device"}
    assert "empty input" in f["what"] and "unmet" in f["what"]
    assert "empty input" in render_markdown(c, "a", "b")


def test_edge_case_gradient_finite_to_nonfinite_is_a_regression():
    c = pair(old_e=edge_case(gradient="finite"), new_e=edge_case(gradient="non-finite"))
    assert exit_code(c) == 1 and "gradient finite -> non-finite" in c["regressions"][0]["what"]


def test_edge_case_skipped_or_unmet_before_is_not_a_regression():
    assert exit_code(pair(old_e=edge_case(outcome="skipped"), new_e=edge_case(outcome="unmet"))) == 0
    c = pair(old_e=edge_case(outcome="unmet", gradient="non-finite"), new_e=edge_case(outcome="met"))
    assert exit_code(c) == 0 and len(c["improved"]) == 1
    assert "unmet -> met" in c["improved"][0]["what"] and "non-finite -> finite" in c["improved"][0]["what"]


def test_ulp_growth_within_the_bound_is_worse_not_a_regression():
    c = pair(measurement(max_ulp=2.0), measurement(max_ulp=10.0))
    assert exit_code(c) == 0 and c["regressions"] == [] and len(c["worse"]) == 1
    assert "2 -> 10" in c["worse"][0]["what"] and "within the bound" in c["worse"][0]["what"]
    assert "Worse" in render_markdown(c, "a", "b") and "no regression" in render_markdown(c, "a", "b")


@pytest.mark.parametrize("old, new", [(0.5, 1.2), (3.0, 5.0), (0.0, 0.9), (None, 50.0), ("nan", 50.0), ("inf", "inf")])
def test_small_or_incomparable_ulp_changes_are_not_worse(old, new):
    c = pair(measurement(max_ulp=old), measurement(max_ulp=new))
    assert counts(c) == {"regressions": 0, "worse": 0, "improved": 0, "new": 0, "missing": 0}


def test_inf_ulp_is_worse_than_anything_and_back_is_improved():
    c = pair(measurement(max_ulp=3.0), measurement(max_ulp="inf"))
    assert len(c["worse"]) == 1 and "3 -> inf" in c["worse"][0]["what"] and exit_code(c) == 0
    c = pair(measurement(max_ulp="inf"), measurement(max_ulp=3.0))
    assert len(c["improved"]) == 1 and "inf -> 3" in c["improved"][0]["what"] and c["worse"] == []


def test_improvements_are_listed():
    c = pair(measurement(over_bound=4, nonfinite=2, raised=1, max_ulp=80.0), measurement(max_ulp=4.0))
    assert exit_code(c) == 0 and len(c["improved"]) == 1
    what = c["improved"][0]["what"]
    assert "over bound 4 -> 0" in what and "raised on 1" in what and "80 -> 4" in what and "2 -> 0" in what
    assert counts(pair(measurement(max_ulp=0.5), measurement(max_ulp=0.1)))["improved"] == 0  # < 1 ulp: noise


def test_new_and_missing_keys_are_listed_not_failures():
    kept, gone, added = measurement("mse"), measurement("l1", "float16"), measurement("mse", subject="impl")
    c = compare(make_audit([kept, gone], [edge_case(row="old row")]), make_audit([kept, added], [edge_case(row="new row")]))
    assert exit_code(c) == 0 and c["compared"] == 1
    assert [(f["kind"], f["key"].get("subject"), f["key"].get("row")) for f in c["new"]] == [
        ("measurement", "impl", None), ("edge_case", "torch", "new row")]
    assert [f["key"]["loss"] for f in c["missing"]] == ["l1", "mse"]
    assert c["missing"][0]["key"]["dtype"] == "float16" and c["missing"][0]["new"] is None
    md = render_markdown(c, "a", "b")
    assert "### New" in md and "### Missing" in md and "no regression" in md


def test_matched_by_key_with_different_input_counts():
    c = pair(measurement(inputs=100, elements=100), measurement(inputs=40, elements=4000))
    assert c["compared"] == 1 and counts(c)["regressions"] == 0


def test_markdown_lists_every_regression_and_caps_other_tables():
    old = make_audit([measurement("mse", variant=f"v{i}") for i in range(60)])
    new = make_audit([measurement("mse", variant=f"v{i}", over_bound=1, max_ulp=90.0) for i in range(60)]
                     + [measurement("l1", variant=f"v{i}") for i in range(60)])
    md = render_markdown(compare(old, new), "a", "b", max_rows=5)
    assert md.count("over bound 0 -> 1") == 60 and "... and 55 more" in md and "60 regressions" in md


def test_load_audit_round_trip(tmp_path):
    audit = make_audit([measurement(max_ulp="inf")])
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(audit))
    assert load_audit(path) == audit


@pytest.mark.parametrize("content, words", [
    ({"measurements": []}, "not a lossproof audit"),
    ([1, 2], "not a lossproof audit"),
    ({"schema": "something-else", "schema_version": 1}, "not a lossproof audit"),
    ("{not json", "not a JSON file"),
    (None, "cannot read"),
])
def test_load_audit_rejects_what_is_not_an_audit(tmp_path, content, words):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(BaselineError, match=words) as e:
        load_audit(path)
    assert "bad.json" in str(e.value)


def test_load_audit_rejects_another_schema_version(tmp_path):
    audit = make_audit([measurement()])
    audit["schema_version"] = 2
    path = tmp_path / "future.json"
    path.write_text(json.dumps(audit))
    with pytest.raises(BaselineError, match=r"future\.json.*schema_version 2.*version 1"):
        load_audit(path)
    assert issubclass(BaselineError, ValueError)


def test_main_exit_status(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(make_audit([measurement()])))
    new.write_text(json.dumps(make_audit([measurement(nonfinite=1)])))
    assert baseline.main([str(old), str(old)]) == 0
    assert baseline.main([str(old), str(new)]) == 1 and "non-finite" in capsys.readouterr().out
    assert baseline.main([str(old), str(tmp_path / "absent.json")]) == 2
