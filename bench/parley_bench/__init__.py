"""Parley's benchmark harness: ``make bench SCALE=small|full``.

It starts a throwaway embedded cluster, applies the migrations, loads a
deterministic data set (generate.py), measures two write baselines with
pgbench in the same run (baselines.py) and runs the scenarios
(scenarios.py), each reported as a figure and a ratio to its baseline.
See docs/benchmarks.md.
"""
