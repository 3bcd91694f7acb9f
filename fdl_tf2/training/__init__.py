"""The training engine: compiled multi-step loop, logging, precision, distribution."""
