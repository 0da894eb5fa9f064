"""Packed trials: several trials trained at once in one compiled model, and how many."""
