"""Every recorded known deviation is complete and still holds on the installed version."""

from __future__ import annotations

import pytest

from properties import deviations

DEVIATIONS = deviations.load()


@pytest.mark.parametrize("name", sorted(DEVIATIONS))
def test_deviation_record_is_complete(name):
    record = DEVIATIONS[name]
    missing = [f for f in deviations.REQUIRED_FIELDS if not str(record.get(f, "")).strip()]
    assert not missing, f"known deviation {name!r} lacks {missing}"
    assert record["check"] in deviations.CHECKS, f"{name}: no check function {record['check']!r}"


@pytest.mark.parametrize("name", sorted(DEVIATIONS))
def test_deviation_still_holds(name):
    record = DEVIATIONS[name]
    assert deviations.CHECKS[record["check"]](), (
        f"known deviation {name!r} no longer holds on this version ({record['subject']}: {record['behaviour']}). "
        "Upstream changed: update properties/known_deviations.toml and the strategies that avoid it."
    )
