"""One generated input of a loss: its tensors and keyword parameters, in NumPy.

Strategies produce a :class:`Case` in float64 NumPy; the test rounds it to the
dtype under test (``case.rounded(dtype)``) so the reference sees exactly the
values torch saw, and converts it to tensors (``case.to_torch(dtype, device)``).
Integer arrays (class indices) stay int64; floating arrays take the dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _is_float_array(v) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind == "f"


def _nested(v) -> str:
    """A nested list as source, non-finite floats as ``float('nan')`` / ``float('inf')``."""
    if isinstance(v, list):
        return "[" + ", ".join(map(_nested, v)) + "]"
    return literal(v)


def literal(value) -> str:
    """Exact Python source for a value (arrays as nested lists of round-tripping floats)."""
    if isinstance(value, np.ndarray):
        kind = "torch.int64" if value.dtype.kind in "iu" else "torch.float64"
        if value.size == 0:  # a nested empty list would lose the shape
            return f"torch.empty({value.shape!r}, dtype={kind})"
        return f"torch.tensor({_nested(value.tolist())}, dtype={kind})"
    if isinstance(value, float):
        return repr(float(value)) if np.isfinite(value) else f"float({str(value)!r})"
    return repr(value)


@dataclass(frozen=True)
class Case:
    """``args``: the positional tensors in call order; ``kwargs``: keyword arguments."""

    args: dict[str, np.ndarray]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        # numpy scalars (e.g. 0-d arithmetic results) are 0-d arrays: tensors, not Python numbers
        fix = lambda v: np.asarray(v) if isinstance(v, (np.ndarray, np.generic)) and not isinstance(v, np.bool_) else v
        object.__setattr__(self, "args", {k: np.asarray(v) for k, v in self.args.items()})
        object.__setattr__(self, "kwargs", {k: fix(v) for k, v in self.kwargs.items()})

    def with_kwargs(self, **kwargs) -> "Case":
        return Case(dict(self.args), {**self.kwargs, **kwargs})

    def arrays(self):
        return [(k, v) for k, v in (*self.args.items(), *self.kwargs.items()) if isinstance(v, np.ndarray)]

    def rounded(self, dtype: str) -> "Case":
        """The case with every floating array rounded to ``dtype`` and back to float64."""
        import torch

        tdtype = getattr(torch, dtype)

        def rnd(v):
            if not _is_float_array(v):
                return v
            # np.array, not ascontiguousarray, which turns a 0-d array into a 1-d one
            return torch.from_numpy(np.array(v, copy=True)).to(tdtype).to(torch.float64).numpy()

        return Case({k: rnd(v) for k, v in self.args.items()}, {k: rnd(v) for k, v in self.kwargs.items()})

    def to_torch(self, dtype: str, device: str):
        """``(args, kwargs)`` as fresh torch tensors of ``dtype`` on ``device``."""
        import torch

        tdtype = getattr(torch, dtype)

        def conv(v):
            if not isinstance(v, np.ndarray):
                return v
            t = torch.from_numpy(np.array(v, copy=True))
            return t.to(device=device, dtype=tdtype if v.dtype.kind == "f" else torch.int64)

        return [conv(v) for v in self.args.values()], {k: conv(v) for k, v in self.kwargs.items()}

    def call_source(self, callee: str, dtype: str, device: str, *, cast: bool = True, module: bool = False) -> str:
        """Source lines that build this case's tensors and call ``callee`` on them (``module``: an
        nn.Module class, constructed with the keyword parameters, moved to ``device``, called)."""
        lines = []
        for name, v in self.arrays():
            suffix = f".to(device={device!r}, dtype=torch.{dtype})" if cast and v.dtype.kind == "f" else ""
            if cast and v.dtype.kind != "f":
                suffix = f".to({device!r})"
            lines.append(f"{name} = {literal(v)}{suffix}")
        pos = ", ".join(self.args)
        kw = ", ".join(f"{k}={k if isinstance(v, np.ndarray) else literal(v)}" for k, v in self.kwargs.items())
        if module:
            lines.append(f"out = {callee}({kw}).to({device!r})({pos})")
        else:
            lines.append(f"out = {callee}({', '.join(x for x in (pos, kw) if x)})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        parts = [f"{k}={literal(v)}" for k, v in (*self.args.items(), *self.kwargs.items())]
        return "Case(" + ", ".join(parts) + ")"
