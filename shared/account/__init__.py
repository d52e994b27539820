"""The account as a whole: deleting it (deletion.py)."""
