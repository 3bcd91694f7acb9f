"""Model families, one module per book topic."""
