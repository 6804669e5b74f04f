"""Glue job scripts; each module is uploaded on its own as a single-file Glue job script."""
