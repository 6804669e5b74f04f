"""Scripts the training pipeline runs in SageMaker processing jobs (uploaded as assets)."""
