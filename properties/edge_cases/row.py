"""One row of an edge-case table, and the runner that checks an implementation on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from ..agreement import reproduction
from ..cases import Case
from ..formats import DTYPE_NAMES, FORMATS, FloatFormat
from ..guard import InputMutationError
from ..spec import LossSpec
from ..subjects import Subject
from .expect import Context, Expectation


class EdgeCaseFailure(AssertionError):
    pass


@dataclass(frozen=True)
class Layout:
    """Present the same values with another memory layout (strides, storage offset).

    ``prepare``: what the values become (NumPy; e.g. ``expanded`` repeats the first row,
    as a stride-0 tensor can only hold repeated values); ``apply``: the tensor with the
    layout (same values as ``torch.from_numpy(prepare(v))``); ``source``: the same as code,
    for the reproduction; ``min_ndim``: arrays with fewer dimensions are left alone."""

    name: str
    apply: Callable
    source: str
    min_ndim: int = 1
    prepare: Callable[[np.ndarray], np.ndarray] = lambda v: v

    def applies(self, v: np.ndarray) -> bool:
        return v.ndim >= self.min_ndim and v.size > 0


@dataclass(frozen=True)
class KnownFailure:
    """``subject`` (qualname) is known to fail this row: recorded known deviation ``deviation``
    (a key of ``properties/known_deviations.toml``).  The test asserts it still fails."""

    deviation: str
    subject: str
    dtypes: tuple[str, ...] = DTYPE_NAMES


def find_known_failure(known_failures, qualname: str, dtype: str | None = None) -> KnownFailure | None:
    """The recorded known failure of subject ``qualname`` (in ``dtype``, if given), or None."""
    return next((k for k in known_failures if k.subject == qualname and (dtype is None or dtype in k.dtypes)), None)


@dataclass(frozen=True)
class EdgeCase:
    """One row: a named input (a fixed :class:`Case`, or ``inputs(fmt)`` giving a Case or a
    strategy of them), the expected behaviour as a predicate, and where that expectation
    comes from (``why``: the mathematics or the documented semantics of the mirrored function)."""

    loss: str
    name: str
    inputs: Case | Callable[[FloatFormat], Case | st.SearchStrategy]
    expect: Expectation
    why: str
    dtypes: tuple[str, ...] = DTYPE_NAMES
    layout: Layout | None = None
    known_failures: tuple[KnownFailure, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"

    def strategy(self, fmt: FloatFormat) -> st.SearchStrategy:
        got = self.inputs(fmt) if callable(self.inputs) else self.inputs
        return got if isinstance(got, st.SearchStrategy) else st.just(got)

    @property
    def fixed(self) -> bool:
        """A fixed input needs one run, not a Hypothesis search."""
        return isinstance(self.inputs, Case)

    def known_failure(self, subject: Subject, dtype: str) -> KnownFailure | None:
        return find_known_failure(self.known_failures, subject.qualname, dtype)


def prepared(row: EdgeCase, case: Case, dtype: str) -> Case:
    """The case as the implementation sees it: layout's values, rounded to ``dtype``."""
    if row.layout is not None:
        case = Case({k: row.layout.prepare(v) if row.layout.applies(v) else v for k, v in case.args.items()},
                    case.kwargs)
    return case.rounded(dtype)


def edge_call_args(row: EdgeCase, case: Case, dtype: str, device: str):
    """``(args, kwargs)``: the tensors of the prepared ``case`` as the row presents them (its layout)."""
    args, kwargs = case.to_torch(dtype, device)
    if row.layout is not None:
        args = [row.layout.apply(a) if row.layout.applies(v) else a for a, v in zip(args, case.args.values())]
    return args, kwargs


def run_edge_case(row: EdgeCase, spec: LossSpec, subject: Subject, dtype: str, device: str, case: Case) -> None:
    """Check ``subject`` on ``case`` of ``row``; raise :class:`EdgeCaseFailure` with the details."""
    import torch

    case = prepared(row, case, dtype)
    ctx = Context(spec, case, FORMATS[dtype])
    header = (f"edge case {row.id} [{subject.qualname}, {dtype}, {device}]: expected {row.expect} ({row.why})\n"
              f"case: {case!r}\n")
    repro = "\nReproduce:\n" + reproduction(spec, subject, case, dtype, device)
    args, kwargs = edge_call_args(row, case, dtype, device)
    if row.layout is not None:
        repro = repro.replace("\nout = ", f"\n# layout {row.layout.name}: each positional tensor t -> {row.layout.source}"
                                          f"\nout = ", 1)
    must_raise = row.expect.must_raise(ctx)
    try:
        out = subject(args, kwargs)
    except InputMutationError as exc:
        raise EdgeCaseFailure(f"{header}{exc}{repro}") from exc
    except Exception as exc:
        if must_raise:
            return
        raise EdgeCaseFailure(f"{header}raised {type(exc).__name__}: {exc}{repro}") from exc
    if not isinstance(out, torch.Tensor):
        raise EdgeCaseFailure(f"{header}returned {type(out).__name__}, expected a torch.Tensor{repro}")
    if must_raise:
        raise EdgeCaseFailure(f"{header}returned {out!r} instead of raising{repro}")
    problems = []
    if out.dtype != getattr(torch, dtype):
        problems.append(f"dtype {out.dtype}, expected torch.{dtype}")
    if out.device.type != torch.device(device).type:
        problems.append(f"device {out.device}, expected {device}")
    problem = row.expect.check(out.detach().to("cpu", torch.float64).numpy(), ctx)
    if problem:
        problems.append(problem)
    if problems:
        raise EdgeCaseFailure(header + "; ".join(problems) + repro)


def known_for(known_failures, subject: Subject, dtype: str | None = None) -> KnownFailure | None:
    """The known failure that applies to ``subject``: its own record; for a plug-in (which may
    show any recorded deviation, not must) the first record of the row in ``dtype``."""
    if subject.allows_known_deviations:
        return next((k for k in known_failures if dtype is None or dtype in k.dtypes), None)
    return find_known_failure(known_failures, subject.qualname, dtype)
