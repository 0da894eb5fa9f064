"""Benchmarks of auxsearch against a plain Keras Tuner search: `python -m bench`."""
