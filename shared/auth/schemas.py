"""Auth schemas. `Principal` is who is calling, as every route sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Principal:
    user_id: str
    wallet_id: str
    auth: Literal["jwt", "api_key"]
    key_id: str | None = None
