"""Hierarchy abuse: one person posing as their own upline (a promoter and an upline who share
an identity signal), one finding per chain scored by its strongest signal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from server.domain.fraud.findings import AnomalyKind, Finding, SubjectKind
from server.domain.fraud.identity import Identity, shared_signals, signals_score
from server.domain.fraud.thresholds import FraudThresholds


@dataclass(frozen=True, kw_only=True)
class UplinePair:
    descendant_id: int
    ancestor_id: int
    depth: int
    descendant: Identity
    ancestor: Identity


def _root(parents: dict[int, int], node: int) -> int:
    while parents.setdefault(node, node) != node:
        parents[node] = parents[parents[node]]
        node = parents[node]
    return node


def detect_shared_identity_chains(
    pairs: Iterable[UplinePair], thresholds: FraudThresholds
) -> list[Finding]:
    """One finding per chain of promoters that share identity signals."""
    parents: dict[int, int] = {}
    links: list[tuple[UplinePair, tuple[str, ...]]] = []
    has_sharing_member_below: set[int] = set()
    for pair in pairs:
        if pair.depth > thresholds.hierarchy_max_depth:
            continue
        signals = shared_signals(pair.descendant, pair.ancestor)
        if not signals:
            continue
        links.append((pair, signals))
        a, b = _root(parents, pair.descendant_id), _root(parents, pair.ancestor_id)
        parents[max(a, b)] = min(a, b)
        has_sharing_member_below.add(pair.ancestor_id)
    chains: dict[int, list[tuple[UplinePair, tuple[str, ...]]]] = {}
    for pair, signals in links:
        chains.setdefault(_root(parents, pair.descendant_id), []).append((pair, signals))
    findings = []
    for _, chain in sorted(chains.items()):
        members = sorted({p.descendant_id for p, _ in chain} | {p.ancestor_id for p, _ in chain})
        # The lowest member (none of the chain below it) is where the chain earns from.
        lowest = min(
            (p.descendant_id for p, _ in chain if p.descendant_id not in has_sharing_member_below),
            default=members[-1],
        )
        findings.append(
            Finding(
                kind=AnomalyKind.HIERARCHY_SHARED_IDENTITY,
                subject_kind=SubjectKind.PROMOTER,
                subject_id=str(lowest),
                score=max(signals_score(signals) for _, signals in chain),
                promoter_id=lowest,
                detail=",".join(str(m) for m in members),
                evidence={
                    "members": members,
                    "links": [
                        {
                            "promoter_id": p.descendant_id,
                            "upline_id": p.ancestor_id,
                            "depth": p.depth,
                            "signals": list(signals),
                        }
                        for p, signals in sorted(
                            chain, key=lambda item: (item[0].descendant_id, item[0].depth)
                        )
                    ],
                },
                promoter_ids=tuple(members),
            )
        )
    return findings
