"""The stand-in's identities are predictable, so tests can know a user's openid up front."""

from __future__ import annotations

from server.config import Settings
from server.integrations import wechat_standin
from server.integrations.wechat_standin import identity_of, openid_for, unionid_for


def test_codes_of_one_person_map_to_one_openid_whatever_their_nonce() -> None:
    assert openid_for("alice#1") == openid_for("alice#2") == openid_for("alice")
    assert identity_of("alice#1#x") == "alice"


def test_different_people_get_different_openids() -> None:
    assert openid_for("alice") != openid_for("bob")


def test_an_openid_is_per_app_but_a_unionid_is_shared_across_apps() -> None:
    assert openid_for("alice", appid="wx-one") != openid_for("alice", appid="wx-two")
    assert unionid_for("alice#1") == unionid_for("alice#2")


def test_openids_look_like_wechat_ones() -> None:
    openid = openid_for("alice")
    assert openid.startswith("o") and len(openid) == 28


def test_the_standin_accepts_the_default_settings_credentials() -> None:
    defaults = Settings(environment="test")
    assert defaults.wechat_appid == wechat_standin.DEFAULT_APPID
    assert defaults.wechat_secret == wechat_standin.DEFAULT_SECRET
