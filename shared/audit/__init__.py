"""The append-only audit trail (shared/audit/trail.py)."""
