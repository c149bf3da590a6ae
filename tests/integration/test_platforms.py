"""What platforms other than pack give a build, as kpack and Paketo users give it: service
bindings (github token, ca-certificates, dependency-mapping contents kept secret), libpak's
spelling of BP_DEPENDENCY_MIRROR_<HOST>, no CNB_TARGET_*. bin/build as a subprocess
against the stand-in."""

from __future__ import annotations

import hashlib
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from tools.github_standin import API, STORAGE, WEB, StandIn

from support import CnbDirs, Phase, elf_bytes, write_plan

REPO = "acme/private-probe"
LAYER = "acme_private-probe"
ASSET = "probe-linux-amd64"
TOKEN = "ghp_bindingTOKEN0123456789abcdefXYZ"
PROBE = elf_bytes(size=30_000)
FAST = {"BP_GITHUB_ASSETS_BACKOFF": "0.01", "BP_GITHUB_ASSETS_TIMEOUT": "5"}
CONFIG = (
    f'[[metadata.githubassets]]\nrepo = "{REPO}"\nasset = "probe-{{os}}-{{arch}}"\ntag = "v1"\n'
)


def publish(s: StandIn, *, private: bool = True) -> None:
    s.add_release(REPO, "v1", {ASSET: PROBE})
    if private:
        s.make_private(REPO, TOKEN)


def build(s: StandIn, cnb: CnbDirs, text: str = CONFIG, **env: str) -> Phase:
    """A first build each time: a fresh layers dir, so nothing is reused."""
    shutil.rmtree(cnb.layers)
    cnb.layers.mkdir()
    cnb.project(text)
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, **FAST, **env})


def binding(root: Path, name: str, kind: str, layout: str = "spec", **keys: str) -> Path:
    """A binding dir: the spec's layout (`type` + key files, mounted the way Kubernetes mounts
    a Secret: keys are symlinks into a hidden ..data dir), or the older CNB one
    (`metadata/kind` + `secret/<key>`)."""
    d = root / name
    if layout == "spec":
        data = d / "..2026_12_02_00_00_00.000000001"
        data.mkdir(parents=True)
        (d / "..data").symlink_to(data.name)
        for key, value in {"type": kind, **keys}.items():
            (data / key).write_text(value + "\n")
            (d / key).symlink_to(f"..data/{key}")
    else:
        (d / "metadata").mkdir(parents=True)
        (d / "secret").mkdir()
        (d / "metadata" / "kind").write_text(kind)
        for key, value in keys.items():
            (d / "secret" / key).write_text(value)
    return d


def assert_token_kept(r: Phase, cnb: CnbDirs, s: StandIn) -> None:
    """The token is in no output and no file the build wrote (layers, SBOMs, launch.toml,
    app dir); only the API host ever received it."""
    assert TOKEN not in r.all
    for path in [*cnb.layers_root.rglob("*"), *cnb.app.rglob("*")]:
        if path.is_file() and not path.is_symlink():
            assert TOKEN.encode() not in path.read_bytes(), path
    for q in s.requests:
        if q.host != API:
            assert all(TOKEN not in v for v in q.headers.values()), q


# -- github --------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["spec", "cnb"])
@pytest.mark.parametrize("where", ["platform", "SERVICE_BINDING_ROOT"])
def test_a_private_repo_builds_with_the_token_of_a_binding_alone(
    standin: StandIn, cnb: CnbDirs, layout: str, where: str
) -> None:
    publish(standin)
    env = {}
    if where == "platform":
        root = cnb.platform / "bindings"
    else:
        root = cnb.base / "k8s-bindings"
        env["SERVICE_BINDING_ROOT"] = str(root)
    binding(root, "github-token", "GitHub", layout, token=TOKEN)
    r = build(standin, cnb, **env)
    assert r.rc == 0, r.all
    assert (cnb.layers / LAYER / "bin" / "probe").read_bytes() == PROBE
    assert any(q.headers.get("authorization") == f"Bearer {TOKEN}" for q in standin.requests)
    assert_token_kept(r, cnb, standin)


def test_without_the_binding_the_private_repo_is_not_found(standin: StandIn, cnb: CnbDirs) -> None:
    """The check above can fail: no token, no build."""
    publish(standin)
    r = build(standin, cnb)
    assert r.rc == 1
    assert r.err.startswith("error: ") and f"repository {REPO} not found" in r.err
    assert r.err.rstrip().endswith("or give the token in a binding of type github")


def test_token_precedence_token_env_then_binding_then_github_token(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin)
    binding(cnb.platform / "bindings", "gh", "github", token=TOKEN)
    # the binding wins over GITHUB_TOKEN
    r = build(standin, cnb, GITHUB_TOKEN="ghp_wrong")
    assert r.rc == 0, r.all
    # token_env's variable wins over the binding: a wrong one there is sent, and rejected
    with_env = CONFIG + 'token_env = "PROBE_TOKEN"\n'
    r = build(standin, cnb, with_env, PROBE_TOKEN="ghp_wrongtoo")
    assert r.rc == 1
    assert "ghp_wrongtoo" not in r.all
    auths = {q.headers.get("authorization") for q in standin.requests if q.host == API}
    assert "Bearer ghp_wrongtoo" in auths
    # token_env names a variable that is not set: the binding is used
    r = build(standin, cnb, with_env)
    assert r.rc == 0, r.all


def test_token_env_unset_and_no_binding_says_both_ways(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    r = build(standin, cnb, CONFIG + 'token_env = "PROBE_TOKEN"\n')
    assert r.rc == 1
    assert r.err.splitlines()[0].endswith(
        "'token_env' names PROBE_TOKEN, which is not set; pass it to the build (e.g. pack build "
        "--env PROBE_TOKEN), or give the token in a binding of type github (kpack: a Secret in "
        "the Image's services)"
    )


def test_a_binding_for_another_host_is_not_sent(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    root = cnb.platform / "bindings"
    binding(root, "ghe", "github", token="ghp_forGHE", host="ghe.example.com")
    r = build(standin, cnb)
    assert r.rc == 1
    assert all("authorization" not in q.headers for q in standin.requests)
    # the same binding, named for this API host (host:port, as a stand-in has one), is
    host = standin.api_url.split("://", 1)[1]
    binding(root, "loopback", "github", token=TOKEN, host=host)
    r = build(standin, cnb)
    assert r.rc == 0, r.all
    assert_token_kept(r, cnb, standin)


def test_a_github_binding_without_token_is_one_line(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    binding(cnb.platform / "bindings", "gh", "github", layout="cnb", other=TOKEN)
    r = build(standin, cnb)
    assert r.rc == 1
    first = r.err.splitlines()[0]
    assert first.startswith("error: ") and "Traceback" not in r.err
    assert "binding gh (type github) has no key 'token'; add a file named token" in first
    assert TOKEN not in r.all


# -- ca-certificates ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https(ca: trustme.CA) -> Iterator[StandIn]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    with StandIn(tls=server) as s:
        yield s


@pytest.mark.parametrize("layout", ["spec", "cnb"])
def test_tls_to_a_host_of_a_private_ca_with_the_ca_certificates_binding_alone(
    https: StandIn, cnb: CnbDirs, ca: trustme.CA, layout: str
) -> None:
    publish(https, private=False)
    binding(
        cnb.platform / "bindings",
        "corporate-ca",
        "ca-certificates",
        layout,
        **{"ca.pem": ca.cert_pem.bytes().decode()},
    )
    r = build(https, cnb, BP_LOG_LEVEL="DEBUG")
    assert r.rc == 0, r.all
    assert (cnb.layers / LAYER / "bin" / "probe").read_bytes() == PROBE
    assert "and 1 file(s) of ca-certificates bindings" in r.out
    assert "BEGIN CERTIFICATE" not in r.all


def test_without_the_ca_binding_the_error_names_it(https: StandIn, cnb: CnbDirs) -> None:
    publish(https, private=False)
    r = build(https, cnb)
    assert r.rc == 1
    first = r.err.splitlines()[0]
    assert "certificate of 127.0.0.1" in first
    assert "a binding of type ca-certificates holding the PEM file" in first
    assert "SSL_CERT_FILE" in first


def test_a_ca_binding_that_is_not_pem_is_one_line(https: StandIn, cnb: CnbDirs) -> None:
    publish(https, private=False)
    secret = "not-a-certificate-but-maybe-secret"
    binding(cnb.platform / "bindings", "cas", "ca-certificates", **{"ca.pem": secret})
    r = build(https, cnb)
    assert r.rc == 1 and "Traceback" not in r.err
    first = r.err.splitlines()[0]
    assert "binding cas (type ca-certificates), key ca.pem is not a PEM CA certificate" in first
    assert secret not in r.all
    assert https.requests == []


# -- BP_DEPENDENCY_MIRROR_<HOST> ---------------------------------------------------------------


def _file_mirror(cnb: CnbDirs) -> str:
    tree = cnb.base / "mirror" / REPO / "releases" / "download" / "v1"
    tree.mkdir(parents=True)
    (tree / ASSET).write_bytes(PROBE)
    return (cnb.base / "mirror").as_uri()


PINNED = CONFIG + f'sha256 = "{hashlib.sha256(PROBE).hexdigest()}"\n'


@pytest.mark.parametrize(
    "name",
    [
        "BP_DEPENDENCY_MIRROR_GITHUB_MY__CORP_COM",  # libpak: '.' -> '_', '-' -> '__'
        "BP_DEPENDENCY_MIRROR_GITHUB_MY_CORP_COM",  # 0.2.0: '_' for every other character
    ],
)
def test_a_host_mirror_variable_decodes_like_libpak(
    standin: StandIn, cnb: CnbDirs, name: str
) -> None:
    standin.down = {API, STORAGE, WEB}
    r = build(
        standin,
        cnb,
        PINNED,
        GITHUB_API_URL="https://github.my-corp.com/api/v3",
        BP_LOG_LEVEL="DEBUG",  # which variable gave the mirror is a [debug] line
        **{name: _file_mirror(cnb)},
    )
    assert r.rc == 0, r.all
    assert f" is given by {name}\n" in r.out
    assert (cnb.layers / LAYER / "bin" / "probe").read_bytes() == PROBE


def test_a_mirror_variable_for_another_host_is_not_used(standin: StandIn, cnb: CnbDirs) -> None:
    """github.my-corp.com's variable does not capture github.my.corp.com (libpak: distinct)."""
    r = build(
        standin,
        cnb,
        PINNED,
        GITHUB_API_URL="https://github.my.corp.com.invalid/api/v3",
        BP_DEPENDENCY_MIRROR_GITHUB_MY__CORP_COM_INVALID=_file_mirror(cnb),
    )
    assert r.rc == 1
    assert "mirror" not in r.out.lower()


def test_a_mapping_binding_naming_a_missing_file_says_so_without_its_contents(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin, private=False)
    secret_path = cnb.base / "secret-share" / "probe"
    binding(
        cnb.platform / "bindings",
        "probes",
        "dependency-mapping",
        **{hashlib.sha256(PROBE).hexdigest(): secret_path.as_uri()},
    )
    r = build(standin, cnb, PINNED)
    assert r.rc == 1 and "Traceback" not in r.err
    first = r.err.splitlines()[0]
    assert f"binding probes names a file that does not exist, for {ASSET}" in first
    assert str(secret_path) not in r.all


def test_a_mapping_binding_url_is_named_not_shown_even_at_debug(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin, private=False)
    secret_path = f"/{REPO}/releases/download/v1/{ASSET}"
    binding(
        cnb.platform / "bindings",
        "probes",
        "dependency-mapping",
        **{hashlib.sha256(PROBE).hexdigest(): standin.web_url + secret_path},
    )
    r = build(standin, cnb, PINNED, BP_LOG_LEVEL="DEBUG")
    assert r.rc == 0, r.all
    assert "[debug] GET dependency-mapping binding probes" in r.out
    assert secret_path not in r.all
    assert any(q.path == secret_path for q in standin.requests), "the binding's URL was used"


def test_a_mapping_binding_with_another_scheme_is_one_line_without_it(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin, private=False)
    binding(
        cnb.platform / "bindings",
        "probes",
        "dependency-mapping",
        **{hashlib.sha256(PROBE).hexdigest(): "ftp://files.corp.example/probe"},
    )
    r = build(standin, cnb, PINNED)
    assert r.rc == 1
    first = r.err.splitlines()[0]
    assert "binding probes gives a ftp URL, which is neither file:// nor https://" in first
    assert "files.corp.example" not in r.all


# -- CNB_TARGET_* ----------------------------------------------------------------------------


@pytest.mark.parametrize("unset", [None, ""], ids=["absent", "empty"])
def test_without_cnb_target_the_build_host_decides(
    standin: StandIn, cnb: CnbDirs, unset: str | None
) -> None:
    """A platform that gives buildpacks no target (Platform API < 0.12 without a lifecycle
    that fills it in): the build host's os/arch (uname) pick the asset."""
    publish(standin, private=False)
    standin.add_release(REPO, "v1", {ASSET: PROBE, "probe-linux-arm64": b"not for this host"})
    env: dict[str, str | None] = {
        "GITHUB_API_URL": standin.api_url,
        "CNB_TARGET_OS": unset,
        "CNB_TARGET_ARCH": unset,
        "BP_LOG_LEVEL": "DEBUG",
    }
    cnb.project(CONFIG)
    write_plan(cnb)
    r = cnb.build(env)
    assert r.rc == 0, r.all
    assert "Target linux/amd64, 1 asset" in r.out
    assert "CNB_TARGET_OS/CNB_TARGET_ARCH not set by the platform: the build host's apply" in r.out
    assert (cnb.layers / LAYER / "bin" / "probe").read_bytes() == PROBE
