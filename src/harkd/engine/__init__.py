"""Training engine: configuration, training loop, checkpoints."""
