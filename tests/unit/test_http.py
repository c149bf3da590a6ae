"""The HTTP layer's single places: what a header says, what an exception means, the one
TLS context, and a download's bytes as sent or decoded (in process, against the stand-in)."""

from __future__ import annotations

import gzip
import io
import ssl
from pathlib import Path

import pytest
import requests
import trustme
from tools.github_standin import StandIn

from github_assets.config import parse_entry
from github_assets.log import Log
from github_assets.platform import Target
from github_assets.settings import RetryPolicy
from github_assets.sources import FileSink, Received
from github_assets.sources import tls as tls_module
from github_assets.sources.github import GitHubSource
from github_assets.sources.http import MAX_EPOCH, Http, judge, new_session, seconds_until
from github_assets.verify import Expected

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "epoch", "at"),
    [
        ("30", False, NOW + 30),
        (" 30 ", False, NOW + 30),
        ("1700000060", True, 1_700_000_060.0),
        ("Tue, 14 Nov 2023 22:13:20 GMT", False, NOW),  # an HTTP-date (RFC 9110)
        ("Tue, 14 Nov 2023 22:13:20 -0000", False, NOW),
        ("9" * 400, False, None),  # float() says inf
        ("9" * 400, True, None),
        ("1" + "0" * 30, True, None),
        ("\u00b2", False, None),  # str.isdigit() says yes
        ("-1", False, None),
        ("1e3", False, None),
        ("soon", False, None),
        ("", False, None),
        (None, True, None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", False, MAX_EPOCH),
        ("Tue, 14 Nov 2023 22:13:20 GMT", True, None),  # a reset is epoch seconds only
    ],
)
def test_seconds_until_parses_bounded_numbers_and_dates(
    value: str | None, epoch: bool, at: float | None
) -> None:
    assert seconds_until(value, NOW, epoch=epoch) == at


def _wrapped(
    inner: BaseException, url: str = "https://api.example:8443/x"
) -> requests.RequestException:
    """An exception as requests raises it: around urllib3's, around the stdlib's."""
    import urllib3.exceptions

    reason = urllib3.exceptions.SSLError(inner)
    outer = urllib3.exceptions.MaxRetryError(None, url, reason)  # type: ignore[arg-type]
    kind = (
        requests.exceptions.SSLError
        if isinstance(inner, ssl.SSLError)
        else requests.exceptions.ConnectionError
    )
    return kind(outer, request=requests.Request("GET", url).prepare())


def test_judge_a_certificate_failure_is_final_with_the_host_and_how_to_add_a_ca() -> None:
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate in certificate chain"
    cause, hint = judge(_wrapped(cert)) or ("", "")
    assert cause == (
        "the certificate of api.example:8443 is not trusted "
        "(self-signed certificate in certificate chain)"
    )
    assert "SSL_CERT_FILE" in hint and "SSL_CERT_DIR" in hint


def test_judge_other_failures() -> None:
    assert judge(_wrapped(ssl.SSLEOFError(8, "EOF occurred"))) is None  # cut mid-handshake
    version = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    version.reason = "WRONG_VERSION_NUMBER"
    assert judge(_wrapped(version)) == (
        "the TLS handshake with api.example:8443 failed (wrong version number)",
        "check that api.example:8443 speaks HTTPS on that port, and any proxy in between",
    )
    assert judge(requests.exceptions.ConnectionError("reset")) is None
    assert judge(requests.exceptions.ReadTimeout("slow")) is None
    assert judge(requests.exceptions.ChunkedEncodingError("cut")) is None
    assert judge(requests.exceptions.ProxyError("down")) is None
    decoding = judge(requests.exceptions.ContentDecodingError("bad gzip"))
    assert decoding is not None and "Content-Encoding" in decoding[0]
    assert judge(requests.exceptions.InvalidProxyURL("x")) == (
        "the proxy URL is malformed",
        "fix HTTPS_PROXY / HTTP_PROXY",
    )
    assert judge(requests.exceptions.MissingSchema("x")) == ("a URL that is not http(s)", "")
    assert judge(requests.exceptions.InvalidURL("x")) == ("a malformed URL", "")
    header = judge(requests.exceptions.InvalidHeader("x"))
    assert header is not None and "token" in header[1]
    assert judge(requests.exceptions.TooManyRedirects("x")) == ("TooManyRedirects", "")


# -- the one TLS context -----------------------------------------------------------------------


def test_the_context_is_made_once_and_said_once(monkeypatch: pytest.MonkeyPatch) -> None:
    trust = tls_module.Trust()
    assert trust.news() is None, "nothing is made before the first connection"
    first = trust.context()
    assert trust.context() is first
    news = trust.news()
    assert news is not None and news.startswith("TLS context made in ") and " ms, trusting " in news
    assert trust.news() is None


def test_certifi_only_when_the_system_store_is_missing_and_no_variable_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "certs"
    empty.mkdir()  # exists but is empty: a store that trusts nothing
    missing = ssl.DefaultVerifyPaths(
        None, None, "SSL_CERT_FILE", str(tmp_path / "cert.pem"), "SSL_CERT_DIR", str(empty)
    )
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: missing)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    trust = tls_module.Trust()
    assert len(trust.context().get_ca_certs()) > 50
    assert "the vendored certifi bundle (no system store at" in (trust.news() or "")

    ca = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    trust = tls_module.Trust()
    trust.context()
    assert (trust.news() or "").endswith(f"trusting SSL_CERT_FILE={ca}")


@pytest.fixture
def https(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    monkeypatch.setattr("github_assets.sources.tls.TRUST", tls_module.Trust())
    return StandIn(tls=server)


def test_sessions_share_the_context_and_keep_honouring_proxies(
    https: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    with https:
        url = f"{https.api_url}/repos/a/b/releases/latest"
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert new_session().get(url, timeout=5).status_code == 404  # reached directly
        assert new_session().get(url, timeout=5).status_code == 404  # another session
        assert tls_module.TRUST.news() is not None and tls_module.TRUST.news() is None
        monkeypatch.delenv("NO_PROXY")
        with pytest.raises(requests.exceptions.ProxyError):
            new_session().get(url, timeout=5)
        assert len(https.api_requests()) == 2


# -- bytes as sent, or decoded ----------------------------------------------------------------


def _fetch(standin: StandIn, dest: Path, *, decoded: bool) -> Received:
    http = Http(new_session, RetryPolicy(attempts=2, backoff=0.01))
    source = GitHubSource(http, standin.api_url, None)
    log = Log(io.StringIO())
    spec = parse_entry({"repo": "o/r", "asset": "a", "tag": "v1"}, "test")
    asset = source.resolve(spec, Target("linux", "amd64"), log=log, cancel=None)
    with dest.open("wb") as f:
        return source.fetch(
            asset, FileSink(f), Expected(asset.name, asset.size), log=log, cancel=None,
            decoded=decoded,
        )  # fmt: skip


def test_a_download_takes_the_bytes_as_sent_and_decodes_only_when_asked(
    standin: StandIn, tmp_path: Path
) -> None:
    data = b"compressible " * 5000
    standin.add_release("o/r", "v1", {"a": data})
    standin.content_encoding = "gzip"
    as_sent = _fetch(standin, tmp_path / "sent", decoded=False)
    assert as_sent.encoding == "gzip"
    assert (tmp_path / "sent").read_bytes() == gzip.compress(data, mtime=0)
    assert as_sent.size == len(gzip.compress(data, mtime=0))
    decoded = _fetch(standin, tmp_path / "decoded", decoded=True)
    assert decoded.encoding == "" and decoded.size == len(data)
    assert (tmp_path / "decoded").read_bytes() == data
