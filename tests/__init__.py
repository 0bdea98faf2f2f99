"""The project's self-tests (the references against mpmath, the catalogue meta-test, the audit, the
CLI, the checks' can-fail tests), a package so that they import their helpers (``mutants``,
``invariant_mutants``, ``catalogue``) relatively.  The gate's own test modules are the subpackage
``tests.gate`` (installed as ``lossproof_tests``); these are not installed."""
