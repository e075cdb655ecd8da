"""Log lines are machine-readable and carry only the fields meant for them."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from server.config import ConfigError, Settings
from server.logging_setup import (
    JsonFormatter,
    RequestContextFilter,
    TextFormatter,
    current_request_id,
)

BASE_ENV = {"JWT_SECRET": "s" * 40}


def _record(
    message: str = "hello %s", args: tuple = ("world",), **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord("fenxiao.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_json_line_is_one_object_with_the_standard_keys() -> None:
    line = JsonFormatter().format(_record(route="/x/<id:int>", status=200, latency_ms=1.5))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "fenxiao.test"
    assert entry["message"] == "hello world"
    assert entry["route"] == "/x/<id:int>" and entry["status"] == 200
    assert entry["latency_ms"] == 1.5
    assert entry["timestamp"].endswith("+00:00")


def test_fields_outside_the_allowed_context_never_reach_the_line() -> None:
    record = _record(authorization="Bearer abc", body='{"phone": "13800138000"}', status=201)
    entry = json.loads(JsonFormatter().format(record))
    assert "authorization" not in entry and "body" not in entry
    assert "13800138000" not in json.dumps(entry)
    assert entry["status"] == 201


def test_an_exception_stays_inside_the_one_json_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "fenxiao.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_lines_logged_while_serving_a_request_carry_its_id() -> None:
    token = current_request_id.set("req-42")
    try:
        record = _record()
        RequestContextFilter().filter(record)
    finally:
        current_request_id.reset(token)
    assert json.loads(JsonFormatter().format(record))["request_id"] == "req-42"


def test_the_text_format_appends_context_as_key_value_pairs() -> None:
    line = TextFormatter().format(_record(request_id="r1", status=404))
    assert line.endswith("hello world request_id=r1 status=404")


def test_production_logs_json_and_development_logs_text_unless_told_otherwise() -> None:
    production = {
        **BASE_ENV,
        "FENXIAO_ENV": "production",
        "VISITOR_HASH_SALT": "salt",
        "S2S_KEY_ENCRYPTION_KEY": "q3G9mDk1c0oU5ZcBzK4vQ6x9VjXyS2r7bE8tW1nA0fM=",
    }
    assert Settings.from_env(production).log_format == "json"
    assert Settings.from_env(BASE_ENV).log_format == "text"
    assert Settings.from_env({**BASE_ENV, "LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_env({**BASE_ENV, "LOG_FORMAT": "xml"})


def test_forwarded_client_addresses_are_trusted_only_when_configured() -> None:
    default = Settings.from_env(BASE_ENV)
    assert (default.proxies_count, default.real_ip_header) == (0, None)
    behind_nginx = Settings.from_env(
        {**BASE_ENV, "PROXIES_COUNT": "1", "REAL_IP_HEADER": "X-Real-IP"}
    )
    assert (behind_nginx.proxies_count, behind_nginx.real_ip_header) == (1, "X-Real-IP")
    with pytest.raises(ConfigError, match="PROXIES_COUNT"):
        Settings.from_env({**BASE_ENV, "PROXIES_COUNT": "-1"})
