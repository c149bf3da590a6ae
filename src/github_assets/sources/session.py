"""The requests session of a build: proxies per request URL, never .netrc, and every
HTTPS connection on the process's one TLS context (tls.TRUST). Changes when how we
connect changes; what an answer means is judge.py's, the retry loop http.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
import requests.adapters
import urllib3.connection

from .. import USER_AGENT
from . import tls

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs


class _Adapter(requests.adapters.HTTPAdapter):
    """Every HTTPS connection on the process's one TLS context (tls.TRUST), proxies too."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        if host.get("scheme") == "https":
            pool["ssl_context"] = tls.TRUST.context()  # made by the first HTTPS connection
        return host, pool

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # urllib3 turns Nagle's algorithm back on for connections to a proxy, so through a
        # CONNECT tunnel every TLS flight and request could wait on the peer's delayed ACK;
        # the tunnel carries whole TLS records, as a direct connection does, so it gets
        # urllib3's own default: TCP_NODELAY.
        options = urllib3.connection.HTTPConnection.default_socket_options
        proxy_kwargs.setdefault("socket_options", options)
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The context holds the trust; requests would load its certifi bundle into it.
        conn.cert_reqs = "CERT_REQUIRED" if url.lower().startswith("https") else "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def new_session(pool_size: int = requests.adapters.DEFAULT_POOLSIZE) -> requests.Session:
    """A session that honours HTTP(S)_PROXY/NO_PROXY per request URL but never reads .netrc,
    and trusts what the build image trusts (tls.py).

    trust_env would do both, and .netrc credentials could then reach the storage
    host; so trust_env is off and each request gets the proxies its own host calls for.

    The threads of a build share it: what they use of it is thread-safe (urllib3's pools,
    the cookie jar's lock; no auth, no environment merge, redirects are Http.open's). Each
    host keeps up to pool_size idle connections: one per thread, so none is dropped.
    """

    class _Session(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            text = url.decode() if isinstance(url, bytes) else url
            kwargs.setdefault("proxies", requests.utils.get_environ_proxies(text))
            return super().request(method, url, *args, **kwargs)

    session = _Session()
    session.mount("https://", _Adapter(pool_maxsize=pool_size))
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=pool_size))
    session.headers["User-Agent"] = USER_AGENT
    # Every request asks for the bytes as they are (the contract's identity policy), the
    # API's JSON too: requests' default asks for gzip, which only the assets opted out of.
    session.headers["Accept-Encoding"] = "identity"
    session.trust_env = False
    return session
