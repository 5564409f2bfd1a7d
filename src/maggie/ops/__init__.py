"""Low-level operations shared by the model, the data pipeline and the metrics."""
