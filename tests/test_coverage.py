"""What the strategies feed a loss (``properties.coverage``): for every loss and dtype, at least
``ORDINARY_SHARE`` of the examples have their largest magnitude in the ordinary band (1e-4 .. 1e4),
where implementations' epsilons, clamps and thresholds live -- and the floor can fail: a strategy
over the whole range without the ordinary mixing falls below it.  A self-test of the suite
(deselected in a gate run: it checks no plug-in)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from properties import strategies as S
from properties.coverage import ORDINARY_BAND, band, draw_cases, histogram, shape_kind
from properties.formats import DTYPE_NAMES, FORMATS
from properties.specs import SPECS

#: examples per variant: the shares are measured on the gate's own generation (derandomized)
EXAMPLES = 20


@pytest.mark.parametrize("loss", sorted(SPECS))
def test_strategy_ordinary_magnitudes_share(loss):
    spec = SPECS[loss]
    low = {}
    for dtype in DTYPE_NAMES:
        h = histogram(spec, dtype, EXAMPLES)
        share = h[ORDINARY_BAND] / sum(h.values())
        if share < S.ORDINARY_SHARE:
            low[dtype] = f"{share:.0%} ({dict(h)})"
    assert not low, f"{loss}: ordinary magnitudes below {S.ORDINARY_SHARE:.0%} of the examples: {low}"


def test_strategy_ordinary_floor_can_fail():
    """The same measure on an array strategy over float64's whole range without the ordinary mixing
    (what every magnitude strategy was before it) is below the floor."""
    cap = FORMATS["float64"].headroom_cap(count=64)
    drawn = []

    @settings(max_examples=60, database=None, derandomize=True)
    @given(st.data())
    def run(data):
        shape = data.draw(S.shapes(1, 2, 1, 4))
        drawn.append(data.draw(S.array(shape, S.reals(1e-4, cap, ordinary=False))))

    run()
    bands = [band(float(np.max(np.abs(a)))) for a in drawn if np.any(a)]
    assert sum(b == ORDINARY_BAND for b in bands) / len(bands) < S.ORDINARY_SHARE  # measured: 27 %


#: what the default profile draws of one variant for one reduction: its examples per test, one test per dtype
DEFAULT_EXAMPLES = settings.get_profile("default").max_examples * len(DTYPE_NAMES)


@pytest.mark.parametrize("loss", sorted(SPECS))
def test_strategy_every_shape_kind_in_every_variant(loss):
    """Shapes are drawn per case, never per variant: every input layout the loss's strategy draws at all
    is drawn under every variant (every parameter set) within the examples the default profile draws of
    it for one reduction (one test per dtype)."""
    spec = SPECS[loss]
    kinds = {v: {shape_kind(spec, c) for c in draw_cases(spec, v, "float64", DEFAULT_EXAMPLES)} for v in spec.variants}
    union = set().union(*kinds.values())
    missing = {v: sorted(union - k) for v, k in kinds.items() if union - k}
    assert not missing, f"{loss}: layouts never drawn with these variants' parameters: {missing}"


def test_cross_entropy_every_combination_is_drawn():
    """Every (input layout x target kind x weight x ignore_index x label_smoothing) that the contract
    allows -- 36: ignore_index applies to class indices only -- is drawn within the default profile
    (the examples of one reduction's tests), read off the drawn cases themselves."""
    from properties.specs.cross_entropy import CE_SHAPE_KINDS, ce_shape_kind

    spec = SPECS["cross_entropy"]
    seen = {(ce_shape_kind(c), "prob" if c.args["target"].dtype.kind == "f" else "index",
             "weight" in c.kwargs, "ignore_index" in c.kwargs, "label_smoothing" in c.kwargs)
            for v in spec.variants for c in draw_cases(spec, v, "float64", DEFAULT_EXAMPLES)}
    allowed = {(s, t, w, i, ls) for s in CE_SHAPE_KINDS for t in ("index", "prob") for w in (False, True)
               for i in (False, True) for ls in (False, True) if not (t == "prob" and i)}
    assert len(allowed) == 36
    assert seen == allowed, f"never drawn: {sorted(allowed - seen)}; outside the contract: {sorted(seen - allowed)}"


# ---- long reductions (issue 19) ------------------------------------------------------------------

#: the examples one agreement test of the default profile draws (one variant, one reduction, one dtype)
PER_TEST = settings.get_profile("default").max_examples


@pytest.mark.parametrize("loss", sorted(SPECS))
def test_strategy_long_reductions_in_every_dtype(loss):
    """Every loss, in every dtype, sums at least 1000 terms (``LossSpec.summed``: its reduction's terms,
    Dice's spatial sums) in some of the examples its agreement tests (every reduction) draw in the default
    profile (derandomized) -- a minority of them (``S.LONG_SHARE`` = 1/5 intended, a third for half-precision means of the residual losses, at most half) -- and
    no 'sum' example holds terms whose sum overflows the dtype (``S.summed_count``)."""
    from properties.coverage import reductions_drawn

    spec, bad = SPECS[loss], {}
    for dtype in DTYPE_NAMES:
        got = {r: reductions_drawn(spec, dtype, r, PER_TEST) for r in spec.reductions}
        examples, long = sum(g["examples"] for g in got.values()), sum(g["long"] for g in got.values())
        if not 2 <= long <= examples / 2:
            bad[dtype] = f"{long} long of {examples}"
        if got.get("sum", {}).get("overflowing"):
            bad[dtype] = f"{got['sum']['overflowing']} 'sum' examples whose sum overflows"
    assert not bad, f"{loss}: long reductions (>= 1000 terms) not a minority of the examples, or sums overflow: {bad}"


def test_strategy_long_reductions_floor_can_fail(monkeypatch):
    """With long examples made (nearly) impossible the same measure finds none."""
    from properties.coverage import reductions_drawn

    monkeypatch.setattr(S, "LONG_SHARE", 1e-6)
    monkeypatch.setattr(S, "HALF_MEAN_LONG_SHARE", 1e-6)
    assert reductions_drawn(SPECS["mse"], "float16", "mean", PER_TEST)["long"] == 0


@pytest.mark.parametrize("loss", ["mse", "smooth_l1"])
def test_strategy_half_mean_whose_sum_overflows(loss):
    """float16 'mean' examples whose terms sum past 65504 (the mean in range) are drawn in the default
    profile -- where a mean summed in the input dtype is inf (``S.mean_band``)."""
    from properties.coverage import reductions_drawn

    mean = reductions_drawn(SPECS[loss], "float16", "mean", PER_TEST)
    assert mean["overflowing"] > 0, f"{loss}: no float16 'mean' example whose sum overflows: {mean}"
