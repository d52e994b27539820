"""The project's own package: domain logic, adapters and settings shared by services and functions."""
