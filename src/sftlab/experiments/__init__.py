"""Experiments: the demo runner and its entries (each method on the embedded lab, one report)."""
