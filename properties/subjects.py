"""The registry of implementations under test ("subjects").

By default each loss with a torch built-in is checked against that built-in;
later issues add third-party adapters and user plug-ins to the same registry.
A subject declares which keyword parameters it accepts (from its signature),
so a case needing a parameter it lacks is skipped with the reason, never failed.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

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
        return self.fn(*args, **kwargs)


def builtin_subjects(spec: LossSpec) -> list[Subject]:
    """The torch built-in that ``spec`` checks, if it has one."""
    if spec.torch_function is None:
        return []
    return [Subject(spec.name, "torch", spec.torch_function, resolve(spec.torch_function))]
