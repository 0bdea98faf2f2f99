"""One row of an edge-case table, and the runner that checks an implementation on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hypothesis import strategies as st

from ..agreement import ContractBreach
from ..cases import Case
from ..conventions import row_under
from ..diagnosis import check_returned, headline, run_subject, is_raise, returned_value, script, shown_output
from ..formats import DTYPE_NAMES, FloatFormat
from ..known import KnownDeviation, find
from ..layouts import Layout
from ..spec import LossSpec
from ..subjects import Subject
from .expect import Context, Expectation


class EdgeCaseFailure(AssertionError):
    pass




def find_known_failure(known_failures, qualname: str, dtype: str | None = None, case: Case | None = None):
    """The recorded known deviation of subject ``qualname`` among a row's (in ``dtype``, if given; on
    ``case``, if given), or None (``properties.known.find``)."""
    return find(known_failures, subject=qualname, dtype=dtype, case=case)


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
    known_failures: tuple[KnownDeviation, ...] = ()
    #: the (edge condition, parameter variant) pair a row built by crossing reaches
    #: (``properties.edge_cases.crossed``); "" for a hand-written row
    condition: str = ""
    variant: str = ""

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

    def known_failure(self, subject: Subject, dtype: str) -> KnownDeviation | None:
        return find_known_failure(self.known_failures, subject.qualname, dtype)


def prepared(row: EdgeCase, case: Case, dtype: str) -> Case:
    """The case as the implementation sees it, rounded to ``dtype``: a layout row's case with every
    positional tensor its shape allows in the row's layout (``Case.laid_out``: its values prepared
    for it)."""
    if row.layout is not None:  # the keyword tensors keep the layouts drawn for them
        drawn = {k: v for k, v in case.layouts.items() if k in case.kwargs}
        case = case.laid_out({**drawn, **{k: row.layout.name for k, v in case.args.items() if row.layout.applies(v)}})
    return case.rounded(dtype)


def edge_call_args(row: EdgeCase, case: Case, dtype: str, device: str):
    """``(args, kwargs)``: the tensors of the prepared ``case``, each in its layout."""
    return case.to_torch(dtype, device)


def run_edge_case(row: EdgeCase, spec: LossSpec, subject: Subject, dtype: str, device: str, case: Case) -> None:
    """Check ``subject`` on ``case`` of ``row``; raise :class:`EdgeCaseFailure` whose first line is
    the diagnosis: a contract breach (a raise where the row does not ask for one, a wrong type,
    dtype, device or shape) before any value comparison, else what the row expected and what
    came back (``Expectation.check``), then the row's reason, the case and a reproduction."""
    import torch

    case = prepared(row, case, dtype)
    # a plug-in's declared conventions: its spec in this dtype, and the row under them
    spec, row = row_under(spec, subject, row, case, dtype)
    ctx = Context(spec, case, spec.fmt(dtype))
    must_raise = row.expect.must_raise(ctx)
    args, kwargs = edge_call_args(row, case, dtype, device)

    def failure(diagnosis: str, detail: str = "", shape=None) -> EdgeCaseFailure:
        if must_raise:
            shows = [*shown_output(dtype, device, None), 'print("expected:  an exception")']
        else:
            shows = [*shown_output(dtype, device, repr(shape)), *row.expect.expected_lines(ctx)]
        repro = script(subject, case, dtype, device, after=shows,
                       modules=("refimpl",) if any("refimpl." in line for line in shows) else ())
        details = f"{detail}\n" if detail else ""
        return EdgeCaseFailure(f"{headline(subject.qualname, diagnosis, spec.name, dtype, device, row.name)}\n"
                               f"edge case {row.id} checks: {row.expect}, because {row.why}\ncase: {case!r}\n"
                               f"{details}Reproduce:\n{repro}")

    try:
        out = run_subject(subject, args, kwargs)
    except ContractBreach as exc:
        if must_raise and is_raise(exc):
            return
        raise failure(str(exc), shape=None if must_raise else row.expect.shape(ctx)) from exc.__cause__
    if must_raise:
        try:
            ctx.result
            refuses = ""
        except ValueError as exc:
            refuses = f"\nthe reference refuses this input: {exc}"
        raise failure(f"returns without raising where it must raise: edge case {row.id}",
                      f"returned {returned_value(out)}{refuses}")
    shape = row.expect.shape(ctx)
    try:
        check_returned(out, dtype, device, shape)
    except ContractBreach as exc:
        raise failure(str(exc), shape=shape) from None
    problem = row.expect.check(out.detach().to("cpu", torch.float64).numpy(), ctx)
    if problem:
        first, _, detail = problem.partition("\n")
        raise failure(f"edge case {row.id}: {first}", detail, shape=shape)


def known_for(known_failures, subject: Subject, dtype: str | None = None,
              case: Case | None = None) -> KnownDeviation | None:
    """The known failure that applies to ``subject`` (on ``case``, for a drawn row whose records
    show on some cases only): its own record; for a plug-in (which may show any recorded
    deviation, not must) the first record of the row in ``dtype``."""
    if subject.allows_known_deviations:
        return next((k for k in known_failures if k.covers(case, dtype)), None)
    return find_known_failure(known_failures, subject.qualname, dtype, case)
