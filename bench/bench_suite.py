#!/usr/bin/env python3
"""Benchmark the suite itself: the README's test command, its wall time and where the time goes.

Usage::

    python bench/bench_suite.py [--output PATH] [-- PYTEST ARGS ...]

Runs ``python -m pytest -n auto --dist loadgroup`` (the README's test command; anything after
``--`` replaces its arguments, e.g. ``-- -n 0`` for one process) in the repository root with
``--junitxml``, and writes a Markdown report (default ``docs/suite-benchmark.md``):

* the wall time of the whole run against the 180 s target, the outcome counts, the cores, the
  load average before and after and the Hypothesis profile (``CI`` set: ``ci``);
* per test file: tests, and the time its tests took (setup + call + teardown, summed from the
  JUnit XML: with several workers this is CPU-side time, and the files' sum exceeds the wall time);
* the failing tests (pytest's ``FAILED`` / ``ERROR`` lines; ``--log PATH`` keeps the whole output);
* the slowest tests.

A benchmark, not a test: it exits with pytest's exit status but never fails on a time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the README's test command, less the interpreter
COMMAND = ["-m", "pytest", "-n", "auto", "--dist", "loadgroup"]
TARGET_S = 180.0


def per_test(junit: Path) -> list[tuple[str, str, float]]:
    """``[(file, test id, seconds)]`` from a JUnit XML report."""
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        file = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
        out.append((file, f"{case.get('classname')}::{case.get('name')}", float(case.get("time") or 0.0)))
    return out


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else None
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "suite-benchmark.md")
    parser.add_argument("--log", type=Path, default=None, help="write pytest's whole output here")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "pytest", *(extra if extra is not None else COMMAND[2:])]
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        load_before = os.getloadavg()
        start = time.monotonic()
        proc = subprocess.run([*command, f"--junitxml={junit}", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        wall = time.monotonic() - start
        load_after = os.getloadavg()
        tests = per_test(junit) if junit.exists() else []
    summary = next((ln for ln in reversed(proc.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed)", ln) and " in " in ln), "(no summary)")
    files: dict[str, list[float]] = defaultdict(list)
    for file, _, seconds in tests:
        files[file].append(seconds)
    profile = "ci" if os.environ.get("CI") else "default"
    md = ["# Suite benchmark (the README's test command)", "",
          f"- measured: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; Hypothesis profile `{profile}`",
          f"- command: `python -m pytest {' '.join(command[3:])}`",
          f"- **wall: {wall:.0f} s** (target {TARGET_S:.0f} s: {'met' if wall <= TARGET_S else 'NOT met'}); "
          f"exit status {proc.returncode}",
          f"- pytest: {summary.strip('= ')}", "",
          "| file | tests | test time (s) |", "|---|--:|--:|"]
    for file, times in sorted(files.items(), key=lambda kv: -sum(kv[1])):
        md.append(f"| `{file}` | {len(times)} | {sum(times):.1f} |")
    failed = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED ", "ERROR "))]
    if failed or proc.returncode != 0:
        md += ["", f"Failures ({len(failed)}; the run's whole output: `--log`):", ""]
        md += [f"- `{ln[:300]}`" for ln in failed] or ["- (no FAILED / ERROR line: see the log)"]
    md += ["", "Slowest tests:", "", "| test | s |", "|---|--:|"]
    for _, test, seconds in sorted(tests, key=lambda t: -t[2])[:15]:
        md.append(f"| `{test}` | {seconds:.1f} |")
    if args.log is not None:
        args.log.write_text(proc.stdout)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
