"""Device placement on ``meta``, on every machine (``properties.placement``).

- ``test_placement_<loss>[<subject>-<dtype>-meta-<variant>]``: the output on the inputs' device,
  of their dtype and the reference's shape, and every differentiable input's gradient on its
  device with its dtype and shape -- on cases drawn in every batch shape (as drawn, one sample,
  empty) with a drawn reduction; an example the implementation cannot run on ``meta`` (it reads
  values) is rejected as not applicable (``properties.tally.reject``: counted, and the test is
  skipped with the reason when no example applies), never a pass;
- that the checks can fail, and that the default profile checks every loss on ``meta`` without a
  GPU: ``tests/test_placement_can_fail.py`` (a self-test, not part of the gate).
"""

from __future__ import annotations


import pytest
from hypothesis import given, settings, strategies as st

from properties import tally
from properties.fit import admitted, fitted
from properties.formats import DTYPE_NAMES, FORMATS
from properties.placement import (
    META, NotApplicableOnMeta, PlacementError, check_placement, placement_cases,
)
from properties.specs import SPECS
from properties.subjects import subjects_for

#: placement calls are cheap (meta kernels propagate metadata only): a third of the profile's
#: examples per (subject, dtype, variant) test, each with a drawn reduction and batch shape
EXAMPLES = max(6, settings().max_examples // 3)
#: examples in a row not applicable on meta, none checked, after which the test is skipped with the
#: reason (not after ``tally.GIVE_UP`` = 40: each costs a meta and a cpu call; a cross-entropy
#: plug-in that validates its targets with ``.item()`` cost 60 s of a gate run at 40)
NOT_ON_META_GIVE_UP = 8


def _sid(subject) -> str:
    return "" if subject.name == "torch" else f"{subject.name}-"


def _checked(spec, subject, case, dtype, reduction, shape) -> None:
    """``check_placement``; not applicable on meta -> this example rejected with the reason; a
    recorded known deviation of a built-in or adapter (``Subject.case_deviations``, check
    "placement") -> its failure rejects the example, naming the record (the record's check
    function shows it still holds: tests/test_known_deviations.py)."""
    deviation = subject.case_deviation("placement", case, dtype)
    try:
        check_placement(spec, subject, case, dtype, reduction, shape)
    except NotApplicableOnMeta as exc:
        reason = str(exc)
        if not tally.EXAMPLES[tally.CURRENT] and tally.REJECTED[tally.CURRENT][reason] + 1 >= NOT_ON_META_GIVE_UP:
            tally.REJECTED[tally.CURRENT][reason] += 1
            pytest.skip(reason)  # a plug-in that reads values reads them in every example of the test
        tally.reject(reason)
    except PlacementError:
        if deviation is None:
            raise
        tally.reject(f"recorded known deviation {deviation.deviation!r} ({deviation.why})")


def _placement_test(spec):
    params = [pytest.param(s, dt, META, v, id=f"{_sid(s)}{dt}-{META}-{v}")
              for s in subjects_for(spec) for dt in DTYPE_NAMES for v in spec.variants]

    @pytest.mark.parametrize("subject, dtype, device, variant", params)
    @settings(max_examples=EXAMPLES)
    @given(data=st.data())
    def test(subject, dtype, device, variant, data):
        fspec = fitted(spec, subject)
        case, shape = data.draw(placement_cases(fspec, variant, FORMATS[dtype]), label="case, batch shape")
        case = admitted(fspec, subject, case, dtype=dtype, variant=variant)
        reduction = data.draw(st.sampled_from(fspec.reductions), label="reduction")
        _checked(fspec, subject, case, dtype, reduction, shape)

    test.__name__ = test.__qualname__ = f"test_placement_{spec.name}"
    test.__doc__ = f"{spec.name}: output and gradients on the inputs' device (meta), with their dtype and shape."
    return test


for _spec in SPECS.values():
    if subjects_for(_spec):
        globals()[f"test_placement_{_spec.name}"] = _placement_test(_spec)
