"""The registry of implementations under test ("subjects").

Where subjects come from (``origin``):

- ``builtin``    -- the torch function each loss checks (``LossSpec.torch_function``);
- ``thirdparty`` -- adapters for third-party libraries (``properties.adapters``: MONAI, kornia,
                    torchvision, ...), present when the library imports;
- ``plugin``     -- a user's implementation named with ``pytest --impl LOSS=MODULE:ATTR``
                    (``properties.plugins``): when any is given, the run checks those only;
- ``reference``  -- the float64 reference wrapped as a torch function (``reference_subject``).

``subjects_for(spec)`` is what the tests are parametrized over: the built-in and the installed
adapters by default, the plug-ins of ``spec``'s loss (and nothing else) in a gate run
(``configure``).  A subject declares what it accepts -- keyword parameters (from its
signature), dtypes, variants of the spec, an input domain -- and ``unsupported`` says why a
case is outside that (the test is skipped with the reason, and the coverage summary counts it).
Every call goes through the input-mutation guard (``properties.guard``) and, for adapters and
plug-ins, a per-call timeout.
"""

from __future__ import annotations

import importlib
import inspect
import os
import signal
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from . import tally
from .formats import DTYPE_NAMES
from .guard import guarded_call
from .known import find
from .spec import LossSpec

#: Seconds one call of an adapter or plug-in may take (``--impl-timeout`` / LOSSPROOF_TIMEOUT).
DEFAULT_TIMEOUT = 20.0


_NO_DEFAULT = object()  # a parameter without a default, or a value that is not one


class CallTimeout(AssertionError):
    """An implementation under test did not return within its per-call timeout."""


def resolve(dotted: str) -> Callable:
    """Import ``pkg.module.attr`` (the last component is an attribute)."""
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)




@dataclass(frozen=True)
class Subject:
    """One implementation of one loss, callable as ``subject(args, kwargs)``.

    loss, name:  the loss and a short id for test ids (``torch``, ``monai``, ``impl``);
    qualname:    what a reproduction calls (``torch.nn.functional.cross_entropy``);
    fn:          the callable (tensors positional, parameters by keyword);
    origin:      builtin / thirdparty / plugin / reference (see the module docstring);
    signature:   the callable whose signature lists the accepted parameters (default ``fn``;
                 a Module class's ``__init__`` for a plug-in class);
    dtypes, variants: what it is checked in / on (others are skipped with ``limits``);
    admits:      ``admits(case) -> bool``: the input domain where it implements the contract
                 (an adapter's translated conventions hold); other cases are skipped;
    limits:      why dtypes / variants / cases are excluded, in words;
    conventions: what an adapter translates (README, coverage summary);
    timeout:     seconds per call (None: no limit, the torch built-ins);
    broken:      a one-line diagnosis when the subject could not be loaded (plug-ins);
    source:      what a reproduction calls, when not ``qualname`` (an adapter's translating function);
    case_deviations: recorded known deviations of this subject on a region of generated cases
                 (``properties.known.CaseDeviation``), where no fixed row can name them.
    labels:      arguments it defines on a label set only and extends by a convention of its own (MONAI
                 focal's targets: p_t for labels 0 and 1): its values are compared where they coincide
                 with the contract's (``admits``), its derivatives w.r.t. them are not (``gradients``).
    declared:    the conventions and API limits a plug-in declares (``properties.conventions``,
                 :class:`~properties.conventions.Declared`): the checks compare against the reference
                 under them; a ``fixed:PARAM=VALUE`` makes VALUE the default the call leaves out, a
                 ``tied:`` parameter is never passed, ``targets=01`` maps the labels in every call.
    """

    loss: str
    name: str
    qualname: str
    fn: Callable | None
    origin: str = "builtin"
    signature: Callable | None = None
    dtypes: tuple[str, ...] = DTYPE_NAMES
    variants: tuple[str, ...] | None = None
    admits: Callable | None = None
    limits: str = ""
    conventions: str = ""
    timeout: float | None = None
    broken: str | None = None
    source: str | None = None
    case_deviations: tuple = ()
    declared: tuple = ()
    labels: tuple[str, ...] = ()
    _state: dict = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def _params(self):
        try:
            params = inspect.signature(self.signature or self.fn).parameters.values()
        except (TypeError, ValueError):  # builtins without a signature: assume complete
            return None
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params}

    @property
    def callee(self) -> str:
        """The dotted name a reproduction calls."""
        return self.source or self.qualname

    @property
    def callee_module(self) -> str:
        return self.callee.rpartition(".")[0]

    def case_deviation(self, check: str, case, dtype: str, device: str | None = None):
        """The recorded deviation (``properties.known``) of this subject that covers ``case`` in a
        ``check`` ("agreement", "gradient") in ``dtype`` on ``device`` (None: any), or None."""
        return find(self.case_deviations, check=check, dtype=dtype, case=case, device=device)

    @property
    def allows_known_deviations(self) -> bool:
        """A plug-in may show a recorded known deviation (it is allowed, not required); the
        built-ins and adapters it is recorded for must still show it (the record is tested)."""
        return self.origin == "plugin"

    @cached_property
    def _contract_defaults(self) -> dict:
        """The contract's default of each keyword parameter (the reference's signature)."""
        from .specs import SPECS

        spec = SPECS.get(self.loss)
        if spec is None:
            return {}
        defaults = {p.name: p.default for p in inspect.signature(spec.reference).parameters.values()
                    if p.default is not inspect.Parameter.empty}
        for d in self.declared:  # fixed:PARAM=VALUE: the plug-in's own default, left out of the call
            defaults.update(d.fixes)
        return defaults

    @cached_property
    def _hidden(self) -> frozenset:
        """Parameters a declaration takes out of every call (``tied:A=B``: A is B's value)."""
        return frozenset(n for d in self.declared for n in d.hidden)

    def _at_default(self, name, value) -> bool:
        default = self._contract_defaults.get(name, _NO_DEFAULT)
        if default is _NO_DEFAULT or value is _NO_DEFAULT:
            return False
        if default is None or value is None:
            return value is None and default is None
        try:
            return bool(type(value) is type(default) and value == default)
        except Exception:  # arrays, tensors: never "the default"
            return False

    def lacking(self, names) -> list[str]:
        """The parameters among ``names`` this subject does not accept (none for a ``**kwargs``
        signature or one that cannot be read)."""
        if self._params is None:
            return []
        return [n for n in names if n not in self._params]

    def missing_params(self, params) -> list[str]:
        """The keyword parameters this subject does not accept, among ``params`` (names, or a
        ``{name: value}`` mapping: a parameter at the contract's default -- ``weight=None``,
        ``reduction='mean'`` -- is not missing; the call leaves it out and both sides use the default)."""
        if self._params is None:
            return []
        values = params if isinstance(params, dict) else dict.fromkeys(params, _NO_DEFAULT)
        return [n for n, v in values.items()
                if n not in self._params and n not in self._hidden and not self._at_default(n, v)]

    def call_kwargs(self, kwargs: dict) -> dict:
        """``kwargs`` without the parameters this subject lacks that are at the contract's default
        (or at a declared ``fixed:`` value) and without those a declaration takes out (``tied:``)."""
        if self._params is None:
            return {k: v for k, v in kwargs.items() if k not in self._hidden}
        return {k: v for k, v in kwargs.items()
                if k not in self._hidden and (k in self._params or not self._at_default(k, v))}

    def call_source(self, case, dtype: str, device: str) -> str:
        """Source that builds ``case``'s tensors and calls this subject as a user would (a Module
        class constructed with the parameters); the reproduction in every failure message."""
        from .cases import Case

        fitted = Case(case.args, self.call_kwargs(case.kwargs), case.layouts)
        *tensors, call = fitted.call_source(self.callee, dtype, device, module=inspect.isclass(self.signature)).splitlines()
        mapped = [line for d in self.declared for line in d.source_lines()]  # targets=01: the labels as called
        return "\n".join([*tensors, *mapped, call])

    def unsupported(self, *, dtype: str | None = None, variant: str | None = None, case=None,
                    params=()) -> str | None:
        """Why this subject is not checked on (dtype, variant, case, keyword ``params``), or None."""
        if dtype is not None and dtype not in self.dtypes:
            return f"{self.qualname} is not checked in {dtype}: {self.limits}"
        if variant is not None and self.variants is not None and variant not in self.variants:
            return f"{self.qualname} is not checked on variant {variant!r}: {self.limits}"
        wanted = {**dict.fromkeys(params, _NO_DEFAULT), **(dict(case.kwargs) if case is not None else {})}
        missing = self.missing_params(wanted)
        if missing:
            return f"{self.qualname} has no parameter(s) {missing}"
        if case is not None and self.admits is not None and not self.admits(case):
            return f"case outside the domain where {self.qualname} implements the contract: {self.limits}"
        return None

    def __call__(self, args, kwargs):
        """Call the implementation; :class:`properties.guard.InputMutationError` if it mutated an
        input, :class:`CallTimeout` if it ran past its timeout (every later call then fails at once).
        Parameters it does not accept are left out when they are at the contract's default."""
        kwargs = self.call_kwargs(kwargs)
        for d in self.declared:  # targets=01: the labels as the plug-in takes them
            args = d.map_args(args)
        tally.called()
        if self.timeout is None:
            return guarded_call(self.fn, args, kwargs, self.qualname)
        if "hung" in self._state:
            raise CallTimeout(self._state["hung"])
        with _deadline(self.timeout, self._state, self.qualname):
            return guarded_call(self.fn, args, kwargs, self.qualname)


class _deadline:
    """SIGALRM after ``seconds`` (main thread on POSIX; elsewhere no limit): a hang becomes a
    :class:`CallTimeout`, recorded in ``state`` so the subject is not called again."""

    def __init__(self, seconds: float, state: dict, label: str):
        self.seconds, self.state, self.label = seconds, state, label
        self.active = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()

    def _fire(self, signum, frame):
        msg = f"{self.label} did not return within {self.seconds:g} s (hangs?); it is not called again in this run"
        self.state["hung"] = msg
        raise CallTimeout(msg)

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def builtin_subjects(spec: LossSpec) -> list[Subject]:
    """The torch built-in that ``spec`` checks, if it has one."""
    if spec.torch_function is None:
        return []
    return [Subject(spec.name, "torch", spec.torch_function, resolve(spec.torch_function),
                    case_deviations=spec.builtin_deviations)]


# ---- the active registry -----------------------------------------------------------------

_PLUGINS: dict[str, list[Subject]] | None = None  # None: the default registry


def configure(plugins: dict[str, list[Subject]] | None) -> None:
    """Set the gate's plug-ins (``{loss: [Subject, ...]}``), or None for the default registry.
    Called by the pytest plugin before collection."""
    global _PLUGINS
    _PLUGINS = plugins


def gate_mode() -> bool:
    """Whether this run checks user plug-ins (``--impl``) instead of the default subjects."""
    return _PLUGINS is not None


def plugin_subjects(spec: LossSpec | None = None) -> list[Subject]:
    """The plug-ins of ``spec``'s loss (all of them when ``spec`` is None), broken ones included."""
    if _PLUGINS is None:
        return []
    if spec is None:
        return [s for subjects in _PLUGINS.values() for s in subjects]
    return list(_PLUGINS.get(spec.name, []))


def subjects_for(spec: LossSpec) -> list[Subject]:
    """The implementations the tests check for ``spec``: the loadable plug-ins in a gate run;
    otherwise the torch built-in and the adapters of the installed third-party libraries."""
    if _PLUGINS is not None:
        return [s for s in plugin_subjects(spec) if s.broken is None]
    from .adapters import thirdparty_subjects

    return builtin_subjects(spec) + thirdparty_subjects(spec)


def timeout_seconds() -> float:
    return float(os.environ.get("LOSSPROOF_TIMEOUT", DEFAULT_TIMEOUT))


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
    return Subject(spec.name, "refimpl", f"refimpl.{spec.name}", call, origin="reference")
