"""``lossproof audit``: a report of how accurately each implementation computes each loss.

Not pass/fail (that is the gate, ``pytest`` / ``lossproof gate``) but measurement: for every
loss x subject x dtype x device x parameter setting, the error against the float64 reference in
ulps and relative terms, the worst input Hypothesis can steer towards, error vs input magnitude,
the edge-case matrix with gradient finiteness, CPU vs CUDA, the environment, and the source
article's claims checked by computation.  Outputs: Markdown, JSON (``schema.json``), PNG plots.

Modules: ``command`` (options, run, outputs), ``measure`` (the Hypothesis runs and the error
tallies), ``edges`` (edge-case matrix), ``claims`` (the article), ``environment``, ``report``
(Markdown), ``baseline`` (comparing two audits), ``plots`` (matplotlib), ``progress``.
"""

from .command import main, parse_options, run_audit

__all__ = ["main", "parse_options", "run_audit"]
