"""The placement check can fail, and reaches every loss on ``meta`` without a GPU (self-tests of
``properties.placement``; the gate's placement tests are ``tests/gate/test_placement.py``):

- a result or a gradient on the wrong device, dtype or shape, a device mismatch raised on meta
  alone, is caught; a value read is not applicable, not a finding;
- the default profile runs placement on ``meta`` for every loss without a GPU: every loss's torch
  built-in (or, without one, its first adapter) is checked on examples of every variant and every
  batch shape, none of them not applicable.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from properties.cases import Case
from properties.formats import DTYPE_NAMES, FORMATS
from properties.placement import META, NotApplicableOnMeta, PlacementError, batch_cut, check_placement, placement_cases
from properties.specs import SPECS
from properties.subjects import Subject, subjects_for

from .gate import test_placement as gate_placement


# ---- the checks can fail -----------------------------------------------------------------

MSE = SPECS["mse"]


def _mse_case(n: int = 3) -> Case:
    return Case({"input": np.linspace(-1.0, 1.0, n), "target": np.zeros(n)})


def _plugin(fn) -> Subject:
    return Subject("mse", "impl", f"{__name__}.{fn.__name__}", fn, origin="plugin")


def _cpu_zero_when_empty(input, target, reduction="mean"):
    """An empty batch gives ``torch.tensor(0.0)``: a CPU scalar whatever the inputs' device."""
    if input.numel() == 0:
        return torch.tensor(0.0)
    d = (input - target) ** 2
    return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d


def _arange_weights(input, target, reduction="mean"):
    """Combines the inputs with ``torch.ones(n)``, built on the CPU: cpu runs, cuda raises."""
    d = (input - target) ** 2 * torch.ones(input.shape[-1] if input.ndim else 1)
    return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d


class _CpuGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return (x - y) ** 2

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return torch.zeros(x.shape, dtype=x.dtype), None  # CPU, whatever x's device


def _cpu_gradient(input, target, reduction="mean"):
    d = _CpuGrad.apply(input, target)
    return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d


def _float64_result(input, target, reduction="mean"):
    d = (input.double() - target.double()) ** 2
    return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d


def _reads_values(input, target, reduction="mean"):
    """Data-dependent control flow: right on every real device, not runnable on meta."""
    d = (input - target) ** 2
    if bool((d == 0).all()):
        return d.sum() * 0
    return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d


@pytest.mark.parametrize("fn, reduction, n, diagnosis", [
    (_cpu_zero_when_empty, "mean", 0, "returned a tensor on cpu, expected meta"),
    (_arange_weights, "sum", 3, "raises on meta only, device mismatch"),
    (_cpu_gradient, "sum", 3, "raises on meta only, device mismatch (in backward)"),
    (_float64_result, "mean", 3, "returned dtype torch.float64, expected torch.float32"),
])
def test_placement_catches_a_wrong_device_dtype_or_raise(fn, reduction, n, diagnosis):
    subject = _plugin(fn)
    with pytest.raises(PlacementError) as info:
        check_placement(MSE, subject, _mse_case(n), "float32", reduction, "empty batch" if n == 0 else "as drawn")
    first, _, rest = str(info.value).partition("\n")
    assert diagnosis in first and "[mse float32 meta" in first, first
    assert "Reproduce:\n" in rest and "device='meta'" in rest
    # the reproduction runs and shows it
    script = rest.partition("Reproduce:\n")[2]
    if "device mismatch" not in diagnosis:
        exec(compile(script, "<reproduction>", "exec"), {"__name__": "__repro__", "tests": __import__("tests")})


def test_placement_correct_on_every_batch_shape():
    ok = Subject("mse", "impl", "torch.nn.functional.mse_loss", torch.nn.functional.mse_loss, origin="plugin")
    for n in (0, 1, 3):
        for reduction in ("none", "mean", "sum"):
            if (n, reduction) == (0, "mean"):  # torch's meta kernel: TORCH_META_GAPS, a recorded deviation
                with pytest.raises(NotApplicableOnMeta, match="ZeroDivisionError"):
                    check_placement(MSE, ok, _mse_case(n), "float32", reduction)
                continue
            check_placement(MSE, ok, _mse_case(n), "float32", reduction)


def test_value_read_is_not_applicable_not_a_finding():
    with pytest.raises(NotApplicableOnMeta, match="not applicable on meta: .*Tensor.item"):
        check_placement(MSE, _plugin(_reads_values), _mse_case(3), "float32", "mean")


def test_raise_on_cpu_too_is_a_finding_not_applicable_never():
    def refuses(input, target, reduction="mean"):
        raise ValueError("no")

    with pytest.raises(PlacementError, match="raises on valid input: ValueError: no"):
        check_placement(MSE, _plugin(refuses), _mse_case(3), "float32", "mean")


# ---- the default profile checks every loss on meta ----------------------------------------

def _measure(spec, subject, examples: int) -> Counter:
    """Outcomes of ``examples`` placement examples per variant of ``subject`` in float32, by batch
    shape: "checked <shape>" or "not applicable <shape>"."""
    seen: Counter = Counter()
    for variant in spec.variants:
        @settings(max_examples=examples, database=None, derandomize=True)
        @given(data=st.data())
        def run(data):
            case, shape = data.draw(placement_cases(spec, variant, FORMATS["float32"]))
            reduction = data.draw(st.sampled_from(spec.reductions))
            try:
                check_placement(spec, subject, case, "float32", reduction, shape)
                seen[f"checked {shape}"] += 1
            except NotApplicableOnMeta as exc:
                gap = TORCH_META_GAPS.get(spec.name)
                recorded = gap is not None and gap[0] in str(exc) and shape == "empty batch"
                seen[f"{'recorded gap' if recorded else 'not applicable'} {shape}"] += 1

        run()
    return seen


#: where torch's own meta kernels fail (loss -> (what the raise says, the known deviation recording it)):
#: the placement check counts those examples as not applicable on meta, as it would a plug-in's
TORCH_META_GAPS = {loss: ("ZeroDivisionError", "meta_backward_empty_mean_divides_by_zero")
                   for loss in ("mse", "huber", "smooth_l1")}


def test_torch_meta_gaps_are_recorded():
    from properties import deviations

    for loss, (_, name) in TORCH_META_GAPS.items():
        assert name in deviations.load() and loss in deviations.load()[name]["loss"].split(", ")


def _first_placed(spec):
    subjects = [s for s in subjects_for(spec) if not any(d.check == "placement" for d in s.case_deviations)]
    return subjects[0] if subjects else None


@pytest.mark.parametrize("loss", sorted(SPECS))
def test_every_loss_is_checked_on_meta_without_a_gpu(loss):
    """Every loss has a placement test on meta (not marked cuda, nothing skipped for want of a GPU),
    and its torch built-in (or first adapter) runs it: every example checked, none not applicable,
    the empty batch reached where the loss has a batch dimension."""
    spec = SPECS[loss]
    subject = _first_placed(spec)
    if subject is None:
        pytest.skip(f"{loss}: no built-in or adapter installed (a gate run checks its plug-ins)")
    (mark,) = [m for m in getattr(gate_placement, f"test_placement_{loss}").pytestmark if m.name == "parametrize"]
    mine = [p for p in mark.args[1] if p.values[0].qualname == subject.qualname]
    assert mine and all(p.values[2] == META and not p.marks for p in mine), "placement tests need no device"
    assert {p.values[3] for p in mine} == set(spec.variants) and {p.values[1] for p in mine} == set(DTYPE_NAMES)
    seen = _measure(spec, subject, 12)
    assert sum(seen.values()) and not any(k.startswith("not applicable") for k in seen), (
        f"{subject.qualname} on meta: {dict(seen)}")
    if any(batch_cut(spec, c, 0) for c in [_one(spec)]):
        assert seen["checked empty batch"], f"{loss}: no empty batch reached in {dict(seen)}"


def _one(spec):
    """A drawn case of the loss's first variant (float32) -- whether an empty batch exists for it."""
    box = []

    @settings(max_examples=1, database=None, derandomize=True)
    @given(spec.cases(spec.variants[0], FORMATS["float32"]))
    def grab(case):
        box.append(case)

    grab()
    return box[0]


def test_verdict_names_the_devices_a_test_ran_on():
    """The verdict line's devices: those of tests that passed or failed (cpu, cuda, meta in that
    order); a device whose tests were all skipped (cuda without a GPU, meta for a plug-in that
    reads values) is not named."""
    from properties.pytest_plugin import GateRun, devices_checked

    run = GateRun()
    for i, (device, outcome) in enumerate([("meta", "passed"), ("cpu", "failed"), ("cuda", "skipped"),
                                           ("meta", "skipped")]):
        run.items[f"t{i}"] = ("mse=impl", "placement" if device == "meta" else "agreement", {"device": device})
        run.outcomes[f"t{i}"] = outcome
    assert devices_checked(run) == ["cpu", "meta"]
    run.outcomes["t0"] = "skipped"
    assert devices_checked(run) == ["cpu"]
