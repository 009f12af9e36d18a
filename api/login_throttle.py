"""Counts login attempts per username and per client address, and says when the next one may be tried."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# Keys that no attempt has touched for a whole window are dropped once the table is this large, so a flood of
# made-up usernames cannot grow it without bound.
PRUNE_ABOVE_KEYS = 10_000


@dataclass(frozen=True)
class Refusal:
    retry_after: int
    reason: str
    first: bool  # the first refusal of this lockout (audited once, not per refused request)


class LoginThrottle:
    """Sliding-window counts, in this process.

    An attempt counts from the moment it starts, before its password is checked, so that a burst of concurrent
    guesses is cut off at the limit instead of all being hashed; a successful login takes its attempt back and
    clears the username's count.
    """

    def __init__(self, window_seconds: float, per_user: int, per_address: int,
                 clock: Callable[[], float] = time.monotonic):
        self.window = window_seconds
        self.limits = {"user": per_user, "address": per_address}
        self.clock = clock
        self._attempts: dict[tuple[str, str], deque[float]] = {}
        self._locked: set[tuple[str, str]] = set()

    def begin(self, username: str, address: str) -> Refusal | None:
        """Refuse, or count the attempt that is about to be checked."""
        now = self.clock()
        self._prune(now)
        keys = self._keys(username, address)
        for key in keys:
            recent = self._recent(key, now)
            if len(recent) >= self.limits[key[0]]:
                first = key not in self._locked
                self._locked.add(key)
                wait = max(1, math.ceil(recent[0] + self.window - now))
                what = "this username" if key[0] == "user" else "this address"
                return Refusal(wait, f"too many failed logins for {what}; retry in {wait} s", first)
        for key in keys:
            self._attempts.setdefault(key, deque()).append(now)
        return None

    def succeeded(self, username: str, address: str) -> None:
        user_key, address_key = self._keys(username, address)
        self._attempts.pop(user_key, None)
        self._locked.discard(user_key)
        attempts = self._attempts.get(address_key)
        if attempts:
            attempts.pop()

    def _keys(self, username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", username.casefold()), ("address", address)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        attempts = self._attempts.get(key)
        if attempts is None:
            return deque()
        while attempts and attempts[0] <= now - self.window:
            attempts.popleft()
        if not attempts:
            self._locked.discard(key)
        return attempts

    def _prune(self, now: float) -> None:
        if len(self._attempts) <= PRUNE_ABOVE_KEYS:
            return
        for key in [k for k, v in self._attempts.items() if not v or v[-1] <= now - self.window]:
            del self._attempts[key]
            self._locked.discard(key)
