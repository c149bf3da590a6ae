"""The one redaction (redact.py), on a registry of its own: what each rule hides."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from github_assets.redact import REDACTED, Registry


def test_url_userinfo_goes_with_or_without_a_registry() -> None:
    r = Registry()
    assert r.text("GET https://bot:pa55word-x@mirror.example/a") == "GET https://mirror.example/a"
    r.url("https://bot:pa55word-x@mirror.example/base")
    # the netloc form (no scheme) only the registry knows; the password alone too
    assert r.text("bot:pa55word-x@mirror.example refused") == "mirror.example refused"
    assert r.text("echo pa55word-x") == f"echo {REDACTED}"


def test_a_short_password_is_hidden_only_inside_its_userinfo() -> None:
    r = Registry()
    r.url("https://u:abc@h.example")
    assert r.text("u:abc@h.example and abc") == "h.example and abc"


def test_a_binding_url_shows_as_the_binding_in_every_form() -> None:
    r = Registry()
    r.url("https://u:pw-123456@art.corp:8443/repo", "dependency-mapping binding probes")
    shown = "dependency-mapping binding probes"
    for form in (
        "https://u:pw-123456@art.corp:8443/repo/x",
        "https://art.corp:8443/repo/x",
        "art.corp:8443/repo/x",
    ):
        assert r.text(form) == f"{shown}/x", form
    assert r.text("art.corp:8443 refused") == f"{shown} refused"
    r.url("file:///srv/private-mirror", "dependency-mirror binding m")
    assert r.text("no file /srv/private-mirror/a") == "no file dependency-mirror binding m/a"


def test_tokens_queries_and_authorization_values() -> None:
    r = Registry()
    r.secret("tok-0123456789")
    r.environment({"MY_SECRET": "s3cr3t-value", "HTTPS_PROXY": "http://p:proxy-pw@proxy:3128"})
    text = r.text(
        "tok-0123456789 s3cr3t-value http://proxy:3128 proxy-pw "
        "https://s.example/f?X-Amz-Signature=abc Authorization: Basic Zm9vOmJhcg=="
    )
    assert text == (
        f"{REDACTED} {REDACTED} http://proxy:3128 {REDACTED} "
        f"https://s.example/f?{REDACTED} Authorization: Basic {REDACTED}"
    )


def test_values_for_files_are_redacted_string_by_string() -> None:
    r = Registry()
    r.secret("tok-0123456789")
    data = {"a": ["x tok-0123456789", 3, True], "b": {"url": "https://u:p@h/x"}}
    assert r.value(data) == {"a": [f"x {REDACTED}", 3, True], "b": {"url": "https://h/x"}}


def test_every_bindings_contents_are_secrets_in_both_layouts(tmp_path: Path) -> None:
    gh = tmp_path / "gh"
    gh.mkdir()
    (gh / "type").write_text("github\n")
    (gh / "token").write_text("ghp_bindingToken123\n")
    (gh / "host").write_text("api.github.com\n")
    old = tmp_path / "mirror" / "secret"
    old.mkdir(parents=True)
    (tmp_path / "mirror" / "metadata").mkdir()
    (tmp_path / "mirror" / "metadata" / "kind").write_text("dependency-mirror\n")
    (old / "default").write_text("https://u:pw-7777777@mirror.corp/gh\n")
    r = Registry()
    r.bindings(tmp_path)
    text = r.text("ghp_bindingToken123 api.github.com https://mirror.corp/gh/a/b github")
    assert text == f"{REDACTED} api.github.com dependency-mirror binding mirror/a/b github"


# The rules text() applies, each run on every text (what it did before its prefilters): the
# prefilters may only skip a rule that could not have changed the text.
UNFILTERED = [
    (r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#'\"<>]*@", r"\1"),
    (r"(?i)(authorization:?\s*(?:bearer|token|basic)\s+)\S+", r"\1" + REDACTED),
    (r"(https?://[^\s?#'\"]+)\?[^\s'\"]*", r"\1?" + REDACTED),
]
PIECES = [
    "https://", "http://", "git+ssh://", "://", "user:pw@", "@", "?", "a=b", "#", " ", "\n",
    "host.example", "/path", "Authorization: Bearer ", "AUTHORIZATION token ",
    "authorızation: basic ", "\u212a", "é", "x", "'", '"',
]  # fmt: skip


def _unfiltered(text: str) -> str:
    for pattern, repl in UNFILTERED:
        text = re.sub(pattern, repl, text)
    return text


@pytest.mark.parametrize("seed", range(400))
def test_the_prefilters_skip_only_rules_that_would_change_nothing(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 12)))
    assert Registry().text(text) == _unfiltered(text), text


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("my_api_key", True),
        ("MyApiKey", True),
        ("DB_PASSWORD", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("PRIVATE_REGISTRY", True),
        ("GITHUB_TO\u212aEN", True),  # a Kelvin sign: re's IGNORECASE takes it for K
        ("ſECRET", True),  # a long s: the same for S
        ("PATH", False),
        ("HOME", False),
        ("BP_LOG_LEVEL", False),
        ("TOKE", False),
    ],
)
def test_which_variable_names_say_secret(name: str, secret: bool) -> None:
    registry = Registry()
    registry.environment({name: "s3cr3t-value-1234"})
    assert (registry.text("x s3cr3t-value-1234 y") == "x [REDACTED] y") is secret
