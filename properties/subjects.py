"""The registry of implementations under test ("subjects").

By default each loss with a torch built-in is checked against that built-in;
later issues add third-party adapters and user plug-ins to the same registry.
A subject declares which keyword parameters it accepts (from its signature),
so a case needing a parameter it lacks is skipped with the reason, never failed.
Every call goes through the input-mutation guard (``properties.guard``).

``reference_subject(spec)`` wraps the float64 reference as a torch-in, torch-out
implementation (the result rounded once to the input's dtype): the tables of
edge cases and bad inputs run against it as they run against torch, and the
tests that show each check able to fail start from it.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from .guard import guarded_call
from .spec import LossSpec


def resolve(dotted: str) -> Callable:
    """Import ``pkg.module.attr`` (the last component is an attribute)."""
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Subject:
    loss: str
    name: str  # short id: "torch"
    qualname: str  # what a reproduction calls: "torch.nn.functional.cross_entropy"
    fn: Callable

    @cached_property
    def _params(self):
        try:
            params = inspect.signature(self.fn).parameters.values()
        except (TypeError, ValueError):  # builtins without a signature: assume complete
            return None
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params}

    def missing_params(self, names) -> list[str]:
        """The keyword parameters in ``names`` this subject does not accept."""
        return [] if self._params is None else [n for n in names if n not in self._params]

    def __call__(self, args, kwargs):
        """Call the implementation; :class:`properties.guard.InputMutationError` if it mutated an input."""
        return guarded_call(self.fn, args, kwargs, self.qualname)


def builtin_subjects(spec: LossSpec) -> list[Subject]:
    """The torch built-in that ``spec`` checks, if it has one."""
    if spec.torch_function is None:
        return []
    return [Subject(spec.name, "torch", spec.torch_function, resolve(spec.torch_function))]


def reference_subject(spec: LossSpec) -> Subject:
    """The reference as a torch function: tensors to float64 NumPy, ``spec.reference`` (with
    its ``reference_kwargs``), the result as a tensor of the first floating input's dtype and device."""
    import torch

    def call(*args, **kwargs):
        floats = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor) and a.is_floating_point()]
        dtype, device = (floats[0].dtype, floats[0].device) if floats else (torch.float64, torch.device("cpu"))
        conv = lambda v: v.detach().to("cpu").numpy() if isinstance(v, torch.Tensor) and not v.is_floating_point() else (
            v.detach().to("cpu", torch.float64).numpy() if isinstance(v, torch.Tensor) else v)
        out = spec.reference(*map(conv, args), **{**spec.reference_kwargs, **{k: conv(v) for k, v in kwargs.items()}})
        return torch.from_numpy(np.array(out, dtype=np.float64)).to(device=device, dtype=dtype)

    call.__name__ = spec.name
    call.__signature__ = inspect.signature(spec.reference)
    return Subject(spec.name, "refimpl", f"refimpl.{spec.name}", call)
