"""The audit's edge-case matrix: what each subject returns at the edge-case tables' points
(``properties.edge_cases``: empty batch, NaN, subnormals, saturated logits, zero vectors,
memory layouts ...), whether that meets the row's expectation, and whether the input gradient
is finite there.

A row with a fixed input is evaluated on it; a row with a generated input on the first input
Hypothesis draws for it with the audit's seed (the simplest one: Hypothesis starts from the
minimal example) inside the dtype's comparable domain, as ``tests/gate/test_edge_cases.py`` does.
The gradient is that of the summed output with respect to the floating positional inputs, at
the row's values in the default (contiguous) layout.
"""

from __future__ import annotations

import numpy as np

from ..agreement import ContractBreach
from ..cases import Case
from ..diagnosis import is_raise, run_subject
from ..edge_cases import EDGE_CASES, EdgeCaseFailure, prepared, run_edge_case
from ..edge_cases.row import EdgeCase, edge_call_args, known_for
from ..formats import FORMATS
from ..spec import LossSpec
from ..subjects import Subject
from .measure import run_seed


def row_case(row: EdgeCase, spec: LossSpec, dtype: str, seed: int) -> Case | None:
    """The row's input in ``dtype``: its fixed case, or the first admitted one Hypothesis draws."""
    if row.fixed:
        return row.inputs
    from hypothesis import HealthCheck, Phase, assume, given, settings
    from hypothesis import seed as hseed

    fmt = FORMATS[dtype]
    found: list[Case] = []

    @hseed(run_seed(seed, row.id, dtype))
    @settings(max_examples=1, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(case=row.strategy(fmt))
    def draw(case):
        assume(row.known_failures or spec.admits(prepared(row, case, dtype), fmt))
        found.append(case)

    try:
        draw()
    except Exception:  # hypothesis.errors.Unsatisfiable: no admitted input in this dtype
        return None
    return found[0] if found else None


def describe(out) -> str:
    """What a subject returned, in a few words: a value, nan, inf, an empty shape, or the error."""
    import torch

    if isinstance(out, ContractBreach) and is_raise(out):  # the raise itself, as torch words it
        out = out.__cause__
    if isinstance(out, ContractBreach):  # a hang or a mutation: the breach says which
        return str(out)[:160]
    if isinstance(out, BaseException):
        msg = (str(out).strip().splitlines() or [""])[0]
        return f"raises {type(out).__name__}: {msg[:120]}"
    if not isinstance(out, torch.Tensor):
        return f"returned a {type(out).__name__}"
    v = out.detach().to("cpu", torch.float64).numpy()
    if v.size == 0:
        return f"empty {tuple(v.shape)}"
    if v.size == 1:
        return f"{float(v.ravel()[0]):.6g}"
    parts = [f"{int(np.sum(np.isnan(v)))} nan" if np.isnan(v).any() else "",
             f"{int(np.sum(np.isinf(v)))} inf" if np.isinf(v).any() else ""]
    finite = v[np.isfinite(v)]
    rng = f"finite in [{finite.min():.4g}, {finite.max():.4g}]" if finite.size else ""
    return f"shape {tuple(v.shape)}: " + ", ".join(p for p in (rng, *parts) if p)


def gradient_state(spec: LossSpec, subject: Subject, case: Case, dtype: str, device: str) -> str:
    """finite / non-finite / none (no gradient reaches the inputs) / raises / not applicable."""
    import torch

    args, kwargs = case.to_torch(dtype, device)
    leaves = [a.requires_grad_() for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
    if not leaves:
        return "not applicable"
    try:
        out = run_subject(subject, args, kwargs)
        if not isinstance(out, torch.Tensor) or out.numel() == 0:
            return "not applicable"
        if not out.requires_grad:
            return "none"
        grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    except Exception:
        return "raises"
    grads = [g for g in grads if g is not None]
    if not grads:
        return "none"
    return "finite" if all(bool(torch.isfinite(g).all()) for g in grads) else "non-finite"


def edge_matrix(spec: LossSpec, subjects: list[Subject], dtypes, devices, seed: int) -> list[dict]:
    """One record per row x subject x dtype x device (``schema.json``, ``edge_case``)."""
    records = []
    for row in EDGE_CASES[spec.name]:
        for dtype in (d for d in dtypes if d in row.dtypes):
            case = row_case(row, spec, dtype, seed)
            for subject in subjects:
                for device in devices:
                    records.append(_evaluate(row, spec, subject, dtype, device, case))
    return records


def _evaluate(row: EdgeCase, spec: LossSpec, subject: Subject, dtype: str, device: str, case: Case | None) -> dict:
    known = known_for(row.known_failures, subject, dtype, case)
    rec = {"loss": spec.name, "row": row.name, "subject": subject.name, "qualname": subject.qualname,
           "dtype": dtype, "device": device, "expectation": f"{row.expect} ({row.why})",
           "deviation": known.deviation if known else None}
    why = "no input in this dtype's comparable domain" if case is None else subject.unsupported(dtype=dtype, case=case)
    if why:
        return {**rec, "outcome": "skipped", "returned": f"skipped: {why}", "gradient": "not applicable"}
    try:
        run_edge_case(row, spec, subject, dtype, device, case)
        outcome = "met"
    except EdgeCaseFailure:
        outcome = "known deviation" if known else "unmet"
    ready = prepared(row, case, dtype)
    args, kwargs = edge_call_args(row, ready, dtype, device)
    try:
        out = run_subject(subject, args, kwargs)
    except ContractBreach as exc:  # what it raised is the answer this row records
        out = exc
    grad = "not applicable" if isinstance(out, BaseException) else gradient_state(spec, subject, ready, dtype, device)
    return {**rec, "outcome": outcome, "returned": describe(out), "gradient": grad}
