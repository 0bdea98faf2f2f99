"""Memory layouts of the drawn cases (``properties.layouts``): every layout is what its name says
(strides, storage offset) with the case's values, on the implementation's side and in the reproduction.
That every tensor argument of every loss reaches them in every parameter variant is measured on the
gate's own calls: tests/test_catalogue.py::test_every_region_is_reached (``properties.recording``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from properties.cases import Case
from properties.layouts import CONTIGUOUS, LAYOUTS, layouts_of

SHAPES = [(3,), (2, 3), (3, 1, 2), (1, 3, 2), (2, 3, 2, 2), (1, 4), (4, 1), (1, 2, 1, 3)]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
@pytest.mark.parametrize("kind", ["float", "index"])
def test_layout_is_what_its_name_says(layout, kind):
    """Wherever a layout applies, ``Case.to_torch`` gives a tensor with the case's values and the
    layout's strides (not contiguous / a stride 0 / a storage offset), positional or keyword, and the
    reproduction's source builds the same tensor; where it does not apply the case refuses it."""
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        v = rng.normal(size=shape) if kind == "float" else rng.integers(0, 5, size=shape)
        if not layout.applies(v):
            with pytest.raises(ValueError):
                Case({"input": v}, {}, {"input": layout.name})
            continue
        case = Case({"input": v}, {"weight": v * 2}).laid_out({"input": layout.name, "weight": layout.name})
        case = case.rounded("float32")
        args, kwargs = case.to_torch("float32", "cpu")
        namespace = {"torch": torch}
        exec(case.call_source("print", "float32", "cpu").rpartition("\n")[0], namespace)  # the tensor lines
        for name, t in (("input", args[0]), ("weight", kwargs["weight"])):
            want = dict(case.arrays())[name]
            assert np.array_equal(t.double().numpy(), want), (layout.name, shape, name)
            stride = t.stride()
            assert {"strided": not t.is_contiguous(), "stride0": 0 in stride,
                    "offset": t.storage_offset() > 0}[layout.shows], (layout.name, shape, name, stride)
            built = namespace[name]
            assert built.stride() == stride and built.storage_offset() == t.storage_offset()
            assert torch.equal(built, t)
        assert layouts_of(case) == {"input": layout.name, "weight": layout.name}
        assert layouts_of(Case({"input": v})) == {"input": CONTIGUOUS}


def test_layouts_survive_rounding_and_parameters_but_not_a_new_array():
    v = np.arange(6.0).reshape(2, 3)
    case = Case({"input": v}, {"weight": v + 1}).laid_out({"input": "transposed", "weight": "sliced"})
    assert case.rounded("float16").with_kwargs(reduction="sum").layouts == {"input": "transposed", "weight": "sliced"}
    assert case.with_kwargs(weight=v).layouts == {"input": "transposed"}
    assert "layouts={'input': 'transposed', 'weight': 'sliced'}" in repr(case)
