"""WeChat users: log in with a code, keep the identity up to date."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.errors import FenxiaoError, NotFound
from server.integrations.wechat import WeChatGateway
from server.models import User
from server.services.access.login_throttle import (
    address_key,
    ensure_login_allowed,
    record_login_failure,
)
from server.services.access.tokens import issue_token_pair


async def _upsert_user(
    *, appid: str, openid: str, unionid: str | None, nickname: str | None, avatar_url: str | None
) -> User:
    for _ in range(2):
        async with in_transaction() as conn:
            user = (
                await User.filter(appid=appid, openid=openid)
                .using_db(conn)
                .select_for_update()
                .first()
            )
            if user is None:
                try:
                    return await User.create(
                        appid=appid,
                        openid=openid,
                        unionid=unionid,
                        nickname=nickname,
                        avatar_url=avatar_url,
                        last_login_at=clock.now(),
                        using_db=conn,
                    )
                except IntegrityError:
                    # A concurrent first login created it: read it on the second pass.
                    continue
            user.last_login_at = clock.now()
            if unionid:
                user.unionid = unionid
            if nickname:
                user.nickname = nickname
            if avatar_url:
                user.avatar_url = avatar_url
            await user.save(using_db=conn)
            return user
    raise RuntimeError("user upsert did not converge")  # pragma: no cover


async def login_with_wechat(
    *,
    code: str,
    nickname: str | None,
    avatar_url: str | None,
    client_address: str | None,
    wechat: WeChatGateway,
    settings: Settings,
) -> dict[str, Any]:
    """Exchange a wx.login() code for the user's identity and a token pair."""
    # Codes are single-use and unguessable; the limit stops one address from spending the
    # app's WeChat quota on refused codes.
    keys = (address_key("mp", client_address),)
    await ensure_login_allowed(keys=keys)
    try:
        session = await wechat.code_to_session(code)
    except FenxiaoError as refused:
        if refused.status_code < 500 and refused.status_code != 429:
            await record_login_failure(keys=keys, settings=settings)
        raise
    user = await _upsert_user(
        appid=settings.wechat_appid,
        openid=session.openid,
        unionid=session.unionid,
        nickname=nickname,
        avatar_url=avatar_url,
    )
    pair = await issue_token_pair(
        principal=Principal(kind="user", id=user.id, roles=frozenset({"promoter"})),
        settings=settings,
    )
    return {**pair.to_dict(), "user": serialize_user(user)}


async def get_user(*, user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    return user


def serialize_user(user: User) -> dict[str, Any]:
    """The user as they may see themselves (no openid: it is a per-app secret-ish id)."""
    return {
        "id": user.id,
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "created_at": user.created_at,
    }
