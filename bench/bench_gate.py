#!/usr/bin/env python3
"""Benchmark the ``--impl`` gate on this machine with the catalogue (``tests/catalogue``).

Usage::

    python bench/bench_gate.py [--workers N] [--only LOSS ...] [--no-correct] [--no-buggy]
                               [--all-correct] [--hypothesis-profile NAME] [--output PATH]

A benchmark, not a test: it writes a Markdown report (default ``docs/gate-benchmark.md``) and
exits 0 whatever it shows.  What it measures, each as one subprocess
``python -m pytest -q -p no:cacheprovider [--hypothesis-profile P] [-x] --impl LOSS=MODULE:ATTR``
in the repository root (``tests/catalogue/runner.py``, shared with the catalogue meta-test):

* **gate time per loss** -- wall time of the full gate run (no ``-x``) for the first correct
  catalogue entry of each of the 13 losses (``--all-correct``: every correct entry), with its
  pass / skip / fail counts, against the 30 s target.  The wall time includes the interpreter
  start-up and collection (the "start-up" line of the report: a ``--collect-only`` run).
* **time to first failure** -- for every buggy entry, a ``-x`` run: whether the gate caught it
  (exit status 1), the test id that failed first, the kind of check it is (as the coverage
  summary names it) against the kind the catalogue expects, and the run's wall time (start-up
  included: what a user waits for).

Timings depend on the machine and on what else runs on it: the report records the cores, the
load average before and after, and the worker count (``--workers 2`` halves the total time but
the runs then compete for the cores).  The Hypothesis profile defaults to ``default`` (25
examples, random); ``--hypothesis-profile ci`` derandomizes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.catalogue import CATALOGUE, impl_option  # noqa: E402
from tests.catalogue.runner import EXIT_MEANING, kind_of, run_gate, run_many  # noqa: E402

TARGET_S = 30.0


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _machine(args) -> list[str]:
    import hypothesis
    import torch

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return [f"- machine: {platform.machine()}, {platform.system()} {platform.release()}, "
            f"{cores} cores ({usable} usable by this process)",
            f"- Python {platform.python_version()}, torch {torch.__version__} (CPU threads {torch.get_num_threads()}), "
            f"hypothesis {hypothesis.__version__}",
            f"- Hypothesis profile: `{args.hypothesis_profile}`; parallel gate runs: {args.workers}; "
            f"per-run timeout {args.timeout:g} s"]


def _load() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Writes a Markdown report; see the module docstring for what is measured.")
    parser.add_argument("--workers", type=int, default=1,
                        help="gate runs in parallel (default 1: timings without self-contention)")
    parser.add_argument("--only", nargs="+", metavar="LOSS", help="only these losses")
    parser.add_argument("--no-correct", action="store_true", help="skip the per-loss gate times")
    parser.add_argument("--no-buggy", action="store_true", help="skip the buggy entries")
    parser.add_argument("--all-correct", action="store_true",
                        help="time every correct entry (default: the first of each loss)")
    parser.add_argument("--hypothesis-profile", default="default", help="Hypothesis profile (default: default)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per gate run (default 600)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "gate-benchmark.md",
                        help="the Markdown report (default docs/gate-benchmark.md); '-' for stdout only")
    args = parser.parse_args(argv)

    entries = [e for e in CATALOGUE if not args.only or e.loss in args.only]
    losses = list(dict.fromkeys(e.loss for e in entries))
    profile = ["--hypothesis-profile", args.hypothesis_profile]
    started, load_before = time.monotonic(), _load()
    print(f"load average before: {load_before}", file=sys.stderr)

    startup = run_gate([impl_option(entries[0])], ["--collect-only", *profile], timeout=args.timeout)

    correct = []
    if not args.no_correct:
        for loss in losses:
            oks = [e for e in entries if e.loss == loss and e.correct]
            correct += oks if args.all_correct else oks[:1]
    buggy = [] if args.no_buggy else [e for e in entries if not e.correct]
    jobs = [(("ok", e.attr), dict(impl_options=[impl_option(e)], extra_args=profile, timeout=args.timeout))
            for e in correct]
    jobs += [(("bug", e.attr), dict(impl_options=[impl_option(e)], extra_args=["-x", *profile], timeout=args.timeout))
             for e in buggy]
    results = {}
    for i in range(0, len(jobs), max(args.workers, 1) * 4):  # progress every few runs
        chunk = jobs[i:i + max(args.workers, 1) * 4]
        results.update(run_many(chunk, workers=args.workers))
        print(f"{len(results)}/{len(jobs)} gate runs done ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    total, load_after = time.monotonic() - started, _load()

    md = ["# Gate benchmark (`pytest --impl`, the catalogue)", "",
          f"Generated by `python bench/bench_gate.py{' ' + ' '.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ''}` "
          f"on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC in {total:.0f} s.", "",
          *_machine(args),
          f"- load average (1/5/15 min) before: {load_before}, after: {load_after} "
          "(anything above the runs' own load means other work competed for the cores: the times are then upper bounds)",
          f"- start-up (interpreter, torch, collection; `--collect-only`): {startup.wall:.1f} s, included in every time below",
          ""]
    if correct:
        md += ["## Gate time per loss (a correct implementation, full run)", "",
               f"Target: {TARGET_S:g} s per loss.", "",
               "| loss | entry | exit | passed | skipped | failed | xfailed | wall (s) | vs target |",
               "|---|---|---|---:|---:|---:|---:|---:|---|"]
        for e in correct:
            r = results[("ok", e.attr)]
            c = r.counts
            verdict = "timeout" if r.timed_out else ("ok" if r.wall <= TARGET_S else f"{r.wall / TARGET_S:.1f}x over")
            md.append(f"| {e.loss} | `{e.name}` | {r.returncode if not r.timed_out else 'killed'} | {c.get('passed', 0)} "
                      f"| {c.get('skipped', 0)} | {c.get('failed', 0) + c.get('error', 0)} | {c.get('xfailed', 0)} "
                      f"| {r.wall:.1f} | {verdict} |")
        walls = [results[("ok", e.attr)].wall for e in correct]
        md += ["", f"Median {statistics.median(walls):.1f} s, max {max(walls):.1f} s; "
                   f"{sum(w <= TARGET_S for w in walls)}/{len(walls)} within the target.", ""]
        failing = [(e, results[("ok", e.attr)]) for e in correct if results[("ok", e.attr)].returncode != 0]
        if failing:
            md += ["Correct entries that do not pass the gate (a defect of the suite or of the entry):", ""]
            for e, r in failing:
                md.append(f"- `{e.name}` ({e.loss}): {r.describe()}")
                md += [f"  - `{nodeid}`: {_cell(msg)[:200]}" for _, nodeid, msg in r.failures[:10]]
            md.append("")
    if buggy:
        caught = [e for e in buggy if results[("bug", e.attr)].returncode == 1]
        walls = [results[("bug", e.attr)].wall for e in caught]
        md += ["## Buggy catalogue entries (`-x`: time to the first failure)", "",
               f"Caught: **{len(caught)}/{len(buggy)}**"
               + (f"; time to first failure (wall, start-up included): median {statistics.median(walls):.1f} s, "
                  f"max {max(walls):.1f} s" if walls else "") + ".", "",
               "| loss | entry | bug | expected kind | caught by (first failing test) | kind | s |",
               "|---|---|---|---|---|---|---:|"]
        for e in buggy:
            r = results[("bug", e.attr)]
            if r.returncode == 1 and r.first_failed:
                by, kind = f"`{r.first_failed.partition('::')[2]}`", kind_of(r.first_failed, r.first_message)
            else:
                by, kind = f"**NOT CAUGHT** ({r.describe()})", "-"
            md.append(f"| {e.loss} | `{e.name}` | {_cell(e.bug)} | {e.caught_by} | {by} | {kind} | {r.wall:.1f} |")
        md.append("")
        missed = [e for e in buggy if results[("bug", e.attr)].returncode != 1]
        if missed:
            md += ["Not caught:", ""]
            for e in missed:
                r = results[("bug", e.attr)]
                md.append(f"- `{e.name}` ({e.loss}): {r.describe()}; {EXIT_MEANING.get(r.returncode, '')}")
            md.append("")
    report = "\n".join(md) + "\n"
    print(report)
    if str(args.output) != "-":
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
