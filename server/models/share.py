from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Channel(Model):
    """A named sub-account of a promoter with its own tracking."""

    id = fields.BigIntField(primary_key=True)
    promoter = fields.ForeignKeyField("models.Promoter", related_name="channels")
    name = fields.CharField(max_length=64)
    is_active = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "channels"
        unique_together = (("promoter", "name"),)


class ShareCode(Model):
    """A referral or voucher code (or an alias of one), unique per program, case-insensitive.

    `normalized` is the upper-cased code that uniqueness and look-ups use; `code` keeps the
    spelling the promoter chose.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="share_codes")
    promoter = fields.ForeignKeyField("models.Promoter", related_name="share_codes")
    channel = fields.ForeignKeyField("models.Channel", related_name="codes", null=True)
    kind = fields.CharField(max_length=16)  # referral | voucher
    code = fields.CharField(max_length=32)
    normalized = fields.CharField(max_length=32)
    alias_of = fields.ForeignKeyField("models.ShareCode", related_name="aliases", null=True)
    is_active = fields.BooleanField(default=True)
    # approved | pending | rejected (server/domain/sharing/rules.py): chosen text counts only
    # once staff approve it; codes older than the review are approved.
    review_status = fields.CharField(max_length=16, default="approved", db_default="approved")
    reviewed_at = UtcDatetimeField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "share_codes"
        unique_together = (("program", "normalized"),)


class ShareLink(Model):
    """A trackable link: code + channel + site + UTM, addressed by a short scene code."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="share_links")
    promoter = fields.ForeignKeyField("models.Promoter", related_name="share_links")
    channel = fields.ForeignKeyField("models.Channel", related_name="links", null=True)
    site = fields.ForeignKeyField("models.Site", related_name="links", null=True)
    code = fields.ForeignKeyField("models.ShareCode", related_name="links", null=True)
    # wxacode "unlimited" scenes are at most 32 visible characters.
    short_code = fields.CharField(max_length=16, unique=True)
    utm_source = fields.CharField(max_length=64, null=True)
    utm_medium = fields.CharField(max_length=64, null=True)
    utm_campaign = fields.CharField(max_length=64, null=True)
    # The mini-program page (and query) the link opens; null: the program's share page.
    destination = fields.CharField(max_length=256, null=True)
    # sha256 of (channel, site, code, utm_*[, destination]): the same parameters give back
    # the same link.
    params_key = fields.CharField(max_length=64)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "share_links"
        unique_together = (("promoter", "params_key"),)


class QrImage(Model):
    """Cached PNG of a share link (wxacode or plain QR), so WeChat is asked once."""

    id = fields.BigIntField(primary_key=True)
    share_link = fields.ForeignKeyField("models.ShareLink", related_name="qr_images")
    kind = fields.CharField(max_length=16)  # wxacode | png
    width = fields.IntField()
    content = fields.BinaryField()
    sha256 = fields.CharField(max_length=64)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "qr_images"
        unique_together = (("share_link", "kind", "width"),)


class ShareUrlLink(Model):
    """A WeChat URL Link opening a share link in the mini-program for one visitor."""

    # Per visitor: WeChat lets only the first person who opens a URL Link use it (2022 rules).

    id = fields.BigIntField(primary_key=True)
    share_link = fields.ForeignKeyField("models.ShareLink", related_name="url_links")
    # The visitor's hash, as on their visits (salted, from the landing page's visitor cookie).
    visitor_hash = fields.CharField(max_length=64)
    url = fields.CharField(max_length=255)
    # The page and query it opens: a link asked for another (MP_SHARE_PAGE changed) is stale.
    opens = fields.CharField(max_length=600)
    # WeChat URL Links live at most 30 days: a stale one is generated anew.
    expires_at = UtcDatetimeField(db_index=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    refreshed_at = UtcDatetimeField()

    class Meta:
        table = "share_url_links"
        unique_together = (("share_link", "visitor_hash"),)
