"""A pytest plugin (``-p tests.catalogue.quick_profile``) registering the Hypothesis profiles of
the meta-tests' small gate runs on known-buggy plug-ins (``--hypothesis-profile catalogue-quick``:
``tests/test_gate_findings.py``, ``tests/test_reproductions.py``) and on correct partial ones
(``catalogue-tiny``: ``tests/test_partial_plugins.py``).  The catalogue and region meta-tests run the
inherited profile without shrinking (``catalogue-detect``, below).

``catalogue-quick`` is the inherited profile with ``max_examples`` = :data:`MAX_EXAMPLES` (the
table rows then get ``max(4, 10 // 3) = 4`` examples, gradcheck 3), no example database, and
derandomized when ``CI`` is set, like the ``ci`` profile.  Acceptable only while the bugs those
runs plant are still found with it -- which is what those meta-tests assert.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

NAME = "catalogue-quick"
MAX_EXAMPLES = 10

# no example database: a meta-test's verdict must not depend on what an earlier run stored (and without
# one Hypothesis keeps no Pareto front of the gate's targeted examples, ~20% of a run's time)
settings.register_profile(NAME, max_examples=MAX_EXAMPLES, derandomize=bool(os.environ.get("CI")), deadline=None,
                          database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], print_blob=True)

#: the extra pytest arguments of a quick gate run
ARGS = ("-p", __name__, "--hypothesis-profile", NAME)

#: ``catalogue-tiny``: 4 examples (table rows 4, gradcheck 3) -- for the meta-tests that only need every
#: check family to run a few examples on a *correct* implementation (tests/test_partial_plugins.py:
#: 51 implementations), not a search for a bug
TINY = "catalogue-tiny"
settings.register_profile(TINY, parent=settings.get_profile(NAME), max_examples=4)
TINY_ARGS = ("-p", __name__, "--hypothesis-profile", TINY)

#: ``catalogue-detect``: the profile the run would load anyway (``ci`` where ``CI`` is set, else ``default``:
#: same examples, same derandomization) without the shrink and explain phases -- for the meta-tests that
#: ask only *whether* and *by which test* a bug is caught (tests/test_catalogue.py, tests/test_region_bugs.py).
#: Shrinking a failure to its minimal example is half of a buggy entry's time to its catch and changes
#: neither (a shrunk example fails the same test); the minimal example and its report are what
#: tests/test_gate_findings.py and tests/test_reproductions.py check, with shrinking on.
DETECT = "catalogue-detect"
DETECT_ARGS = ("-p", __name__, "--hypothesis-profile", DETECT)


@pytest.hookimpl(tryfirst=True)  # before Hypothesis's pytest_configure loads the profile it names
def pytest_configure(config):
    from hypothesis import Phase

    base = settings.get_profile("ci" if os.environ.get("CI") else "default")  # properties.pytest_plugin's
    settings.register_profile(DETECT, parent=base,
                              phases=tuple(p for p in base.phases if p not in (Phase.shrink, Phase.explain)))
