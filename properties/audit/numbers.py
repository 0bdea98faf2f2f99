"""Numbers of the audit file and its reports: the schema's encoding of floats (non-finite as the
strings "inf", "-inf", "nan": the file is strict JSON), read back, and written compactly in
Markdown tables and plot labels."""

from __future__ import annotations

import math


def encode(x: float):
    """A float for the JSON file: finite as is, non-finite as "inf", "-inf", "nan"."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def decode(value) -> float | None:
    """A schema number (a number or "inf" / "-inf" / "nan") as a float; None for null."""
    return None if value is None else float(value)  # float("inf"), float("nan") read the strings


def compact(value) -> str:
    """0, 0.5, 12, 345, 3.1e4, 1.2e-5, inf, nan; "-" for null."""
    v = decode(value)
    if v is None:
        return "-"
    if math.isnan(v) or math.isinf(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 10:
        return f"{v:.2g}"
    if 10 <= abs(v) < 1000:
        return f"{v:.0f}"
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def cell(text) -> str:
    """Text safe in a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")
