"""A loopback HTTPS proxy: HTTP CONNECT tunnels, as corporate CI has them (tests, make bench).

`CONNECT host:port` opens a TCP connection to host:port, answers `200 Connection
established` and then copies bytes both ways until either side closes; TLS runs end to
end through it. Like common proxies (squid) it sets TCP_NODELAY on both of its sockets,
so any delay a client sees is the client's own. Any other request gets 405.

    with ConnectProxy() as proxy:
        env["HTTPS_PROXY"] = proxy.url
        ...
        proxy.tunnels  # CONNECTs answered so far, e.g. ["127.0.0.1:4431"]

`routes` sends a CONNECT for one host:port to another (a host name that only exists
here, such as api.github.com, to the stand-in's port), as a split-horizon proxy would.

`python3 tools/connect_proxy.py [--port N] [--route HOST:PORT=HOST:PORT]...` runs one
until Ctrl-C, printing `HTTPS_PROXY=<url>` first.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import socketserver
import threading
from types import TracebackType

HEAD_LIMIT = 16 * 1024


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk or len(head) > HEAD_LIMIT:
                return
            head += chunk
        head, _, early = head.partition(b"\r\n\r\n")
        method, target, *_ = [*head.split(b"\r\n", 1)[0].decode("latin-1").split(" "), "", ""]
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = self.server.routes.get(target, target).rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        except (OSError, ValueError):
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.settimeout(None)
        with self.server.lock:
            self.server.tunnels.append(target)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if early:
            upstream.sendall(early)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        upstream.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy src to dst until src closes, then pass the close on (half-close)."""
    with contextlib.suppress(OSError):
        while data := src.recv(256 * 1024):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port: int = 0, routes: dict[str, str] | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.routes = dict(routes or {})
        self.tunnels: list[str] = []
        self.lock = threading.Lock()


class ConnectProxy:
    """The proxy on a thread of this process; `url` is what HTTPS_PROXY takes."""

    def __init__(self, port: int = 0, routes: dict[str, str] | None = None) -> None:
        self._server = _Server(port, routes)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def tunnels(self) -> list[str]:
        with self._server.lock:
            return list(self._server.tunnels)

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--route", action="append", default=[], help="HOST:PORT=HOST:PORT")
    args = ap.parse_args()
    routes = dict(r.split("=", 1) for r in args.route)
    with ConnectProxy(args.port, routes) as proxy:
        print(f"HTTPS_PROXY={proxy.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
