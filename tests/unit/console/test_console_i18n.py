"""The console speaks zh-CN first: every string is in the catalog, amounts and dates localised."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from babel.messages.extract import extract_from_dir

from admin_api.console import i18n

CONSOLE = Path(i18n.__file__).parent
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
# Text between tags or template syntax that is not a translatable word: punctuation, symbols,
# numbers and entities.
_TAGS_AND_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<[^>]*>", re.S)
_WORD = re.compile(r"[A-Za-z]{2,}|[\u4e00-\u9fff]")


def _msgids() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(CONSOLE, METHODS, options_map=OPTIONS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_console_string_has_a_chinese_translation() -> None:
    ids = _msgids()
    assert len(ids) > 40
    zh = i18n.catalog("zh_CN")
    assert sorted(m for m in ids if not zh.get(m)) == []


def test_no_message_holds_a_bare_percent_sign() -> None:
    # Jinja's new-style gettext formats every message with `%`: a bare one fails to render.
    zh = i18n.catalog("zh_CN")
    bare = [m for m in _msgids() if "%" in m.replace("%%", "") or "%" in zh.get(m, "")]
    assert bare == []


def test_templates_hold_no_text_outside_the_catalog() -> None:
    hard_coded = {}
    for template in (CONSOLE / "templates").rglob("*.html"):
        text = _TAGS_AND_SYNTAX.sub(" ", template.read_text(encoding="utf-8"))
        text = re.sub(r"&[a-z]+;", " ", text)
        words = _WORD.findall(text)
        if words:
            hard_coded[template.name] = words
    assert hard_coded == {}


def test_yuan_show_two_decimals_and_yen_none() -> None:
    assert i18n.money(Decimal("1234.5"), "CNY", "zh_CN") == "¥1,234.50"
    assert i18n.money(Decimal("1234"), "JPY", "zh_CN") == "JP¥1,234"
    assert i18n.money("0.10", "USD", "en") == "$0.10"


def test_times_are_shown_in_the_programs_zone_across_midnight() -> None:
    late_utc = datetime(2026, 1, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 February in Shanghai
    assert i18n.moment(late_utc, "Asia/Shanghai", "zh_CN") == "2026-02-01 00:30 +08:00"
    assert i18n.moment(late_utc, "UTC", "en") == "2026-01-31 16:30 +00:00"


def test_an_unknown_language_falls_back_to_chinese() -> None:
    assert i18n.pick_locale(None) == "zh_CN"
    assert i18n.pick_locale("fr") == "zh_CN"
    assert i18n.pick_locale("en") == "en"
