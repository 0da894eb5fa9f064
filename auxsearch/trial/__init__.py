"""One trial: its model built (heads, assembly, traced models) and trained.

Routing, callbacks and the fit: what a single trial, or a pack of them, goes through.
"""
