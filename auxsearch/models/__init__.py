"""The user's model: built-ins, builder functions and `.keras` files, and its tappable layers."""
