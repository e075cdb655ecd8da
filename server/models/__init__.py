"""tortoise-orm models: the storage schema. One module per concept."""

from server.models.adjustment import Adjustment, AdjustmentBatch
from server.models.agreement import AgreementAcceptance
from server.models.anomaly import Anomaly, AnomalyLink
from server.models.attribution import Binding, BindingCustomer, Visit
from server.models.audit import AuditLog
from server.models.catalog import CatalogCategory, CatalogProduct, CatalogPush
from server.models.click import S2SClick
from server.models.commission import Commission, CommissionChange
from server.models.commission_rule import CommissionRuleRecord, PeriodCapRecord
from server.models.dispute import Dispute, DisputeMessage
from server.models.hierarchy import HierarchyMove, PromoterClosure, TeamCount
from server.models.idempotency import IdempotencyRecord
from server.models.invitation import Invitation, InvitationRedemption
from server.models.job_run import JobRun
from server.models.ledger import LedgerEntry, PromoterBalance
from server.models.login_throttle import LoginThrottle
from server.models.notification import Notification
from server.models.orders import Order, OrderEvent, OrderLine, OrderLock, QueuedOrderEvent
from server.models.program import Program, Site
from server.models.promoter import Promoter, PromoterSite, PromoterStatusChange
from server.models.promoter_hold import PromoterHold
from server.models.promotion import (
    Announcement,
    AnnouncementRead,
    AnnouncementSubscription,
    Material,
    PosterTemplate,
)
from server.models.report import (
    ReportBuyer,
    ReportDailyRollup,
    ReportMark,
    ReportRangeFigures,
    ReportRollup,
    ReportSketch,
    ReportSpanRollup,
    ReportSpanSketch,
    ReportState,
    ReportVisitor,
    SpendRecord,
)
from server.models.rule_set import RuleSetVersion
from server.models.s2s import ApiKey, S2SNonce
from server.models.share import Channel, QrImage, ShareCode, ShareLink, ShareUrlLink
from server.models.share_guard import ReservedCode, WxacodeCallWindow
from server.models.staff import StaffProgram, StaffUser
from server.models.tier import (
    BonusAward,
    CommissionBoostRecord,
    MilestoneBonusRecord,
    PromoterTierChange,
    PromoterTierRecord,
)
from server.models.token import RefreshToken
from server.models.user import User
from server.models.webhook import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from server.models.withdrawal import PayoutBatch, PayoutItem, Withdrawal, WithdrawalChange

__all__ = [
    "Adjustment",
    "AdjustmentBatch",
    "AgreementAcceptance",
    "Announcement",
    "AnnouncementRead",
    "AnnouncementSubscription",
    "Anomaly",
    "AnomalyLink",
    "ApiKey",
    "AuditLog",
    "Binding",
    "BindingCustomer",
    "BonusAward",
    "CatalogCategory",
    "CatalogProduct",
    "CatalogPush",
    "Channel",
    "Commission",
    "CommissionBoostRecord",
    "CommissionChange",
    "CommissionRuleRecord",
    "Dispute",
    "DisputeMessage",
    "HierarchyMove",
    "IdempotencyRecord",
    "Invitation",
    "InvitationRedemption",
    "JobRun",
    "LedgerEntry",
    "LoginThrottle",
    "Material",
    "MilestoneBonusRecord",
    "Notification",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderLock",
    "PayoutBatch",
    "PayoutItem",
    "PeriodCapRecord",
    "PosterTemplate",
    "Program",
    "Promoter",
    "PromoterBalance",
    "PromoterClosure",
    "PromoterHold",
    "PromoterSite",
    "PromoterStatusChange",
    "PromoterTierChange",
    "PromoterTierRecord",
    "QrImage",
    "QueuedOrderEvent",
    "RefreshToken",
    "ReportBuyer",
    "ReportDailyRollup",
    "ReportMark",
    "ReportRangeFigures",
    "ReportRollup",
    "ReportSketch",
    "ReportSpanRollup",
    "ReportSpanSketch",
    "ReportState",
    "ReportVisitor",
    "ReservedCode",
    "RuleSetVersion",
    "S2SClick",
    "S2SNonce",
    "ShareCode",
    "ShareLink",
    "ShareUrlLink",
    "Site",
    "SpendRecord",
    "StaffProgram",
    "StaffUser",
    "TeamCount",
    "User",
    "Visit",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookMessage",
    "Withdrawal",
    "WithdrawalChange",
    "WxacodeCallWindow",
]
