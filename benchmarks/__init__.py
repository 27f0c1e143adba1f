"""Benchmark scripts (run as ``python benchmarks/<name>.py``); shared code is :mod:`harkd.suites`."""
