"""One generated input of a loss: its tensors and keyword parameters, in NumPy.

Strategies produce a :class:`Case` in float64 NumPy; the test rounds it to the
dtype under test (``case.rounded(dtype)``) so the reference sees exactly the
values torch saw, and converts it to tensors (``case.to_torch(dtype, device)``).
Integer arrays (class indices) stay int64; floating arrays take the dtype.

``layouts`` gives an array a memory layout (``properties.layouts.LAYOUTS``: non-contiguous, transposed,
expanded (stride 0), sliced (storage offset), channels-last): ``to_torch`` presents its values in it and
``call_source`` writes it into the reproduction.  The values are the array's own (an expanded array
holds repeated rows: ``laid_out`` prepares them), so the reference sees what the implementation sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _is_float_array(v) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind == "f"


#: the precision torch applies a Python float parameter in, per tensor dtype: the tensor's own for
#: float64 and float32 (a scalar operand takes the tensor's type), float32 for float16 and bfloat16, whose
#: CPU kernels read a scalar operand in their float32 opmath type (mul: half(1000) * 1e-7 is 1.0002e-4,
#: where a half 1e-7 would give 1.19e-4); a kernel that rounds it to the half type instead (add, huber's
#: delta) differs from this by the half type's rounding of the parameter, which its bounds allow.  In
#: float64 a parameter of 3.4e-205 is what it says; in float32 it is 0 -- a label smoothing that vanishes,
#: an ``eps`` that cancels a difference exactly -- and the reference must see the 0 torch saw.  The rounded
#: value is also what the implementation is called with (``to_torch``), which rounds it to itself.
SCALAR_DTYPE = {"float64": np.float64, "float32": np.float32, "float16": np.float32, "bfloat16": np.float32}


#: ``{parameter: rule(value, case, scalar type) -> value}``: a parameter that enters the arithmetic
#: through a quantity derived from it (cross-entropy's ``label_smoothing / C``), registered by its loss's
#: spec module; the rule gives the value whose derived quantity is the one formed in the scalar type
SCALAR_RULES: dict = {}


def scalar_as_computed(value: float, dtype: str, name: str, case: "Case") -> float:
    """The float parameter ``name`` of ``case`` rounded to the precision torch applies it in for tensors
    of ``dtype`` (``SCALAR_RULES[name]`` where it enters through a quantity derived from it)."""
    scalar = SCALAR_DTYPE[dtype]
    rule = SCALAR_RULES.get(name)
    return float(scalar(value)) if rule is None else float(rule(value, case, scalar))


def _nested(v) -> str:
    """A nested list as source, non-finite floats as ``float('nan')`` / ``float('inf')``."""
    if isinstance(v, list):
        return "[" + ", ".join(map(_nested, v)) + "]"
    return literal(v)


#: arrays of more elements are written as their distinct values indexed (or ``torch.full``), exactly
COMPACT_ABOVE = 64


def literal(value) -> str:
    """Exact Python source for a value (arrays as nested lists of round-tripping floats)."""
    if isinstance(value, np.ndarray):
        kind = "torch.int64" if value.dtype.kind in "iu" else "torch.float64"
        if value.size == 0:  # a nested empty list would lose the shape
            return f"torch.empty({value.shape!r}, dtype={kind})"
        if value.size > COMPACT_ABOVE:  # a long case (a few drawn rows repeated): its distinct values, indexed
            values, codes = np.unique(value, return_inverse=True)
            if values.size == 1:
                return f"torch.full({value.shape!r}, {literal(values.tolist()[0])}, dtype={kind})"
            if values.size <= value.size // 4:
                return (f"torch.tensor({_nested(values.tolist())}, dtype={kind})"
                        f"[torch.tensor({codes.reshape(value.shape).tolist()})]")
        return f"torch.tensor({_nested(value.tolist())}, dtype={kind})"
    if isinstance(value, float):
        return repr(float(value)) if np.isfinite(value) else f"float({str(value)!r})"
    return repr(value)


@dataclass(frozen=True)
class Case:
    """``args``: the positional tensors in call order; ``kwargs``: keyword arguments; ``layouts``: the
    memory layout of some arrays (``{name: layout name}``; the others are contiguous).  A layout of a
    name the case does not hold is dropped; one whose array cannot hold it (its shape, or values an
    expanded layout would change) is a ``ValueError``."""

    args: dict[str, np.ndarray]
    kwargs: dict[str, Any] = field(default_factory=dict)
    layouts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        from .layouts import layout

        # numpy scalars (e.g. 0-d arithmetic results) are 0-d arrays: tensors, not Python numbers
        fix = lambda v: np.asarray(v) if isinstance(v, (np.ndarray, np.generic)) and not isinstance(v, np.bool_) else v
        object.__setattr__(self, "args", {k: np.asarray(v) for k, v in self.args.items()})
        object.__setattr__(self, "kwargs", {k: fix(v) for k, v in self.kwargs.items()})
        arrays = dict(self.arrays())
        layouts = {k: name for k, name in self.layouts.items() if k in arrays}
        for k, name in layouts.items():
            if not layout(name).holds(arrays[k]):
                raise ValueError(f"{k} of shape {arrays[k].shape} cannot be presented in layout {name!r} with its values")
        object.__setattr__(self, "layouts", layouts)

    def with_kwargs(self, **kwargs) -> "Case":
        """The case with these keyword arguments (an array replaced loses its layout)."""
        kept = {k: v for k, v in self.layouts.items() if k not in kwargs or kwargs[k] is self.kwargs.get(k)}
        return Case(dict(self.args), {**self.kwargs, **kwargs}, kept)

    def laid_out(self, layouts: dict[str, str]) -> "Case":
        """The case with these arrays in these layouts (``properties.layouts``), their values prepared
        for it (an expanded array repeats its first row), the other arrays contiguous."""
        from .layouts import layout

        prep = lambda k, v: layout(layouts[k]).prepare(v) if k in layouts and isinstance(v, np.ndarray) else v
        return Case({k: prep(k, v) for k, v in self.args.items()}, {k: prep(k, v) for k, v in self.kwargs.items()},
                    dict(layouts))

    def arrays(self):
        return [(k, v) for k, v in (*self.args.items(), *self.kwargs.items()) if isinstance(v, np.ndarray)]

    def rounded(self, dtype: str) -> "Case":
        """The case with every floating array rounded to ``dtype`` and back to float64, and every float
        keyword parameter (a margin, ``eps``, ``label_smoothing``) to what torch computes with: a Python
        float meets a tensor as at least float32 (:data:`SCALAR_DTYPE`)."""
        import torch

        tdtype = getattr(torch, dtype)

        def rnd(v):
            if not _is_float_array(v):
                return v
            # np.array, not ascontiguousarray, which turns a 0-d array into a 1-d one
            return torch.from_numpy(np.array(v, copy=True)).to(tdtype).to(torch.float64).numpy()

        return Case({k: rnd(v) for k, v in self.args.items()},
                    {k: scalar_as_computed(v, dtype, k, self) if isinstance(v, float) else rnd(v)
                     for k, v in self.kwargs.items()},
                    self.layouts)

    def to_torch(self, dtype: str, device: str):
        """``(args, kwargs)`` as fresh torch tensors of ``dtype`` on ``device``, each in its layout."""
        import torch

        from .layouts import layout

        tdtype = getattr(torch, dtype)

        def conv(k, v):
            if not isinstance(v, np.ndarray):
                return v
            t = torch.from_numpy(np.array(v, copy=True))
            t = t.to(device=device, dtype=tdtype if v.dtype.kind == "f" else torch.int64)
            return layout(self.layouts[k]).apply(t) if k in self.layouts else t

        return [conv(k, v) for k, v in self.args.items()], {k: conv(k, v) for k, v in self.kwargs.items()}

    def call_source(self, callee: str, dtype: str, device: str, *, cast: bool = True, module: bool = False) -> str:
        """Source lines that build this case's tensors and call ``callee`` on them (``module``: an
        nn.Module class, constructed with the keyword parameters, moved to ``device``, called)."""
        from .layouts import layout

        lines = []
        for name, v in self.arrays():
            suffix = f".to(device={device!r}, dtype=torch.{dtype})" if cast and v.dtype.kind == "f" else ""
            if cast and v.dtype.kind != "f":
                suffix = f".to({device!r})"
            value = f"{literal(v)}{suffix}"
            if name in self.layouts:  # one expression: a line may get .requires_grad_() appended
                lay = layout(self.layouts[name])
                lines.append(f"# {name}: memory layout {lay.name} (same values)")
                value = f"(lambda t: {lay.code(v.shape)})({value})"
            lines.append(f"{name} = {value}")
        pos = ", ".join(self.args)
        kw = ", ".join(f"{k}={k if isinstance(v, np.ndarray) else literal(v)}" for k, v in self.kwargs.items())
        if module:
            lines.append(f"out = {callee}({kw}).to({device!r})({pos})")
        else:
            lines.append(f"out = {callee}({', '.join(x for x in (pos, kw) if x)})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        parts = [f"{k}={literal(v)}" for k, v in (*self.args.items(), *self.kwargs.items())]
        if self.layouts:
            parts.append(f"layouts={self.layouts!r}")
        return "Case(" + ", ".join(parts) + ")"
