"""What each test of a gate run actually exercised: calls of the implementation under test, and
examples rejected because the plug-in could not take them (``properties.fit``).

The pytest plugin sets :data:`CURRENT` to the running test's node id; :meth:`Subject.__call__`
counts into :data:`CALLS`, :func:`reject` into :data:`REJECTED`.  The coverage summary reports the
counts per check family, and a family that made no call for a plug-in makes the gate's verdict
*incomplete* (exit status 6), never a pass.
"""

from __future__ import annotations

from collections import Counter, defaultdict

#: the node id of the running test ("" outside a test)
CURRENT = ""
#: node id -> calls of an implementation under test
CALLS: Counter = Counter()
#: node id -> examples that called it and were not rejected (what "checked on N examples" counts)
EXAMPLES: Counter = Counter()
#: node id -> {reason: examples rejected for it}
REJECTED: defaultdict = defaultdict(Counter)
#: node id -> (largest error/bound seen, render() -> the message of that example): the worst
#: example of a test, reported beside the minimal one Hypothesis shrinks to
WORST: dict = {}


def called() -> None:
    CALLS[CURRENT] += 1


#: examples in a row that an implementation could not take, none checked, after which the test is
#: not applicable (skipped with the commonest reason) -- at once, not after Hypothesis's ~460
#: rejected draws (11-13 s for each edge row a partial Dice plug-in cannot take)
GIVE_UP = 40


def reject(reason: str):
    """Reject the current Hypothesis example (not the test) because the implementation cannot take
    it; after :data:`GIVE_UP` such rejections without a checked example, skip the test."""
    import pytest
    from hypothesis import reject as hypothesis_reject

    REJECTED[CURRENT][reason] += 1
    if not EXAMPLES[CURRENT] and sum(REJECTED[CURRENT].values()) >= GIVE_UP:
        reasons = REJECTED[CURRENT]
        pytest.skip(max(reasons, key=reasons.get))
    hypothesis_reject()


def worst(ratio: float, render) -> None:
    """Keep ``render`` (a callable giving the failure message of this example) if ``ratio`` is the
    largest error/bound of the current test so far; steer the search toward larger ones."""
    import math

    from hypothesis import target

    if not CURRENT or math.isnan(ratio):
        return
    try:
        target(min(ratio, 1e300), label="error/bound")
    except Exception:  # outside a Hypothesis test (a direct call): nothing to steer
        pass
    if ratio > WORST.get(CURRENT, (0.0,))[0]:
        WORST[CURRENT] = (ratio, render)


def counting(nodeid: str, fn):
    """``fn`` (a test body: one Hypothesis example, or a whole plain test) counting into
    :data:`EXAMPLES` when it calls the implementation and is not rejected."""
    from hypothesis.errors import UnsatisfiedAssumption

    def run(*args, **kwargs):
        before = CALLS[nodeid]
        try:
            result = fn(*args, **kwargs)
        except UnsatisfiedAssumption:
            raise
        except BaseException as exc:
            if CALLS[nodeid] > before and type(exc).__name__ != "Skipped":
                EXAMPLES[nodeid] += 1
            raise
        if CALLS[nodeid] > before:
            EXAMPLES[nodeid] += 1
        return result

    return run


def reset() -> None:
    EXAMPLES.clear()
    CALLS.clear()
    REJECTED.clear()
    WORST.clear()
