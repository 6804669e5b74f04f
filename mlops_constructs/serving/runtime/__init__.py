"""Code the serving constructs deploy (not imported by them; shipped as package data)."""
