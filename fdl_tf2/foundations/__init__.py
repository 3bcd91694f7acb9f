"""Chapters 1-2: NumPy references and toy problems (the book has no code for them)."""
