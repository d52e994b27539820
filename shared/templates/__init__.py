"""Prompt templates: a built-in library (English, Spanish, Bengali), and users' and workspaces' own."""
