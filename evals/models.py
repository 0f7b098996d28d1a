"""Eval suites, cases, runs and results. Filled in by the evaluations work."""
