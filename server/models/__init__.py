"""tortoise-orm models: the storage schema. One module per concept."""

from server.models.audit import AuditLog
from server.models.hierarchy import HierarchyMove, PromoterClosure, TeamCount
from server.models.job_run import JobRun
from server.models.program import Program, Site
from server.models.promoter import Promoter, PromoterSite, PromoterStatusChange
from server.models.share import Channel, QrImage, ShareCode, ShareLink
from server.models.staff import StaffUser
from server.models.token import RefreshToken
from server.models.user import User

__all__ = [
    "AuditLog",
    "Channel",
    "HierarchyMove",
    "JobRun",
    "Program",
    "Promoter",
    "PromoterClosure",
    "PromoterSite",
    "PromoterStatusChange",
    "QrImage",
    "RefreshToken",
    "ShareCode",
    "ShareLink",
    "Site",
    "StaffUser",
    "TeamCount",
    "User",
]
