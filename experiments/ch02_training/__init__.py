"""Chapter 2, "Training Feed-Forward Neural Networks"."""
