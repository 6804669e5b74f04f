"""Small client programs that use the platform's endpoints."""
