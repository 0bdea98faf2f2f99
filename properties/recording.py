"""What the gate feeds a loss, recorded call by call (``lossproof coverage --record LOSS=MODULE:ATTR``).

The gate's option ``--record FILE`` wraps every plug-in so that each call appends one JSON line to
FILE describing what the plug-in was given -- never the values themselves -- and, when the output is
back-propagated, one line describing the upstream gradient (the *cotangent*).  :func:`table` turns the
lines into the coverage table of ``docs/coverage.md``: per loss, the share of calls that reach each
region where real bugs live (issue 19):

- ``layout``: each tensor argument's memory layout -- contiguous, non-contiguous (strided),
  stride-0 (expanded), transposed (a permutation of a contiguous tensor), channels-last, offset;
- ``edge``: the edge conditions in the call (inf, nan, empty, batch 1, ignored targets, all ignored)
  and the keyword parameters passed with them (the *edge x variant* pairs);
- ``terms``: the number of elements of the largest tensor (the length of the reduction);
- ``cotangent``: ones, one number for every element, or per-element values;
- ``differentiated``: the arguments that require a gradient;
- ``gap``: the smallest relative gap between two inputs that a formula subtracts (a near-coincident
  pair: ``LossSpec.gap``);
- ``broadcast``: whether the value arguments' shapes differ;
- ``device`` and ``dtype``.

The plug-in is called exactly as without recording (the wrapper passes the same objects on and only
reads them); a recorded run is a gate run with its verdict.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
from collections import Counter, defaultdict

OPTION = "--record"

#: the bands of :func:`gap_band` (relative gap between the two inputs of a subtraction)
GAP_BANDS = ((0.0, "0"), (1e-12, "< 1e-12"), (1e-6, "1e-12 .. 1e-6"), (1e-2, "1e-6 .. 1e-2"), (math.inf, ">= 1e-2"))

#: a reduction at least this long is *long* (summation error grows with the length)
LONG = 1000


def layout(t) -> str:
    """The memory layout of tensor ``t``: contiguous, stride-0, channels-last, transposed, offset or
    non-contiguous (strided)."""
    import torch

    if t.numel() <= 1:
        return "contiguous" if t.storage_offset() == 0 else "offset"
    if any(s == 0 and n > 1 for s, n in zip(t.stride(), t.shape)):
        return "stride-0"
    if t.is_contiguous():
        return "contiguous" if t.storage_offset() == 0 else "offset"
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return "channels-last"
    # a permutation of a contiguous tensor: the strides, sorted, are those of the sorted sizes
    order = sorted(range(t.dim()), key=lambda i: -t.stride(i))
    if t.permute(*order).is_contiguous():
        return "transposed"
    return "non-contiguous"


def _event_dims(loss: str) -> int:
    from .specs import SPECS

    return SPECS[loss].event_dims if loss in SPECS else 0


def _gap(loss: str, args, kwargs):
    import torch

    from .specs import SPECS

    gap = SPECS[loss].gap if loss in SPECS else None
    try:
        if gap is not None:
            pair = gap(args, kwargs)
        else:
            floats = [a for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
            pair = next(((a, b) for a, b in itertools.combinations(floats, 2) if a.shape == b.shape), None)
        if pair is None:
            return None
        a, b = (p.detach().double() for p in pair)
        ok = torch.isfinite(a) & torch.isfinite(b) & ((a != 0) | (b != 0))
        if not bool(ok.any()):
            return None
        rel = (a - b).abs()[ok] / torch.maximum(a.abs(), b.abs())[ok]
        return float(rel.min())
    except Exception:  # a pair the call's tensors do not form (shapes, dtypes): no gap recorded
        return None


def describe(loss: str, names, label_args, args, kwargs) -> dict:
    """One call as a JSON-able record (see the module docstring); ``names``: the positional names."""
    import torch

    tensors = {**dict(zip(names, args)), **{k: v for k, v in kwargs.items() if isinstance(v, torch.Tensor)}}
    tensors = {k: v for k, v in tensors.items() if isinstance(v, torch.Tensor)}
    first = next(iter(tensors.values()), None)
    rec = {"loss": loss, "dtype": str(first.dtype).replace("torch.", "") if first is not None else None,
           "device": first.device.type if first is not None else None,
           "layout": {k: layout(v) for k, v in tensors.items()},
           "shape": {k: list(v.shape) for k, v in tensors.items()},
           "differentiated": sorted(k for k, v in tensors.items() if v.requires_grad),
           "kwargs": sorted(k for k, v in kwargs.items() if v is not None and k != "reduction"),
           "reduction": kwargs.get("reduction"),
           "terms": max((v.numel() for v in tensors.values()), default=0)}
    values = [v for k, v in tensors.items() if k in names and k not in label_args and v.is_floating_point()]
    # an elementwise loss broadcasts its labels too (hinge's +-1 target against a (N, D) input)
    elementwise = _event_dims(loss) == 0
    shaped = [v for k, v in tensors.items() if k in names and (elementwise or k not in label_args) and v.is_floating_point()]
    rec["broadcast"] = len({tuple(v.shape) for v in shaped}) > 1
    if first is None or first.device.type == "meta":
        return rec
    edge = set()
    for k, v in tensors.items():
        if v.numel() == 0:
            edge.add("empty")
        elif v.is_floating_point():
            if bool(torch.isinf(v).any()):
                edge.add("inf")
            if bool(torch.isnan(v).any()):
                edge.add("nan")
    if first.dim() >= 2 and first.shape[0] == 1:
        edge.add("batch 1")
    index = [v for k, v in tensors.items() if k in names and not v.is_floating_point() and k not in label_args]
    if index:
        ignored = index[0] == int(kwargs.get("ignore_index", -100))
        if bool(ignored.any()):
            edge.add("all ignored" if bool(ignored.all()) else "ignored")
    rec["edge"] = sorted(edge)
    finite = [v.detach().double().abs()[torch.isfinite(v)] for v in values if v.numel()]
    finite = [f[f > 0] for f in finite]
    rec["magnitude"] = max((float(f.max()) for f in finite if f.numel()), default=0.0)
    rec["gap"] = _gap(loss, args, kwargs)
    return rec


def _cotangent(g) -> str:
    if g.numel() <= 1:
        return "scalar"
    if bool((g == 1).all()):
        return "ones"
    flat = g.reshape(-1)
    return "one number" if bool((flat == flat[0]).all()) else "per element"


class Recorder:
    """Appends the records of the calls of the wrapped callables to ``path`` (one JSON line each)."""

    def __init__(self, path: str):
        self.path = path
        self.counter = itertools.count()

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:  # one short write per line: appends from xdist workers do not interleave
            f.write(json.dumps(record) + "\n")

    def _cotangent_hook(self, call: str, g) -> None:
        """Record the kind of the upstream gradient of ``call`` (never changes it; a gradient autograd
        passes as None -- a second-order pass -- or one that cannot be read is not recorded)."""
        try:
            if g is not None:
                self.write({"call": call, "cotangent": _cotangent(g)})
        except Exception:
            pass

    def wrap(self, subject):
        """``subject`` (a :class:`~properties.subjects.Subject`) with its callable recording each call."""
        import dataclasses

        from .specs import SPECS

        spec = SPECS[subject.loss]
        fn = subject.fn
        if fn is None:
            return subject

        @functools.wraps(fn)
        def recorded(*args, **kwargs):
            call = f"{os.getpid()}-{next(self.counter)}"
            try:
                rec = describe(spec.name, spec.arg_names, spec.label_args, args, kwargs)
            except Exception as exc:  # a record is never a reason for a call to fail
                rec = {"loss": spec.name, "error": f"{type(exc).__name__}: {exc}"}
            rec["call"], rec["plugin"] = call, subject.name
            self.write(rec)
            out = fn(*args, **kwargs)
            if getattr(out, "requires_grad", False):
                out.register_hook(functools.partial(self._cotangent_hook, call))
            return out

        return dataclasses.replace(subject, fn=recorded, signature=subject.signature or fn)


def read(path: str) -> list[dict]:
    """The call records of ``path`` with each call's cotangent joined in."""
    calls, cotangents = {}, defaultdict(set)
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if "cotangent" in rec:
                cotangents[rec["call"]].add(rec["cotangent"])
            else:
                calls[rec["call"]] = rec
    for key, rec in calls.items():
        rec["cotangents"] = sorted(cotangents.get(key, ()))
    return list(calls.values())


def gap_band(gap: float | None) -> str | None:
    if gap is None:
        return None
    return next(label for edge, label in GAP_BANDS if gap <= edge or edge == math.inf)


def summary(records: list[dict]) -> dict[str, Counter]:
    """Per region, ``Counter`` of what the calls reached (``calls`` counts them all)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        if "error" in r:
            out["errors"]["calls"] += 1
            continue
        out["calls"]["calls"] += 1
        out["device"][r["device"]] += 1
        out["dtype"][r["dtype"]] += 1
        for name, lay in r["layout"].items():
            out["layout"][f"{name}: {lay}"] += 1
        for name in r["differentiated"]:
            out["differentiated"][name] += 1
        for kind in r.get("cotangents", ()):
            out["cotangent"][kind] += 1
        out["terms"][f">= {LONG}" if r["terms"] >= LONG else f"< {LONG}"] += 1
        out["broadcast"]["broadcast" if r["broadcast"] else "same shape"] += 1
        for e in r.get("edge", ()):
            out["edge"][e] += 1
            out["edge x variant"][f"{e} x {'-'.join(r['kwargs']) or 'defaults'}"] += 1
        band = gap_band(r.get("gap"))
        if band:
            out["gap"][band] += 1
    return out


def table(records: list[dict], loss: str) -> str:
    """A Markdown section: what the recorded gate run fed ``loss``, per region, in calls and shares."""
    s = summary([r for r in records if r.get("loss") == loss])
    total = s["calls"]["calls"] or 1
    lines = [f"### {loss}", "", f"{s['calls']['calls']} calls" + (f", {s['errors']['calls']} not described"
                                                                   if s["errors"]["calls"] else ""), "",
             "| region | reached (calls, share of all calls) |", "|---|---|"]
    for region in ("device", "dtype", "layout", "edge", "edge x variant", "terms", "cotangent", "differentiated",
                   "gap", "broadcast"):
        items = sorted(s[region].items(), key=lambda kv: (-kv[1], kv[0]))
        cell = "; ".join(f"{k} {v} ({100 * v / total:.0f} %)" for k, v in items) or "-"
        lines.append(f"| {region} | {cell} |")
    return "\n".join(lines)


#: the layouts other than contiguous
STRIDED = ("non-contiguous", "transposed", "stride-0", "channels-last", "offset")


def variant_keys(spec) -> set[tuple]:
    """The keyword names (as recorded: not None, reduction aside) a drawn case of each of ``spec``'s variants
    passes: the parameter sets the regions are required under (a fixed row called with fewer keywords, a
    bad-input call, is not a parameter set of its own)."""
    from .coverage import draw_cases

    keys = set()
    for variant in spec.variants:
        for case in draw_cases(spec, variant, "float64", 3):
            keys.add(tuple(sorted(k for k, v in case.kwargs.items() if v is not None and k != "reduction")))
    return keys


def unreached(spec, records: list[dict], *, differentiable=(), broadcasts: bool = False, devices=("cpu",)) -> list[str]:
    """The regions the recorded calls of ``spec``'s loss did not reach, in words (empty: all reached).

    - under every parameter set (variant: ``variant_keys``) called, every tensor argument with more than
      one element in some call comes non-contiguous in some call, and stride-0 in some call;
    - every edge condition that occurs at all occurs under every parameter set called (an infinite
      prediction only where the contract fixes its limit: ``INFINITY_BY_TABLE``);
    - a reduction of at least ``LONG`` terms in every dtype;
    - a per-element cotangent (a loss with ``reduction='none'``);
    - every argument of ``differentiable`` differentiated;
    - a gap below 1e-6 between the inputs the formula subtracts, where the loss has such a pair;
    - broadcast shapes, where the contract ``broadcasts``;
    - every device of ``devices``.
    """
    from .edge_cases.crossed import INFINITY_BY_TABLE

    out = []
    calls = [r for r in records if "error" not in r and r.get("loss") == spec.name]
    if not calls:
        return ["no call recorded"]
    called = {tuple(r["kwargs"]) for r in calls}
    keys = (called & variant_keys(spec)) or called  # a plug-in lacking parameters: the sets it was called with
    for variant in sorted(keys):
        mine = [r for r in calls if tuple(r["kwargs"]) == variant]
        where = f" under {'-'.join(variant) or 'defaults'}"
        multi = {k for r in mine for k, shape in r.get("shape", {}).items() if math.prod(shape) > 1}
        for name in sorted(multi):
            seen = {r["layout"][name] for r in mine if name in r["layout"]}
            if not seen & set(STRIDED):
                out.append(f"layout: {name} never non-contiguous{where}")
            if "stride-0" not in seen:
                out.append(f"layout: {name} never stride-0{where}")
    valued = [r for r in calls if "edge" in r and tuple(r["kwargs"]) in keys]
    # an infinite prediction whose limit the contract leaves open is checked by the loss's own rows only
    # (edge_cases.crossed.INFINITY_BY_TABLE), not under every parameter set
    # ... and partly ignored targets are a value of the ignore_index parameter (its variants), not an edge
    # condition crossed with every parameter set (all targets ignored is)
    edges = {e for r in valued for e in r["edge"]} - ({"inf"} if spec.name in INFINITY_BY_TABLE else set()) - {"ignored"}
    variants = {tuple(r["kwargs"]) for r in valued}
    pairs = {(e, tuple(r["kwargs"])) for r in valued for e in r["edge"]}
    for e in sorted(edges):
        for v in sorted(variants):
            if (e, v) not in pairs:
                out.append(f"edge x variant: {e} x {'-'.join(v) or 'defaults'} never")
    for dtype in sorted({r["dtype"] for r in calls}):
        if not any(r["terms"] >= LONG for r in calls if r["dtype"] == dtype):
            out.append(f"long reduction: no call with >= {LONG} terms in {dtype}")
    if "none" in spec.reductions and not any("per element" in r.get("cotangents", ()) for r in calls):
        out.append("cotangent: never per element")
    done = {n for r in calls for n in r["differentiated"]}
    out += [f"differentiated: {n} never" for n in differentiable if n not in done]
    gaps = [r.get("gap") for r in valued if r.get("gap") is not None]
    if gaps and not any(g < 1e-6 for g in gaps):
        out.append("gap: never below 1e-6")
    if broadcasts and not any(r["broadcast"] for r in calls):
        out.append("broadcast: never")
    out += [f"device: never {d}" for d in devices if not any(r["device"] == d for r in calls)]
    return out
