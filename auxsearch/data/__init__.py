"""Data: reading, checking and splitting the arrays a search trains on."""
