"""The call recorder (``properties.recording``, ``lossproof coverage --record``): what it says of a call
is what the call was, and a recorded gate run records every call of the plug-in."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from properties import recording
from properties.specs import SPECS

ROOT = Path(__file__).resolve().parents[1]


def _t(*shape):
    return torch.arange(float(torch.Size(shape).numel())).reshape(shape) + 1.0


@pytest.mark.parametrize("make, expected", [
    (lambda: _t(3, 4), "contiguous"),
    (lambda: _t(4, 3).t(), "transposed"),
    (lambda: _t(3, 8)[:, ::2], "non-contiguous"),
    (lambda: _t(1, 4).expand(3, 4), "stride-0"),
    (lambda: _t(2, 3, 4, 5).contiguous(memory_format=torch.channels_last), "channels-last"),
    (lambda: _t(13)[1:], "offset"),
    (lambda: _t(1), "contiguous"),
])
def test_layout_names_the_memory_layout(make, expected):
    assert recording.layout(make()) == expected


def test_describe_reads_a_call_without_changing_it():
    spec = SPECS["cross_entropy"]
    x = torch.tensor([[0.0, float("inf")], [1.0, 2.0]], requires_grad=True)
    t = torch.tensor([-100, -100])
    before = (x.detach().clone(), t.clone())
    rec = recording.describe(spec.name, spec.arg_names, spec.label_args, (x, t), {"weight": None, "reduction": "sum"})
    assert torch.equal(x.detach(), before[0]) and torch.equal(t, before[1])
    assert rec["edge"] == ["all ignored", "inf"] and rec["differentiated"] == ["input"]
    assert rec["kwargs"] == [] and rec["reduction"] == "sum" and rec["terms"] == 4
    assert rec["layout"] == {"input": "contiguous", "target": "contiguous"}


@pytest.mark.parametrize("g, kind", [(torch.ones(3), "ones"), (torch.full((3,), 0.25), "one number"),
                                     (torch.tensor([1.0, -2.0, 0.5]), "per element"), (torch.tensor(2.0), "scalar")])
def test_cotangent_kind(g, kind):
    assert recording._cotangent(g) == kind


@pytest.mark.parametrize("loss, args, kwargs, gap", [
    ("kl_div", (torch.tensor([-1.0]), torch.tensor([0.5])), {}, abs(-1.0 - torch.tensor(0.5).log().item()) / 1.0),
    ("huber", (torch.tensor([3.0]), torch.tensor([1.5])), {"delta": 1.0}, 0.5 / 1.5),
    ("mse", (torch.tensor([2.0, 4.0]), torch.tensor([1.0, 3.0])), {}, 0.25),
])
def test_gap_of_the_pair_a_formula_subtracts(loss, args, kwargs, gap):
    assert recording._gap(loss, args, kwargs) == pytest.approx(gap, rel=1e-12)


def test_recorded_gate_run_records_every_call(tmp_path):
    """A recorded gate run on torch's mse_loss: each call has a record, backward calls their cotangent."""
    import subprocess
    import sys

    path = tmp_path / "calls.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--record={path}",
                           "--dtype", "float64", "-k", "test_gradient_mse", "--impl", "mse=torch.nn.functional:mse_loss", "tests/gate"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    records = recording.read(str(path))
    assert records and all(r["loss"] == "mse" and r["dtype"] == "float64" for r in records)
    s = recording.summary(records)
    assert s["calls"]["calls"] == len(records)
    assert s["differentiated"]["input"] > 0 and sum(s["cotangent"].values()) > 0
    assert "### mse" in recording.table(records, "mse")
