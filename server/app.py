"""The app factory: one Sanic app serving the mini-program and admin surfaces."""

from __future__ import annotations

import logging
from pathlib import Path

from sanic import Sanic
from sanic_ext.extensions.http.extension import HTTPExtension
from sanic_ext.extensions.openapi.extension import OpenAPIExtension
from sanic_ext.extensions.templating.extension import TemplatingExtension
from swagger_ui_bundle import swagger_ui_path

from jobs.scheduler import start_inprocess_scheduler, stop_inprocess_scheduler
from server import db
from server.auto_methods import install_auto_methods
from server.background import finish_within
from server.clean_stop import install_worker_clean_stop
from server.config import Settings
from server.errors import install_error_handlers
from server.health import install_health_routes
from server.integrations.wechat_client import build_gateway
from server.logging_setup import logging_config, quiet_url_loggers
from server.observability import install_metrics_route, install_observability
from server.openapi import install_openapi
from server.services.access.scope import check_scope
from server.services.access.sealing import configure_sealing
from server.services.access.tokens import confirm_principal
from server.services.orders.drainer import install_event_drainer
from server.services.sharing.landing import WeChatPause
from server.services.sharing.visit_buffer import install_visit_buffer
from server.services.sharing.visit_targets import TargetCache
from server.services.sharing.visits import new_visit_buffer

log = logging.getLogger("fenxiao")

APP_NAME = "fenxiao"
SWAGGER_PAGE = Path(__file__).parent / "openapi_ui" / "swagger.html"
SWAGGER_ASSETS_URL = "/docs/assets"


def create_app(*, settings: Settings | None = None, manage_db: bool = True) -> Sanic:
    """Build the app. `manage_db=False` leaves tortoise start-up to the caller (tests)."""
    from admin_api import admin_blueprints
    from admin_api.console import TEMPLATES_DIR, install_console
    from admin_api.console.views import ENVIRONMENT
    from miniprogram_api import landing, miniprogram_blueprints

    install_worker_clean_stop()
    settings = settings or Settings.from_env()
    app = Sanic(
        APP_NAME,
        log_config=logging_config(log_format=settings.log_format, level=settings.log_level),
    )
    # Read by sanic-ext as it is added below.
    app.config.OAS_UI_DEFAULT = "swagger"
    # Swagger UI from an installed package, never a CDN; ReDoc has no such package: off.
    app.config.OAS_UI_REDOC = False
    app.config.OAS_PATH_TO_SWAGGER_HTML = str(SWAGGER_PAGE)
    app.config.OAS_UI_SWAGGER_CDN_URL = SWAGGER_ASSETS_URL
    app.config.OAS_URL_PREFIX = "/docs"
    app.config.OAS_TITLE = "fenxiao"
    app.config.OAS_VERSION = "0.1.0"
    app.config.TEMPLATING_PATH_TO_TEMPLATES = str(TEMPLATES_DIR)
    # Of sanic-ext, only what we use: the OpenAPI documents, and HEAD/OPTIONS answered for
    # every route (added by install_auto_methods). Its dependency injection (a signal handler
    # on every request) and its CORS (a response middleware on every request, which never
    # allowed an origin: none is configured) would cost every request CPU and do nothing.
    # Templating renders /console.
    app.extend(
        built_in_extensions=False,
        extensions=[OpenAPIExtension, HTTPExtension, TemplatingExtension],
        config={"cors": False, "http_auto_head": False, "http_auto_options": False},
    )
    install_auto_methods(app)
    # The console's environment (gettext catalogs, money and date filters) is the templating one.
    app.ext.environment = app.ext.templating.environment = ENVIRONMENT
    app.ctx.settings = settings
    configure_sealing(settings)
    app.ctx.confirm_principal = confirm_principal
    app.ctx.check_scope = check_scope
    quiet_url_loggers()  # Sanic applied log_config without it
    # With no WECHAT_API_BASE this points at the loopback stand-in, which whoever starts
    # the server (server.cli, the test fixtures) is responsible for running.
    app.ctx.wechat = build_gateway(settings)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = 1_000_000
    # The client address (request.remote_addr) comes from proxy headers only as configured.
    app.config.PROXIES_COUNT = settings.proxies_count
    app.config.REAL_IP_HEADER = settings.real_ip_header
    app.config.FORWARDED_SECRET = settings.forwarded_secret

    install_error_handlers(app)
    app.blueprint(miniprogram_blueprints())
    app.blueprint(admin_blueprints())
    # The H5 URL share links and plain QR codes carry: outside /mp/v1, HTML.
    app.blueprint(landing.bp)
    install_console(app)
    install_openapi(app)
    app.static(SWAGGER_ASSETS_URL, swagger_ui_path, name="swagger_assets")

    install_observability(app)
    install_health_routes(app)
    install_metrics_route(app)

    if manage_db:

        @app.before_server_start
        async def open_database(app: Sanic) -> None:
            await db.init_db(settings.database_url)
            # Connect now, not lazily in the first request: a client that gives up while that
            # request is connecting would cancel it half-way and wedge the connection.
            await db.ping()

        @app.after_server_stop
        async def close_database(app: Sanic) -> None:
            # A pool waits for every connection to come back; one lost with its server
            # never does.
            await finish_within(db.close_db(), what="closing the database connections")

        # Jobs run inside the server only in the embedded default (no Celery broker).
        app.after_server_start(start_inprocess_scheduler)
        app.before_server_stop(stop_inprocess_scheduler)
        # Applies the order events accepted with `Prefer: respond-async`.
        install_event_drainer(app)

    # After the database listeners: its final flush must run before the database closes.
    install_visit_buffer(app, new_visit_buffer())
    app.ctx.visit_targets = TargetCache()
    app.ctx.wechat_pause = WeChatPause()
    return app
