"""Code the macie constructs deploy (not imported by them; shipped as package data)."""
