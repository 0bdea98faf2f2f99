"""Root conftest: Hypothesis profiles and the tolerance-tightness summary.

Profiles (select with ``--hypothesis-profile NAME``):
  default  -- fits the 3-minute budget of a plain ``pytest`` on 2 cores;
  ci       -- the same size, derandomized (reruns reproduce), prints the reproduce blob;
              loaded automatically when the environment variable CI is set;
  nightly  -- 20x the examples, for a scheduled job.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["properties.pytest_plugin"]

_common = dict(
    deadline=None,  # the first torch call of a process is slow; timing is not what we test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("default", max_examples=25, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, **_common)
settings.register_profile("nightly", max_examples=500, **_common)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped when torch.cuda.is_available() is False)")
    config.addinivalue_line("markers", "mpmath: checks a reference against mpmath (skipped without mpmath)")


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
