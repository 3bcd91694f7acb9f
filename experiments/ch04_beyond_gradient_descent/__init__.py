"""Chapter 4, "Beyond Gradient Descent"."""
