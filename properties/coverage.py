"""What the strategies feed a loss, measured: the magnitude of each drawn example per dtype and loss
(``lossproof coverage``; the table in ``docs/magnitudes.md``; tests/test_coverage.py holds the
shares to their floors).

The cases are drawn the way the gate's tests draw them -- Hypothesis ``@given`` with the active
profile's generation, ``spec.cases(variant, fmt)`` for each variant -- so the first examples are
Hypothesis's simplest ones and the rest follow its own distribution, not ``.example()``'s.

An example's *magnitude* is the largest finite nonzero ``|value|`` among its value arguments (labels
and class indices excluded): the scale an implementation's epsilons, clamps and thresholds meet.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from .cases import Case
from .formats import DTYPE_NAMES, FORMATS
from .spec import LossSpec
from .strategies import ORDINARY, ORDINARY_SHARE

#: the magnitude bands of the table: (label, lower edge inclusive, upper edge exclusive)
BANDS = (("0", 0.0, 0.0), ("< 1e-30", 0.0, 1e-30), ("1e-30 .. 1e-4", 1e-30, ORDINARY[0]),
         ("1e-4 .. 1e4", ORDINARY[0], ORDINARY[1] * (1 + 1e-12)), ("1e4 .. 1e30", ORDINARY[1] * (1 + 1e-12), 1e30),
         ("> 1e30", 1e30, math.inf))
ORDINARY_BAND = "1e-4 .. 1e4"


def magnitude(spec: LossSpec, case: Case) -> float:
    """The largest finite nonzero |value| of the case's value arguments (0.0 if there is none)."""
    top = 0.0
    for name, v in case.args.items():
        if name in spec.label_args or v.dtype.kind != "f":
            continue
        a = np.abs(v[np.isfinite(v)])
        if a.size:
            top = max(top, float(a.max()))
    return top


def shape_kind(spec: LossSpec, case: Case) -> str:
    """The input layout of ``case``: the spec's own classification, else the first argument's rank."""
    if spec.shape_kind is not None:
        return spec.shape_kind(case)
    return f"{case.args[spec.arg_names[0]].ndim}-d"


def band(m: float) -> str:
    if m == 0:
        return "0"
    return next(label for label, lo, hi in BANDS[1:] if lo <= m < hi)


def draw_cases(spec: LossSpec, variant: str, dtype: str, n: int, seed: int | None = 0,
               reduction: str | None = None) -> list[Case]:
    """``n`` cases of ``spec``'s ``variant`` in ``dtype`` as a ``@given`` test draws them (``seed``: a
    derandomized run, None: random; ``reduction``: drawn for it, as the agreement tests do, with a fixed
    seed of its own per (loss, variant, dtype, reduction), as the gate's tests each have).  Cases the
    strategy itself rejects are not counted."""
    fmt = FORMATS[dtype]
    strategy = spec.cases(variant, fmt, reduction) if reduction else spec.cases(variant, fmt)
    own = f"{spec.name}-{variant}-{dtype}-{reduction}" if reduction is not None else None
    return draw_from(strategy, n, seed, own=own)


def draw_from(strategy: st.SearchStrategy, n: int, seed: int | None = 0, keep=lambda case: True,
              own: str | None = None) -> list:
    """``n`` examples of ``strategy`` as a ``@given`` test draws them (``seed``: a derandomized run, None:
    random; ``own``: a derandomized run seeded by this key instead -- derandomize seeds every run alike,
    one random stream for all of them); ``keep(example)`` False: rejected as the test's ``assume`` would
    (not counted)."""
    drawn: list = []
    own = own if seed is not None else None

    @settings(max_examples=n, database=None, derandomize=seed is not None and own is None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[p for p in settings().phases if p.name != "shrink"])
    @given(data=st.data())
    def run(data):
        example = data.draw(strategy)
        assume(keep(example))
        drawn.append(example)

    if own is not None:
        import zlib

        from hypothesis import seed as fixed_seed

        run = fixed_seed(zlib.crc32(f"{own}-{seed}".encode()))(run)
    run()
    return drawn


def histogram(spec: LossSpec, dtype: str, n: int, seed: int | None = 0) -> Counter:
    """``{band: examples}`` over ``n`` examples of every variant of ``spec`` in ``dtype``."""
    return Counter(band(magnitude(spec, c)) for v in spec.variants for c in draw_cases(spec, v, dtype, n, seed))


#: a long reduction: a sum of at least this many terms (``properties.strategies.LONG_TERMS``)
LONG = 1000


def reductions_drawn(spec: LossSpec, dtype: str, reduction: str, n: int, seed: int | None = 0) -> dict:
    """Over ``n`` examples of every variant of ``spec`` drawn for ``reduction`` in ``dtype``: how many
    (``examples``), how many sum at least ``LONG`` terms (``long``: ``LossSpec.summed``), and how many
    have terms whose sum exceeds the dtype's largest value (``overflowing``: for a 'mean', terms a
    sum in the dtype cannot hold)."""
    fmt = FORMATS[dtype]
    out = {"examples": 0, "long": 0, "overflowing": 0}
    for variant in spec.variants:
        for case in draw_cases(spec, variant, dtype, n, seed, reduction):
            out["examples"] += 1
            out["long"] += spec.summed(case) >= LONG
            if reduction != "none":
                with np.errstate(all="ignore"):
                    terms = spec.call_reference(case, reduction="none")
                out["overflowing"] += bool(np.nansum(np.abs(terms)) > fmt.max)
    return out


def table(specs: dict[str, LossSpec], dtypes=DTYPE_NAMES, n: int = 40, seed: int | None = 0) -> str:
    """A Markdown table: per loss and dtype, the share of examples in each magnitude band."""
    labels = [b[0] for b in BANDS]
    lines = ["| loss | dtype | examples | " + " | ".join(labels) + " |", "|---|---|---:|" + "---:|" * len(labels)]
    for name, spec in specs.items():
        for dtype in dtypes:
            h = histogram(spec, dtype, n, seed)
            total = sum(h.values())
            shares = [f"{100 * h[b] / total:.0f} %" if h[b] else "" for b in labels]
            lines.append(f"| {name} | {dtype} | {total} | " + " | ".join(shares) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from .specs import SPECS

    parser = argparse.ArgumentParser(prog="lossproof coverage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--loss", action="append", choices=sorted(SPECS), help="a loss (repeatable; default: all)")
    parser.add_argument("--dtype", action="append", choices=DTYPE_NAMES, help="a dtype (repeatable; default: all)")
    parser.add_argument("--examples", type=int, default=40, help="examples per variant (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="derandomized generation seed; -1: random")
    parser.add_argument("--record", action="append", metavar="LOSS=MODULE:ATTR",
                        help="run the gate on this plug-in (repeatable), recording every call it makes, and print "
                             "what it fed the loss per region (properties.recording); arguments after -- go to pytest")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if args.record:
        return recorded(args.record, extra)
    specs = {k: SPECS[k] for k in (args.loss or SPECS)}
    print(f"Magnitude of each example (largest |value|), share per band; ordinary band {ORDINARY[0]:g} .. "
          f"{ORDINARY[1]:g} (floor {ORDINARY_SHARE:.0%} of examples); {args.examples} examples per variant.\n")
    print(table(specs, tuple(args.dtype or DTYPE_NAMES), args.examples, None if args.seed < 0 else args.seed))
    return 0


def recorded(impls: list[str], extra: list[str]) -> int:
    """Run ``lossproof gate`` (a subprocess in the current directory) on ``impls`` with ``--record``; print the
    verdict's last line and the table of :mod:`properties.recording`; the gate's exit status."""
    import os
    import subprocess
    import tempfile

    from . import recording

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "calls.jsonl")
        cmd = [sys.executable, "-m", "properties", "gate", "-q", f"{recording.OPTION}={path}", *extra]
        for impl in impls:
            cmd += ["--impl", impl]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or ["(no output)"]
        print(f"gate: {' '.join(cmd[1:])}\n{tail[0]} (exit status {proc.returncode})\n")
        records = recording.read(path) if os.path.exists(path) else []
        for loss in dict.fromkeys(impl.partition("=")[0] for impl in impls):
            print(recording.table(records, loss) + "\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
