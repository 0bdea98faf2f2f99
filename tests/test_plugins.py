"""Loading plug-ins (``properties.plugins``): the --impl syntax, functions and nn.Module classes,
and a one-line diagnosis (never an exception) for each way a plug-in can be broken."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from properties import plugins
from properties.specs import SPECS


@pytest.fixture
def fake_module(monkeypatch):
    mod = types.ModuleType("lossproof_fake_plugin")
    mod.mse = lambda input, target, reduction="mean": torch.nn.functional.mse_loss(input, target, reduction=reduction)
    mod.MSE = torch.nn.MSELoss
    mod.number = 3
    mod.NotAModule = type("NotAModule", (), {})
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod.__name__


def test_parse_accepts_repeated_and_comma_separated_values():
    got = plugins.parse(["mse=a:f", "focal=b:g, dice=c:D"], list(SPECS))
    assert got == {"mse": ["a:f"], "focal": ["b:g"], "dice": ["c:D"]}


@pytest.mark.parametrize("value, message", [("mse", "expected LOSS=MODULE:ATTR"), ("mse=mod.f", "expected"),
                                            ("msee=a:f", "unknown loss 'msee'")])
def test_parse_rejects_malformed_values(value, message):
    with pytest.raises(ValueError, match=message):
        plugins.parse([value], list(SPECS))


def test_function_and_module_class_are_called_with_the_contract(fake_module):
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
    fn, cls = plugins.load("mse", f"{fake_module}:mse"), plugins.load("mse", f"{fake_module}:MSE")
    assert fn.broken is None and cls.broken is None
    assert float(fn([x, y], {"reduction": "sum"})) == 5.0
    assert float(cls([x, y], {"reduction": "sum"})) == 5.0  # MSELoss(reduction='sum')(x, y)
    assert fn.missing_params(["reduction", "weight"]) == ["weight"]
    assert cls.missing_params(["reduction"]) == []  # read from the class's __init__


@pytest.mark.parametrize("attr, diagnosis", [
    ("nosuch_module_xyz:f", "cannot import 'nosuch_module_xyz': ModuleNotFoundError"),
    ("{m}:missing", "has no attribute 'missing'"),
    ("{m}:number", "is a int, not callable"),
    ("{m}:NotAModule", "not an nn.Module subclass"),
])
def test_broken_plugin_gets_a_one_line_diagnosis(fake_module, attr, diagnosis):
    subject = plugins.load("mse", attr.format(m=fake_module))
    assert subject.broken is not None and diagnosis in subject.broken and "\n" not in subject.broken


def test_a_hanging_call_times_out_once(fake_module, monkeypatch):
    import time

    from properties.subjects import CallTimeout

    monkeypatch.setenv("LOSSPROOF_TIMEOUT", "0.2")
    sys.modules[fake_module].slow = lambda input, target, reduction="mean": time.sleep(30)
    subject = plugins.load("mse", f"{fake_module}:slow")
    start = time.monotonic()
    with pytest.raises(CallTimeout, match="did not return within 0.2 s"):
        subject([torch.zeros(1), torch.zeros(1)], {})
    with pytest.raises(CallTimeout):  # not called again
        subject([torch.zeros(1), torch.zeros(1)], {})
    assert time.monotonic() - start < 5


def test_a_parameter_at_the_contracts_default_is_left_out_for_a_plugin_without_it():
    """``weight=None`` / ``reduction='mean'`` need no parameter: the call leaves them out (both sides
    use the default); a non-default value is a missing parameter (the case is skipped)."""
    from properties.subjects import Subject

    seen = []

    def mse(input, target):
        seen.append(True)
        return ((input - target) ** 2).mean()

    subject = Subject("mse", "impl", "m.mse", mse, origin="plugin")
    x = torch.ones(2)
    assert subject.missing_params({"weight": None, "reduction": "mean"}) == []
    assert subject.missing_params({"weight": x, "reduction": "sum"}) == ["weight", "reduction"]
    assert subject.missing_params(["weight"]) == ["weight"]  # a name alone: the parameter is needed
    assert float(subject((x, x), {"weight": None, "reduction": "mean"})) == 0.0 and seen


def test_reproduction_of_a_module_class_constructs_it(fake_module):
    import numpy as np

    from properties.cases import Case

    subject = plugins.load("mse", f"{fake_module}:MSE")
    src = subject.call_source(Case({"input": np.zeros(2), "target": np.ones(2)}, {"reduction": "sum"}),
                              "float32", "cpu")
    assert src.splitlines()[-1] == f"out = {fake_module}.MSE(reduction='sum').to('cpu')(input, target)"
    namespace = {}
    exec(f"import torch, sys\n{fake_module} = sys.modules[{fake_module!r}]\n" + src, namespace)
    assert float(namespace["out"]) == 2.0
