"""Seed 000, a construction company's Phase 1 background jobs, rebuilt on hourhand."""
