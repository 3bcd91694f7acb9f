"""fdl_tf2: the TensorFlow 2 / Keras 3 port of "Fundamentals of Deep Learning" (2017)."""

__version__ = "0.1.0"
