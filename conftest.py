"""Root conftest: loads the suite's pytest plugin (``properties.pytest_plugin``: ``--impl``, the
Hypothesis profiles default / ci / nightly, markers) and prints the reference-accuracy and
tolerance-tightness summaries."""

from __future__ import annotations

pytest_plugins = ["properties.pytest_plugin"]  # --impl, Hypothesis profiles, markers


def pytest_terminal_summary(terminalreporter):
    import sys

    from properties.agreement import RATIOS

    tr = terminalreporter
    exact = next((m for n, m in sys.modules.items() if n.endswith("test_reference_exact")), None)
    if exact is not None and exact.ULPS:
        tr.section("lossproof reference accuracy vs mpmath (ulps: well-conditioned results only)")
        tr.write_line(f"{'loss':<18}{'max ulps':>12}{'err/bound':>12}")
        for loss, ulps in sorted(exact.ULPS.items()):
            tr.write_line(f"{loss:<18}{ulps:>12.3g}{exact.RATIO[loss]:>12.3g}")
    if not RATIOS:
        return
    tr.section("lossproof tolerance tightness (largest error / bound seen)")
    dtypes = sorted({d for _, d in RATIOS}, key=["float64", "float32", "float16", "bfloat16"].index)
    tr.write_line(f"{'loss':<18}" + "".join(f"{d:>12}" for d in dtypes))
    for loss in sorted({n for n, _ in RATIOS}):
        cells = [f"{RATIOS[(loss, d)][0]:>12.3g}" if (loss, d) in RATIOS else f"{'-':>12}" for d in dtypes]
        tr.write_line(f"{loss:<18}" + "".join(cells))
