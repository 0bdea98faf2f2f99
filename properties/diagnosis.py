"""What every check failure says first, the contract every call is held to, and the
reproduction every failure ends with.

**The first line** of every check failure (agreement, edge case, gradient, invariant, bad input)
is one line in a fixed form, :func:`headline`::

    {qualname} {diagnosis} [{loss} {dtype} {device} {row or variant}]

where the diagnosis starts with a fixed phrase ("raises on valid input: RuntimeError: ...",
"returned shape (1,), expected (2, 2)", "edge case mse/zero_dim: ...", "violates invariant
...", "gradient outside the bound w.r.t. input ...") -- the gate's findings group failures by it.

**The contract** (:func:`run_subject`, the one call path): a call of an implementation under test on a valid input
returns, without raising, hanging or writing into its inputs, a ``torch.Tensor`` of the case's
dtype, on its device, of the expected shape.  A breach is a :class:`ContractBreach` whose message
is the diagnosis; every check family diagnoses a breach before any comparison that depends on it.

**Reproductions** (:func:`script`): complete scripts -- imports, the tensors with their exact
values, the call as a user writes it (a Module class constructed with its parameters), and
``print`` lines that show the failure (got vs expected at full precision: ``tolist()`` prints
each float's shortest round-tripping repr).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .agreement import ContractBreach, _first_line
from .cases import Case, _nested, literal
from .guard import InputMutationError
from .subjects import CallTimeout, Subject


def headline(qualname: str, diagnosis: str, loss: str, dtype: str, device: str, where: str) -> str:
    """The one-line diagnosis a check failure starts with."""
    return f"{qualname} {diagnosis} [{loss} {dtype} {device} {where}]"


# ---- the contract --------------------------------------------------------------------------

def guarded(thunk: Callable):
    """``thunk()``, a call of an implementation under test; :class:`ContractBreach` if it raised,
    hung or mutated an input (the exception it raised is the breach's ``__cause__``)."""
    try:
        return thunk()
    except ContractBreach:  # already diagnosed (a nested run_subject)
        raise
    except InputMutationError as exc:
        raise ContractBreach(f"mutates its inputs: {_first_line(exc)}") from exc
    except CallTimeout as exc:
        raise ContractBreach(f"hangs: {_first_line(exc)}") from exc
    except Exception as exc:  # a raise on valid input is a finding, reported, not a crash
        raise ContractBreach(f"raises on valid input: {type(exc).__name__}: {_first_line(exc)}") from exc


def is_raise(breach: ContractBreach) -> bool:
    """Whether the breach is a raise (the right answer where an input must be refused): not a hang,
    a mutation or a wrong result (a raise is the breach's ``__cause__``)."""
    return breach.__cause__ is not None and not isinstance(breach.__cause__, (InputMutationError, CallTimeout))


def check_returned(out, dtype: str, device: str, shape) -> None:
    """:class:`ContractBreach` unless ``out`` is a tensor of ``dtype`` on ``device`` of ``shape``."""
    import torch

    if not isinstance(out, torch.Tensor):
        raise ContractBreach(f"returned a {type(out).__name__}, expected a torch.Tensor")
    problems = []
    if out.dtype != getattr(torch, dtype):
        problems.append(f"returned dtype {out.dtype}, expected torch.{dtype}")
    if out.device.type != torch.device(device).type:
        problems.append(f"returned a tensor on {out.device}, expected {device}")
    if tuple(out.shape) != tuple(shape):
        problems.append(f"returned shape {tuple(out.shape)}, expected {tuple(shape)}")
    if problems:
        raise ContractBreach("; ".join(problems))


def returned_value(out) -> str:
    """What a call returned, in words, values at full precision (a tensor's as a nested list)."""
    import torch

    if isinstance(out, torch.Tensor):
        values = out.detach().cpu().tolist() if out.device.type != "meta" else "(no values: meta)"
        return f"a {out.dtype} tensor of shape {tuple(out.shape)} on {out.device}: {values}"
    return f"a {type(out).__name__}: {out!r}"


def run_subject(subject: Subject, args, kwargs, dtype: str | None = None, device: str | None = None,
                shape=None):
    """The one call path: every check and the audit call an implementation under test through it.

    Returns ``subject(args, kwargs)``; raises :class:`ContractBreach` if the call raised, hung or
    mutated an input (:func:`guarded`) and, when ``dtype`` is given, if the output is not a tensor of
    ``dtype`` on ``device`` of ``shape`` (:func:`check_returned`).  A caller that must tell a raise
    from a wrong output (an edge row that expects a refusal) passes no ``dtype`` and checks the
    output itself with :func:`check_returned`."""
    out = guarded(lambda: subject(args, kwargs))
    if dtype is not None:
        check_returned(out, dtype, device, shape)
    return out


# ---- reproductions -------------------------------------------------------------------------

def reference_arguments(spec, case: Case, detach: bool = False) -> str:
    """The arguments of ``refimpl.<loss>`` (or ``refimpl.grad.<loss>``) in a reproduction: the
    script's tensors as float64 NumPy (class indices as int64), the parameters as literals."""
    d = ".detach()" if detach else ""
    as_numpy = lambda k, v: f"{k}{d}.double().cpu().numpy()" if v.dtype.kind == "f" else f"{k}.cpu().numpy()"
    return ", ".join(
        [as_numpy(k, v) for k, v in case.args.items()]
        + [f"{k}={as_numpy(k, v) if isinstance(v, np.ndarray) else literal(v)}" for k, v in case.kwargs.items()]
        + [f"{k}={literal(v)}" for k, v in spec.reference_kwargs.items()])


def parts(subject: Subject, case: Case, dtype: str, device: str) -> tuple[list[str], str]:
    """``(tensor lines, call line)`` of ``subject`` on ``case``: the call line is ``out = ...``."""
    *tensors, call = subject.call_source(case, dtype, device).splitlines()
    return tensors, call


def imports(subject: Subject, *modules: str) -> str:
    names = ["torch", *([subject.callee_module] if subject.callee_module not in ("", "torch") else []), *modules]
    return "import " + ", ".join(dict.fromkeys(names))


def script(subject: Subject, case: Case, dtype: str, device: str, *, modules=(), before_call=(), after=(),
           requires_grad=(), watch: bool = True) -> str:
    """A complete reproduction: imports (torch, the subject's module, ``modules``), the tensors
    (``requires_grad``: these names get ``.requires_grad_()`` before the call), ``before_call``
    lines (a memory layout), a copy of every input, the call, which inputs it changed in place
    (``watch``; off on ``meta``, whose tensors have no values to compare), and ``after`` lines
    (what shows the failure)."""
    tensors, call = parts(subject, case, dtype, device)
    tensors = [line + ".requires_grad_()" if line.partition(" = ")[0] in requires_grad else line for line in tensors]
    given = "dict(" + ", ".join(f"{k}={k}" for k, _ in case.arrays()) + ")"
    before = [f"before = {{k: t.detach().clone() for k, t in {given}.items()}}  # to show an input changed in place"]
    changed = [f'print("changed in place:", [k for k, t in {given}.items() if t.shape != before[k].shape '
               'or not torch.allclose(t.detach(), before[k], rtol=0, atol=0, equal_nan=True)])']
    if not watch:
        before, changed = [], []
    return "\n".join([imports(subject, *modules), *tensors, *before_call, *before, call, *changed, *after])


def shown_output(dtype: str, device: str, shape: str | None) -> list[str]:
    """Lines that print what the call returned against the contract (``shape``: source of the
    expected shape; None: no contract line) and its values at full precision."""
    contract = [] if shape is None else [f'print("contract:  Tensor torch.{dtype} {device}", {shape})']
    return ['print("returned: ", type(out).__name__, getattr(out, "dtype", None), getattr(out, "device", None), '
            'tuple(getattr(out, "shape", ())))', *contract,
            'print("got:      ", torch.as_tensor(out).tolist())']


def gradient_lines(spec, case: Case, names, grad_output: float = 1.0) -> list[str]:
    """After the call (``names`` created with ``requires_grad_()``): backward with an upstream
    gradient of the output's shape, and autograd's gradient next to the analytic one."""
    if np.ndim(grad_output):
        first = f"grad = torch.tensor({array_source(grad_output)}, dtype=torch.float64).to(out)  # the upstream gradient"
    else:
        first = f"grad = torch.full_like(out, {float(grad_output)!r})  # the upstream gradient, shaped like the output"
    lines = [first,
             "out.backward(grad)",
             f"analytic = refimpl.grad.{spec.name}({reference_arguments(spec, case, detach=True)}, "
             "grad_output=grad.double().cpu().numpy())"]
    for n in names:  # no gradient reaching an input (grad None) is a zero gradient, as the check compares it
        lines += [f'print("autograd d/d{n}:", ({n}.grad if {n}.grad is not None else torch.zeros_like({n})).tolist())',
                  f'print("analytic d/d{n}:", analytic[{n!r}].tolist())']
    return lines


def array_source(a) -> str:
    """A float64 array (or number) as the source of a nested list (non-finite values included)."""
    return _nested(np.asarray(a, dtype=np.float64).tolist())
