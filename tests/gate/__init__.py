"""The gate: the test modules that check an implementation under test -- the torch built-ins, the
third-party adapters and a user's ``--impl`` plug-ins -- against the references (agreement, edge
cases, invariants, gradients, bad inputs, placement, declared limits).

This package is what ``lossproof gate`` runs and what installs as ``lossproof_tests``; the project's
self-tests (the references against mpmath, the catalogue meta-test, the audit, the CLI, the
can-fail tests) are the modules of ``tests/`` around it and are not installed.  Its modules import
their helper (``matrix``) relatively: ``tests.gate.matrix`` in a checkout, ``lossproof_tests.matrix``
once installed -- never a user's own ``matrix.py`` on ``sys.path``.
"""
