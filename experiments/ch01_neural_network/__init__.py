"""Chapter 1, "The Neural Network"."""
