"""A float keyword parameter enters the reference as torch applies it (``properties.cases.SCALAR_DTYPE``,
``SCALAR_RULES``): ``Case.rounded`` rounds it like the arrays, so the reference and the implementation
see one value.  Each rule is measured on torch here, and shown to matter: without it a correct
implementation fails."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from properties import cases
from properties.agreement import check_agreement
from properties.cases import SCALAR_DTYPE, Case
from properties.specs import SPECS
from properties.subjects import builtin_subjects


def test_scalar_dtype_is_what_torch_multiplies_with():
    """float32: 3.4e-205 is 0; float16/bfloat16: a scalar factor is read in float32 (half(1000) * 1e-7 is
    1000 * float32(1e-7) rounded once to the half type, not 1000 times a half-rounded 1e-7)."""
    assert SCALAR_DTYPE["float32"](3.4e-205) == 0 and float(torch.ones(1) * 3.4e-205) == 0.0
    # (x, factor): the product in float32 and with the factor rounded to the half type round apart
    for name, (x, factor) in {"float16": (1000.0, 1e-7), "bfloat16": (255.0, 1 + 3 * 2**-10)}.items():
        dtype = getattr(torch, name)
        got = float(torch.tensor([x], dtype=dtype) * factor)
        assert got == float(torch.tensor(x * float(SCALAR_DTYPE[name](factor))).to(dtype)), name
        assert got != float(torch.tensor(x * float(torch.tensor(factor).to(dtype))).to(dtype)), name
    case = Case({"input": np.zeros(2)}, {"eps": 1e-3, "margin": 3.4e-205, "swap": True, "p": 2})
    for name, scalar in SCALAR_DTYPE.items():
        r = case.rounded(name).kwargs
        assert r["eps"] == float(scalar(1e-3)) and r["margin"] == float(scalar(3.4e-205)), name
        assert r["swap"] is True and r["p"] == 2 and type(r["p"]) is int  # only floats are rounded
    assert case.rounded("float64").kwargs["margin"] == 3.4e-205


#: a masked class (logit -inf) that the target does not name: any label smoothing > 0 makes the loss inf
X, T = np.array([[-np.inf, 0.0, 1.0]]), np.array([2])


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_label_smoothing_that_vanishes_over_the_classes_is_checked_as_zero(dtype, monkeypatch):
    """torch smooths with label_smoothing / C formed in the scalar type (ATen LossNLL.cpp): 1.4e-45 / 3 is 0
    in float32, and torch's loss is inf * 0 = NaN there, where float64 (the same input) gives inf.  The case
    carries the 0 torch formed (SCALAR_RULES['label_smoothing']), to the implementation and the reference
    alike: the finite loss of no smoothing.  Without the rule the reference's smoothing 1.4e-45 / 3 > 0 gives
    inf where torch, with the value as given, returns NaN: the check fails."""
    spec, torch_ce = SPECS["cross_entropy"], builtin_subjects(SPECS["cross_entropy"])[0]
    case = Case({"input": X, "target": T}, {"label_smoothing": 1.4e-45})
    tdtype = getattr(torch, dtype)
    assert torch.isnan(F.cross_entropy(torch.tensor(X, dtype=tdtype), torch.tensor(T), label_smoothing=1.4e-45))
    assert torch.isinf(F.cross_entropy(torch.tensor(X), torch.tensor(T), label_smoothing=1.4e-45))  # float64
    assert case.rounded(dtype).kwargs["label_smoothing"] == 0.0
    assert case.rounded("float32").with_kwargs(label_smoothing=0.3).rounded("float32").kwargs["label_smoothing"] == \
        float(np.float32(0.3))  # a smoothing that does not vanish is rounded like any parameter
    check_agreement(spec, torch_ce, case, dtype, "cpu", "none", record=False)
    monkeypatch.setitem(cases.SCALAR_RULES, "label_smoothing", lambda v, c, scalar: float(scalar(v)))
    with pytest.raises(AssertionError):
        check_agreement(spec, torch_ce, case, dtype, "cpu", "none", record=False)


def test_eps_that_cancels_a_difference_in_float32_is_the_float32_eps(monkeypatch):
    """triplet_margin_loss adds eps to a - p in float32: with p = float32(1e-3), a = 0, eps = 1e-3 the sum
    is exactly 0 in torch, 4.7e-11 with a float64 eps, and the p-norm of order 0.5 turns that into an error
    of 2e-6 on a loss of 0.021 (the catalogue's triplet entry failed zero_prediction+swap so, error/bound
    10.3).  With eps as torch applies it the correct implementation agrees; without, it fails."""
    spec = SPECS["triplet_margin"]
    torch_triplet = builtin_subjects(spec)[0]
    e = float(np.float32(1e-3))
    case = Case({"anchor": np.zeros((1, 2)), "positive": np.array([[e, -0.02]]), "negative": np.zeros((1, 2))},
                {"margin": 0.004, "p": 0.5, "eps": 1e-3, "swap": True})
    assert check_agreement(spec, torch_triplet, case, "float32", "cpu", "none", record=False) < 1
    monkeypatch.setitem(SCALAR_DTYPE, "float32", np.float64)
    with pytest.raises(AssertionError, match="outside the bound"):
        check_agreement(spec, torch_triplet, case, "float32", "cpu", "none", record=False)
