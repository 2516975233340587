"""Evals, their local sites, recorded cassettes, and performance benchmarks."""
