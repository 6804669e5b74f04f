"""Lambda handler sources, one folder per function; installed as ``mlops_constructs.lambda_src``.

Constructs deploy a handler folder as a plain asset (no Docker bundling): see
:func:`mlops_constructs.sources.handler_path`.
"""
