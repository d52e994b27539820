"""Counters over fixed windows in Redis, for limits counted per hour (sign-ups, verification emails).

`hit` takes one from every counter it is given, or from none: allowed when each is below its limit,
otherwise the wait (until the fullest counter's window ends) is returned and nothing is counted. A
counter's window starts with its first hit and lasts `window_s`.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS: the counters. ARGV[1] the window in ms, then one limit per counter. Returns the wait in ms
# (0: allowed and counted).
_SCRIPT = """
local wait = 0
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n >= tonumber(ARGV[1 + i]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then ttl = tonumber(ARGV[1]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return 0
"""


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int


class Windows:
    def __init__(self, redis: Redis, prefix: str = "win:") -> None:
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)

    async def hit(self, counters: list[Counter], window_s: int) -> float:
        """Seconds to wait (0.0: allowed, and every counter took one)."""
        if not counters:
            return 0.0
        keys = [self._prefix + c.key for c in counters]
        wait_ms = await self._script(keys=keys, args=[window_s * 1000, *(c.limit for c in counters)])
        return int(wait_ms) / 1000.0
