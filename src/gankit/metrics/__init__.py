"""Measures of generator quality."""
