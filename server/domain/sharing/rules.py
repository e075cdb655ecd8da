"""A program's sharing rules: how promoters' custom codes come to count, and how many links,
codes and channels one promoter may create (docs/design/sharing.md: guarding codes)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

from server.domain.errors import ValidationFailed
from server.domain.state_machine import StateMachine

# No program needs more than this many of one instrument per promoter.
MAX_QUOTA = 10_000


class CustomCodeMode(StrEnum):
    """How a promoter's code text is chosen."""

    GENERATED = "generated"  # only codes the server draws; no chosen text, no aliases
    REVIEWED = "reviewed"  # chosen text (codes, aliases) counts once staff approve it


class CodeReview(StrEnum):
    APPROVED = "approved"  # counts: generated codes are approved when created
    PENDING = "pending"  # chosen text waiting for staff: credits nobody
    REJECTED = "rejected"  # staff refused it: credits nobody, its text stays taken


CODE_REVIEW: StateMachine[CodeReview] = StateMachine(
    name="code_review",
    transitions={
        "approve": (frozenset({CodeReview.PENDING}), CodeReview.APPROVED),
        "reject": (frozenset({CodeReview.PENDING}), CodeReview.REJECTED),
    },
)


@dataclass(frozen=True, kw_only=True)
class SharingRules:
    """The sharing section of a program's settings document."""

    custom_codes: str = CustomCodeMode.REVIEWED.value
    max_links_per_promoter: int = 200
    # Active codes and aliases together; a deactivated one frees its slot, never its text.
    max_codes_per_promoter: int = 50
    max_channels_per_promoter: int = 50


SHARING_RULE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(SharingRules))
QUOTA_KEYS: tuple[str, ...] = tuple(key for key in SHARING_RULE_KEYS if key.startswith("max_"))


def sharing_rule_errors(rules: SharingRules, *, prefix: str = "") -> dict[str, str]:
    """Every broken sharing rule, keyed by `prefix` + its name."""
    errors: dict[str, str] = {}
    modes = [mode.value for mode in CustomCodeMode]
    if rules.custom_codes not in modes:
        errors[prefix + "custom_codes"] = "must be one of " + ", ".join(modes)
    for name in QUOTA_KEYS:
        value = getattr(rules, name)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[prefix + name] = "must be an integer"
        elif not 1 <= value <= MAX_QUOTA:
            errors[prefix + name] = f"must be between 1 and {MAX_QUOTA}"
    return errors


def sharing_rules_from(stored: dict[str, object] | None) -> SharingRules:
    """The rules a program row stores; missing or unreadable keys take their defaults."""
    # The document's own checks refused bad values when they were saved; a row older than the
    # setting stores nothing.
    defaults = SharingRules()
    values = {}
    for name in SHARING_RULE_KEYS:
        value = (stored or {}).get(name)
        default = getattr(defaults, name)
        values[name] = value if type(value) is type(default) else default
    return SharingRules(**values)  # type: ignore[arg-type]


def check_quota(*, instrument: str, count: int, limit: int) -> None:
    """Refuse (422 quota_exceeded) one more `instrument` when `count` already reach `limit`."""
    if count >= limit:
        raise ValidationFailed(
            f"at most {limit} {instrument} per promoter in this program",
            code="quota_exceeded",
            fields={"quota": instrument, "limit": limit},
        )


def review_of_new_code(*, mode: str, chosen: bool, field: str = "code") -> CodeReview:
    """The review state a new code starts in, or 422 custom_codes_disabled."""
    if not chosen:
        return CodeReview.APPROVED
    if mode == CustomCodeMode.GENERATED:
        raise ValidationFailed(
            "this program only uses codes the server draws; chosen text is not allowed",
            code="custom_codes_disabled",
            fields={field: "not allowed: the server draws codes in this program"},
        )
    return CodeReview.PENDING
