"""The offline run rehearsal: what the deployed system executes, executed from ``cdk.out``."""
