"""Benchmarks of the run engine: `python bench/engine.py` (see bench/README.md)."""
