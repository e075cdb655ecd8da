"""Program scope: a scoped staff or finance account reaches only its programs' records.

The route guard hands every record a request names here; another program's record is a 404,
the same answer as a record that does not exist, so ids of other programs are not leaked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

from tortoise.models import Model
from tortoise.queryset import QuerySet

from server.auth import Principal, ScopeRefs
from server.domain.errors import NotFound
from server.models import (
    AdjustmentBatch,
    Announcement,
    Anomaly,
    Commission,
    CommissionBoostRecord,
    CommissionRuleRecord,
    Dispute,
    Invitation,
    Material,
    MilestoneBonusRecord,
    Order,
    PayoutBatch,
    PeriodCapRecord,
    PosterTemplate,
    Program,
    Promoter,
    PromoterTierRecord,
    RuleSetVersion,
    ShareCode,
    Site,
    WebhookDelivery,
    WebhookEndpoint,
    Withdrawal,
)

# The widest id a BIGINT column holds: a larger one names nothing.
MAX_RECORD_ID = 2**63 - 1

# A resource kind: its model and the column holding its program. The 404 code of a kind is
# "<kind>_not_found", as the services answer for a missing record of it.
RESOURCES: dict[str, tuple[type[Model], str]] = {
    "program": (Program, "id"),
    "promoter": (Promoter, "program_id"),
    "commission": (Commission, "program_id"),
    "order": (Order, "program_id"),
    "withdrawal": (Withdrawal, "program_id"),
    "dispute": (Dispute, "program_id"),
    "anomaly": (Anomaly, "program_id"),
    "commission_rule": (CommissionRuleRecord, "program_id"),
    "period_cap": (PeriodCapRecord, "program_id"),
    "code": (ShareCode, "program_id"),
    "payout_batch": (PayoutBatch, "program_id"),
    "adjustment_batch": (AdjustmentBatch, "program_id"),
    "site": (Site, "program_id"),
    "tier": (PromoterTierRecord, "program_id"),
    "boost": (CommissionBoostRecord, "program_id"),
    "milestone_bonus": (MilestoneBonusRecord, "program_id"),
    "invitation": (Invitation, "program_id"),
    "rule_set_version": (RuleSetVersion, "program_id"),
    "webhook_endpoint": (WebhookEndpoint, "program_id"),
    "webhook_delivery": (WebhookDelivery, "program_id"),
    "poster_template": (PosterTemplate, "program_id"),
    "material": (Material, "program_id"),
    "announcement": (Announcement, "program_id"),
}

# Path and query parameters name records by these names unless the route renames them.
PARAMETERS: dict[str, str] = {
    "program_id": "program",
    "promoter_id": "promoter",
    "commission_id": "commission",
    "order_id": "order",
    "withdrawal_id": "withdrawal",
    "dispute_id": "dispute",
    "anomaly_id": "anomaly",
    "rule_id": "commission_rule",
    "cap_id": "period_cap",
    "code_id": "code",
    "batch_id": "payout_batch",
    "site_id": "site",
    "tier_id": "tier",
    "boost_id": "boost",
    "bonus_id": "milestone_bonus",
    "invitation_id": "invitation",
    "version_id": "rule_set_version",
    "endpoint_id": "webhook_endpoint",
    "delivery_id": "webhook_delivery",
    "template_id": "poster_template",
    "material_id": "material",
    "announcement_id": "announcement",
    # An internal program's sub-account is a promoter profile without a WeChat user.
    "sub_account_id": "promoter",
}


def _record_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and 1 <= value <= MAX_RECORD_ID:
        return value
    return None


def _named(refs: ScopeRefs) -> tuple[dict[str, set[int]], set[str]]:
    """Record ids by kind, and the kinds a body lists. A path parameter of no known kind
    fails closed (as missing)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    listed: set[str] = set()
    for name, value in refs.path.items():
        kind = refs.kinds.get(name) or PARAMETERS.get(name)
        record_id = _record_id(value)
        if kind is None or record_id is None:
            raise NotFound("no such record", code="not_found")
        wanted[kind].add(record_id)
    for name, values in refs.query.items():
        kind = refs.kinds.get(name) or PARAMETERS.get(name)
        if kind is None:
            continue
        # A malformed value is the handler's 422, not a scope question.
        wanted[kind].update(i for i in map(_record_id, values) if i is not None)
    for name, value in refs.body.items():
        if isinstance(value, list):
            listed.add(refs.kinds[name])
        items = value if isinstance(value, list) else [value]
        wanted[refs.kinds[name]].update(i for i in map(_record_id, items) if i is not None)
    return wanted, listed


async def check_scope(principal: Principal, refs: ScopeRefs) -> None:
    """404 unless every record `refs` names belongs to one of the principal's programs."""
    if principal.programs is None:
        return
    wanted, listed = _named(refs)
    for kind, ids in wanted.items():
        if not ids:
            continue
        model, column = RESOURCES[kind]
        rows = await model.filter(id__in=sorted(ids)).values_list("id", column)
        inside = {record_id for record_id, program_id in rows if program_id in principal.programs}
        outside = sorted(ids - inside)
        if outside:
            code = f"{kind}_not_found"
            label = kind.replace("_", " ")
            # As the bulk actions answer for ids they do not find: each one named.
            fields = {str(i): code for i in outside} if kind in listed else None
            raise NotFound(f"no such {label}", code=code, fields=fields)


def within(
    query: QuerySet[Any], programs: Collection[int] | None, column: str = "program_id"
) -> QuerySet[Any]:
    """`query` limited to `programs` (None = unlimited)."""
    if programs is None:
        return query
    return query.filter(**{f"{column}__in": sorted(programs)})
