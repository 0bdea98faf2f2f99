"""Floating-point formats of the dtypes under test (IEEE 754 binary64/32/16 and bfloat16).

Pure data, no torch: the strategies size their magnitudes with it and the
tolerance model takes its unit roundoff ``u = 2**-p`` from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


#: Largest magnitude a generated loss may reach: leaves float64 room for the error budgets.
BUDGET_CEILING = 1e280


@dataclass(frozen=True)
class FloatFormat:
    name: str
    precision: int  # significand bits p, implicit bit included
    max: float  # largest finite value
    tiny: float  # smallest positive normal
    subnormal: float  # smallest positive subnormal (spacing of the subnormal range)

    @property
    def eps(self) -> float:
        """Machine epsilon 2**(1-p): the spacing of the format just above 1."""
        return 2.0 ** (1 - self.precision)

    @property
    def u(self) -> float:
        """Unit roundoff 2**-p: the largest relative error of one round-to-nearest."""
        return 2.0 ** (-self.precision)

    @property
    def overflow(self) -> float:
        """The magnitude from which a value rounds to infinity in this format: ``max`` plus half its
        spacing (IEEE 754 round to nearest; float16: 65520).  float64 has none (inf)."""
        if self.name == "float64":
            return math.inf
        return self.max + 2.0 ** (math.floor(math.log2(self.max)) - self.precision)

    def ulp(self, value) -> np.ndarray:
        """Spacing of this format at |value| (subnormal spacing below ``tiny``)."""
        v = np.abs(np.asarray(value, dtype=np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            exponent = np.floor(np.log2(np.where(v >= self.tiny, v, self.tiny)))
        spacing = np.exp2(exponent - (self.precision - 1))
        return np.where(np.isfinite(v), np.maximum(spacing, self.subnormal), np.inf)

    def round(self, x: float) -> float:
        """``x`` rounded to nearest (ties to even) at this format's precision; for parameters drawn
        in the normal range, so the implementation and the reference see the same number."""
        if x == 0 or not math.isfinite(x):
            return x
        m, e = math.frexp(x)
        scale = 2.0 ** self.precision
        return math.ldexp(round(m * scale) / scale, e)

    def headroom_cap(self, power: float = 1.0, count: int = 1, headroom: float = 16.0) -> float:
        """Largest magnitude m with count * m**power <= max / headroom: sums of powers stay finite.

        Never above 1e280: the tolerance model's error budgets (float64 products of a
        loss's magnitude and op counts up to ~1e3) must stay finite too."""
        return (min(self.max / headroom, BUDGET_CEILING) / max(count, 1)) ** (1.0 / power)


FORMATS = {
    "float64": FloatFormat("float64", 53, float(np.finfo(np.float64).max), float(np.finfo(np.float64).tiny), 5e-324),
    "float32": FloatFormat("float32", 24, float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny), 2.0**-149),
    "float16": FloatFormat("float16", 11, 65504.0, 2.0**-14, 2.0**-24),
    "bfloat16": FloatFormat("bfloat16", 8, float.fromhex("0x1.fe00000000000p+127"), 2.0**-126, 2.0**-133),
}
FLOAT64 = FORMATS["float64"]
DTYPE_NAMES = tuple(FORMATS)


def log2_ceil(n: int) -> int:
    """ceil(log2(n)) for n >= 1 (0 for n <= 1): the depth of a pairwise sum of n terms."""
    return math.ceil(math.log2(n)) if n > 1 else 0
