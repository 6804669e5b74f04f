"""Code the monitoring constructs deploy (not imported by them; shipped as package data)."""
