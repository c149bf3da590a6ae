"""The HTTP session: proxies from the environment per host, NO_PROXY honoured, no .netrc."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from tools.github_standin import StandIn

from github_assets.sources.http import new_session

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on the discard port here


def test_no_proxy_host_is_reached_directly(
    standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", DEAD_PROXY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    r = new_session().get(f"{standin.api_url}/repos/a/b/releases/latest", timeout=5)
    assert r.status_code == 404  # answered by the stand-in itself, not the proxy


def test_other_hosts_go_through_the_proxy(
    standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", DEAD_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(requests.exceptions.ProxyError):
        new_session().get(f"{standin.api_url}/repos/a/b/releases/latest", timeout=5)
    assert standin.requests == []


def test_netrc_credentials_are_never_sent(
    standin: StandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login me password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    new_session().get(f"{standin.api_url}/repos/a/b/releases/latest", timeout=5)
    assert all("authorization" not in q.headers for q in standin.requests)
