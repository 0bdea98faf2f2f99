#!/usr/bin/env python3
"""Benchmark the float64 NumPy/SciPy references in ``refimpl`` against torch float64 on CPU.

Usage::

    python bench/bench_references.py [--quick] [--repeats N] [--only NAME]

A benchmark, not a test: it prints a Markdown table (and exits 0 whatever it shows).
Run it on an otherwise idle machine; timings of memory-bound code vary by 10-20 %
from run to run.

What it measures, per loss (all with ``reduction='mean'``, float64, CPU):

* **torch time** -- median wall time of the torch function over ``--repeats`` runs,
  after one warm-up run, with torch's default intra-op thread count (printed).
  Torch and reference runs alternate, so that drifts of the machine's speed hit both.
  Losses with a torch built-in time that built-in (``F.cross_entropy``, ``F.mse_loss``,
  ...).  ``contrastive``, ``focal`` and ``dice`` have no torch built-in; for them the
  script times a direct torch transcription of the formula, marked ``transcription``:
  focal is torchvision's ``sigmoid_focal_loss`` body, dice is MONAI ``DiceLoss``'s
  ``1 - (2I + 1e-5) / (P + G + 1e-5)`` over the spatial dims of (N, C, H, W), and
  contrastive is ``0.5 d^2`` / ``0.5 clamp(margin - d, 0)^2`` with ``d`` the row-wise
  L2 norm of ``input1 - input2``.
* **reference time** -- the same statistic for the ``refimpl`` function on the same
  data (NumPy arrays sharing memory with the torch tensors).
* **ratio** -- reference time / torch time.
* **peak extra memory** -- the peak of ``tracemalloc``'s traced memory during one
  reference call, above what was traced just before it, as a multiple of the
  bytes of all arrays handed to the reference (inputs, targets, weights).  NumPy
  reports its data buffers to tracemalloc, so this is the reference's temporaries.
  It is measured in a separate call, so tracing does not slow the timed runs.
* **rel. diff** -- ``|ref - torch| / |torch|`` of the two results, a sanity check
  that both sides computed the same thing (the agreement tests are the real check).

Targets (the PASS/FAIL columns): ratio <= 1.5 and peak extra memory <= 4x the input
bytes.  The ratio depends on the machine -- torch's kernels are fused, vectorised and
multi-threaded while NumPy's elementwise ufuncs run on one thread -- so read it
together with the thread count and machine line printed above the table.

Sizes: cross-entropy 8192x1000 (class-index targets; probability targets; and both
with label_smoothing=0.1 and a class weight), triplet 65536x128 (p=2), cosine /
contrastive 65536x128, dice 16x4x256x256, focal 2^22 elements, and every elementwise loss
with a torch built-in (found from the units: ``elementwise_cases``) 2^22 elements of its
unit's valid call, tiled and shuffled.  ``--quick`` divides every size by 16 (the leading dimension for the
matrix-shaped inputs): a smoke run.  The targets are meant for the full sizes; at
the quick sizes the inputs sit in cache, where torch's fused multi-threaded kernels
are several times faster than any sequence of NumPy passes.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import refimpl  # noqa: E402

RATIO_TARGET = 1.5
MEMORY_TARGET = 4.0


@dataclass
class Case:
    loss: str
    size: str
    torch_label: str
    arrays: list  # NumPy arrays, passed positionally to the reference (and, as tensors, to torch)
    ref: Callable
    torch_fn: Callable


# ---------------------------------------------------------------- torch transcriptions (no built-in)

def torch_contrastive(a, b, y, margin=1.0):
    d = torch.linalg.vector_norm(a - b, ord=2, dim=-1)
    terms = torch.where(y == 1, 0.5 * d * d, 0.5 * torch.clamp(margin - d, min=0.0) ** 2)
    return terms.mean()


def torch_focal(inputs, targets, alpha=0.25, gamma=2.0):
    # torchvision.ops.sigmoid_focal_loss
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss.mean()


def torch_dice(input, target, smooth_nr=1e-5, smooth_dr=1e-5):
    # monai.losses.DiceLoss.forward (no activation, include_background, batch=False, not squared)
    reduce_axis = list(range(2, input.ndim))
    intersection = torch.sum(target * input, dim=reduce_axis)
    ground_o = torch.sum(target, dim=reduce_axis)
    pred_o = torch.sum(input, dim=reduce_axis)
    f = 1.0 - (2.0 * intersection + smooth_nr) / (ground_o + pred_o + smooth_dr)
    return torch.mean(f)


# ---------------------------------------------------------------- cases

def _pm1(rng, n):
    return np.where(rng.random(n) < 0.5, 1.0, -1.0)


def _softmax_rows(z):
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def elementwise_cases(rng, n: int, size: str):
    """Every elementwise loss with a torch built-in (``event_dims`` 0), found from the units: its
    valid call (``VALID_CALL``, the unit's small input of every argument kind) tiled to ``n``
    elements and shuffled, its parameters as given there, ``reduction='mean'``."""
    from properties.specs import SPECS, UNITS

    for name, spec in SPECS.items():
        if spec.event_dims or not spec.torch_function or spec.name == "dice":
            continue
        valid = UNITS[name].VALID_CALL
        arrays = [rng.permutation(np.resize(np.asarray(a, dtype=np.float64), n)) for a in valid.args.values()]
        torch_fn = getattr(F, spec.torch_function.rpartition(".")[2])
        kwargs = {**valid.kwargs, "reduction": "mean"}
        yield Case(name, size, f"F.{torch_fn.__name__}", arrays,
                   lambda *a, spec=spec, kw=kwargs: spec.reference(*a, **spec.reference_kwargs, **kw),
                   lambda *a, fn=torch_fn, kw=kwargs: fn(*a, **kw))


def build_cases(div: int, seed: int = 0):
    """Yield one :class:`Case` at a time (the inputs of one case are freed before the next)."""
    rng = np.random.default_rng(seed)
    n_ce, c_ce = 8192 // div, 1000
    n_emb, d_emb = 65536 // div, 128
    n_elem = 2**22 // div
    dice_shape = (max(16 // div, 1), 4, 256, 256)
    mean = dict(reduction="mean")

    def ce_inputs():
        x = rng.standard_normal((n_ce, c_ce)) * 3.0
        t = rng.integers(0, c_ce, n_ce)
        return x, t

    ce_size = f"{n_ce}x{c_ce}"
    w = rng.uniform(0.5, 1.5, c_ce)

    x, t = ce_inputs()
    yield Case("cross_entropy (index)", ce_size, "F.cross_entropy", [x, t],
               lambda x, t: refimpl.cross_entropy(x, t, **mean),
               lambda x, t: F.cross_entropy(x, t, **mean))
    yield Case("cross_entropy (index, ls=0.1, weight)", ce_size, "F.cross_entropy", [x, t, w],
               lambda x, t, w: refimpl.cross_entropy(x, t, weight=w, label_smoothing=0.1, **mean),
               lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1, **mean))
    q = _softmax_rows(rng.standard_normal((n_ce, c_ce)))
    yield Case("cross_entropy (prob)", ce_size, "F.cross_entropy", [x, q],
               lambda x, q: refimpl.cross_entropy(x, q, **mean),
               lambda x, q: F.cross_entropy(x, q, **mean))
    yield Case("cross_entropy (prob, ls=0.1, weight)", ce_size, "F.cross_entropy", [x, q, w],
               lambda x, q, w: refimpl.cross_entropy(x, q, weight=w, label_smoothing=0.1, **mean),
               lambda x, q, w: F.cross_entropy(x, q, weight=w, label_smoothing=0.1, **mean))
    del x, t, q

    emb_size = f"{n_emb}x{d_emb}"
    yield Case("triplet_margin (p=2)", emb_size, "F.triplet_margin_loss",
               [rng.standard_normal((n_emb, d_emb)) for _ in range(3)],
               lambda a, p, n: refimpl.triplet_margin(a, p, n, p=2, **mean),
               lambda a, p, n: F.triplet_margin_loss(a, p, n, p=2, **mean))
    yield Case("cosine_embedding", emb_size, "F.cosine_embedding_loss",
               [rng.standard_normal((n_emb, d_emb)), rng.standard_normal((n_emb, d_emb)), _pm1(rng, n_emb)],
               lambda a, b, y: refimpl.cosine_embedding(a, b, y, **mean),
               lambda a, b, y: F.cosine_embedding_loss(a, b, y, **mean))
    # scale so that d ~ 0.8 straddles margin = 1: both branches are exercised
    yield Case("contrastive", emb_size, "transcription (no built-in)",
               [0.05 * rng.standard_normal((n_emb, d_emb)), 0.05 * rng.standard_normal((n_emb, d_emb)),
                _pm1(rng, n_emb)],
               lambda a, b, y: refimpl.contrastive(a, b, y, **mean),
               lambda a, b, y: torch_contrastive(a, b, y))

    el_size = f"2^{int(np.log2(n_elem))}"
    yield from elementwise_cases(rng, n_elem, el_size)
    yield Case("focal", el_size, "transcription of torchvision sigmoid_focal_loss",
               [3.0 * rng.standard_normal(n_elem), (rng.random(n_elem) < 0.3).astype(np.float64)],
               lambda x, t: refimpl.focal(x, t, **mean), lambda x, t: torch_focal(x, t))
    yield Case("dice", "x".join(map(str, dice_shape)), "transcription of MONAI DiceLoss",
               [rng.random(dice_shape), (rng.random(dice_shape) < 0.3).astype(np.float64)],
               lambda p, g: refimpl.dice(p, g, **mean), lambda p, g: torch_dice(p, g))


# ---------------------------------------------------------------- measurement

def median_times(fns_args, repeats: int) -> tuple[list[float], list[object]]:
    """Median wall time (s) of each ``fn(*args)`` over ``repeats`` runs, after one warm-up run each.

    The functions run in turn (A B A B ...), so that a drift of the machine's speed
    (other load, frequency, memory state) affects all of them alike.
    """
    outs = [fn(*args) for fn, args in fns_args]
    times = [[] for _ in fns_args]
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for (fn, args), ts in zip(fns_args, times):
                t0 = time.perf_counter()
                fn(*args)
                ts.append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return [statistics.median(ts) for ts in times], outs


def peak_extra_bytes(fn, args) -> int:
    """Peak traced memory during one ``fn(*args)`` call, above the traced memory just before it."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        out = fn(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del out
    return peak - before


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def fmt_bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{platform.machine()} {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return platform.machine() or platform.processor() or "unknown CPU"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 16x smaller")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per side (default 7, quick 11)")
    ap.add_argument("--only", default=None, help="run only the losses whose name contains this string")
    args = ap.parse_args(argv)
    # F.kl_div(reduction='mean') warns on every call that 'mean' is not 'batchmean'; that is intended here
    warnings.filterwarnings("ignore", message="reduction: 'mean' divides the total loss")
    repeats = args.repeats or (11 if args.quick else 7)
    div = 16 if args.quick else 1

    print(f"Machine: {cpu_model()}, nproc={os.cpu_count()}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, SciPy {scipy.__version__}, torch {torch.__version__}")
    print(f"torch intra-op threads: {torch.get_num_threads()} (torch default; NumPy ufuncs run on 1 thread)")
    print(f"Sizes: {'quick (16x smaller)' if args.quick else 'full'}; timings: median of {repeats} runs "
          f"after 1 warm-up, torch and reference alternating; float64, CPU, reduction='mean'.")
    print(f"Targets: ratio ref/torch <= {RATIO_TARGET}, reference peak extra memory <= "
          f"{MEMORY_TARGET:g}x input bytes.")
    print()
    header = ["loss", "input size", "input bytes", "torch side", "torch (ms)", "reference (ms)",
              "ratio ref/torch", "ref peak extra mem", f"time <= {RATIO_TARGET}x", f"mem <= {MEMORY_TARGET:g}x",
              "rel. diff"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] * 2 + ["--:"] * 1 + ["---"] + ["--:"] * 4 + [":-:"] * 2 + ["--:"]) + "|")

    failures = 0
    with torch.inference_mode():
        for case in build_cases(div):
            if args.only and args.only not in case.loss:
                continue
            tensors = [torch.from_numpy(a) for a in case.arrays]
            in_bytes = sum(a.nbytes for a in case.arrays)
            (t_torch, t_ref), (out_torch, out_ref) = median_times(
                [(case.torch_fn, tensors), (case.ref, case.arrays)], repeats
            )
            extra = peak_extra_bytes(case.ref, case.arrays)
            ratio = t_ref / t_torch
            mem = extra / in_bytes
            ok_t, ok_m = ratio <= RATIO_TARGET, mem <= MEMORY_TARGET
            failures += (not ok_t) + (not ok_m)
            tv, rv = float(out_torch), float(out_ref)
            rel = abs(rv - tv) / abs(tv) if tv else abs(rv - tv)
            print(f"| {case.loss} | {case.size} | {fmt_bytes(in_bytes)} | {case.torch_label} | "
                  f"{fmt_ms(t_torch)} | {fmt_ms(t_ref)} | {ratio:.2f} | {mem:.2f}x | "
                  f"{'PASS' if ok_t else 'FAIL'} | {'PASS' if ok_m else 'FAIL'} | {rel:.1e} |", flush=True)
            del tensors, case, out_torch, out_ref
            gc.collect()
    print()
    print(f"{failures} target(s) missed." if failures else "All targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
