"""The command line: `python -m auxsearch ...`."""
