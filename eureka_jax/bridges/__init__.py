"""Bridges to simulators outside JAX (optional extras)."""
