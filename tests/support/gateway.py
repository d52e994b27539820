"""Helpers of the gateway tests."""

from __future__ import annotations

from shared.gateway.errors import translate


def translated(exc: Exception) -> BaseException:
    """Our typed error as the gateway raises it: translate(exc) from exc."""
    try:
        raise translate(exc, "prov") from exc
    except Exception as err:
        return err
