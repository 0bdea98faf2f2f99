"""The audit's Markdown report (``audit.md``) and the summary printed at the end of a run.

Reading the numbers: the error of an output element is ``|got - reference|`` with the reference
the float64 value of the exact loss at the inputs as rounded to the dtype (so input rounding is
not counted against the implementation); "ulp" is that error in units in the last place of the
dtype at the reference value (a correctly rounded result is within 0.5 ulp); "bound" is the
tolerance model's bound (``properties/tolerance.py``: what the tests allow); "over bound" counts
elements beyond it.  The distributions cover every evaluated input, including the inputs
Hypothesis steered towards larger errors, so p50/p99 lean high compared with random sampling.
"""

from __future__ import annotations

from collections import defaultdict

from ..formats import DTYPE_NAMES
from .numbers import cell, compact, decode

INF = float("inf")


def _dtypes(audit) -> list[str]:
    return [d for d in DTYPE_NAMES if d in audit["options"]["dtypes"]]


def _devices(audit) -> list[str]:
    return list(audit["options"]["devices"])


def aggregate(audit) -> dict:
    """(loss, subject, dtype, device) -> {max_ulp, cond_ulp (well-conditioned elements), max_ratio, over,
    nonfinite, raised, inputs, skipped, worst}."""
    agg = defaultdict(lambda: {"max_ulp": 0.0, "cond_ulp": 0.0, "max_ratio": 0.0, "over": 0, "nonfinite": 0,
                               "raised": 0, "breached": 0, "inputs": 0, "skipped": 0, "worst": None})
    for m in audit["measurements"]:
        a = agg[(m["loss"], m["subject"], m["dtype"], m["device"])]
        a["inputs"] += m["inputs"]
        a["skipped"] += m["skipped"]
        a["over"] += m["over_bound"]
        a["nonfinite"] += m["nonfinite"]
        a["raised"] += m["raised"]
        a["breached"] += m.get("breached", 0)
        if m["ulp"] is not None:
            if decode(m["ulp"]["max"]) >= a["max_ulp"]:
                a["max_ulp"], a["worst"] = decode(m["ulp"]["max"]), m
            a["max_ratio"] = max(a["max_ratio"], decode(m["bound_ratio"]["max"]))
        if m.get("ulp_conditioned") is not None:
            a["cond_ulp"] = max(a["cond_ulp"], decode(m["ulp_conditioned"]["max"]))
    return agg


def _summary_table(audit, figure: str = "cond_ulp") -> list[str]:
    """One row per loss x subject, one column per dtype (x device): ``figure`` ("cond_ulp": ulps of
    the well-conditioned elements; "max_ulp": of all) and, in brackets, the largest error / bound."""
    agg = aggregate(audit)
    cols = [(d, dev) for dev in _devices(audit) for d in _dtypes(audit)]
    many = len(_devices(audit)) > 1
    head = ["loss", "subject"] + [f"{d} {dev}" if many else d for d, dev in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for loss, subject in dict.fromkeys((k[0], k[1]) for k in agg):
        cells = []
        for d, dev in cols:
            a = agg.get((loss, subject, d, dev))
            if a is None or a["inputs"] == 0:
                cells.append("-")
                continue
            flags = [f"**{a['over']} over bound**" if a["over"] else "",
                     f"**{a['nonfinite']} non-finite**" if a["nonfinite"] else "",
                     f"**raised {a['raised']}x**" if a["raised"] else "",
                     f"**{a['breached']} contract breach(es)**" if a["breached"] else ""]
            cells.append(f"{compact(a[figure])} ({a['max_ratio']:.2g})" + "".join(f" {f}" for f in flags if f))
        lines.append(f"| {loss} | {subject} | " + " | ".join(cells) + " |")
    return lines


def _stats(st) -> str:
    return "-" if st is None else f"{compact(st['max'])} / {compact(st['p50'])} / {compact(st['p99'])}"


def _rel(st) -> str:
    return "-" if st is None else " / ".join(_g(st[k]) if isinstance(st[k], str) else f"{st[k]:.2g}"
                                              for k in ("max", "p50", "p99"))


def _detail_section(audit) -> list[str]:
    """Every measurement: the distributions (max / p50 / p99) per loss, in a collapsed table."""
    by_loss = defaultdict(list)
    for m in audit["measurements"]:
        by_loss[m["loss"]].append(m)
    out = []
    for loss, ms in by_loss.items():
        out += [f"<details><summary>{loss}: {len(ms)} measurements</summary>", "",
                "| subject | dtype | device | variant | reduction | inputs (skipped) | elements | ulp max / p50 / p99 | "
                "rel max / p50 / p99 | error/bound max / p50 / p99 | over bound |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for m in ms:
            out.append(f"| {m['subject']} | {m['dtype']} | {m['device']} | {m['variant']} | {m['reduction']} | "
                       f"{m['inputs']} ({m['skipped']}) | {m['elements']} | {_stats(m['ulp'])} | {_rel(m['rel'])} | "
                       f"{_rel(m['bound_ratio'])} | {m['over_bound']} |")
        out += ["", "</details>", ""]
    return out


def _worst_section(audit, limit: int = 12) -> list[str]:
    agg = aggregate(audit)
    worst = sorted((a for a in agg.values() if a["worst"] is not None and a["worst"]["worst"] is not None),
                   key=lambda a: -a["max_ulp"])[:limit]
    out = ["| loss | subject | dtype | device | variant | reduction | ulp | rel | error/bound | got | reference |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in worst:
        m, w = a["worst"], a["worst"]["worst"]
        out.append(f"| {m['loss']} | {m['subject']} | {m['dtype']} | {m['device']} | {m['variant']} | {m['reduction']} | "
                   f"{compact(w['ulp'])} | {_g(w['rel'])} | {_g(w['bound_ratio'])} | {_g(w['got'])} | {_g(w['reference'])} |")
    out.append("")
    for a in worst[:6]:
        m, w = a["worst"], a["worst"]["worst"]
        out += [f"<details><summary>{m['loss']} / {m['subject']} / {m['dtype']} / {m['device']}: "
                f"{compact(w['ulp'])} ulp -- reproduction</summary>", "", "```python", w["reproduction"], "```",
                "", "</details>", ""]
    return out


def _g(v) -> str:
    if isinstance(v, str):
        return v
    return f"{v:.4g}"


def _over_bound_section(audit) -> list[str]:
    bad = [m for m in audit["measurements"] if m["over_bound"] or m["nonfinite"] or m["raised"] or m.get("breached")]
    if not bad:
        return ["No element exceeded the tolerance model's bound, none was non-finite where the reference is "
                "finite, and no subject raised on a valid input or otherwise broke its contract."]
    out = ["The inputs below are the ones the audit met, not minimal ones: the tests shrink a failure to a "
           "minimal input (`python3 -m pytest tests/gate/test_agreement.py -k \"LOSS and DTYPE\"` for the built-ins and "
           "adapters, `lossproof gate --impl LOSS=MODULE:ATTR` for yours).", ""]
    for m in bad[:20]:
        w = m["worst_vs_bound"]
        what = [f"{m['over_bound']} element(s) over the bound" if m["over_bound"] else "",
                f"{m['nonfinite']} non-finite" if m["nonfinite"] else "",
                f"raised on {m['raised']} input(s): {m['raised_example']}" if m["raised"] else "",
                f"broke the contract on {m['breached']} input(s): {m['breach_example']}" if m.get("breached") else ""]
        out.append(f"- **{m['loss']} / {m['subject']} / {m['dtype']} / {m['device']} / {m['variant']} / "
                   f"{m['reduction']}**: " + "; ".join(x for x in what if x))
        if w is not None and m["over_bound"]:
            out += ["", "  ```python", *("  " + line for line in w["reproduction"].splitlines()), "  ```"]
    if len(bad) > 20:
        out.append(f"- ... and {len(bad) - 20} more measurement(s) (audit.json)")
    return out


def _magnitude_section(audit) -> list[str]:
    """Per loss, subject and device: max ulp error per decade of the input magnitude, rows dtype."""
    table = defaultdict(lambda: defaultdict(float))  # (loss, subject, device, dtype) -> decade -> max ulp
    for m in audit["measurements"]:
        for b in m["by_magnitude"]:
            if b["decade"] is not None:
                key = (m["loss"], m["subject"], m["device"], m["dtype"])
                value = b.get("max_ulp_conditioned", b["max_ulp"])
                table[key][b["decade"]] = max(table[key][b["decade"]], decode(value))
    out = []
    groups = dict.fromkeys(k[:3] for k in table)
    for loss, subject, device in groups:
        decades = sorted({d for (l, s, dev, _), row in table.items() if (l, s, dev) == (loss, subject, device)
                          for d in row})
        if not decades:
            continue
        lo, hi = decades[0], decades[-1]
        bins = list(range(lo, hi + 1, max(1, (hi - lo + 1 + 11) // 12)))  # at most ~12 columns
        width = bins[1] - bins[0] if len(bins) > 1 else 1
        label = (lambda b: f"1e{b}") if width == 1 else (lambda b: f"1e{b}..1e{b + width - 1}")
        out += [f"**{loss} / {subject} / {device}** (max ulp error of the well-conditioned elements, by |input|)", "",
                "| dtype | " + " | ".join(label(b) for b in bins) + " |", "|---|" + "---|" * len(bins)]
        for dtype in _dtypes(audit):
            row = table.get((loss, subject, device, dtype))
            if not row:
                continue
            cells = []
            for b in bins:
                vals = [v for d, v in row.items() if b <= d < b + width]
                cells.append(compact(max(vals)) if vals else "")
            out.append(f"| {dtype} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def _device_section(audit) -> list[str]:
    diffs = audit["device_differences"]
    if not diffs:
        return ["Only one device was audited (no CUDA device here, or `--device` named one)."]
    by = defaultdict(lambda: [0, 0, 0.0])
    for d in diffs:
        b = by[(d["loss"], d["subject"], d["dtype"])]
        b[0] += d["elements"]
        b[1] += d["differing"]
        b[2] = max(b[2], decode(d["max_ulp"]))
    dev = " vs ".join(diffs[0]["devices"])
    out = [f"Same inputs on {dev}: elements not bit-identical, and the largest difference in ulps of the dtype.", "",
           "| loss | subject | dtype | elements | differing | max ulp |", "|---|---|---|---|---|---|"]
    out += [f"| {k[0]} | {k[1]} | {k[2]} | {v[0]} | {v[1]} | {compact(v[2])} |" for k, v in by.items()]
    return out


GRAD = {"finite": "", "non-finite": " **grad non-finite**", "none": " (no grad)", "raises": " **grad raises**",
        "not applicable": ""}
OUTCOME = {"met": "ok", "unmet": "**UNMET**", "known deviation": "known dev.", "skipped": "skip"}


def _edge_section(audit) -> list[str]:
    edges = audit["edge_cases"]
    if not edges:
        return ["Not run (`--no-edge-cases`)."]
    counts = defaultdict(lambda: defaultdict(int))
    for e in edges:
        counts[(e["loss"], e["subject"])][e["outcome"]] += 1
        if e["gradient"] == "non-finite":
            counts[(e["loss"], e["subject"])]["grad non-finite"] += 1
    keys = ["met", "unmet", "known deviation", "skipped", "grad non-finite"]
    out = ["| loss | subject | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    out += [f"| {l} | {s} | " + " | ".join(str(c[k]) for k in keys) + " |" for (l, s), c in counts.items()]
    out += ["", "What each subject returns at each row (cell: outcome, returned value, gradient "
            "finiteness when not finite):", ""]
    by_loss = defaultdict(list)
    for e in edges:
        by_loss[e["loss"]].append(e)
    for loss, rows in by_loss.items():
        cols = list(dict.fromkeys((e["subject"], e["dtype"], e["device"]) for e in rows))
        many = len(_devices(audit)) > 1
        out += [f"<details><summary>{loss}: {len(dict.fromkeys(e['row'] for e in rows))} rows</summary>", "",
                "| row | " + " | ".join(f"{s} {d}" + (f" {dev}" if many else "") for s, d, dev in cols) + " |",
                "|---|" + "---|" * len(cols)]
        by_cell = {(e["row"], e["subject"], e["dtype"], e["device"]): e for e in rows}
        for name in dict.fromkeys(e["row"] for e in rows):
            cells = []
            for c in cols:
                e = by_cell.get((name, *c))
                cells.append("" if e is None else cell(f"{OUTCOME[e['outcome']]}: {e['returned']}{GRAD[e['gradient']]}"))
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out += ["", "</details>", ""]
    return out


def _claims_section(audit) -> list[str]:
    claims = audit["claims"]
    if not claims:
        return ["Not run."]
    out = ["| claim | loss | the article | verdict | article right? |", "|---|---|---|---|---|"]
    out += [f"| {c['id']} | {c['loss']} | `{cell(c['article'])}` | {c['verdict']} | {'yes' if c['holds'] else '**no**'} |"
            for c in claims]
    out.append("")
    out += [f"- **{c['id']}**: {c['finding']}" for c in claims]
    return out


def _environment_section(audit) -> list[str]:
    env = audit["environment"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    out = [f"- Python {env['python']} on {env['platform']}; {versions}",
           f"- torch threads {env['torch_threads']}; deterministic algorithms {env['deterministic_algorithms']}; "
           f"seed {env['seed']}"]
    for d in env["devices"]:
        extra = "" if d["device"] == "cpu" else (f"; CUDA {d['cuda_version']}, capability {d['capability']}, "
                                                 f"TF32 matmul {d['tf32_matmul']}, TF32 cuDNN {d['tf32_cudnn']}")
        out.append(f"- device {d['device']}: {d['name']}{extra}; float32 matmul precision {d['float32_matmul_precision']}")
    return out


def _not_audited(audit) -> list[str]:
    done = {m["loss"] for m in audit["measurements"]}
    missing = [l for l in audit["options"]["losses"] if l not in done]
    return [f"Not audited (no implementation installed or selected; pass `--impl LOSS=MODULE:ATTR`): "
            f"{', '.join(missing)}.", ""] if missing else []


def _conventions(audit) -> list[str]:
    """The plug-ins' declared conventions and API limits (``properties.conventions``)."""
    declared = audit.get("conventions") or {}
    if not declared:
        return []
    return ["Declared conventions and API limits of the plug-ins (the gate checks them under these; this "
            "audit measures against the contract's reference, where a declared convention's difference "
            "counts as error):", *[f"- {k}: {', '.join(v)}" for k, v in declared.items()], ""]


def summary(audit, comparison=None) -> str:
    """The printed summary: the headline table, claims' verdicts, the baseline's result."""
    o = audit["options"]
    lines = [f"lossproof audit: {len(audit['measurements'])} measurements, {o['examples']} examples per "
             f"loss x variant x dtype, seed {o['seed']}, {audit['duration_s']:.1f} s", "",
             "max ulp error of the well-conditioned elements (max error / tolerance bound) per loss, subject "
             "and dtype (bold: over the bound, non-finite, raised, contract breaches):", ""]
    lines += _summary_table(audit)
    lines += [""] + _not_audited(audit) + _conventions(audit)
    if audit["claims"]:
        wrong = [c["id"] for c in audit["claims"] if not c["holds"]]
        lines.append(f"article claims: {len(audit['claims'])} checked, {len(wrong)} wrong ({', '.join(wrong)})")
    if audit["edge_cases"]:
        unmet = sum(e["outcome"] == "unmet" for e in audit["edge_cases"])
        nonfinite = sum(e["gradient"] == "non-finite" for e in audit["edge_cases"])
        lines.append(f"edge cases: {len(audit['edge_cases'])} evaluated, {unmet} unmet, "
                     f"{nonfinite} with a non-finite gradient")
    if comparison is not None:
        r = comparison["result"]
        lines.append(f"baseline {comparison['old']}: {len(r['regressions'])} regression(s), {len(r['worse'])} worse "
                     f"within the bound, {len(r['improved'])} improved, {r['compared']} compared")
        lines += [f"  REGRESSION {f['what']}" for f in r["regressions"]]
    return "\n".join(lines)


def render(audit, comparison=None, plots=(), plots_missing=None) -> str:
    """The full Markdown report."""
    o = audit["options"]
    parts = [
        "# lossproof audit", "",
        f"`{' '.join(audit['command'])}` -- {audit['generated']}, {audit['duration_s']:.1f} s; "
        f"losses: {', '.join(o['losses'])}; dtypes: {', '.join(o['dtypes'])}; devices: {', '.join(o['devices'])}; "
        f"{o['examples']} Hypothesis examples per loss x variant x dtype (generated, then steered towards larger "
        f"error with `hypothesis.target`); seed {o['seed']}.", "",
        "## Environment", "", *_environment_section(audit), "",
        "## Summary", "",
        "Largest error in ulps of the dtype over the well-conditioned output elements of every variant and "
        "reduction (the reference is exact at the inputs as rounded to the dtype; a correctly rounded result is "
        "within 0.5 ulp; well-conditioned: the tolerance bound is at most 16 u |exact|, no cancellation), and in "
        "brackets the largest error / the tolerance model's bound over all elements (above 1: beyond what the "
        "arithmetic explains).  Bold: elements over the bound, non-finite where the reference is finite, "
        "inputs the subject raised on, or inputs on which it otherwise broke its contract (a wrong type, dtype, "
        "device or shape, a hang, a mutated input).  Per-setting distributions (max, p50, p99 in ulps, relative "
        "and against the bound) are in the detail tables below and in audit.json.", "",
        *_summary_table(audit), "",
        "The same over all elements, cancelling results included: a huge ulp figure with a small ratio is a "
        "result near 0 (where an ulp is tiny) computed from large intermediates -- 1 - cos of parallel vectors is "
        "exactly 0 while float32 gives 1.2e-7, which is 8.5e37 ulp of the smallest subnormal.", "",
        *_summary_table(audit, "max_ulp"), "", *_not_audited(audit), *_conventions(audit),
        "## Error distributions per setting", "", *_detail_section(audit),
        "## Largest errors found", "", *_worst_section(audit),
        "## Over the bound, non-finite, raised, contract breaches", "", *_over_bound_section(audit), "",
        "## Error vs input magnitude", "",
        "Where does a dtype start to break?  Largest ulp error of the well-conditioned output elements whose "
        "input magnitude falls in each decade (an unreduced element: max |first argument| over its own row or "
        "element; a mean or sum: over the whole input).  The figures over all elements, cancellation included, "
        "are `by_magnitude[].max_ulp` in audit.json; the strategies keep every magnitude inside the range where "
        "the dtype's result is finite (beyond it, see the edge-case matrix: saturated logits, overflow).", "",
        *_magnitude_section(audit),
        "## CPU vs CUDA", "", *_device_section(audit), "",
        "## Edge-case matrix", "", *_edge_section(audit), "",
    ]
    if audit["claims"]:  # left out of an audit of plug-ins only (the claims are about the built-ins)
        parts += ["## The source article's claims", "", *_claims_section(audit), ""]
    if comparison is not None:
        from .baseline import render_markdown

        parts += [render_markdown(comparison["result"], comparison["old"], "this audit"), ""]
    parts += ["## Plots", ""]
    parts += [f"![{p}]({p})" for p in plots] or [f"Not drawn: {plots_missing}."]
    parts += ["", "## How to read this report", "", __doc__.split("\n\n", 1)[1].strip(), ""]
    return "\n".join(parts)
