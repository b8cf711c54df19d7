"""Throughput and memory of ledgersync against the sandboxes, with its peers in the same run.

`python -m benchmarks.run` is the one command; benchmarks/README.md says what each figure means.
"""
