"""Custom Keras layers written from the book's TF1 listings."""
