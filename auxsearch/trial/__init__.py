"""One trial: its model built and trained, alone or in a pack.

Built: heads, assembly, traced and packed models, and the preflight. Trained:
routing, records, the trainer's one fit and its checkpoint.
"""
