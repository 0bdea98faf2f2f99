"""Bad-input tables: for every loss, invalid calls that an implementation must refuse.

Each row changes one thing in a small valid call of the loss (``VALID``): a wrong
reduction string, mismatched shapes, a class index out of range, a parameter
outside its domain ...  The test (``tests/gate/test_bad_inputs.py``) checks, for every
implementation under test, that the valid call succeeds and the changed one
raises -- for torch, the exception type torch raises (``torch_raises``); for the
reference, a ``ValueError`` whose message contains ``message``.  Where torch
accepts an invalid call silently, ``torch_raises`` is None and the row names the
recorded known deviation (a ``KnownFailure``); the test asserts torch still accepts it.  Where a
row gives ``torch_message``, torch's own functions must raise with that text (the broadcasting
refusals of ``properties.broadcast.CONTRACT``, word for word).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .agreement import ContractBreach
from .cases import Case
from .diagnosis import headline, run_subject, is_raise, returned_value, script, shown_output
from .edge_cases.row import find_known_failure
from .known import KnownDeviation, KnownFailure
from .subjects import Subject

A = np.array
TORCH_F = "torch.nn.functional."

X = A([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
P = A([[0.5, 0.25, 0.75], [0.125, 1.0, 0.0]])
T01 = A([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]])
PM = A([1.0, -1.0])


@dataclass(frozen=True)
class BadInput:
    loss: str
    name: str
    change: Callable[[Case], Case]
    torch_raises: type | tuple | None  # None: torch accepts it (see known_failures)
    message: str  # part of the reference's ValueError message
    known_failures: tuple[KnownDeviation, ...] = ()
    #: part of torch's own message, checked on torch's functions ('' for none): where torch's refusal
    #: is part of the contract in words (BCE's of a broadcastable target, mse's of a weight of another shape)
    torch_message: str = ""

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"

    def case(self) -> Case:
        from .bad_inputs import VALID

        return self.change(VALID[self.loss])

    def known_failure(self, qualname: str) -> KnownDeviation | None:
        return find_known_failure(self.known_failures, qualname)


def kw(**kwargs) -> Callable[[Case], Case]:
    return lambda case: case.with_kwargs(**kwargs)


def arg(name: str, fn) -> Callable[[Case], Case]:
    return lambda case: Case({**case.args, name: fn(case.args[name])}, case.kwargs)


#: fvcore's functions (properties/adapters/fvcore.py), by loss: they accept any reduction string
FVCORE = {"smooth_l1": ("fvcore.nn.smooth_l1_loss",), "focal": ("fvcore.nn.sigmoid_focal_loss",)}


def accepts(deviation: str, function: str) -> dict:
    """A row torch accepts: the recorded known deviation of ``torch.nn.functional.<function>``."""
    return {"torch_raises": None, "known_failures": (KnownFailure(deviation, TORCH_F + function),)}


def broadcast_refusal(contract, target_shape, input_shape) -> str:
    """torch's message refusing a target of ``target_shape`` against an input of ``input_shape``
    (``contract``: the loss's ``LossSpec.broadcast``, ``("refuses", template)``)."""
    size = lambda shape: f"torch.Size({list(shape)})"
    return contract[1].format(t=size(target_shape), x=size(input_shape))


def _generic_rows(losses) -> list[BadInput]:
    """The rows every loss gets."""
    return [BadInput(loss, "reduction_avg", kw(reduction="avg"), ValueError, "reduction",
                     known_failures=tuple(KnownFailure("fvcore_invalid_reduction_accepted", q) for q in FVCORE.get(loss, ())))
            for loss in losses]


def __getattr__(name: str):
    """Gathered from the units (``properties/specs/<loss>.py``) on first use -- the units import this
    module's row type.  ``VALID``: loss -> its valid call (``VALID_CALL``); ``BAD_INPUTS``: loss -> its
    rows (the generic ones, then its unit's ``BAD_INPUTS``); ``ROWS``: all of them."""
    if name in ("VALID", "BAD_INPUTS", "ROWS"):
        from .specs import UNITS

        generic = _generic_rows(UNITS)
        bad = {loss: [r for r in generic if r.loss == loss] + unit.BAD_INPUTS for loss, unit in UNITS.items()}
        globals().update(VALID={loss: unit.VALID_CALL for loss, unit in UNITS.items()}, BAD_INPUTS=bad,
                         ROWS=[r for rows in bad.values() for r in rows])
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class BadInputFailure(AssertionError):
    pass


def check_bad_input(row: BadInput, subject: Subject, dtype: str, device: str, *, reference: bool = False) -> None:
    """The valid call of ``row.loss`` keeps the contract and ``row``'s call raises (the type torch
    raises, for torch; a ValueError naming the problem, for the reference), mutating nothing."""
    from .bad_inputs import VALID
    from .specs import SPECS

    base, bad = VALID[row.loss], row.case()
    first = lambda diagnosis: headline(subject.qualname, diagnosis, row.loss, dtype, device, row.name)

    def failure(diagnosis: str, detail: str, case: Case, shows) -> BadInputFailure:
        return BadInputFailure(f"{first(diagnosis)}\nbad input {row.id}: {detail}\nReproduce:\n"
                               + script(subject, case, dtype, device, after=shows))

    with warnings.catch_warnings():  # torch warns before refusing some shapes
        warnings.simplefilter("ignore", UserWarning)
        args, kwargs = base.to_torch(dtype, device)
        shape = np.shape(SPECS[row.loss].call_reference(base))
        try:
            run_subject(subject, args, kwargs, dtype, device, shape)
        except ContractBreach as exc:
            raise failure(str(exc), f"on the valid call every row changes one thing in: {base!r}", base,
                          shown_output(dtype, device, repr(shape))) from exc.__cause__
        args, kwargs = bad.to_torch(dtype, device)
        try:
            out = run_subject(subject, args, kwargs)
        except ContractBreach as exc:
            if not is_raise(exc):  # a mutation or a hang is no refusal
                raise failure(str(exc), f"the invalid call {bad!r}", bad, []) from exc.__cause__
            raised = exc.__cause__
            expected = ValueError if reference else (row.torch_raises if subject.qualname.startswith("torch.")
                                                     else Exception)
            if expected is None or not isinstance(raised, expected):
                name = getattr(expected, "__name__", expected)
                raise failure(f"refuses invalid input {row.id} with the wrong exception: {type(raised).__name__}, "
                              f"expected {name}", f"the invalid call {bad!r} raised {type(raised).__name__}: {raised}",
                              bad, []) from raised
            if (not reference and row.torch_message and subject.qualname.startswith("torch.")
                    and row.torch_message not in str(raised)):
                raise failure(f"refuses invalid input {row.id} with another message than torch's contract: "
                              f"expected {row.torch_message!r}", f"the message is {str(raised)!r}", bad, []) from raised
            text = str(raised.__cause__ or raised) if reference else ""
            if reference and row.message not in text:
                raise failure(f"refuses invalid input {row.id} without naming the problem: the message should "
                              f"mention {row.message!r}", f"the message is {text!r}", bad, []) from raised
            return
    raise failure(f"accepts invalid input: {row.id} (returned without raising)",
                  f"accepted the invalid call {bad!r} (expected it to raise) and returned {returned_value(out)}", bad,
                  [*shown_output(dtype, device, None), 'print("expected:  an exception")'])
