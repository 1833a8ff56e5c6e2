"""What the examples share: a small connection to their own domain tables."""
