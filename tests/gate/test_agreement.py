"""Agreement of every implementation under test with the float64 reference:
every loss with a torch built-in x variant x reduction x dtype x device.

Test ids read ``test_<loss>[<dtype>-<device>-<reduction>-<variant>]``; the
whole matrix comes from ``properties.specs.SPECS``.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from properties import budget
from properties.agreement import AgreementError, check_agreement
from properties.fit import admitted, discarding_recorded, fitted
from properties.formats import DTYPE_NAMES, FORMATS
from properties.specs import SPECS
from properties.subjects import subjects_for

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _matrix(spec):
    for subject in subjects_for(spec):
        for device in ("cpu", "cuda"):
            marks = [pytest.mark.cuda, CUDA] if device == "cuda" else []
            for dtype in DTYPE_NAMES:
                for reduction in fitted(spec, subject).reductions:  # a mean-only plug-in: 'mean' alone
                    for variant in spec.variants:
                        pid = "-".join(x for x in (subject.name if subject.name != "torch" else "", dtype, device,
                                                   reduction, variant) if x)
                        yield pytest.param(subject, dtype, device, reduction, variant, id=pid, marks=marks)


def _agreement_test(spec):
    cells = len(DTYPE_NAMES) * len(spec.reductions) * len(spec.variants)

    @pytest.mark.parametrize("subject, dtype, device, reduction, variant", list(_matrix(spec)))
    @settings(max_examples=budget.examples("agreement", cells))  # the loss's budget over its cells
    @given(data=st.data())
    def test(subject, dtype, device, reduction, variant, data):
        fspec = fitted(spec, subject)
        # sized for this reduction: a 'mean' may hold terms whose sum overflows the dtype
        case = data.draw(fspec.cases(variant, FORMATS[dtype], reduction), label="case")
        case = admitted(fspec, subject, case, dtype=dtype, variant=variant)
        # where the subject has a recorded known deviation (Subject.case_deviations) a failure discards the case
        discarding_recorded(subject, "agreement", case.with_kwargs(reduction=reduction), dtype, AgreementError,
                            lambda: check_agreement(fspec, subject, case, dtype, device, reduction, variant),
                            rerun=lambda s: check_agreement(fspec, s, case, dtype, device, reduction, variant),
                            device=device)

    test.__name__ = test.__qualname__ = f"test_{spec.name}"
    test.__doc__ = f"{spec.torch_function} agrees with refimpl.{spec.name} within the tolerance model."
    return test


for _spec in SPECS.values():
    if list(_matrix(_spec)):
        globals()[f"test_{_spec.name}"] = _agreement_test(_spec)
