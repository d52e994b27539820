"""Cache-Control parsed once, by the route, into what it asks of the response cache."""

from __future__ import annotations

import pytest

from shared.cache.keys import NO_DIRECTIVES, CacheDirectives, decide_for


@pytest.mark.parametrize(
    ("header", "no_store", "no_cache"),
    [
        (None, False, False),
        ("", False, False),
        ("max-age=60", False, False),
        ("no-cache", False, True),
        ("No-Cache", False, True),
        ("max-age=0", False, True),
        ('max-age="0"', False, True),
        ("private, no-cache", False, True),
        ("no-store", True, False),
        ("no-cache, NO-STORE", True, True),
        (" no-store ,max-age=0 ", True, True),
    ],
)
def test_parse(header: str | None, no_store: bool, no_cache: bool) -> None:
    assert CacheDirectives.parse(header) == CacheDirectives(no_store=no_store, no_cache=no_cache)


def test_no_header_asks_nothing() -> None:
    assert CacheDirectives.parse(None) == NO_DIRECTIVES


def test_what_each_directive_does_to_a_cacheable_request() -> None:
    params = {"temperature": 0}
    fresh = decide_for(params, False, NO_DIRECTIVES)
    assert (fresh.read, fresh.write) == (True, True)
    no_cache = decide_for(params, False, CacheDirectives(no_cache=True))
    assert (no_cache.read, no_cache.write, no_cache.reason) == (False, True, "no-cache")
    no_store = decide_for(params, False, CacheDirectives(no_store=True, no_cache=True))
    assert (no_store.read, no_store.write, no_store.reason) == (False, False, "no-store")
