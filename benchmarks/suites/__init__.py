"""The suites of run.py, one module each; `scripts` wraps the benchmarks that keep
their own script."""
