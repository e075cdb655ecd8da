"""The operator's files agree with the code: every setting is documented and templated, the
units are hardened, the compose file parses and names every service."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _variables_read_by_config() -> set[str]:
    source = (ROOT / "server" / "config.py").read_text()
    # env.get("NAME") and the typed helpers: _int(env, "NAME", …), _bool(…), _choice(…).
    names = re.findall(r'(?:env\.get\(|_[a-z]+\(\s*env,\s*)"([A-Z][A-Z0-9_]*)"', source)
    assert len(names) > 20, "the pattern no longer finds the settings in server/config.py"
    return set(names)


def test_the_env_example_lists_every_variable_the_settings_read() -> None:
    example = (DEPLOY / "fenxiao.env.example").read_text()
    assigned = set(re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=", example))
    assert _variables_read_by_config() - assigned == set()


def test_the_configuration_guide_documents_every_variable_the_settings_read() -> None:
    guide = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", guide))
    assert _variables_read_by_config() - documented == set()


def test_the_env_example_holds_placeholders_not_secrets() -> None:
    example = (DEPLOY / "fenxiao.env.example").read_text()
    values = dict(re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=(.*)$", example))
    for name in ("JWT_SECRET", "VISITOR_HASH_SALT", "S2S_KEY_ENCRYPTION_KEY", "WECHAT_SECRET"):
        assert values[name].startswith("CHANGE-ME"), name
    assert values["FENXIAO_ENV"] == "production"


@pytest.mark.parametrize("unit", ["web", "worker", "beat", "migrate"])
def test_every_systemd_unit_runs_unprivileged_and_hardened(unit: str) -> None:
    text = (DEPLOY / "systemd" / f"fenxiao-{unit}.service").read_text()
    for directive in (
        "User=fenxiao",
        "EnvironmentFile=/etc/fenxiao/fenxiao.env",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
    ):
        assert directive in text, f"fenxiao-{unit}.service lacks {directive!r}"


def test_the_web_unit_serves_without_seeding() -> None:
    text = (DEPLOY / "systemd" / "fenxiao-web.service").read_text()
    assert "server.cli serve" in text and "server.cli run" not in text


def test_nginx_limits_bodies_like_the_app_and_overwrites_the_client_address() -> None:
    text = (DEPLOY / "nginx" / "fenxiao.conf").read_text()
    assert "client_max_body_size 1m;" in text
    assert "proxy_set_header X-Real-IP $remote_addr;" in text
    assert re.search(r"location = /healthz \{\s*access_log off;", text)


def test_nginx_sends_the_share_landing_pages_to_the_app_uncached() -> None:
    text = (DEPLOY / "nginx" / "fenxiao.conf").read_text()
    block = re.search(r"location /s/ \{([^}]*)\}", text)
    assert block is not None, "no `location /s/` for the share links' landing pages"
    assert "proxy_pass http://fenxiao_app;" in block.group(1)
    assert "proxy_cache" not in block.group(1) and "add_header" not in block.group(1)


def test_the_compose_file_parses_and_runs_the_whole_stack() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"mariadb", "redis", "migrate", "web", "worker", "beat", "nginx"}
    assert services["web"]["command"][-1] == "serve"
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert "--appendonly yes" in services["redis"]["command"]
