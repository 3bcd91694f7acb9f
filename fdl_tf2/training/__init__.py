"""Training: the engine (compiled multi-step loop, logging, precision, distribution), the
chapter-4 optimizers (`optimizers`) and the readers of what runs wrote (`records`)."""
