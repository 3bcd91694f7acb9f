"""Chapter 3, "Implementing Neural Networks in TensorFlow"."""
