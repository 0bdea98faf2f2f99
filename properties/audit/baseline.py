"""Compare two audits (``lossproof audit --baseline OLD.json``): two torch versions, two commits
of a user's loss.  Usable as a CI gate: :func:`exit_code` is 1 when there is a regression.

Records are matched by their key: a measurement by ``(loss, subject, dtype, device, variant,
reduction)``, an edge case by ``(loss, row, subject, dtype, device)``.  Only records present in
both audits are compared (their ``inputs`` / ``elements`` may differ: another seed, another
``--examples``).  The rules, which define "a regression beyond the bound":

**regression** (a failure; exit status 1)

* measurement: ``over_bound`` > 0 where it was 0 (an error now exceeds the tolerance model's
  bound); or ``nonfinite`` grew (NaN / inf where the reference is finite); or ``raised`` > 0
  where it was 0 (the subject now raises on valid input); or ``breached`` > 0 where it was 0 (it
  now breaks its contract otherwise: a wrong type, dtype, device or shape, a hang, a mutation);
* edge case: outcome ``met`` or ``known deviation`` before and ``unmet`` now; or gradient
  ``finite`` before and ``non-finite`` now.

**worse** (informational): a measurement that is not a regression whose largest ulp error
(``ulp.max``) grew by more than a factor 2 *and* by more than 1 ulp (so 0.5 -> 1.2 is noise,
2 -> 10 is worse).

**improved** (informational): a regression condition in reverse (over the bound before and
not now; fewer non-finite elements; raised before and not now; an edge case ``unmet`` before and
``met`` now; a gradient ``non-finite`` before and ``finite`` now), or ``ulp.max`` shrank by more
than a factor 2 and by more than 1 ulp (the ``worse`` rule mirrored).  A record can be both a
regression and improved (over the bound now, but no longer raising): it is listed in both.

**new** / **missing**: keys only in the new / only in the old audit (listed, not failures).

Numbers may be the strings ``"inf"``, ``"-inf"``, ``"nan"`` (the schema's non-finite numbers):
``inf`` is larger than any finite number (finite -> inf is worse); ``inf`` -> ``inf`` and any
comparison with ``nan`` or a missing statistic (``ulp`` null: no elements) is not comparable
and skipped.  ``device_differences`` and ``claims`` are not compared.

Pure Python (no torch): it reads two ``audit.json`` files.  ``python -m
properties.audit.baseline OLD.json NEW.json`` prints the Markdown comparison and exits with
:func:`exit_code`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from .numbers import cell, compact, decode

SCHEMA = "lossproof-audit"
SCHEMA_VERSION = 1

MEASUREMENT_KEY = ("loss", "subject", "dtype", "device", "variant", "reduction")
EDGE_CASE_KEY = ("loss", "row", "subject", "dtype", "device")
CATEGORIES = ("regressions", "worse", "improved", "new", "missing")

#: ulp growth / shrinkage that counts as worse / improved: more than this factor and more than ULP_STEP
ULP_FACTOR = 2.0
ULP_STEP = 1.0


class BaselineError(ValueError):
    """The baseline (or the new audit) cannot be compared: unreadable, not an audit, another
    schema version."""


def load_audit(path) -> dict:
    """The audit in ``path`` (a ``lossproof audit`` JSON file of schema version 1); raises
    :class:`BaselineError` naming the file and what is wrong with it."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            audit = json.load(f)
    except OSError as e:
        raise BaselineError(f"{path}: cannot read the audit: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BaselineError(f"{path}: not a JSON file ({e})") from e
    if not isinstance(audit, dict) or audit.get("schema") != SCHEMA:
        found = audit.get("schema") if isinstance(audit, dict) else type(audit).__name__
        raise BaselineError(f"{path}: not a lossproof audit (schema {found!r}, expected {SCHEMA!r}); "
                            "write one with `lossproof audit`")
    version = audit.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BaselineError(f"{path}: audit schema_version {version!r}, this lossproof reads version "
                            f"{SCHEMA_VERSION}; re-run the baseline audit with this lossproof version")
    for field in ("measurements", "edge_cases"):
        if not isinstance(audit.get(field), list):
            raise BaselineError(f"{path}: malformed audit: {field!r} is missing or not a list")
    return audit


def _max_ulp(m: dict) -> float | None:
    stats = m.get("ulp")
    return decode(stats.get("max")) if isinstance(stats, dict) else None


def _summary(m: dict) -> dict:
    """What a measurement finding shows of one side."""
    ratio = m.get("bound_ratio")
    return {"over_bound": m.get("over_bound"), "nonfinite": m.get("nonfinite"), "raised": m.get("raised"),
            "elements": m.get("elements"), "inputs": m.get("inputs"),
            "max_ulp": (m.get("ulp") or {}).get("max"),
            "max_bound_ratio": ratio.get("max") if isinstance(ratio, dict) else None}


def _label(kind: str, key: dict) -> str:
    if kind == "edge_case":
        return f"{key['loss']} edge case {key['row']!r} [{key['subject']}] {key['dtype']} {key['device']}"
    return (f"{key['loss']} [{key['subject']}] {key['dtype']} {key['device']} "
            f"variant={key['variant']} reduction={key['reduction']}")


def _index(records, fields) -> dict:
    """key tuple -> record (a repeated key: the last one)."""
    return {tuple(r.get(f) for f in fields): r for r in records or ()}


def _ulp_change(old: float | None, new: float | None) -> str | None:
    """"worse" / "improved" / None by the ulp rule (None: within noise or not comparable)."""
    if old is None or new is None or math.isnan(old) or math.isnan(new) or old == new:
        return None
    lo, hi, direction = (old, new, "worse") if new > old else (new, old, "improved")
    if hi > ULP_FACTOR * lo and hi - lo > ULP_STEP:
        return direction
    return None


def _measurement(key: dict, old: dict, new: dict, out: dict) -> None:
    bad, good = [], []
    ob_o, ob_n = old.get("over_bound", 0), new.get("over_bound", 0)
    ratio = f" (max error/bound {compact(_summary(old)['max_bound_ratio'])} -> {compact(_summary(new)['max_bound_ratio'])})"
    if ob_n > 0 and ob_o == 0:
        bad.append(f"over bound {ob_o} -> {ob_n} of {new.get('elements')} elements{ratio}")
    elif ob_o > 0 and ob_n == 0:
        good.append(f"over bound {ob_o} -> {ob_n}{ratio}")
    nf_o, nf_n = old.get("nonfinite", 0), new.get("nonfinite", 0)
    if nf_n > nf_o:
        bad.append(f"non-finite where the reference is finite {nf_o} -> {nf_n}")
    elif nf_n < nf_o:
        good.append(f"non-finite where the reference is finite {nf_o} -> {nf_n}")
    for count, example_key, now, then in (("raised", "raised_example", "raises on", "raised on"),
                                          ("breached", "breach_example", "breaks its contract on", "broke its contract on")):
        c_o, c_n = old.get(count, 0), new.get(count, 0)
        if c_n > 0 and c_o == 0:
            example = f": {new[example_key]}" if new.get(example_key) else ""
            bad.append(f"{now} {c_n} of {new.get('inputs')} valid inputs (was 0){example}")
        elif c_o > 0 and c_n == 0:
            good.append(f"{then} {c_o} inputs, now on none")
    u_o, u_n = _max_ulp(old), _max_ulp(new)
    change = _ulp_change(u_o, u_n)
    ulp_text = f"max ulp {compact(u_o)} -> {compact(u_n)}"
    if change == "improved":
        good.append(ulp_text)
    label = _label("measurement", key)
    finding = {"key": key, "kind": "measurement", "old": _summary(old), "new": _summary(new)}
    if bad:
        out["regressions"].append({**finding, "what": f"{label}: " + "; ".join(bad)})
    elif change == "worse":
        where = "within the bound" if ob_n == 0 else f"over the bound before and now: {ob_o} -> {ob_n}"
        out["worse"].append({**finding, "what": f"{label}: {ulp_text} ({where})"})
    if good:
        out["improved"].append({**finding, "what": f"{label}: " + "; ".join(good)})


def _edge_case(key: dict, old: dict, new: dict, out: dict) -> None:
    bad, good = [], []
    o_o, o_n = old.get("outcome"), new.get("outcome")
    if o_o in ("met", "known deviation") and o_n == "unmet":
        bad.append(f"outcome {o_o} -> unmet (returned {new.get('returned')})")
    elif o_o == "unmet" and o_n in ("met", "known deviation"):
        good.append(f"outcome unmet -> {o_n}")
    g_o, g_n = old.get("gradient"), new.get("gradient")
    if g_o == "finite" and g_n == "non-finite":
        bad.append("gradient finite -> non-finite")
    elif g_o == "non-finite" and g_n == "finite":
        good.append("gradient non-finite -> finite")
    label = _label("edge_case", key)
    sides = [{"outcome": r.get("outcome"), "gradient": r.get("gradient"), "returned": r.get("returned")}
             for r in (old, new)]
    finding = {"key": key, "kind": "edge_case", "old": sides[0], "new": sides[1]}
    if bad:
        out["regressions"].append({**finding, "what": f"{label}: " + "; ".join(bad)})
    if good:
        out["improved"].append({**finding, "what": f"{label}: " + "; ".join(good)})


def compare(old: dict, new: dict) -> dict:
    """The findings of ``new`` against the baseline ``old`` (two loaded audits), by the rules of the
    module docstring: ``{"regressions", "worse", "improved", "new", "missing": [finding, ...],
    "compared": number of records in both}``; a finding is ``{"key", "kind" ("measurement" or
    "edge_case"), "what" (one line), "old", "new"}``."""
    out = {c: [] for c in CATEGORIES}
    compared = 0
    for kind, field, fields, check in (("measurement", "measurements", MEASUREMENT_KEY, _measurement),
                                       ("edge_case", "edge_cases", EDGE_CASE_KEY, _edge_case)):
        a, b = _index(old.get(field), fields), _index(new.get(field), fields)
        for k in sorted(a.keys() | b.keys(), key=lambda t: tuple(str(x) for x in t)):
            key = dict(zip(fields, k))
            if k in a and k in b:
                compared += 1
                check(key, a[k], b[k], out)
            elif k in b:
                out["new"].append({"key": key, "kind": kind, "what": f"{_label(kind, key)}: only in the new audit",
                                   "old": None, "new": b[k]})
            else:
                out["missing"].append({"key": key, "kind": kind,
                                       "what": f"{_label(kind, key)}: only in the baseline", "old": a[k], "new": None})
    out["compared"] = compared
    return out


def exit_code(comparison: dict) -> int:
    """1 if the comparison has a regression, else 0 (the CI gate)."""
    return 1 if comparison["regressions"] else 0


_TITLES = {"regressions": "Regressions (beyond the bound: fail)", "worse": "Worse (informational, not a failure)",
           "improved": "Improved", "new": "New (only in the new audit)", "missing": "Missing (only in the baseline)"}


def render_markdown(comparison: dict, old_label: str, new_label: str, max_rows: int | None = 50) -> str:
    """A ``## Baseline comparison`` Markdown section: counts, "no regression" when there is none,
    and a table per non-empty category (every regression; at most ``max_rows`` rows of the
    others)."""
    counts = ", ".join(f"{len(comparison[c])} {c}" for c in CATEGORIES)
    lines = ["## Baseline comparison", "",
             f"Baseline `{old_label}` -> `{new_label}`: {comparison['compared']} records compared; {counts}.", ""]
    if comparison["regressions"]:
        n = len(comparison["regressions"])
        lines += [f"**{n} regression{'s' if n != 1 else ''} beyond the bound.**", ""]
    else:
        lines += ["**no regression**: nothing exceeds the bound, turns non-finite or raises that did not before.", ""]
    for category in CATEGORIES:
        findings = comparison[category]
        if not findings:
            continue
        lines += [f"### {_TITLES[category]}", "", "| loss | subject | dtype | device | setting | what |",
                  "|---|---|---|---|---|---|"]
        shown = findings if category == "regressions" or max_rows is None else findings[:max_rows]
        for f in shown:
            k = f["key"]
            setting = (f"edge case {k['row']}" if f["kind"] == "edge_case"
                       else f"{k['variant']}, reduction={k['reduction']}")
            label = _label(f["kind"], k) + ": "
            what = f["what"][len(label):] if f["what"].startswith(label) else f["what"]
            lines.append("| " + " | ".join(cell(x) for x in (k["loss"], k["subject"], k["dtype"], k["device"],
                                                              setting, what)) + " |")
        if len(shown) < len(findings):
            lines.append(f"\n... and {len(findings) - len(shown)} more")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m properties.audit.baseline OLD.json NEW.json``: print the comparison; exit 1 on
    a regression, 2 when a file cannot be compared."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2:
        print("usage: python -m properties.audit.baseline OLD.json NEW.json", file=sys.stderr)
        return 2
    try:
        old, new = load_audit(argv[0]), load_audit(argv[1])
    except BaselineError as e:
        print(f"lossproof baseline: {e}", file=sys.stderr)
        return 2
    comparison = compare(old, new)
    print(render_markdown(comparison, argv[0], argv[1]))
    return exit_code(comparison)


if __name__ == "__main__":
    sys.exit(main())
