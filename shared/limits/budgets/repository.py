"""Budget counters in Redis, changed only by atomic Lua scripts, so instances never race past a cap.

Per subject and period (keys share the subject's hash tag, so they live in one cluster slot):
  budget:{subject}:day:2026-11-27         hash: spent, inflight, alert:50, alert:80, alert:100
  budget:{subject}:day:2026-11-27:holds   sorted set: "<admission id>:<amount>" scored by expiry (ms)
Both expire a day after their period ends. An admission that is never settled or released (its instance
died) stops counting as in flight when it expires, like a credit hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from redis.asyncio import Redis

from shared.limits.budgets.schemas import ALERT_THRESHOLDS, Period

GRACE = dt.timedelta(days=1)

# KEYS: hash, holds per period. ARGV: now_ms, member, amount, minimum, expires_ms, then limit and ttl_ms
# per period. Grants min(amount, room left in every period) if that is at least `minimum`.
# Returns {1, granted} or {0, blocking period index, spent, inflight}.
_ADMIT = """
local now = tonumber(ARGV[1])
local id = ARGV[2]
local amount = tonumber(ARGV[3])
local minimum = tonumber(ARGV[4])
local expires = tonumber(ARGV[5])
local n = #KEYS / 2
local tightest, worst, wspent, winflight = nil, 0, 0, 0
for i = 1, n do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local stale = redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, 200)
  if #stale > 0 then
    local freed = 0
    for _, m in ipairs(stale) do freed = freed + tonumber(string.match(m, ':(%d+)$')) end
    redis.call('ZREM', z, unpack(stale))
    redis.call('HINCRBY', h, 'inflight', -freed)
  end
  local spent = tonumber(redis.call('HGET', h, 'spent') or '0')
  local inflight = tonumber(redis.call('HGET', h, 'inflight') or '0')
  local left = tonumber(ARGV[4 + 2 * i]) - spent - inflight
  if tightest == nil or left < tightest then
    tightest, worst, wspent, winflight = left, i, spent, inflight
  end
end
local room = math.min(amount, tightest)
if room < minimum then
  return {0, worst, wspent, winflight}
end
for i = 1, n do
  local h, z, ttl = KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[5 + 2 * i])
  redis.call('HINCRBY', h, 'inflight', room)
  redis.call('ZADD', z, expires, id .. ':' .. room)
  redis.call('PEXPIRE', h, ttl)
  redis.call('PEXPIRE', z, ttl)
end
return {1, room}
"""

# KEYS: hash, holds per period. ARGV: member ("<id>:<amount>"), charged, then limit and ttl_ms per period.
# Ends the admission (if it has not expired), adds `charged` to spent, and marks each alert threshold the
# new total reaches for the first time (HSETNX: of two instances crossing at once, exactly one marks it).
# Returns per period {spent, number of newly marked thresholds, thresholds...}.
_SETTLE = (
    """
local member = ARGV[1]
local amount = tonumber(string.match(member, ':(%d+)$'))
local charged = tonumber(ARGV[2])
local thresholds = {"""
    + ", ".join(str(t) for t in ALERT_THRESHOLDS)
    + """}
local out = {}
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local limit, ttl = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  if redis.call('ZREM', z, member) == 1 then
    redis.call('HINCRBY', h, 'inflight', -amount)
  end
  local spent = redis.call('HINCRBY', h, 'spent', charged)
  local crossed = {}
  for _, t in ipairs(thresholds) do
    if limit > 0 and spent * 100 >= t * limit and redis.call('HSETNX', h, 'alert:' .. t, 1) == 1 then
      crossed[#crossed + 1] = t
    end
  end
  redis.call('PEXPIRE', h, ttl)
  out[#out + 1] = spent
  out[#out + 1] = #crossed
  for _, t in ipairs(crossed) do out[#out + 1] = t end
end
return out
"""
)

# KEYS: hash, holds per period. ARGV: member. Ends the admission without spending anything.
_RELEASE = """
local member = ARGV[1]
local amount = tonumber(string.match(member, ':(%d+)$'))
for i = 1, #KEYS / 2 do
  if redis.call('ZREM', KEYS[2 * i], member) == 1 then
    redis.call('HINCRBY', KEYS[2 * i - 1], 'inflight', -amount)
  end
end
return 1
"""


@dataclass(frozen=True)
class Refusal:
    period: Period
    spent: int
    inflight: int


@dataclass(frozen=True)
class Settled:
    period: Period
    spent: int
    crossed: tuple[int, ...]


def _ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


class BudgetRepository:
    def __init__(self, redis: Redis, prefix: str = "budget:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._admit = redis.register_script(_ADMIT)
        self._settle = redis.register_script(_SETTLE)
        self._release = redis.register_script(_RELEASE)

    def _keys(self, subject: str, periods: tuple[Period, ...]) -> list[str]:
        keys = []
        for p in periods:
            base = f"{self._prefix}{{{subject}}}:{p.kind}:{p.id}"
            keys += [base, base + ":holds"]
        return keys

    @staticmethod
    def _ttl_ms(period: Period, now: dt.datetime) -> int:
        return max(1000, _ms(period.end + GRACE) - _ms(now))

    async def admit(
        self,
        subject: str,
        periods: tuple[Period, ...],
        admission_id: str,
        amount: int,
        minimum: int,
        now: dt.datetime,
        expires: dt.datetime,
    ) -> int | Refusal:
        """The credits granted (between minimum and amount), or the period that refused."""
        args: list[str | int] = [_ms(now), admission_id, amount, minimum, _ms(expires)]
        for p in periods:
            args += [p.limit, self._ttl_ms(p, now)]
        raw = [int(v) for v in await self._admit(keys=self._keys(subject, periods), args=args)]
        if raw[0] == 1:
            return raw[1]
        return Refusal(periods[raw[1] - 1], raw[2], raw[3])

    async def settle(
        self, subject: str, periods: tuple[Period, ...], member: str, charged: int, now: dt.datetime
    ) -> list[Settled]:
        args: list[str | int] = [member, charged]
        for p in periods:
            args += [p.limit, self._ttl_ms(p, now)]
        raw = [int(v) for v in await self._settle(keys=self._keys(subject, periods), args=args)]
        settled, i = [], 0
        for p in periods:
            spent, count = raw[i], raw[i + 1]
            settled.append(Settled(p, spent, tuple(raw[i + 2 : i + 2 + count])))
            i += 2 + count
        return settled

    async def release(self, subject: str, periods: tuple[Period, ...], member: str) -> None:
        await self._release(keys=self._keys(subject, periods), args=[member])

    async def unmark_alert(self, subject: str, period: Period, threshold: int) -> None:
        """Forget that an alert was sent (its publish failed), so the next settle sends it again."""
        await self._redis.hdel(self._keys(subject, (period,))[0], f"alert:{threshold}")

    async def usage(self, subject: str, period: Period) -> tuple[int, int]:
        """(spent, in flight) of a subject in a period; for reports and tests."""
        spent, inflight = await self._redis.hmget(self._keys(subject, (period,))[0], ["spent", "inflight"])
        return int(spent or 0), int(inflight or 0)
