"""Confirmation: the best configurations retrained on paired seeds and tested."""
