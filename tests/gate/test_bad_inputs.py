"""The bad-input tables (``properties.bad_inputs``): every invalid call is refused by every
implementation under test (torch: with the exception type torch raises) and by the reference
(a ValueError naming the problem), without mutating anything.  Where torch accepts an
invalid call, the recorded known deviation is asserted to still hold."""

from __future__ import annotations

import pytest
import torch

from properties.bad_inputs import BAD_INPUTS, VALID, BadInputFailure, check_bad_input
from properties.edge_cases.row import known_for
from properties.fit import not_applicable
from properties.specs import SPECS
from properties.subjects import builtin_subjects, reference_subject, subjects_for

from .matrix import check_with_known

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _params():
    for loss, rows in BAD_INPUTS.items():
        spec = SPECS[loss]
        for row in rows:
            yield pytest.param(reference_subject(spec), "cpu", row, id=f"{loss}-refimpl-cpu-{row.name}")
            for subject in subjects_for(spec):
                for device in ("cpu", "cuda"):
                    marks = [pytest.mark.cuda, CUDA] if device == "cuda" else []
                    yield pytest.param(subject, device, row, id=f"{loss}-{subject.name}-{device}-{row.name}",
                                       marks=marks)


@pytest.mark.parametrize("subject, device, row", list(_params()))
def test_bad_input_is_refused(subject, device, row):
    reference = subject.name == "refimpl"
    dtype = "float64" if reference else "float32"
    if why := not_applicable(SPECS[row.loss], subject, row.case()):  # a bad value of a parameter it lacks
        pytest.skip(why)
    known = known_for(row.known_failures, subject)
    check_with_known(subject, known, BadInputFailure,
                     lambda s: check_bad_input(row, s, dtype, device, reference=reference),
                     f"known deviation {getattr(known, 'deviation', '')!r} no longer holds: {subject.qualname} now "
                     f"refuses {row.id}. Upstream changed: update properties/known_deviations.toml and "
                     "properties/bad_inputs.py.", SPECS[row.loss])


@pytest.mark.cuda
@CUDA
@pytest.mark.parametrize("loss", [n for n, s in SPECS.items() if s.torch_function])
def test_mismatched_devices_are_refused(loss):
    """torch refuses tensors on different devices: the first input on CUDA, the rest on the CPU."""
    (subject,) = builtin_subjects(SPECS[loss])
    args, kwargs = VALID[loss].to_torch("float32", "cpu")
    with pytest.raises(RuntimeError):
        subject([args[0].cuda(), *args[1:]], kwargs)
