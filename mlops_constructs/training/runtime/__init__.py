"""Code the training constructs deploy (not imported by them; shipped as package data)."""
