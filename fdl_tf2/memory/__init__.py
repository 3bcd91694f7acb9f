"""Chapter 8: memory-augmented networks (DNC addressing, the DNC cell, NTM addressing)."""
