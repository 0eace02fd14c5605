"""Demo entries beyond the core ones: one module per method family."""
