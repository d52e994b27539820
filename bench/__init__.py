"""Benchmarks. `make bench` runs them against the Firestore emulator and Redis (see scripts/devstack.py)."""
