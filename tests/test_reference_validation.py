"""The references never modify the arrays they are given.  (That they refuse invalid
calls with a ValueError naming the problem is tests/gate/test_bad_inputs.py, from the
bad-input tables in properties/bad_inputs.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from properties.formats import FLOAT64
from properties.specs import SPECS


@pytest.mark.parametrize("loss", list(SPECS))
@given(data=st.data())
def test_reference_does_not_mutate_inputs(loss, data):
    spec = SPECS[loss]
    case = data.draw(spec.cases(data.draw(st.sampled_from(spec.variants)), FLOAT64))
    before = [(k, v.copy()) for k, v in case.arrays()]
    for reduction in spec.reductions:
        spec.call_reference(case, reduction=reduction)
    for (k, old), (_, new) in zip(before, case.arrays()):
        assert np.array_equal(old, new, equal_nan=True), f"refimpl.{loss} modified {k}"
