"""A pytest plugin (``-p tests.catalogue.quick_profile``) registering the Hypothesis profile
``catalogue-quick`` for the meta-test's gate runs of *buggy* entries (``--hypothesis-profile
catalogue-quick``): fewer examples, so the checks a buggy entry passes before its first failure
(``-x``) take less time.  It is not used for correct entries (their gate runs are the users'
runs, in the inherited profile).

It is the inherited profile with ``max_examples`` = :data:`MAX_EXAMPLES` (the table rows then get
``max(4, 10 // 3) = 4`` examples, gradcheck 3): derandomized when ``CI`` is set, like the root
conftest's ``ci`` profile.  Acceptable only while every buggy entry is still caught with it --
which is what the meta-test asserts.
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
