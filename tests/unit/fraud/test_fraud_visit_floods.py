"""The per-worker flood counters: a flood or an inhuman rate is suspect from the visit that
crosses the threshold, reported once, and memory stays bounded."""

from __future__ import annotations

from server.domain.fraud.findings import AnomalyKind
from server.domain.fraud.thresholds import FraudThresholds
from server.domain.fraud.visit_floods import FloodCounter

T = FraudThresholds()
IP = (7, "ip", "h-ip")


def _visits(counter: FloodCounter, key: tuple[int, str, str], times: list[float]) -> list[bool]:
    return [counter.count(1, key, at, T) for at in times]


def test_an_ip_flooding_a_promoter_is_suspect_from_the_threshold_visit_on() -> None:
    counter = FloodCounter()
    flags = _visits(counter, IP, [i * 300.0 for i in range(T.visits_per_ip + 5)])

    assert flags.index(True) == T.visits_per_ip - 1
    assert all(flags[T.visits_per_ip - 1 :])
    [crossing] = counter.crossings
    assert (crossing.kind, crossing.promoter_id, crossing.visits) == (
        AnomalyKind.CLICK_FLOOD,
        7,
        T.visits_per_ip,
    )


def test_a_family_sharing_one_ip_below_the_threshold_is_never_suspect() -> None:
    counter = FloodCounter()

    assert not any(_visits(counter, IP, [i * 600.0 for i in range(30)]))
    assert counter.crossings == []


def test_a_device_at_an_inhuman_rate_is_suspect_and_reported_as_the_scan_would() -> None:
    counter = FloodCounter()
    device = (7, "device", "h-dev")

    flags = _visits(counter, device, [float(i) for i in range(T.min_rate_visits)])

    assert flags[-1] and not any(flags[:-1])
    [crossing] = counter.crossings
    finding = crossing.finding(T, (1, 2))
    assert finding is not None
    assert finding.kind == AnomalyKind.INHUMAN_VISIT_RATE
    assert finding.fingerprint == "inhuman_visit_rate:promoter:7:device:h-dev"
    assert finding.visit_ids == (1, 2)


def test_a_steady_reader_is_not_an_inhuman_rate() -> None:
    counter = FloodCounter()

    assert not any(_visits(counter, (7, "device", "d"), [i * 10.0 for i in range(50)]))


def test_a_key_starts_counting_again_once_its_window_has_passed() -> None:
    counter = FloodCounter()
    day = T.scan_window_hours * 3600.0
    _visits(counter, IP, [i * 400.0 for i in range(T.visits_per_ip - 1)])

    assert not counter.count(1, IP, day + 1, T)


def test_memory_stays_bounded_and_flagged_keys_are_kept() -> None:
    counter = FloodCounter(max_keys=100)
    _visits(counter, IP, [float(i) for i in range(T.visits_per_ip)])
    for n in range(1000):
        counter.count(1, (7, "ip", f"other-{n}"), 10_000.0 + n, T)

    assert len(counter) <= 101
    assert counter.count(1, IP, 20_000.0, T)
