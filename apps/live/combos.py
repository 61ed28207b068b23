"""Gift combos: a sender's streak of one gift to one stream shown as one `gift.combo` event.

A streak is the sends of one gift by one sender to one stream, each within
LIVE_GIFT_COMBO_WINDOW_MS of the one before. Every send is still its own ledger entry and gift
record; only what the room hears is folded: the streak's frames carry its running count (gifts, the
sum of quantities), sends and coins, at most one frame per LIVE_GIFT_COMBO_FRAME_MS, and a last
frame with `ended: true` once the window passed without another send. Gifts priced at
LIVE_GIFT_LARGE_COINS or more (the full-screen ones) keep their own `gift.sent` per send.

The state lives in Redis, so any number of web and worker processes send into one streak and any
number of daphne processes show it: one hash per (stream, sender, gift) and one sorted set per room
of the streaks with something due (a frame held back by the frame interval, or the streak's end).
Both changes happen in Lua scripts on Redis's own clock, so a send and an end never race:

- a committed send (`combo_sends_note`, from each process's layer sender thread, never in the
  request) adds to its streak, or starts a new one (ending an expired one first), and shows the
  streak at once when its last frame is older than the frame interval;
- the room's ticker (`combos_due`, in whichever daphne process takes the room's tick lock) shows
  the frames held back and ends idle streaks.

A streak's id is the id of its first send. The window and frame interval are stored with the
streak when it starts, so senders and rooms never disagree about them.
"""

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.redis_keys import deployment_key
from apps.live.room_state import KEY_TTL

# A streak's hash outlives its window by this much when no room ends it (nobody is watching).
STREAK_TTL_MS = 60_000
# Streaks a room's ticker looks at per tick (the rest wait for the next tick).
DUE_BATCH = 500

_FRAME = """
local function frame(h, ended)
  local f = redis.call('HMGET', h, 'id', 'count', 'sends', 'coins', 'sender', 'gift')
  f[7] = ended
  return f
end
"""

# KEYS: per send, its streak's hash then its room's due set. ARGV: window ms, frame ms, then per send:
# send id, quantity, coins, sender JSON, gift JSON; then the due set's and a streak's TTL beyond its
# window (ms). Returns the frames to show, in order, each followed by the number of its send.
_NOTE = (
    _FRAME
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS / 2 do
  local h, due = KEYS[2 * i - 1], KEYS[2 * i]
  local a = 2 + (i - 1) * 5
  local s = redis.call('HMGET', h, 'last', 'window')
  if s[1] and now - tonumber(s[1]) > tonumber(s[2]) then
    local f = frame(h, 1)  -- its end was not shown yet: show it before the new streak
    f[8] = i
    out[#out + 1] = f
    redis.call('DEL', h)
    redis.call('ZREM', due, h)
    s[1] = false
  end
  if not s[1] then
    redis.call('HSET', h, 'id', ARGV[a + 1], 'count', 0, 'sends', 0, 'coins', 0, 'sender', ARGV[a + 4],
      'gift', ARGV[a + 5], 'window', window, 'interval', interval, 'shown', 0, 'shown_count', 0)
  end
  local count = redis.call('HINCRBY', h, 'count', tonumber(ARGV[a + 2]))
  redis.call('HINCRBY', h, 'sends', 1)
  redis.call('HINCRBY', h, 'coins', tonumber(ARGV[a + 3]))
  redis.call('HSET', h, 'last', now)
  local v = redis.call('HMGET', h, 'window', 'interval', 'shown')
  local w, iv, shown = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  local next_due
  if now - shown >= iv then
    redis.call('HSET', h, 'shown', now, 'shown_count', count)
    local f = frame(h, 0)
    f[8] = i
    out[#out + 1] = f
    next_due = now + w + 1
  else
    next_due = shown + iv
  end
  redis.call('ZADD', due, next_due, h)
  redis.call('PEXPIRE', h, w + tonumber(ARGV[#ARGV]))
  redis.call('PEXPIRE', due, tonumber(ARGV[#ARGV - 1]))
end
return out
"""
)

# KEYS: the room's due set. ARGV: how many streaks at most. Returns the frames to show, in order.
_DUE = (
    _FRAME
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, h in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))) do
  local v = redis.call('HMGET', h, 'last', 'window', 'interval', 'shown', 'shown_count', 'count')
  if not v[1] then
    redis.call('ZREM', KEYS[1], h)  -- expired with nobody watching
  else
    local last, w, iv, shown = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]), tonumber(v[4])
    local shown_count, count = tonumber(v[5]), tonumber(v[6])
    if now - last > w then
      out[#out + 1] = frame(h, 1)
      redis.call('DEL', h)
      redis.call('ZREM', KEYS[1], h)
    elseif count > shown_count and now - shown >= iv then
      redis.call('HSET', h, 'shown', now, 'shown_count', count)
      out[#out + 1] = frame(h, 0)
      redis.call('ZADD', KEYS[1], last + w + 1, h)
    elseif count > shown_count then
      redis.call('ZADD', KEYS[1], shown + iv, h)
    else
      redis.call('ZADD', KEYS[1], last + w + 1, h)
    end
  end
end
return out
"""
)


@dataclass(frozen=True)
class ComboSend:
    """One committed send, as the room shows it (the `gift.sent` payload's facts)."""

    stream_id: int
    send_id: int
    sender: dict[str, Any]
    gift: dict[str, Any]
    quantity: int
    coins: int

    def sent_payload(self) -> dict[str, Any]:
        """The send's own `gift.sent` payload (large gifts, combos off, or Redis failed)."""
        return {
            "id": self.send_id,
            "sender": self.sender,
            "gift": self.gift,
            "quantity": self.quantity,
            "coins": self.coins,
        }


def combos_enabled() -> bool:
    """Combos need the shared Redis state; the embedded default (one process, no Redis) sends `gift.sent`."""
    return bool(settings.LIVE_GIFT_COMBOS and settings.REDIS_URL)


def gift_is_large(*, quantity: int, coins: int) -> bool:
    """A gift priced at LIVE_GIFT_LARGE_COINS or more keeps its own full-screen `gift.sent`."""
    return coins // max(quantity, 1) >= settings.LIVE_GIFT_LARGE_COINS


def _streak_key(send: ComboSend) -> str:
    return deployment_key(f"live:{send.stream_id}:combo:{send.sender['id']}:{send.gift['id']}")


def _due_key(stream_id: int) -> str:
    return deployment_key(f"live:{stream_id}:combos")


def _payload(frame: list[Any]) -> dict[str, Any]:
    streak_id, count, sends, coins, sender, gift, ended = frame[:7]
    return {
        "streak_id": int(streak_id),
        "sender": json.loads(sender),
        "gift": json.loads(gift),
        "count": int(count),
        "sends": int(sends),
        "coins": int(coins),
        "ended": bool(int(ended)),
    }


async def combo_sends_note(redis: Any, sends: list[ComboSend]) -> list[tuple[int, dict[str, Any]]]:
    """Count committed sends (in the order they committed) in their streaks, in one round trip.
    Returns each frame to show now, in order, as (the index in `sends` of the send that showed it,
    its `gift.combo` payload): a send shows its streak, or ends an expired one and starts anew."""
    if not sends:
        return []
    keys: list[str] = []
    args: list[Any] = [settings.LIVE_GIFT_COMBO_WINDOW_MS, settings.LIVE_GIFT_COMBO_FRAME_MS]
    for send in sends:
        keys += [_streak_key(send), _due_key(send.stream_id)]
        args += [
            send.send_id,
            send.quantity,
            send.coins,
            json.dumps(send.sender, separators=(",", ":")),
            json.dumps(send.gift, separators=(",", ":")),
        ]
    args += [KEY_TTL * 1000, STREAK_TTL_MS]
    frames = await redis.eval(_NOTE, len(keys), *keys, *args)
    return [(int(frame[7]) - 1, _payload(frame)) for frame in frames]


async def combos_due(redis: Any, *, stream_id: int) -> list[dict[str, Any]]:
    """The room's `gift.combo` payloads due now: frames the interval held back, and ended streaks.
    Safe in any number of processes at once: each frame is taken by exactly one caller."""
    frames = await redis.eval(_DUE, 1, _due_key(stream_id), DUE_BATCH)
    return [_payload(frame) for frame in frames]
