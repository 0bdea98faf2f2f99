"""The test matrix shared by the table-driven tests (edge cases, invariants): each row against
the reference (float64, CPU: the mathematics) and against every implementation under test in
each dtype the row runs in and each device (CUDA marked, and skipped without a device)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

from properties.fit import shown_as_recorded
from properties.known import allowed
from properties.subjects import reference_subject, subjects_for

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

#: A table row (an edge case, an invariant) is one behaviour, not a domain to explore: a third
#: of the profile's examples (8 by default, 166 nightly; a fixed input runs once whatever the number).
ROW_EXAMPLES = max(4, settings().max_examples // 3)


def subject_matrix(spec, rows, dtypes_of=lambda row: row.dtypes):
    """``pytest.param(subject, dtype, device, row)`` with ids ``<subject>-<dtype>-<device>-<row>``."""
    ref = reference_subject(spec)
    for row in rows:
        if "float64" in dtypes_of(row):
            yield pytest.param(ref, "float64", "cpu", row, id=f"refimpl-float64-cpu-{row.name}")
        for subject in subjects_for(spec):
            for device in ("cpu", "cuda"):
                marks = [pytest.mark.cuda, CUDA] if device == "cuda" else []
                for dtype in dtypes_of(row):
                    yield pytest.param(subject, dtype, device, row, id=f"{subject.name}-{dtype}-{device}-{row.name}",
                                       marks=marks)


def recorded_subject(spec, known):
    """The implementation a known deviation is recorded for (a built-in or an installed adapter)."""
    from properties.adapters import thirdparty_subjects
    from properties.subjects import builtin_subjects

    # the built-ins first: the third-party adapters import their libraries (Keras, MONAI: ~5 s)
    found = next((s for s in builtin_subjects(spec) if s.qualname == known.subject), None)
    return found or next((s for s in thirdparty_subjects(spec) if s.qualname == known.subject), None)


def check_with_known(subject, known, failure, run, fixed_message: str, spec):
    """Run ``run(subject)``; where a known deviation applies, a built-in must still fail it (else the
    record is stale: ``fixed_message``), a plug-in may fail it -- an xfail naming the record -- but
    only the way the recorded implementation does (``run(recorded)`` fails with the same gist:
    the same values, the same kind of failure); any other failure of the row is the plug-in's own."""
    if known is None:
        run(subject)
        return
    if subject.allows_known_deviations:
        try:
            run(subject)
        except failure as exc:
            shown_as_recorded(exc, subject, recorded_subject(spec, known), known.deviation, failure, run)
            allowed(known.deviation)
        return
    with pytest.raises(failure):
        run(subject)
        pytest.fail(fixed_message)
