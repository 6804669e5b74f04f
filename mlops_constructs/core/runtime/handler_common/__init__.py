"""Code every platform Lambda handler shares; packaged beside each handler's folder."""
