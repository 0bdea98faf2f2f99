"""Every tensor argument of every loss comes in every memory layout, in every parameter variant
(``properties.layouts``): measured on the cases the default profile draws, with about half of them all
contiguous; every layout is what its name says (strides, storage offset) with the case's values, on
the implementation's side and in the reproduction."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
import torch
from hypothesis import settings

from properties.cases import Case
from properties.coverage import draw_cases
from properties.formats import DTYPE_NAMES
from properties.layouts import CONTIGUOUS, CONTIGUOUS_BAND, LAYOUTS, layouts_of
from properties.specs import SPECS

#: the layouts every tensor argument must get in every variant, wherever its drawn shapes allow them:
#: a non-contiguous one, a stride-0 one and a transposed one
REQUIRED = ("non_contiguous", "expanded", "transposed")


def default_examples(spec) -> int:
    """What the default profile draws of one variant in the agreement check: its examples per test, one
    test per dtype and reduction (the gradient and invariant checks draw as many again)."""
    return settings.get_profile("default").max_examples * len(DTYPE_NAMES) * len(spec.reductions)


def drawn_layouts(spec, variant, n):
    """``(seen, possible, contiguous)``: ``{argument: Counter(layout)}`` over ``n`` drawn cases of
    ``variant``, ``{argument: layouts its drawn shapes allowed}``, and the share of cases all contiguous
    among those with an array some layout applies to."""
    seen, possible, contiguous, some = defaultdict(Counter), defaultdict(set), 0, 0
    for case in draw_cases(spec, variant, "float64", n):
        arrays = dict(case.arrays())
        if any(lay.applies(v) for v in arrays.values() for lay in LAYOUTS):  # a 0-d case has none to draw
            some += 1
            contiguous += not case.layouts
        for name, lay in layouts_of(case).items():
            seen[name][lay] += 1
            possible[name] |= {x.name for x in LAYOUTS if x.applies(arrays[name])}
    return seen, possible, contiguous / max(some, 1)


@pytest.mark.parametrize("loss", sorted(SPECS))
def test_every_argument_in_every_layout_in_every_variant(loss):
    """Every tensor argument (positional and keyword: targets, class indices, weight, pos_weight) gets a
    non-contiguous, a stride-0 and a transposed layout in every variant, wherever its shape allows one,
    within the default profile's examples of that variant; and about half of the cases are all
    contiguous (``CONTIGUOUS_BAND``), so the other regions keep their share."""
    spec = SPECS[loss]
    n = default_examples(spec)
    missing, shares = {}, {}
    for variant in spec.variants:
        seen, possible, shares[variant] = drawn_layouts(spec, variant, n)
        for name in seen:
            lacking = [lay for lay in REQUIRED if lay in possible[name] and not seen[name][lay]]
            if lacking:
                missing[f"{variant}/{name}"] = lacking
    assert not missing, f"{loss}: never drawn in {n} cases of the default profile: {missing}"
    lo, hi = CONTIGUOUS_BAND
    off = {v: f"{s:.0%}" for v, s in shares.items() if not lo <= s <= hi}
    assert not off, f"{loss}: share of all-contiguous cases outside {lo:.0%}..{hi:.0%}: {off}"


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
