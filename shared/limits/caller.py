"""Who a limit counts against: the fields of an authenticated caller (shared/auth's Principal) the caps read.
A protocol, so that the caps do not depend on the auth package that uses them."""

from __future__ import annotations

from typing import Protocol


class Caller(Protocol):
    @property
    def user_id(self) -> str: ...

    @property
    def key_id(self) -> str | None: ...

    @property
    def plan(self) -> str: ...
