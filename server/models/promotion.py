"""Promotion tools: poster templates, materials, announcements and who read them, and the
subscribe-message consents promoters gave for announcements."""

from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class PosterTemplate(Model):
    """A background image staff uploaded and where the QR code and name go on it.

    `version` grows on every change: rendered posters are cached per version.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="poster_templates")
    name = fields.CharField(max_length=128)
    version = fields.IntField(default=1)
    # Relative to the media directory (server/services/promotion/media.py).
    image_path = fields.CharField(max_length=255)
    image_sha256 = fields.CharField(max_length=64)
    content_type = fields.CharField(max_length=32)
    width = fields.IntField()
    height = fields.IntField()
    layout = fields.JSONField(default=dict)
    enabled = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "poster_templates"
        indexes = (("program_id", "enabled", "id"),)


class Material(Model):
    """A piece promoters share: an image, copy text, or a product page of the mini-program."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="materials")
    kind = fields.CharField(max_length=16)
    title = fields.CharField(max_length=128)
    copy_text = fields.TextField(default="")
    # A mini-program page and query (pages/product/detail?id=42) for product materials.
    destination = fields.CharField(max_length=255, null=True)
    image_path = fields.CharField(max_length=255, null=True)
    image_type = fields.CharField(max_length=32, null=True)
    position = fields.IntField(default=0)
    status = fields.CharField(max_length=16, default="draft")
    published_at = UtcDatetimeField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "materials"
        indexes = (("program_id", "status", "position", "id"),)


class Announcement(Model):
    """A program announcement, which promoters read once it is published."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="announcements")
    title = fields.CharField(max_length=128)
    body = fields.TextField()
    status = fields.CharField(max_length=16, default="draft")
    # Publish also queues a subscribe message to the promoters who subscribed.
    notify = fields.BooleanField(default=False)
    published_at = UtcDatetimeField(null=True)
    archived_at = UtcDatetimeField(null=True)
    created_by = fields.BigIntField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "announcements"
        indexes = (("program_id", "status", "published_at"),)


class AnnouncementRead(Model):
    """A promoter having read an announcement (first time only)."""

    id = fields.BigIntField(primary_key=True)
    announcement = fields.ForeignKeyField("models.Announcement", related_name="reads")
    promoter_id = fields.BigIntField()
    read_at = UtcDatetimeField()

    class Meta:
        table = "announcement_reads"
        unique_together = (("announcement", "promoter_id"),)


class AnnouncementSubscription(Model):
    """A promoter consenting once to one announcement message (wx.requestSubscribeMessage).

    The next announcement published with notify uses it up.
    """

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    promoter_id = fields.BigIntField()
    created_at = UtcDatetimeField(auto_now_add=True)
    used_at = UtcDatetimeField(null=True)
    announcement_id = fields.BigIntField(null=True)

    class Meta:
        table = "announcement_subscriptions"
        indexes = (("program_id", "used_at"),)
