"""A pytest plugin (``-p tests.catalogue.quick_profile``) registering the Hypothesis profiles of
the meta-tests' small gate runs on known-buggy plug-ins (``--hypothesis-profile catalogue-quick``:
``tests/test_gate_findings.py``, ``tests/test_reproductions.py``) and on correct partial ones
(``catalogue-tiny``: ``tests/test_partial_plugins.py``).  The catalogue meta-test itself runs in
the inherited profile, as users do.

``catalogue-quick`` is the inherited profile with ``max_examples`` = :data:`MAX_EXAMPLES` (the
table rows then get ``max(4, 10 // 3) = 4`` examples, gradcheck 3), no example database, and
derandomized when ``CI`` is set, like the ``ci`` profile.  Acceptable only while the bugs those
runs plant are still found with it -- which is what those meta-tests assert.
"""

from __future__ import annotations

import os

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
