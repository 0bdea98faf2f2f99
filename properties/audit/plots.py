"""PNG plots of an audit (``lossproof audit``), with matplotlib: an optional extra (``plots``).

Both plot the ulp error of the well-conditioned elements (``ulp_conditioned``: no cancellation,
see ``properties.audit.measure.WELL_CONDITIONED``), falling back to all elements for records
without it.

* ``error_vs_magnitude.png``: per loss, the largest ulp error as a function of the decade of the
  input's magnitude (``by_magnitude``), one line per dtype, for one subject (``torch`` when the
  loss has it, else the first one audited) on one device (``cpu`` when audited), the maximum over
  variants and reductions;
* ``max_ulp_heatmap.png``: the largest ulp error of every loss x subject (rows) per dtype (and
  device, when more than one was audited), over all variants and reductions.

matplotlib is imported only inside the functions (and drawn with ``Figure`` + ``FigureCanvasAgg``:
no pyplot, no global backend state): without it :func:`write_plots` writes nothing and returns
``[]``, and :func:`plots_unavailable` says why.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

from ..formats import DTYPE_NAMES as DTYPES  # pure data, no torch
from .numbers import compact, decode

COLOURS = {"float64": "#1f77b4", "float32": "#2ca02c", "float16": "#ff7f0e", "bfloat16": "#d62728"}
FLOOR = 0.1  #: smallest ulp value drawn on the log axis (so that exact results show)
COLUMNS = 4  #: subplots per row of error_vs_magnitude.png


def plots_unavailable() -> str | None:
    """None when the plots can be drawn, else a one-line reason (matplotlib not importable)."""
    try:
        for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
            importlib.import_module(name)
    except ImportError as e:
        return f"plots need matplotlib, which is not importable ({e}); pip install matplotlib"
    return None


def _float(value) -> float:
    """A schema number as a float, nan for null (plotted as missing)."""
    v = decode(value)
    return math.nan if v is None else v


def _nanmax(values) -> float:
    """The maximum, ignoring nan (inf counts); nan when every value is nan or there is none."""
    values = [v for v in values if not math.isnan(v)]
    return max(values) if values else math.nan


def _ordered(values, first=None) -> list:
    """Distinct values in order of first appearance (``first`` moved to the front when present)."""
    seen = list(dict.fromkeys(values))
    if first in seen:
        seen.remove(first)
        seen.insert(0, first)
    return seen


def _save(fig, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.savefig(path, format="png")
    return path


def _error_vs_magnitude(measurements: list, path: Path) -> Path:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    losses = _ordered(m["loss"] for m in measurements)
    n = max(len(losses), 1)
    ncols = min(COLUMNS, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(max(4.0 * ncols, 8.0), 3.0 * nrows + 1.2), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    any_inf, dtypes_drawn = False, set()
    for ax, loss in zip(axes, losses):
        rows = [m for m in measurements if m["loss"] == loss]
        subject = _ordered((m["subject"] for m in rows), first="torch")[0]
        device = _ordered((m["device"] for m in rows), first="cpu")[0]
        rows = [m for m in rows if m["subject"] == subject and m["device"] == device]
        curves = {}
        for dtype in DTYPES:
            by_decade = {}
            for m in rows:
                if m["dtype"] != dtype:
                    continue
                for b in m.get("by_magnitude") or ():
                    v = _float(b.get("max_ulp_conditioned", b.get("max_ulp")))  # cancellation aside
                    if b.get("decade") is None or math.isnan(v):
                        continue
                    by_decade[b["decade"]] = _nanmax([by_decade.get(b["decade"], math.nan), v])
            if by_decade:
                curves[dtype] = sorted(by_decade.items())
        finite = [v for c in curves.values() for _, v in c if math.isfinite(v)]
        top = 10 ** math.ceil(math.log10(max(finite + [1.0]) * 10))  # where inf is drawn
        for dtype, points in curves.items():
            xs = [d for d, _ in points]
            ys = [top if math.isinf(v) else max(v, FLOOR) for _, v in points]
            ax.plot(xs, ys, marker="o", markersize=3, color=COLOURS[dtype], label=dtype)
            infs = [(d, top) for d, v in points if math.isinf(v)]
            if infs:
                any_inf = True
                ax.plot(*zip(*infs), linestyle="none", marker="^", markersize=9, color=COLOURS[dtype])
            dtypes_drawn.add(dtype)
        ax.set_yscale("log")
        if any(math.isinf(v) for c in curves.values() for _, v in c):
            ax.axhline(top, color="grey", linestyle=":", linewidth=1)
            ax.set_ylim(top=top * 4)
            ax.annotate("inf", (1.0, top), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                        fontsize=8, color="grey")
        if not curves:
            ax.text(0.5, 0.5, "no magnitude data", transform=ax.transAxes, ha="center", va="center", color="grey")
        ax.set_title(f"{loss} ({subject})" + ("" if device == "cpu" else f" {device}"), fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("decade of max |input| (log10)", fontsize=8)
        ax.set_ylabel("max ulp error", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in axes[len(losses):]:
        ax.set_visible(False)
    if not losses:
        axes[0].set_visible(True)
        axes[0].text(0.5, 0.5, "no measurements", ha="center", va="center", transform=axes[0].transAxes)
    handles = [Line2D([], [], color=COLOURS[d], marker="o", markersize=3, label=d) for d in DTYPES if d in dtypes_drawn]
    if any_inf:
        handles.append(Line2D([], [], color="grey", marker="^", linestyle="none", markersize=9, label="inf (drawn at top)"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9)
    fig.suptitle(f"max ulp error (well-conditioned elements) vs input magnitude (max over variants and reductions; "
                 f"values < {FLOOR} drawn at {FLOOR})", fontsize=11, x=0.02, ha="left")
    return _save(fig, path)


def _heatmap(measurements: list, path: Path) -> Path:
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    losses = _ordered(m["loss"] for m in measurements)
    rows = [(loss, s) for loss in losses
            for s in _ordered((m["subject"] for m in measurements if m["loss"] == loss), first="torch")]
    devices = _ordered((m["device"] for m in measurements), first="cpu")
    present = {(m["dtype"], m["device"]) for m in measurements}
    columns = [(d, dev) for d in DTYPES for dev in devices if (d, dev) in present]
    value, over, has_record = {}, set(), set()
    for m in measurements:
        cell = ((m["loss"], m["subject"]), (m["dtype"], m["device"]))
        has_record.add(cell)
        if (m.get("over_bound") or 0) > 0:
            over.add(cell)
        stats = m.get("ulp_conditioned", m.get("ulp"))  # well-conditioned elements (cancellation aside)
        if isinstance(stats, dict):
            value[cell] = _nanmax([value.get(cell, math.nan), _float(stats.get("max"))])
    finite = [math.log10(1 + v) for v in value.values() if math.isfinite(v) and v >= 0]
    vmax = max(finite + [1.0])
    grid = np.full((max(len(rows), 1), max(len(columns), 1)), np.nan)
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            v = value.get((r, c), math.nan)
            if not math.isnan(v):
                grid[i, j] = vmax * 1.1 if math.isinf(v) else math.log10(1 + max(v, 0.0))
    cmap = colormaps["YlOrRd"].with_extremes(bad="#e6e6e6", over="#3b0000")
    norm = Normalize(vmin=0.0, vmax=vmax)
    width = 3.5 + 1.4 * max(len(columns), 1)
    fig = Figure(figsize=(max(width, 7.0), max(1.6 + 0.38 * len(rows), 3.5)), dpi=100, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            if (r, c) not in has_record:
                continue
            v = value.get((r, c), math.nan)
            text = "-" if (r, c) not in value else compact(v)
            shade = grid[i, j]
            dark = not math.isnan(shade) and norm(shade) > 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
            if (r, c) in over:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#0050ff", linewidth=2))
    multi = len(devices) > 1
    ax.set_xticks(range(len(columns)), [f"{d} {dev}" if multi else d for d, dev in columns])
    ax.set_yticks(range(len(rows)), [f"{loss} / {s}" for loss, s in rows], fontsize=8)
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", labelsize=9, rotation=30 if multi else 0)
    if not rows:
        ax.text(0, 0, "no measurements", ha="center", va="center")
    bar = fig.colorbar(image, ax=ax, extend="max", shrink=0.9)
    bar.set_label("log10(1 + max ulp); top: inf", fontsize=8)
    title = ("max ulp error of the well-conditioned elements, over variants and reductions\n"
             "(grey: not audited; -: no element compared")
    ax.set_title(title + ("; blue outline:\nerrors over the bound)" if over else ")"), fontsize=9)
    return _save(fig, path)


def write_plots(audit: dict, outdir) -> list[Path]:
    """Write ``error_vs_magnitude.png`` and ``max_ulp_heatmap.png`` of ``audit`` into ``outdir``
    (created if missing); the paths written, or ``[]`` when matplotlib is not importable."""
    if plots_unavailable() is not None:
        return []
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    measurements = [m for m in audit.get("measurements") or () if m.get("dtype") in DTYPES]
    return [_error_vs_magnitude(measurements, outdir / "error_vs_magnitude.png"),
            _heatmap(measurements, outdir / "max_ulp_heatmap.png")]
