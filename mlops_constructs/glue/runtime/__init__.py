"""Code the glue constructs deploy (shipped as package data); the constructs import only the
stdlib-only spec half of ``feature_etl`` (see :mod:`mlops_constructs.glue.props`)."""
