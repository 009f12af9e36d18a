"""Benchmarks: each script prints its figures and a baseline measured in the same run."""
