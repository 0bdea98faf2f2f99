"""A plug-in that breaks the contract at run time gets a failing check whose first line is a
one-line diagnosis naming the breach -- never a crash of the harness, never a bare numeric
mismatch.  One deliberately broken MSE per kind of breach (issue 5's list), each run through
the agreement check exactly as ``pytest --impl mse=...`` runs it.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch

from properties.agreement import AgreementError, check_agreement
from properties.cases import Case
from properties.specs import SPECS
from properties.subjects import Subject

MSE = SPECS["mse"]
CASE = Case({"input": np.array([[0.5, -1.0], [2.0, 0.25]]), "target": np.array([[0.0, 1.0], [1.5, -0.5]])}, {})


def _mse(input, target, reduction="mean"):
    terms = (input - target) ** 2
    return {"none": terms, "mean": terms.mean(), "sum": terms.sum()}[reduction]


def raises(input, target, reduction="mean"):
    raise RuntimeError("size mismatch, m1: [2 x 2], m2: [3 x 1]")


def wrong_shape(input, target, reduction="mean"):
    return _mse(input, target, reduction).reshape(-1)[:1]


def wrong_dtype(input, target, reduction="mean"):
    return _mse(input, target, reduction).double()


def python_float(input, target, reduction="mean"):
    return _mse(input, target, reduction).sum().item()


def wrong_device(input, target, reduction="mean"):
    return torch.empty(_mse(input, target, reduction).shape, dtype=input.dtype, device="meta")


def nan_where_finite(input, target, reduction="mean"):
    return _mse(input, target, reduction) * float("nan")


def mutates(input, target, reduction="mean"):
    input.sub_(target)
    return _mse(input + target, target, reduction)


def hangs(input, target, reduction="mean"):
    time.sleep(30)
    return _mse(input, target, reduction)


BREACHES = {  # plug-in -> what the first line of the failure must say
    raises: r"raises on valid input: RuntimeError: size mismatch",
    wrong_shape: r"returned shape \(1,\), expected \(2, 2\)",
    wrong_dtype: r"returned dtype torch\.float64, expected torch\.float32",
    python_float: r"returned a float, expected a torch\.Tensor",
    wrong_device: r"returned a tensor on meta, expected cpu",
    nan_where_finite: r"returned NaN where the reference is finite \(4 of 4 element\(s\)",
    mutates: r"mutates its inputs: .*input",
    hangs: r"hangs: .*did not return within 0\.2 s",
}


@pytest.mark.parametrize("fn", list(BREACHES), ids=lambda f: f.__name__)
def test_contract_breach_gets_a_one_line_diagnosis(fn):
    subject = Subject("mse", "impl", f"{__name__}.{fn.__name__}", fn, origin="plugin", timeout=0.2)
    with pytest.raises(AgreementError) as info:
        check_agreement(MSE, subject, CASE, "float32", "cpu", "none", record=False)
    first, *rest = str(info.value).splitlines()
    assert re.search(BREACHES[fn], first), first
    assert first.startswith(subject.qualname) and "[mse float32 cpu reduction='none']" in first, first
    assert any(line.startswith("Reproduce:") for line in rest), "the details must keep the reproduction"


def test_a_conforming_plugin_passes_the_same_check():
    """The breaches above are caught by the contract, not by anything the case itself provokes."""
    subject = Subject("mse", "impl", f"{__name__}._mse", _mse, origin="plugin", timeout=5.0)
    for reduction in MSE.reductions:
        assert check_agreement(MSE, subject, CASE, "float32", "cpu", reduction, record=False) <= 1.0
