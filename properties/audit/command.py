"""``lossproof audit`` (also ``python -m properties.audit``): options, the run, the outputs.

    lossproof audit [--loss LOSS ...] [--subject NAME ...] [--impl LOSS=MODULE:ATTR ...]
                    [--dtype DTYPE ...] [--device DEVICE ...] [--reduction R ...]
                    [--quick | --examples N] [--seed N] [--output DIR]
                    [--baseline OLD.json] [--no-plots] [--no-edge-cases] [--no-target]
                    [--progress auto|bar|lines|none]

Writes ``DIR/audit.md`` (the report), ``DIR/audit.json`` (``schema.json``, version 1) and, with
matplotlib (the ``plots`` extra), ``DIR/error_vs_magnitude.png`` and ``DIR/max_ulp_heatmap.png``;
prints the report's summary.  Exit status: 0; with ``--baseline``, 1 when a measurement regressed
beyond the tolerance bound (``properties.audit.baseline``); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..formats import DTYPE_NAMES

#: Hypothesis examples per loss x variant x dtype: the default audit and ``--quick``
#: (benchmarked in the README: all 13 losses within 2 minutes and 20 s on 2 CPU cores).
DEFAULT_EXAMPLES = 80
QUICK_EXAMPLES = 6

SCHEMA_PATH = Path(__file__).with_name("schema.json")


@dataclass(frozen=True)
class Options:
    losses: tuple[str, ...]
    subjects: tuple[str, ...] | None  # None: every available subject
    impls: tuple[str, ...]
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    reductions: tuple[str, ...] | None  # None: each loss's own
    examples: int
    quick: bool
    seed: int
    output: Path
    baseline: Path | None
    plots: bool
    progress: str
    edge_cases: bool = True
    claims: bool = True
    steer: bool = True


def _split(values) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def parse_options(argv: list[str]) -> Options:
    import torch

    from ..specs import SPECS

    p = argparse.ArgumentParser(prog="lossproof audit", description=(
        "Measure how far each implementation of each loss is from the exact value (float64 reference): "
        "error distributions in ulps and relative terms, the worst input found, error vs input magnitude, "
        "the edge-case matrix, CPU vs CUDA, the source article's claims."))
    p.add_argument("--loss", action="append", metavar="LOSS", help=f"loss(es) to audit (default all: {', '.join(SPECS)})")
    p.add_argument("--subject", action="append", metavar="NAME",
                   help="subject(s) by name: torch, monai, kornia, torchvision, impl, impl2 ... (default all available)")
    p.add_argument("--impl", action="append", default=[], metavar="LOSS=MODULE:ATTR",
                   help="also audit your implementation (as `pytest --impl`); the losses default to those named")
    p.add_argument("--dtype", action="append", metavar="DTYPE", help=f"default all: {', '.join(DTYPE_NAMES)}")
    p.add_argument("--device", action="append", metavar="DEVICE", help="default cpu, and cuda when available")
    p.add_argument("--reduction", action="append", metavar="R", help="default each loss's reductions")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help=f"a fast look: {QUICK_EXAMPLES} examples per run")
    size.add_argument("--examples", type=int, metavar="N", help=f"examples per loss x variant x dtype "
                      f"(default {DEFAULT_EXAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0): same seed, same inputs")
    p.add_argument("--output", "-o", type=Path, default=Path("audit-report"), help="output directory")
    p.add_argument("--baseline", type=Path, metavar="OLD.json",
                   help="compare with an earlier audit.json; exit 1 on a regression beyond the bound")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-edge-cases", action="store_true", help="skip the edge-case matrix")
    p.add_argument("--no-target", action="store_true",
                   help="sample only: do not steer Hypothesis towards larger errors (hypothesis.target)")
    p.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto")
    a = p.parse_args(argv)

    from ..plugins import parse

    try:
        impls = parse(a.impl, SPECS)
    except ValueError as exc:
        p.error(str(exc))
    losses = _split(a.loss) or (list(impls) if impls else list(SPECS))
    for name in losses:
        if name not in SPECS:
            p.error(f"unknown loss {name!r}; one of {', '.join(SPECS)}")
    dtypes = _split(a.dtype) or list(DTYPE_NAMES)
    for d in dtypes:
        if d not in DTYPE_NAMES:
            p.error(f"unknown dtype {d!r}; one of {', '.join(DTYPE_NAMES)}")
    devices = _split(a.device) or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    for d in devices:
        try:
            torch.empty(0, device=d)
        except Exception as exc:
            p.error(f"device {d!r} is not usable here: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    if a.examples is not None and a.examples < 1:
        p.error("--examples must be at least 1")
    if a.baseline is not None and not a.baseline.is_file():
        p.error(f"--baseline {a.baseline}: no such file")
    examples = a.examples or (QUICK_EXAMPLES if a.quick else DEFAULT_EXAMPLES)
    return Options(tuple(losses), tuple(_split(a.subject)) or None, tuple(a.impl), tuple(dtypes), tuple(devices),
                   tuple(_split(a.reduction)) or None, examples, a.quick, a.seed, a.output, a.baseline,
                   not a.no_plots, a.progress, edge_cases=not a.no_edge_cases, steer=not a.no_target)


def subjects_of(spec, opts: Options, plugins: dict) -> list:
    """The built-in, the installed adapters and the plug-ins of ``spec``'s loss, filtered by name."""
    from ..adapters import thirdparty_subjects
    from ..subjects import builtin_subjects

    found = builtin_subjects(spec) + thirdparty_subjects(spec) + list(plugins.get(spec.name, []))
    return [s for s in found if opts.subjects is None or s.name in opts.subjects]


def run_audit(opts: Options, argv: list[str] | None = None) -> dict:
    """Run every measurement; return the audit (``schema.json``)."""
    from ..plugins import load_all, parse
    from ..specs import SPECS
    from .claims import article_claims
    from .edges import edge_matrix
    from .environment import environment
    from .measure import Run
    from .progress import Progress

    started = time.monotonic()
    from ..conventions import ConventionError, describe

    try:  # with their declared conventions (attribute, ./pyproject.toml): shown in the report
        plugins = load_all(parse(list(opts.impls), SPECS))
    except ConventionError as exc:
        raise SystemExit(f"lossproof audit: {exc}") from None
    broken = [s.broken for subjects in plugins.values() for s in subjects if s.broken]
    if broken:
        raise SystemExit("lossproof audit: cannot load " + "; ".join(broken))
    plan = []
    for name in opts.losses:
        spec = SPECS[name]
        subjects = subjects_of(spec, opts, plugins)
        if not subjects:
            continue
        reductions = tuple(r for r in (opts.reductions or spec.reductions) if r in spec.reductions)
        plan += [("run", spec, subjects, v, d, reductions) for v in spec.variants for d in opts.dtypes]
        if opts.edge_cases:
            plan.append(("edges", spec, subjects, None, None, None))
    progress = Progress(len(plan), opts.progress)
    measurements, diffs, edges = [], [], []
    with warnings.catch_warnings():
        # the implementations' own warnings (kl_div 'mean', MONAI's single-channel note) and NumPy's
        # for the edge cases' NaN / inf are expected here: the report records what they return
        warnings.simplefilter("ignore")
        for kind, spec, subjects, variant, dtype, reductions in plan:
            if kind == "run":
                run = Run(spec, variant, dtype, subjects, opts.devices, reductions)
                run.execute(opts.examples, opts.seed, opts.steer)
                m, d = run.records()
                measurements += m
                diffs += d
                progress.step(f"{spec.name} {variant} {dtype}")
            else:
                edges += edge_matrix(spec, subjects, opts.dtypes, opts.devices, opts.seed)
                progress.step(f"{spec.name} edge cases")
    used = sorted({m["subject"] for m in measurements})
    audited = [s for _, _, subjects, *_ in plan for s in subjects]
    only_plugins = bool(audited) and all(s.origin == "plugin" for s in audited)
    return {
        "schema": "lossproof-audit", "schema_version": 1,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": ["lossproof", "audit", *(argv or [])],
        "options": {"losses": list(opts.losses), "subjects": used, "dtypes": list(opts.dtypes),
                    "devices": list(opts.devices), "examples": opts.examples, "quick": opts.quick, "seed": opts.seed,
                    "reductions": list(opts.reductions or []), "targeted": opts.steer},
        "environment": environment(opts.devices, opts.seed),
        "measurements": measurements, "device_differences": diffs, "edge_cases": edges,
        "conventions": {f"{s.loss}={s.qualname}": [describe((d,)) for d in s.declared]
                        for subjects in plugins.values() for s in subjects if s.declared},
        # the article's claims are about the built-ins: left out of an audit of plug-ins only
        "claims": article_claims() if opts.claims and not only_plugins else [],
        "duration_s": round(time.monotonic() - started, 2),
    }


def validate(audit: dict) -> None:
    """Raise ``jsonschema.ValidationError`` if ``audit`` breaks the schema (no-op without jsonschema)."""
    try:
        import jsonschema
    except ImportError:
        return
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(audit)


def write_outputs(audit: dict, opts: Options, comparison: dict | None) -> dict:
    """Write audit.json, audit.md and the plots into ``opts.output``; return {kind: path}."""
    from .plots import plots_unavailable, write_plots
    from .report import render

    out = opts.output
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "audit.json", "markdown": out / "audit.md"}
    paths["json"].write_text(json.dumps(audit, indent=1, allow_nan=False) + "\n")
    pngs, why_not = [], None
    if opts.plots:
        why_not = plots_unavailable()
        pngs = [] if why_not else write_plots(audit, out)
    else:
        why_not = "--no-plots"
    paths["markdown"].write_text(render(audit, comparison=comparison, plots=[p.name for p in pngs],
                                        plots_missing=why_not))
    paths["plots"] = pngs
    return paths


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = parse_options(argv)
    comparison = None
    if opts.baseline is not None:
        from .baseline import BaselineError, load_audit

        try:
            old = load_audit(opts.baseline)
        except BaselineError as exc:
            print(f"lossproof audit: {exc}", file=sys.stderr)
            return 2
    audit = run_audit(opts, argv)
    validate(audit)
    if opts.baseline is not None:
        from .baseline import compare, exit_code

        comparison = {"result": compare(old, audit), "old": str(opts.baseline)}
    paths = write_outputs(audit, opts, comparison)
    from .report import summary

    print(summary(audit, comparison=comparison))
    print(f"\nwritten: {paths['markdown']}, {paths['json']}" +
          "".join(f", {p}" for p in paths["plots"]))
    return exit_code(comparison["result"]) if comparison else 0
