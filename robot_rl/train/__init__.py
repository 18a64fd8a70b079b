"""The training pipeline: config, run directory, synchronous loop, checkpoints, metrics."""
