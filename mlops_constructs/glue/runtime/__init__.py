"""Code the glue constructs deploy (not imported by them; shipped as package data)."""
