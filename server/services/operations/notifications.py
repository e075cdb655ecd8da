"""The notification outbox: business events queue WeChat subscribe messages in their own
transaction, and a job sends them later. Sending never touches money and never raises into
the code that queued the message: a failure is logged, retried with backoff, then given up."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.domain.errors import (
    FenxiaoError,
    TooManyRequests,
    UpstreamUnavailable,
    ValidationFailed,
)
from server.integrations.wechat import WeChatGateway
from server.integrations.wechat_client import build_gateway
from server.models import Notification, User

log = logging.getLogger("fenxiao.notifications")

TEMPLATE_WITHDRAWAL_PAID = "withdrawal_paid"
TEMPLATE_WITHDRAWAL_REJECTED = "withdrawal_rejected"
TEMPLATE_ANNOUNCEMENT = "announcement"
# The kinds of message the product sends, and the Settings field holding each template id
# (the keyword mapping is the same field with `_fields` appended).
TEMPLATE_SETTINGS: Mapping[str, str] = {
    TEMPLATE_WITHDRAWAL_PAID: "wechat_template_withdrawal_paid",
    TEMPLATE_WITHDRAWAL_REJECTED: "wechat_template_withdrawal_rejected",
    TEMPLATE_ANNOUNCEMENT: "wechat_template_announcement",
}

STATUS_PENDING = "pending"
STATUS_SENT = "sent"
STATUS_FAILED = "failed"

MAX_ATTEMPTS = 6
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=2)
# While one sender works on a message, others skip it; a sender that died mid-send lets the
# message become due again after this long (so it is sent at least once, rarely twice).
SEND_LEASE = timedelta(minutes=5)
MAX_ERROR_LENGTH = 500
# WeChat refuses a subscribe message value longer than this (thing.DATA is 20 characters).
MAX_VALUE_LENGTH = 20


async def enqueue_notification(
    *,
    user_id: int,
    program_id: int,
    template: str,
    data: dict[str, str],
    reference: str,
    conn: BaseDBAsyncClient | None = None,
) -> None:
    """Queue one subscribe message in the caller's transaction; a known reference is a no-op."""
    if template not in TEMPLATE_SETTINGS:
        raise ValidationFailed(
            "unknown notification template",
            code="unknown_notification_template",
            fields={"template": template},
        )
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in data.items()):
        raise ValidationFailed(
            "notification data must map strings to strings",
            code="invalid_notification_data",
            fields={"data": "strings only"},
        )
    if await Notification.filter(reference=reference).using_db(conn).exists():
        return
    if conn is None:
        async with in_transaction() as own:
            await _insert(user_id, program_id, template, data, reference, own)
        return
    await _insert(user_id, program_id, template, data, reference, conn)


async def _insert(
    user_id: int,
    program_id: int,
    template: str,
    data: dict[str, str],
    reference: str,
    conn: BaseDBAsyncClient,
) -> None:
    try:
        await Notification.create(
            user_id=user_id,
            program_id=program_id,
            template=template,
            data=dict(data),
            reference=reference,
            status=STATUS_PENDING,
            next_attempt_at=clock.now(),
            using_db=conn,
        )
    except IntegrityError as exc:
        # A concurrent transaction queued the same event first: that message is the one.
        # (Re-reading would not tell: this transaction's snapshot may predate that commit.)
        if not _is_duplicate(exc):
            raise


def _is_duplicate(exc: IntegrityError) -> bool:
    text = str(exc)
    return "Duplicate entry" in text or "UNIQUE constraint failed" in text


def template_message(data: Mapping[str, str], fields: str | None) -> dict[str, dict[str, str]]:
    """The subscribe-message `data` for a template whose keywords `fields` maps."""
    # `fields` reads like "amount:amount1,reason:thing2"; without it the keys are the keywords.
    if not fields:
        keywords = {key: key for key in data}
    else:
        pairs = [pair.split(":", 1) for pair in fields.split(",") if pair.strip()]
        if any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
            raise ValueError(f"a template field mapping must read key:keyword,... not {fields!r}")
        keywords = {key.strip(): keyword.strip() for key, keyword in pairs}
    return {
        keywords[key]: {"value": value[:MAX_VALUE_LENGTH]}
        for key, value in data.items()
        if key in keywords
    }


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed send: doubling, capped."""
    return min(FIRST_RETRY_DELAY * (2 ** max(attempts - 1, 0)), MAX_RETRY_DELAY)


# One gateway per settings object and process: each new one would fetch a new access token,
# and every fetch retires the token the rest of the process is using.
_gateways: dict[int, tuple[Settings, WeChatGateway]] = {}


def _gateway_for(settings: Settings) -> WeChatGateway:
    cached = _gateways.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = (settings, build_gateway(settings))
        _gateways[id(settings)] = cached
    return cached[1]


async def send_pending_notifications(
    *, settings: Settings, gateway: WeChatGateway | None = None, limit: int = 200
) -> dict[str, Any]:
    """Send the due messages of the outbox; a summary of what happened to each."""
    gateway = gateway or _gateway_for(settings)
    now = clock.now()
    due = (
        await Notification.filter(status=STATUS_PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .limit(limit)
        .only("id", "attempts")
    )
    summary = {"sent": 0, "retrying": 0, "failed": 0, "skipped": 0}
    for candidate in due:
        outcome = await _send_one(
            candidate.id, candidate.attempts, settings=settings, gateway=gateway
        )
        summary[outcome] += 1
    return summary


async def _claim(notification_id: int, attempts: int) -> Notification | None:
    """Take the message for this sender (one attempt more, leased); None if another has it."""
    claimed = await Notification.filter(
        id=notification_id, status=STATUS_PENDING, attempts=attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=clock.now() + SEND_LEASE)
    if claimed != 1:
        return None
    return await Notification.get(id=notification_id)


async def _send_one(
    notification_id: int, attempts: int, *, settings: Settings, gateway: WeChatGateway
) -> str:
    notification = await _claim(notification_id, attempts)
    if notification is None:
        return "skipped"
    setting = TEMPLATE_SETTINGS.get(notification.template, "")
    template_id = getattr(settings, setting, None) if setting else None
    if not template_id:
        log.warning(
            "notification %s not sent: no template id is configured for %s",
            notification.id,
            notification.template,
        )
        return await _give_up(
            notification, f"no template id configured for {notification.template}"
        )
    user = await User.get_or_none(id=notification.user_id).only("id", "openid")
    if user is None:
        return await _give_up(notification, "the user no longer exists")
    try:
        message = template_message(notification.data, getattr(settings, f"{setting}_fields"))
    except ValueError as exc:
        return await _give_up(notification, str(exc))
    try:
        await gateway.send_subscribe_message(
            openid=user.openid, template_id=template_id, data=message, page=""
        )
    except (UpstreamUnavailable, TooManyRequests) as exc:
        return await _retry_later(notification, f"{exc.code}: {exc.message}")
    except FenxiaoError as exc:
        # WeChat refused this message for good (unsubscribed user, bad template or data).
        return await _give_up(notification, f"{exc.code}: {exc.message}")
    except Exception as exc:  # a sender bug must not stop the others
        log.exception("notification %s: unexpected error while sending", notification.id)
        return await _retry_later(notification, f"{type(exc).__name__}: {exc}")
    notification.status = STATUS_SENT
    notification.sent_at = clock.now()
    notification.last_error = None
    await notification.save(update_fields=["status", "sent_at", "last_error", "updated_at"])
    return "sent"


async def _retry_later(notification: Notification, error: str) -> str:
    if notification.attempts >= MAX_ATTEMPTS:
        return await _give_up(notification, error)
    delay = retry_delay(notification.attempts)
    log.warning(
        "notification %s (%s) failed on attempt %s, retrying in %s: %s",
        notification.id,
        notification.template,
        notification.attempts,
        delay,
        error,
    )
    notification.last_error = error[:MAX_ERROR_LENGTH]
    notification.next_attempt_at = clock.now() + delay
    await notification.save(update_fields=["last_error", "next_attempt_at", "updated_at"])
    return "retrying"


async def _give_up(notification: Notification, error: str) -> str:
    log.error(
        "notification %s (%s) given up after %s attempt(s): %s",
        notification.id,
        notification.template,
        notification.attempts,
        error,
    )
    notification.status = STATUS_FAILED
    notification.last_error = error[:MAX_ERROR_LENGTH]
    await notification.save(update_fields=["status", "last_error", "updated_at"])
    return "failed"
