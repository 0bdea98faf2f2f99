"""Every recorded known deviation is complete, still holds on the installed version, and is
linked both ways with the edge-case / bad-input rows that show it."""

from __future__ import annotations

import pytest

from properties import deviations
from properties.bad_inputs import BAD_INPUTS
from properties.edge_cases import EDGE_CASES
from properties.gradients import FINITE_GRADIENT_ROWS

DEVIATIONS = deviations.load()
ROWS = {f"edge:{r.id}": r for rows in EDGE_CASES.values() for r in rows}
ROWS.update({f"bad:{r.id}": r for rows in BAD_INPUTS.values() for r in rows})
ROWS.update({f"grad:{r.id}": r for r in FINITE_GRADIENT_ROWS})


@pytest.mark.parametrize("name", sorted(DEVIATIONS))
def test_deviation_record_is_complete(name):
    record = DEVIATIONS[name]
    missing = [f for f in deviations.REQUIRED_FIELDS if not str(record.get(f, "")).strip()]
    assert not missing, f"known deviation {name!r} lacks {missing}"
    assert record.get("check") or record.get("rows"), f"{name}: neither a check function nor rows demonstrate it"
    if record.get("check"):
        assert record["check"] in deviations.CHECKS, f"{name}: no check function {record['check']!r}"
    for row_id in record.get("rows", []):
        assert row_id in ROWS, f"{name}: no row {row_id!r}"
        assert any(k.deviation == name for k in ROWS[row_id].known_failures), (
            f"{name}: row {row_id} does not name this deviation in its known_failures")


@pytest.mark.parametrize("name", sorted(n for n, r in DEVIATIONS.items() if r.get("check")))
def test_deviation_still_holds(name):
    import importlib.util

    record = DEVIATIONS[name]
    libraries = {q.strip().partition(".")[0] for q in record["subject"].split(",")}
    absent = sorted(lib for lib in libraries if importlib.util.find_spec(lib) is None)
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed (the thirdparty extra): {record['subject']} not checked")
    assert deviations.CHECKS[record["check"]](), (
        f"known deviation {name!r} no longer holds on this version ({record['subject']}: {record['behaviour']}). "
        "Upstream changed: update properties/known_deviations.toml and the strategies that avoid it."
    )


def test_every_known_failure_names_a_recorded_deviation():
    for row_id, row in ROWS.items():
        for known in row.known_failures:
            assert known.deviation in DEVIATIONS, f"{row_id} names unrecorded deviation {known.deviation!r}"
            assert row_id in DEVIATIONS[known.deviation].get("rows", []), (
                f"{row_id} is not listed in the rows of {known.deviation!r}")


def test_case_deviations_name_checked_records():
    """A subject's region-wide known deviation (``Subject.case_deviations``: MONAI's cancellations)
    names a record of that subject which a check function demonstrates on the installed version."""
    from properties.specs import SPECS
    from properties.subjects import subjects_for

    for spec in SPECS.values():
        for subject in subjects_for(spec):
            for dev in subject.case_deviations:
                record = DEVIATIONS.get(dev.deviation)
                assert record is not None, f"{subject.qualname}: unrecorded deviation {dev.deviation!r}"
                assert subject.qualname in record["subject"], f"{dev.deviation}: recorded for {record['subject']}"
                assert record.get("check"), f"{dev.deviation}: no check function demonstrates it"
