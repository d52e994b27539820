"""Traces (tracing.py)."""
