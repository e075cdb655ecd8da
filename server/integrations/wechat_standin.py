"""A local stand-in for the WeChat server API over real HTTP on loopback, with predictable
openids, recorded messages and injectable faults (`python -m server.integrations.wechat_standin`);
other processes drive it through the control paths under `/__standin__/`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from server.config import Settings
from server.integrations.payments.standin_keys import StandInPayKeys, load_or_create_standin_keys
from server.integrations.wechat_standin_faults import (
    FAULT_KINDS,
    Fault,
    FaultKind,
    faulty_reply,
    take_fault,
)
from server.integrations.wechat_standin_pay import PAY_FAULT_KINDS, WeChatPayStandIn
from server.integrations.wechat_standin_protocol import (
    DEFAULT_APPID,
    DEFAULT_SECRET,
    NONCE_SEPARATOR,
    IssuedUrlLink,
    Reply,
    SentMessage,
    WeChatProtocol,
    identity_of,
    json_reply,
    openid_for,
    unionid_for,
)

__all__ = [
    "DEFAULT_APPID",
    "DEFAULT_SECRET",
    "FAULT_KINDS",
    "NONCE_SEPARATOR",
    "FaultKind",
    "IssuedUrlLink",
    "SentMessage",
    "WeChatStandIn",
    "identity_of",
    "openid_for",
    "unionid_for",
]

log = logging.getLogger("fenxiao.wechat_standin")

CONTROL_PREFIX = "/__standin__/"


class WeChatStandIn:
    """The stand-in server. `start()` binds loopback (port 0 picks a free one)."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        appid: str = DEFAULT_APPID,
        secret: str = DEFAULT_SECRET,
        token_ttl_seconds: int = 7200,
        pay_keys: StandInPayKeys | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.protocol = WeChatProtocol(
            appid=appid, secret=secret, token_ttl_seconds=token_ttl_seconds
        )
        self.pay = WeChatPayStandIn(keys=pay_keys or StandInPayKeys.generate(), appid=appid)
        self._lock = threading.Lock()
        self._calls: list[str] = []
        self._faults: list[Fault] = []
        self._unstall = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> WeChatStandIn:
        """The stand-in `make run` starts when no WECHAT_API_BASE is configured."""
        return cls(
            port=settings.wechat_standin_port,
            appid=settings.wechat_appid,
            secret=settings.wechat_secret,
            # The same keys the app's pay provider loads (server.integrations.payments.factory).
            pay_keys=load_or_create_standin_keys(),
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> WeChatStandIn:
        if self._server is not None:
            raise RuntimeError("the WeChat stand-in is already running")
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wechat-standin-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("WeChat stand-in listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._release_stalled()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> WeChatStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- what tests observe and control ---------------------------------------------------

    @property
    def sent_messages(self) -> list[SentMessage]:
        return self.protocol.sent_messages

    @property
    def url_links(self) -> list[IssuedUrlLink]:
        """Every URL Link generated since the last reset, in order."""
        return self.protocol.url_links

    @property
    def calls(self) -> list[str]:
        """The paths of every protocol request received, in order."""
        with self._lock:
            return list(self._calls)

    @property
    def transfers(self) -> dict[str, Any]:
        """Every WeChat Pay transfer received, by out_bill_no / partner_trade_no."""
        return self.pay.transfers

    @property
    def token_fetches(self) -> int:
        return self.calls.count("/cgi-bin/token")

    def inject_fault(
        self,
        kind: FaultKind,
        *,
        times: int = 1,
        path: str | None = None,
        hold_seconds: float = 30.0,
    ) -> None:
        """Make the next `times` requests (to `path`, or any path) fail as `kind`.

        timeout: hold the request without answering (until `hold_seconds` or reset);
        disconnect: close the connection; server_error: HTTP 500; garbage: HTTP 200 with a
        body that is neither JSON nor an image; busy: errcode -1; expired_token: errcode 42001.
        WeChat Pay paths only: not_enough / system_error: the business refusal in protocol;
        bad_signature: the request takes effect but the answer's signature is forged;
        reply_lost: the request takes effect, then the answer is held like `timeout`;
        recorded_late: as reply_lost, and queries answer NOT_FOUND for the transfer until
        `pay.record_late_transfers()` (WeChat recording a request late).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(Fault(kind, times, path, hold_seconds))

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def expire_tokens(self) -> None:
        """Every access token issued so far is reported expired (errcode 42001) from now."""
        self.protocol.expire_tokens()

    def refuse_messages_for(self, openid: str) -> None:
        """This user has not accepted subscribe messages (errcode 43101)."""
        self.protocol.refuse_messages_for(openid)

    def reset(self) -> None:
        """Forget faults, messages, URL Links, used codes, refusals and calls; issued tokens
        stay valid."""
        self._release_stalled()
        self.protocol.forget()
        self.pay.forget()
        with self._lock:
            self._faults.clear()
            self._calls.clear()

    def _release_stalled(self) -> None:
        with self._lock:
            released, self._unstall = self._unstall, threading.Event()
        released.set()

    # -- serving --------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: bytes,
        headers: dict[str, str] | None = None,
        target: str | None = None,
    ) -> Reply | None:
        """The reply to one request, or None to drop the connection without one.

        `headers` are lower-cased; `target` is the path with its query (v3 signs it)."""
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path.removeprefix(CONTROL_PREFIX), body)
        headers = headers or {}
        with self._lock:
            self._calls.append(path)
            fault = take_fault(self._faults, path, is_pay=self.pay.handles(path))
            unstall = self._unstall
        if fault is not None and fault.kind in PAY_FAULT_KINDS:
            request = (method, path, target or path, headers, body)
            return self.pay.faulty(fault.kind, unstall, fault.hold_seconds, request)
        if fault is not None:
            return faulty_reply(fault, unstall)
        if self.pay.handles(path):
            return self.pay.handle(method, path, target or path, headers, body)
        route = self.protocol.route(method, path)
        if route is None:
            return Reply(404, b"not found", "text/plain")
        return route(params, body)

    # -- control paths for other processes ------------------------------------------------

    def _control(self, method: str, action: str, body: bytes) -> Reply:
        try:
            request = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError):
            return json_reply({"error": "body is not JSON"}, status=400)
        if not isinstance(request, dict):
            return json_reply({"error": "body must be a JSON object"}, status=400)
        if method == "GET" and action == "messages":
            return json_reply({"messages": [asdict(m) for m in self.sent_messages]})
        if method == "GET" and action == "calls":
            return json_reply({"calls": self.calls})
        if method == "GET" and action == "url-links":
            return json_reply({"url_links": [asdict(link) for link in self.url_links]})
        try:
            pay_reply = self.pay.control(method, action, request)
        except (KeyError, TypeError, ValueError) as exc:
            return json_reply({"error": str(exc)}, status=400)
        if pay_reply is not None:
            return pay_reply
        if method != "POST":
            return json_reply({"error": "unknown control action"}, status=404)
        try:
            if action == "faults":
                self.inject_fault(
                    request.get("kind", ""),
                    times=int(request.get("times", 1)),
                    path=request.get("path"),
                    hold_seconds=float(request.get("hold_seconds", 30.0)),
                )
            elif action == "expire-tokens":
                self.expire_tokens()
            elif action == "refuse-messages":
                self.refuse_messages_for(str(request["openid"]))
            elif action == "reset":
                self.reset()
            else:
                return json_reply({"error": "unknown control action"}, status=404)
        except (KeyError, TypeError, ValueError) as exc:
            return json_reply({"error": str(exc)}, status=400)
        return json_reply({"ok": True})


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    server_version = "wechat-standin"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.standin.handle(method, url.path, params, body, headers, self.path)
        if reply is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in getattr(reply, "headers", ()):
            self.send_header(name, value)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Like WeChat, the stand-in takes secrets in query strings: log the path only.
        log.debug("%s %s %s", self.address_string(), self.command, self.path.split("?")[0])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: WeChatStandIn) -> None:
        super().__init__(address, _Handler)
        self.standin = standin

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) leaves a dead socket behind: not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        log.exception("WeChat stand-in failed to serve %s", client_address)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local WeChat API stand-in for fenxiao")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--appid", default=DEFAULT_APPID)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    standin = WeChatStandIn(
        host=args.host,
        port=args.port,
        appid=args.appid,
        secret=args.secret,
        pay_keys=load_or_create_standin_keys(),
    )
    with standin:
        print(f"WeChat stand-in ready at {standin.base_url}", flush=True)
        stopping.wait()


if __name__ == "__main__":
    main()
