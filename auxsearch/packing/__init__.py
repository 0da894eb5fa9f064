"""The pack: how many trials train at once in one packed model, and which cannot.

The packed model and its training are the trial stage's (`trial.packed`, `trial.trainer`).
"""
