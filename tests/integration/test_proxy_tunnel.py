"""Builds behind an HTTPS proxy (CONNECT tunnels, tools/connect_proxy.py): the tunnel socket
has TCP_NODELAY, as a direct connection has (issue 24: urllib3 turns Nagle's algorithm back
on for proxies, and each TLS flight then waited ~40 ms on delayed ACKs)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from tools.cnb_lifecycle import ROOT
from tools.connect_proxy import ConnectProxy
from tools.github_standin import StandIn

from support import CnbDirs, elf_bytes

REPO = "acme/probe"

# In a process of its own: the build's one TLS context (sources/tls.py) is made at the
# first HTTPS connection, with the trust of that moment (here SSL_CERT_FILE).
SOCKET_OF_A_REQUEST = """
import socket, sys
sys.path[:0] = sys.argv[2:4]
from github_assets.sources.session import new_session
resp = new_session().get(sys.argv[1], stream=True, timeout=10)
sock = resp.raw.connection.sock  # the TLS socket over the tunnel, still in use
nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
print(resp.status_code, sock.getpeername()[1], nodelay)
"""


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https(ca: trustme.CA) -> Iterator[StandIn]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "api.github.com").configure_cert(server)
    with StandIn(tls=server) as s:
        yield s


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy() as p:
        yield p


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def test_the_tunnel_socket_has_tcp_nodelay(
    https: StandIn, proxy: ConnectProxy, ca_file: Path
) -> None:
    https.add_release(REPO, "v1", {"probe-linux-amd64": b"x" * 1024})
    url = f"{https.api_url}/repos/{REPO}/releases/latest"
    env = {"PATH": os.environ["PATH"], "HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(ca_file)}
    out = subprocess.run(
        [
            sys.executable,
            "-E",
            "-c",
            SOCKET_OF_A_REQUEST,
            url,
            str(ROOT / "src"),
            str(ROOT / "vendor"),
        ],
        env={**env, "PYTHONSAFEPATH": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    status, peer_port, nodelay = (int(x) for x in out)
    assert status == 200
    assert f"127.0.0.1:{peer_port}" == proxy.url.removeprefix("http://"), "through the proxy"
    assert proxy.tunnels == [https.api_url.removeprefix("https://")]
    assert nodelay != 0


def test_a_build_goes_through_the_tunnel(https: StandIn, ca_file: Path, cnb: CnbDirs) -> None:
    """With the default API base, api.github.com: the proxy routes it to the stand-in."""
    data = elf_bytes(size=64 * 1024)
    https.add_release(REPO, "v1", {"probe-linux-amd64": data})
    cnb.project(f'[[metadata.githubassets]]\nrepo = "{REPO}"\nasset = "probe-{{os}}-{{arch}}"\n')
    api = https.api_url.removeprefix("https://")
    with ConnectProxy(routes={"api.github.com:443": api}) as proxy:
        env = {"HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(ca_file)}
        r = cnb.detect_and_build(env)
        tunnels = proxy.tunnels
    assert r.rc == 0, r.all
    assert (cnb.layers / "acme_probe" / "bin" / "probe").read_bytes() == data
    assert https.api_requests(), "the API host answered, reached as api.github.com"
    # the release JSON's URLs name the stand-in's own address (its asset URL, storage)
    standin = {u.removeprefix("https://") for u in (https.api_url, https.storage_url)}
    assert "api.github.com:443" in tunnels
    assert set(tunnels) <= {"api.github.com:443", *standin}, tunnels
    assert https.storage_url.removeprefix("https://") in tunnels
