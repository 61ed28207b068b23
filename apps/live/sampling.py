"""Readable chat in busy rooms: above a chat rate, each viewer is shown a sample.

When a room's chat runs faster than anyone can read (more than LIVE_CHAT_SAMPLING_THRESHOLD
messages a second), every viewer is shown at most LIVE_CHAT_SAMPLING_PER_SECOND messages a second,
the host's and moderators' first, then those of gifters and OG members, then the rest. Every
message is still checked, kept in the room's history, and written to the sockets that see the whole
chat (`chat_sees_everything`: the host, room moderators, staff) and to its author's own sockets.

While sampling, a message that reaches the process more than LIVE_CHAT_SAMPLING_MAX_AGE_MS after it
was sent is held back from viewers and takes no slot: a process that fell behind the room (a busy
machine) would otherwise fill each second's slots with the oldest messages of its backlog, showing
chat many seconds late and holding back what is said now (seen at 2,000 viewers on a loaded
machine: what viewers were shown was 15-24 s old). Dropping them also sheds the fan-out such a
process cannot afford, so it catches up.

A room with very many viewers on one process would still cost that process viewers x N frames a
second, more than it can write on time (10,000 viewers on two processes at N = 5: 34,000 frames/s,
shown 3-9 s late). So each process also keeps a room's sampled chat within
LIVE_CHAT_FRAMES_PER_SECOND_BUDGET frames a second: a viewer there is shown at most
min(N, budget / the room's sampled sockets in this process) a second. The ranks keep their shares:
the N slots stretch over a longer window (N / that rate seconds) instead of shrinking. Unsampled
chat faster than budget / sockets would overspend the budget too, so the threshold there drops to
that rate (at least 1). Both figures are in the room state (`shown_per_second`, `threshold`), and
the budget's rate moves only by a quarter or more, so a stream of joins and leaves does not announce
on every socket. Under the budget, ordinary authors' messages are spread over the window, at least
window / their slots apart, rather than shown in a burst (a round of 3 frames to thousands of
sockets takes 3 times as long to reach the last one); below it they come as before.

The decision is made once per message in each daphne process, by the room's `ChatSampler`
(apps.live.fanout): one message's verdict costs a few comparisons however many sockets the room
has, and each process measures the same rate because each reads the room's whole chat from the
channel layer. Viewers on different processes may be shown different samples of the same chat.
"""

import math
from collections import deque
from typing import Any

from django.conf import settings

# How a chat message's author ranks when the room is sampled (carried in the layer message).
RANK_ANY = 0
RANK_FAN = 1  # a recent gifter in this stream or an OG member
RANK_STAFF = 2  # the host, a room moderator or staff: sees every message too

# Roles whose sockets see every message (the room moderators' role among them).
FULL_CHAT_ROLES = frozenset({"host", "moderator"})

# A gift makes its sender a priority author for this long.
GIFTER_SECONDS = 600.0

# Sampling stops once the room stays at or under the threshold this long (no on-off flapping).
QUIET_SECONDS = 3.0

WINDOW = 1.0

# The per-viewer rate under the budget moves only when it is off by this share (no announcement
# for every join or leave); the budget may be overspent by at most this much meanwhile.
RATE_HYSTERESIS = 0.25


def chat_sees_everything(*, role: str, is_staff: bool) -> bool:
    """Whether a room socket gets every chat message even when the room is sampled (decided once,
    on connect). The one place that says who moderates a room's chat: the host, the room's
    moderators (role "moderator") and staff."""
    return role in FULL_CHAT_ROLES or is_staff


def rank_limits(per_second: int) -> tuple[int, int, int]:
    """Of the `per_second` messages a viewer is shown a second, how many each rank may fill: the
    top slot is kept for the host and moderators, a quarter more for gifters and OG members."""
    staff = per_second
    fans = max(1, per_second - 1)
    anyone = max(1, per_second - 1 - max(1, per_second // 4))
    return anyone, fans, staff


class ChatSampler:
    """One room's sampling in one process. Times are the caller's monotonic clock, in seconds."""

    def __init__(
        self,
        *,
        threshold: int | None = None,
        per_second: int | None = None,
        max_age: float | None = None,
        budget: int | None = None,
    ) -> None:
        self.threshold = settings.LIVE_CHAT_SAMPLING_THRESHOLD if threshold is None else threshold
        self.per_second = settings.LIVE_CHAT_SAMPLING_PER_SECOND if per_second is None else per_second
        # frames a second this process may write of the room's sampled chat (0: no budget)
        self.budget = settings.LIVE_CHAT_FRAMES_PER_SECOND_BUDGET if budget is None else budget
        self.budget_rate = math.inf  # budget / sampled sockets, as last moved (hysteresis)
        self.shown_per_second = float(self.per_second)  # the most a viewer is shown a second now
        self.window = WINDOW  # the N slots span this many seconds (longer when the budget binds)
        self.threshold_now = self.threshold  # lower when the budget's rate is under the threshold
        self.last_shown = float("-inf")  # when a message was last shown to every viewer while sampled
        # seconds: older messages are not shown while sampling (0: no limit)
        self.max_age = settings.LIVE_CHAT_SAMPLING_MAX_AGE_MS / 1000 if max_age is None else max_age
        self.limits = rank_limits(self.per_second)
        self.active = False
        self.window_start = 0.0
        self.window_count = 0
        self.last_rate = 0  # messages in the last complete window
        self.busy_at = float("-inf")  # last time a window went over the threshold
        self.shown: deque[float] = deque()  # when the messages shown in the last WINDOW went out

    @property
    def rate(self) -> int:
        """Chat messages a second in the room, as last measured."""
        return max(self.last_rate, self.window_count)

    def state(self) -> dict[str, Any]:
        """The room's sampling as the welcome and `chat.sampling` tell it."""
        return {
            "active": self.active,
            "rate": self.rate,
            "threshold": self.threshold_now,
            "max_per_second": self.per_second,
            "shown_per_second": round(self.shown_per_second, 2),
        }

    def sockets_count(self, sampled: int) -> bool:
        """This process now holds `sampled` sockets of the room that see the sample: True when the
        room state changed (the budget's rate per socket moved by RATE_HYSTERESIS or more)."""
        target = self.budget / sampled if self.budget and sampled else math.inf
        current = self.budget_rate
        if target == current or abs(target - current) < RATE_HYSTERESIS * min(target, current):
            return False
        before = self.state()
        self.budget_rate = target
        self.shown_per_second = min(float(self.per_second), target)
        self.window = WINDOW * self.per_second / self.shown_per_second
        self.threshold_now = self.threshold
        if self.threshold and target < self.threshold:
            # unsampled chat above the budget's rate would overspend it too: sampling starts there
            self.threshold_now = max(1, int(target))
        return self.state() != before

    def _roll(self, now: float) -> None:
        elapsed = now - self.window_start
        if elapsed >= WINDOW:
            # A window followed by a silent one says nothing of the rate now.
            self.last_rate = self.window_count if elapsed < 2 * WINDOW else 0
            self.window_start = now if elapsed >= 2 * WINDOW else self.window_start + WINDOW
            self.window_count = 0

    def tick(self, now: float) -> bool:
        """Re-measure without a message (the room's ticker): True when sampling just stopped."""
        self._roll(now)
        if self.active and self.rate <= self.threshold_now and now - self.busy_at >= QUIET_SECONDS:
            self.active = False
            self.shown.clear()
            return True
        return False

    def offer(self, rank: int, now: float, age: float = 0.0) -> tuple[bool, bool]:
        """Count one chat message `age` seconds after it was sent: (whether every viewer is shown it,
        whether sampling just started)."""
        self._roll(now)
        self.window_count += 1
        started = False
        if self.threshold_now and self.window_count > self.threshold_now:
            self.busy_at = now
            if not self.active:
                self.active = started = True
        if not self.active:
            return True, started
        if self.max_age and age > self.max_age:
            return False, started  # stale: the sample's slots go to what is said now
        shown = self.shown
        while shown and now - shown[0] >= self.window:
            shown.popleft()
        rank = min(max(rank, RANK_ANY), RANK_STAFF)
        if len(shown) >= self.limits[rank]:
            return False, started
        if rank == RANK_ANY and self.window > WINDOW and now - self.last_shown < self.window / self.limits[RANK_ANY]:
            # under the budget (a round to every socket is long) ordinary chat is spread over the
            # window: a burst of 3 frames in one round takes 3 times as long to reach the last socket
            return False, started
        shown.append(now)
        self.last_shown = now
        return True, started
