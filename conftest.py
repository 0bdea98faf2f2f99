"""Root conftest: loads the suite's pytest plugin (``properties.pytest_plugin``: ``--impl``, the
Hypothesis profiles default / ci / nightly, markers) and prints the reference-accuracy and
tolerance-tightness summaries."""

from __future__ import annotations

import pytest

pytest_plugins = ["properties.pytest_plugin"]  # --impl, Hypothesis profiles, markers


#: the reference accuracy pytest-xdist workers (``-n``) measured, merged in the controller:
#: loss -> (max ulps, max err/bound) (their tightness ratios go into ``properties.agreement.RATIOS``)
_WORKERS: dict = {"exact": {}}


def _exact_module():
    import sys

    return next((m for n, m in sys.modules.items() if n.endswith("test_reference_exact")), None)


def pytest_sessionfinish(session):
    """A pytest-xdist worker sends what it measured to the controller (which prints the summaries)."""
    if not hasattr(session.config, "workerinput"):
        return
    from properties.agreement import RATIOS

    exact = _exact_module()
    session.config.workeroutput["lossproof_summaries"] = {
        "ratios": [[loss, dtype, r, n] for (loss, dtype), (r, n) in RATIOS.items()],
        "exact": {loss: [u, exact.RATIO[loss]] for loss, u in exact.ULPS.items()} if exact is not None else {}}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist's controller: merge what a finished worker measured (``pytest_sessionfinish``)."""
    from properties.agreement import RATIOS

    data = getattr(node, "workeroutput", {}).get("lossproof_summaries") or {}
    for loss, dtype, r, n in data.get("ratios", ()):
        cell = RATIOS[(loss, dtype)]
        cell[0], cell[1] = max(cell[0], r), cell[1] + n
    for loss, (u, r) in data.get("exact", {}).items():
        old = _WORKERS["exact"].get(loss, (0.0, 0.0))
        _WORKERS["exact"][loss] = (max(old[0], u), max(old[1], r))


def pytest_terminal_summary(terminalreporter):
    from properties.agreement import RATIOS

    tr = terminalreporter
    exact = _exact_module()
    accuracy = {loss: (u, exact.RATIO[loss]) for loss, u in exact.ULPS.items()} if exact is not None else {}
    accuracy = accuracy or _WORKERS["exact"]
    if accuracy:
        tr.section("lossproof reference accuracy vs mpmath (ulps: well-conditioned results only)")
        tr.write_line(f"{'loss':<18}{'max ulps':>12}{'err/bound':>12}")
        for loss, (ulps, ratio) in sorted(accuracy.items()):
            tr.write_line(f"{loss:<18}{ulps:>12.3g}{ratio:>12.3g}")
    if not RATIOS:
        return
    tr.section("lossproof tolerance tightness (largest error / bound seen)")
    dtypes = sorted({d for _, d in RATIOS}, key=["float64", "float32", "float16", "bfloat16"].index)
    tr.write_line(f"{'loss':<18}" + "".join(f"{d:>12}" for d in dtypes))
    for loss in sorted({n for n, _ in RATIOS}):
        cells = [f"{RATIOS[(loss, d)][0]:>12.3g}" if (loss, d) in RATIOS else f"{'-':>12}" for d in dtypes]
        tr.write_line(f"{loss:<18}" + "".join(cells))
