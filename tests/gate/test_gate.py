"""The gate's own test: each plug-in named with ``--impl`` loads (import, attribute, callable),
else one failing test with a one-line diagnosis.  Without ``--impl`` there is nothing to load."""

from __future__ import annotations

import pytest

from properties.subjects import plugin_subjects


@pytest.mark.parametrize("subject", plugin_subjects() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no --impl given: the gate checks the torch built-ins"))],
    ids=lambda s: f"{s.loss}-{s.name}" if s else "none")
def test_gate_plugin_loads(subject):
    if subject.broken:
        pytest.fail(subject.broken, pytrace=False)
