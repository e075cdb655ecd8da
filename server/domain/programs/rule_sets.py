"""Rule-set versions as documents: the kinds of record a version holds, JSON-safe rows, and
the difference between two versions (docs/rule-sets.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from server.domain.state_machine import StateMachine

# The records a version holds, in the order they are shown and published (tiers first:
# rules and caps may name a tier code).
KINDS = ("tier", "commission_rule", "period_cap", "boost", "milestone_bonus")
# Columns of a record that are not its settings: the row's place, its clock, its counters.
NOT_SETTINGS = frozenset({"program_id", "created_at", "updated_at", "awarded_count"})


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    DISCARDED = "discarded"


# Only a draft moves: it is edited, then published or discarded; a published version stays.
VERSION_LIFECYCLE: StateMachine[VersionStatus] = StateMachine(
    name="rule_set_version",
    transitions={
        "edit": (frozenset({VersionStatus.DRAFT}), VersionStatus.DRAFT),
        "publish": (frozenset({VersionStatus.DRAFT}), VersionStatus.PUBLISHED),
        "discard": (frozenset({VersionStatus.DRAFT}), VersionStatus.DISCARDED),
    },
)


def json_value(value: Any) -> Any:
    """A stored column's value as a version document keeps it: decimals as canonical text
    ("20", "9.5"), instants ISO-8601, JSON values as they are."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


def empty_document() -> dict[str, list[dict[str, Any]]]:
    return {kind: [] for kind in KINDS}


def item_key(row: Mapping[str, Any]) -> int:
    """A row's key within its version: the record's id, or the negative key of a new row."""
    return int(row["id"]) if row.get("id") is not None else int(row["key"])


def next_new_key(rows: Sequence[Mapping[str, Any]]) -> int:
    """The key of a row a draft adds: below every key so far (new rows have no id yet)."""
    return min([-1, *(item_key(row) - 1 for row in rows)])


def _settings(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in ("id", "key")}


def diff_documents(
    before: Mapping[str, Sequence[Mapping[str, Any]]],
    after: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, list[dict[str, Any]]]:
    """What changed from `before` to `after`, by kind: rows added, and rows changed with
    each field's before and after (a version never drops a row; it disables it)."""
    diff: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        old = {item_key(row): _settings(row) for row in before.get(kind, [])}
        changes: list[dict[str, Any]] = []
        for row in after.get(kind, []):
            key, settings = item_key(row), _settings(row)
            if key not in old:
                changes.append({"key": key, "change": "added", "after": settings})
                continue
            fields = {
                name: {"before": old[key].get(name), "after": value}
                for name, value in settings.items()
                if old[key].get(name) != value
            }
            if fields:
                changes.append({"key": key, "change": "changed", "fields": fields})
        if changes:
            diff[kind] = changes
    return diff
