"""Runnable examples: the five seed systems rebuilt on hourhand (see each folder's README)."""
