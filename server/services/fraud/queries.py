"""Reading anomalies: the review queue (filters, newest first, keyset pages) and one anomaly
in detail with its evidence and the orders, commissions and visits it links."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from server import clock
from server.domain.errors import NotFound, ValidationFailed
from server.domain.fraud.anomaly_status import AnomalyStatus
from server.domain.fraud.findings import AnomalyKind
from server.domain.pagination import check_page_limit, next_cursor
from server.models import Anomaly, AnomalyLink, Commission, Order, Visit
from server.services.access.scope import within
from server.services.commissions.review import serialize_commission

# Linked rows shown in a detail (the evidence keeps the totals).
MAX_LINKED_ROWS = 200


def serialize_anomaly(anomaly: Anomaly) -> dict[str, Any]:
    """An anomaly as the review queue lists it."""
    return {
        "id": anomaly.id,
        "program_id": anomaly.program_id,  # type: ignore[attr-defined]
        "kind": anomaly.kind,
        "subject_kind": anomaly.subject_kind,
        "subject_id": anomaly.subject_id,
        "promoter_id": anomaly.promoter_id,
        "score": anomaly.score,
        "status": anomaly.status,
        "source": anomaly.source,
        "evidence": anomaly.evidence,
        "decided_by": anomaly.decided_by,
        "decided_at": anomaly.decided_at,
        "note": anomaly.note,
        "promoter_suspended": anomaly.suspended_promoter,
        "created_at": anomaly.created_at,
        "updated_at": anomaly.updated_at,
    }


def _check_filters(
    kind: str | None, status: str | None, min_score: int | None, max_score: int | None
) -> None:
    errors: dict[str, str] = {}
    if kind is not None and kind not in {k.value for k in AnomalyKind}:
        errors["kind"] = "unknown kind"
    if status is not None and status not in {s.value for s in AnomalyStatus}:
        errors["status"] = "one of " + ", ".join(s.value for s in AnomalyStatus)
    if min_score is not None and max_score is not None and min_score > max_score:
        errors["min_score"] = "must not exceed max_score"
    if errors:
        raise ValidationFailed("invalid filters", code="invalid_query", fields=errors)


async def anomaly_queue(
    *,
    program_id: int | None = None,
    programs: Collection[int] | None = None,
    kind: str | None = None,
    status: str | None = AnomalyStatus.OPEN.value,
    min_score: int | None = None,
    max_score: int | None = None,
    promoter_id: int | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of anomalies matching the filters, newest first (open ones by default)."""
    check_page_limit(limit)
    _check_filters(kind, status, min_score, max_score)
    query = within(Anomaly.all(), programs)
    if program_id is not None:
        query = query.filter(program_id=program_id)
    if kind is not None:
        query = query.filter(kind=kind)
    if status is not None:
        query = query.filter(status=status)
    if min_score is not None:
        query = query.filter(score__gte=min_score)
    if max_score is not None:
        query = query.filter(score__lte=max_score)
    if promoter_id is not None:
        query = query.filter(promoter_id=promoter_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_anomaly(row) for row in rows],
        "next_cursor": next_cursor([row.id for row in rows], limit),
    }


def _order(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "external_id": order.external_id,
        "status": order.status,
        "currency": order.currency,
        "total_amount": str(order.total_amount),
        "refunded_amount": str(order.refunded_amount),
        "attributed_promoter_id": order.attributed_promoter_id,
        "buyer_promoter_id": order.buyer_promoter_id,
        "coupon_code": order.coupon_code,
        "site_id": order.site_id,
        "placed_at": order.placed_at,
    }


def _visit(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.id,
        "promoter_id": visit.promoter_id,
        "channel_id": visit.channel_id,
        "code_id": visit.code_id,
        "site_id": visit.site_id,
        "visitor_hash": visit.visitor_hash,
        "ip_hash": visit.ip_hash,
        "is_bot": visit.is_bot,
        "source": visit.source,
        "at": visit.at,
    }


async def anomaly_detail(*, anomaly_id: int) -> dict[str, Any]:
    """One anomaly with its evidence and its linked orders, commissions and visits."""
    anomaly = await Anomaly.get_or_none(id=anomaly_id)
    if anomaly is None:
        raise NotFound("no such anomaly", code="anomaly_not_found")
    links = await AnomalyLink.filter(anomaly_id=anomaly.id).values_list("target_kind", "target_id")
    ids: dict[str, list[int]] = {"order": [], "commission": [], "visit": []}
    for kind, target in links:
        ids.setdefault(kind, []).append(int(target))
    counts = {kind: len(found) for kind, found in ids.items()}
    orders = await Order.filter(id__in=sorted(ids["order"])[:MAX_LINKED_ROWS]).order_by("id")
    commissions = await Commission.filter(
        id__in=sorted(ids["commission"])[:MAX_LINKED_ROWS]
    ).order_by("id")
    visits = await Visit.filter(id__in=sorted(ids["visit"])[:MAX_LINKED_ROWS]).order_by("id")
    now = clock.now()
    return {
        **serialize_anomaly(anomaly),
        "linked_counts": counts,
        "orders": [_order(order) for order in orders],
        "commissions": [serialize_commission(c, now=now) for c in commissions],
        "visits": [_visit(visit) for visit in visits],
    }
