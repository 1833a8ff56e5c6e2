"""The five jobs of seed 001, one module each; each holds the function that runs it for
one tenant (examples/gst/execution.py runs it for every tenant)."""
