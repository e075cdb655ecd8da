"""Hierarchy abuse: chains of promoters sharing identity signals."""

from __future__ import annotations

from server.domain.fraud.findings import AnomalyKind
from server.domain.fraud.hierarchy_abuse import UplinePair, detect_shared_identity_chains
from server.domain.fraud.identity import Identity
from server.domain.fraud.thresholds import FraudThresholds

T = FraudThresholds()


def pair(d: int, a: int, depth: int, d_id: Identity, a_id: Identity) -> UplinePair:
    return UplinePair(descendant_id=d, ancestor_id=a, depth=depth, descendant=d_id, ancestor=a_id)


def test_a_promoter_sharing_a_phone_with_their_upline_is_flagged() -> None:
    child = Identity(user_id=1, phone="138")
    parent = Identity(user_id=2, phone="138")
    [finding] = detect_shared_identity_chains([pair(11, 10, 1, child, parent)], T)
    assert finding.kind == AnomalyKind.HIERARCHY_SHARED_IDENTITY
    assert finding.subject_id == "11"
    assert finding.evidence["members"] == [10, 11]
    assert finding.evidence["links"][0]["signals"] == ["phone"]


def test_a_chain_of_three_accounts_of_one_person_is_one_finding() -> None:
    a, b, c = (Identity(user_id=i, unionid="u-same") for i in (1, 2, 3))
    pairs = [pair(12, 11, 1, c, b), pair(11, 10, 1, b, a), pair(12, 10, 2, c, a)]
    [finding] = detect_shared_identity_chains(pairs, T)
    assert finding.evidence["members"] == [10, 11, 12]
    assert finding.promoter_id == 12
    assert finding.score == 95


def test_strangers_in_one_tree_are_not_flagged() -> None:
    child = Identity(user_id=1, phone="138", unionid="u1")
    parent = Identity(user_id=2, phone="139", unionid="u2")
    assert detect_shared_identity_chains([pair(11, 10, 1, child, parent)], T) == []


def test_an_upline_beyond_the_configured_depth_is_not_compared() -> None:
    same = Identity(user_id=1)
    far = pair(11, 10, T.hierarchy_max_depth + 1, same, same)
    assert detect_shared_identity_chains([far], T) == []


def test_a_chain_too_long_to_spell_out_still_has_a_short_stable_fingerprint() -> None:
    same = Identity(unionid="u")
    pairs = [pair(n + 1, n, 1, same, same) for n in range(1, 60)]
    [first] = detect_shared_identity_chains(pairs, T)
    [again] = detect_shared_identity_chains(list(reversed(pairs)), T)
    assert first.fingerprint == again.fingerprint
    assert len(first.fingerprint) < 255
