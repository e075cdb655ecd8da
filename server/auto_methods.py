"""HEAD and OPTIONS answered for every route by sanic-ext's handlers, added in one pass at
start-up (docs/design/platform.md#worker-start-up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanic import Sanic
from sanic_ext.config import PRIORITY
from sanic_ext.extensions.http.methods import add_auto_handlers

AddHandlers = Callable[[Sanic], Any]


class _ListenerCapture:
    """Stands in for the app while sanic-ext registers its start-up listener, to keep it."""

    def __init__(self) -> None:
        self.listeners: list[AddHandlers] = []

    def before_server_start(self, *, priority: int) -> Callable[[AddHandlers], None]:
        return self.listeners.append


def install_auto_methods(app: Sanic) -> None:
    """Answer HEAD for every GET route and OPTIONS for every route, as sanic-ext would."""
    capture = _ListenerCapture()
    add_auto_handlers(capture, auto_head=True, auto_options=True, auto_trace=False)  # type: ignore[arg-type]

    # sanic-ext adds each route once the server has started, when Sanic rebuilds its whole
    # signal router after every route added (`app.amend`): with our ~400 routes a worker spent
    # 20 s of CPU starting (sanic-org/sanic#3087), and a stop sent meanwhile waited for it.
    # With the signal router reset first, each addition skips the rebuild; it runs once after.
    @app.before_server_start(priority=PRIORITY)
    def add_in_one_pass(app: Sanic) -> None:
        app.signal_router.reset()
        for add_handlers in capture.listeners:
            add_handlers(app)
        app.signalize(bool(app.config.TOUCHUP))
