"""Inline click-flood screening: per-worker counters of a promoter's visits per hashed IP and
device, so a flood is flagged as it arrives instead of at the next hourly scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from server.domain.fraud.findings import AnomalyKind, Finding
from server.domain.fraud.thresholds import FraudThresholds
from server.domain.fraud.traffic import VisitGroup, detect_click_floods

DEFAULT_MAX_KEYS = 50_000

FloodKey = tuple[int, str, str]  # (promoter id, "ip" | "device", hash)
# Which rules a key was already reported under (bits of `_KeyCount.reported`).
_FLOOD, _FAST = 1, 2


class _KeyCount:
    """One key's visits in its window and in its current burst."""

    __slots__ = ("burst_count", "burst_start", "count", "first", "last", "reported")

    def __init__(self, at: float) -> None:
        self.first = at
        self.last = at
        self.count = 0
        self.burst_start = at
        self.burst_count = 0
        self.reported = 0


@dataclass(frozen=True, kw_only=True)
class Crossing:
    """A key that just became suspect under one rule: the visits counted and when."""

    program_id: int
    kind: AnomalyKind  # CLICK_FLOOD | INHUMAN_VISIT_RATE
    promoter_id: int
    key_kind: str
    key_hash: str
    visits: int
    first_at: float
    last_at: float

    def finding(self, thresholds: FraudThresholds, visit_ids: tuple[int, ...]) -> Finding | None:
        """The scan's finding for these counts (same fingerprint), linked to `visit_ids`."""
        group = VisitGroup(
            promoter_id=self.promoter_id,
            key_kind=self.key_kind,
            key_hash=self.key_hash,
            visits=self.visits,
            first_at=datetime.fromtimestamp(self.first_at, UTC),
            last_at=datetime.fromtimestamp(self.last_at, UTC),
            sample_visit_ids=visit_ids,
        )
        for found in detect_click_floods([group], thresholds):
            if found.kind == self.kind:
                return found
        return None


class FloodCounter:
    """The flood counters of one worker."""

    def __init__(self, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._keys: dict[FloodKey, _KeyCount] = {}
        self.crossings: list[Crossing] = []

    def __len__(self) -> int:
        return len(self._keys)

    def _forget_oldest(self) -> None:
        oldest = list(self._keys)[: max(1, self.max_keys // 10)]
        for key in oldest:
            if not self._keys[key].reported:
                del self._keys[key]

    def count(self, program_id: int, key: FloodKey, at: float, thresholds: FraudThresholds) -> bool:
        """Count one visit of `key` at `at`; True when the visit is suspect."""
        counted = self._keys.get(key)
        if counted is None or at - counted.first >= thresholds.scan_window_hours * 3600:
            if counted is not None:
                del self._keys[key]  # re-inserted last: its window starts now
            elif len(self._keys) >= self.max_keys:
                self._forget_oldest()
            counted = self._keys[key] = _KeyCount(at)
        counted.count += 1
        if at > counted.last:
            counted.last = at
        burst_seconds = 60 * thresholds.min_rate_visits / thresholds.max_visits_per_minute
        if at - counted.burst_start > burst_seconds:
            counted.burst_start = at
            counted.burst_count = 0
        counted.burst_count += 1
        limit = thresholds.visits_per_ip if key[1] == "ip" else thresholds.visits_per_device
        flood = counted.count >= limit
        fast = counted.burst_count >= thresholds.min_rate_visits
        if flood and not counted.reported & _FLOOD:
            counted.reported |= _FLOOD
            self._cross(program_id, AnomalyKind.CLICK_FLOOD, key, counted.count, counted.first, at)
        if fast and not counted.reported & _FAST:
            counted.reported |= _FAST
            self._cross(
                program_id,
                AnomalyKind.INHUMAN_VISIT_RATE,
                key,
                counted.burst_count,
                counted.burst_start,
                at,
            )
        return flood or fast

    def _cross(
        self,
        program_id: int,
        kind: AnomalyKind,
        key: FloodKey,
        visits: int,
        first_at: float,
        last_at: float,
    ) -> None:
        self.crossings.append(
            Crossing(
                program_id=program_id,
                kind=kind,
                promoter_id=key[0],
                key_kind=key[1],
                key_hash=key[2],
                visits=visits,
                first_at=first_at,
                last_at=last_at,
            )
        )
