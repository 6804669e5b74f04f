"""Code the core constructs deploy (not imported by them; shipped as package data)."""
