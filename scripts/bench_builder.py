"""`make bench`'s rows measured as builders run the buildpack (issue 24), also on their own:

    python3 scripts/bench_builder.py [--runs 5] [--package dist/x.tgz]

The `make package` .tgz (or --package's) unpacked into a read-only dir (`chmod -R a-w`),
bin/detect and bin/build run as the non-root `cnb` user through setpriv, with the build
image's python3: /usr/bin/python3 when it is >= 3.10 (else the python3 on PATH, and the
rows say so). Every baseline (the TOML floor, curl) runs through the same setpriv.
Over HTTPS, the stand-in with a CA made for the run; the proxy rows through a loopback
CONNECT proxy (tools/connect_proxy.py) as HTTPS_PROXY.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "scripts")]

from bench import (  # noqa: E402
    CACHE,
    MiB,
    Row,
    Tls,
    make_payload,
    make_targz,
    paired,
    project,
    real_python,
    render,
    run_build,
    spread,
    timed,
)
from tools.builder import (  # noqa: E402
    ReadOnlyPackage,
    as_user,
    give_to_user,
    python_dir,
    reachable_python,
    scratch,
    system_python,
    workspace,
)
from tools.github_standin import StandIn  # noqa: E402


@contextlib.contextmanager
def proxy_process(*routes: str) -> Iterator[str]:
    """tools/connect_proxy.py in a process of its own (its copying would otherwise contend
    for this process's GIL with the stand-in), with these --route's; yields its URL."""
    cmd = [sys.executable, str(ROOT / "tools" / "connect_proxy.py")]
    cmd += [f"--route={r}" for r in routes]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip().split("=", 1)[1]
    finally:
        proc.terminate()
        proc.wait()


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def package(dest: Path) -> Path:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), str(dest)],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.split()[0])


SECTIONS = ("builder", "proxy")


def builder_rows(
    runs: int,
    tgz: Path | None = None,
    only: set[str] | None = None,
    predecessor: Path | None = None,
) -> list[Row]:
    """The rows of SECTIONS (or of `only`): the package as builders run it, and through a
    CONNECT proxy; with `predecessor` (a dir holding the Go predecessor's bin/ and
    buildpack.toml, or GITHUB_ASSETS_PREDECESSOR) ours against it too."""
    base = scratch("ga-bench-builder-")
    predecessor = predecessor or _env_path("GITHUB_ASSETS_PREDECESSOR")
    try:
        with ReadOnlyPackage(tgz or package(base / "dist")) as ro:
            return _rows(base, ro.dir, runs, only or set(SECTIONS), predecessor)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _rows(base: Path, bp: Path, runs: int, only: set[str], predecessor: Path | None) -> list[Row]:
    exe = system_python() or real_python()
    python = reachable_python(exe, base / "pythons")
    version = subprocess.run(
        [str(exe), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    has_tomllib = tuple(int(x) for x in version.split(".")[:2]) >= (3, 11)
    how = f"package read-only, user `cnb`, {exe} {version}"
    path = f"{python_dir(python, base / 'python')}:/usr/bin:/bin"
    env = {"PATH": path, "HOME": str(base), "LANG": "C.UTF-8"}

    tls = Tls(base)
    one = CACHE / "tool-12M"
    make_payload(one, 12 * MiB)
    sha = hashlib.sha256(one.read_bytes()).hexdigest()
    raws = [CACHE / f"four-raw-{i}" for i in range(2)]
    tgzs = [CACHE / f"four-{i}.tar.gz" for i in range(2)]
    for p in raws:
        make_payload(p, 4 * MiB)
    for p in tgzs:
        make_targz(p, 4 * MiB)
    n = max(11, runs * 2)
    m = max(21, runs * 4)
    rows: list[Row] = []
    scratch_dir = base / "curl"
    scratch_dir.mkdir()
    give_to_user(scratch_dir)
    with (
        StandIn(tls=tls.server) as gh,
        # api.github.com, the API base of builds without GITHUB_API_URL (and the only one
        # the Go predecessor knows), is the stand-in's API host through the proxy
        proxy_process(f"api.github.com:443={gh.api_url.removeprefix('https://')}") as proxy_url,
    ):
        gh.add_release("acme/one", "v1", {"one-linux-amd64": one})
        for i, p in enumerate(raws):
            gh.add_release(f"acme/raw{i}", "v1", {f"raw{i}-linux-amd64": p})
        for i, p in enumerate(tgzs):
            gh.add_release(f"acme/tgz{i}", "v1", {f"tgz{i}-linux-amd64.tar.gz": p})
        full = {
            **env,
            "GITHUB_API_URL": gh.api_url,
            "GITHUB_SERVER_URL": gh.web_url,
            "SSL_CERT_FILE": str(tls.ca_file),
        }
        four = project(
            [(f"acme/raw{i}", f"raw{i}-{{os}}-{{arch}}") for i in range(2)]
            + [(f"acme/tgz{i}", f"tgz{i}-{{os}}-{{arch}}.tar.gz") for i in range(2)]
        )

        # curl and a cold detect + build, both as the build user
        web = f"{gh.web_url}/acme/%s/releases/download/v1/%s"
        url = web % ("one", "one-linux-amd64")
        out = scratch_dir / "one"

        def curl(extra: str = "") -> float:
            subprocess.run(["rm", "-f", str(out)], check=True)
            sh = f"curl -sSL {extra}--cacert '{tls.ca_file}' -o '{out}' '{url}' && chmod +x '{out}'"
            return timed(as_user(["sh", "-c", sh]), env)

        def cold(config: str, extra: dict[str, str], buildpack: Path = bp) -> float:
            d = base / "cold"
            if d.exists():
                shutil.rmtree(d)
            cnb = workspace(d, config, buildpack)
            cmd = [str(buildpack / "bin" / "detect"), str(cnb.platform), str(cnb.plan_path)]
            cmd = as_user(cmd)
            env_d = {**cnb.env({**full, **extra}), "CNB_BUILD_PLAN_PATH": str(cnb.plan_path)}
            took = timed(cmd, env_d, cnb.app)
            cnb.bp_plan_from_detect()
            return took + run_build(cnb, {**full, **extra})

        base_cfg = project([("acme/one", "one-{os}-{arch}")])
        pinned = base_cfg + f'sha256 = "{sha}"\n'
        shown = "`bin/detect` + `bin/build` vs `curl -sSL -o F URL && chmod +x F`"
        if "builder" in only:
            # 1. detect vs the floor of parsing TOML with the standard library
            dcnb = workspace(base / "detect", four, bp)
            detect_env = {**dcnb.env(full), "CNB_BUILD_PLAN_PATH": str(dcnb.plan_path)}
            detect_cmd = as_user(
                [str(bp / "bin" / "detect"), str(dcnb.platform), str(dcnb.plan_path)]
            )
            floor_code = "import tomllib" if has_tomllib else "pass"
            floor_cmd = as_user([str(exe), "-E", "-s", "-S", "-c", floor_code])

            def detect() -> float:
                return timed(detect_cmd, detect_env, dcnb.app)

            def floor() -> float:
                return timed(floor_cmd, env)

            for _ in range(3):
                detect()
                floor()
            ours, theirs = paired(detect, floor, m)
            rows.append(
                Row(
                    f'detect, four assets, vs `python3 -E -s -S -c "{floor_code}"`',
                    ours,
                    theirs,
                    "s",
                    "<= 1.25",
                    how=how,
                    https=True,
                    spread=spread(),
                )
            )

        if "builder" in only:
            # 2. cold, one 12 MiB executable, vs curl
            cases = [("pinned tag and sha256: direct", pinned), ("API", base_cfg)]
            for label, config in cases:
                before = len(gh.api_requests())
                cold(config, {})
                curl()
                ours, theirs = paired(lambda c=config: cold(c, {}), curl, n)
                calls = (len(gh.api_requests()) - before) // (n + 1)
                rows.append(
                    Row(
                        f"cold, one 12 MiB executable, {label}, {shown}",
                        ours,
                        theirs,
                        "s",
                        "<= 4.5",
                        f"{calls} API request{'s' * (calls != 1)} per build",
                        how=how,
                        https=True,
                        spread=spread(),
                    )
                )

            # 3. the build step of a rebuild that reuses every layer vs bin/detect
            cnb = workspace(base / "rebuild", four, bp)
            run_build(cnb, full)
            r_detect_env = {**cnb.env(full), "CNB_BUILD_PLAN_PATH": str(cnb.plan_path)}
            r_detect = as_user([str(bp / "bin" / "detect"), str(cnb.platform), str(cnb.plan_path)])

            def rebuild(extra: dict[str, str]) -> float:
                cnb.simulate_rebuild()
                return run_build(cnb, {**full, **extra})

            served, requests = gh.bytes_served, len(gh.requests)
            ours, theirs = paired(
                lambda: rebuild({}), lambda: timed(r_detect, r_detect_env, cnb.app), m
            )
            rows.append(
                Row(
                    "rebuild of the four, nothing changed (pinned tags, layer tomls restored): "
                    "`bin/build` vs `bin/detect`",
                    ours,
                    theirs,
                    "s",
                    "<= 1.1",
                    f"{len(gh.requests) - requests} requests, {gh.bytes_served - served} bytes",
                    how=how,
                    https=True,
                    spread=spread(),
                )
            )

        if "proxy" in only:
            # 4. through an HTTPS proxy (CONNECT tunnels): cold 12 MiB vs curl -x, and a
            # rebuild that checks a `latest` tag (one API request through the tunnel) vs detect
            via = {"HTTPS_PROXY": proxy_url}
            api = len(gh.api_requests())
            cold(base_cfg, via)
            calls = len(gh.api_requests()) - api
            curl(f"-x {proxy_url} ")
            ours, theirs = paired(lambda: cold(base_cfg, via), lambda: curl(f"-x {proxy_url} "), n)
            rows.append(
                Row(
                    "cold, one 12 MiB executable, API, through a CONNECT proxy: "
                    f"{shown} `-x PROXY`",
                    ours,
                    theirs,
                    "s",
                    "",
                    f"{calls} API request{'s' * (calls != 1)} per build",
                    how=how,
                    https=True,
                    spread=spread(),
                )
            )
            latest = project([("acme/one", "one-{os}-{arch}")], tag="latest")
            lcnb = workspace(base / "latest", latest, bp)
            run_build(lcnb, {**full, **via})
            l_env = {**lcnb.env({**full, **via}), "CNB_BUILD_PLAN_PATH": str(lcnb.plan_path)}
            l_detect = as_user(
                [str(bp / "bin" / "detect"), str(lcnb.platform), str(lcnb.plan_path)]
            )

            def latest_rebuild() -> float:
                lcnb.simulate_rebuild()
                return run_build(lcnb, {**full, **via})

            api = len(gh.api_requests())
            ours, theirs = paired(latest_rebuild, lambda: timed(l_detect, l_env, lcnb.app), n)
            calls = (len(gh.api_requests()) - api) // n
            rows.append(
                Row(
                    "rebuild, one asset at tag `latest` (checked, unchanged), through a CONNECT "
                    "proxy: `bin/build` vs `bin/detect`",
                    ours,
                    theirs,
                    "s",
                    "",
                    f"{calls} API request{'s' * (calls != 1)} per build",
                    how=how,
                    https=True,
                    spread=spread(),
                )
            )
        if predecessor is not None:
            rows += _predecessor_rows(
                lambda: len(gh.api_requests()), bp, predecessor, cold, full, proxy_url, base, n, how
            )
    return rows


def _predecessor_rows(
    api_requests: Callable[[], int],
    ours_bp: Path,
    theirs_dir: Path,
    cold: Callable[[str, dict[str, str], Path], float],
    full: dict[str, str],
    proxy_url: str,
    base: Path,
    n: int,
    how: str,
) -> list[Row]:
    """Ours against the Go predecessor (cage1016/github-assets-cnb, built elsewhere: its
    bin/ and buildpack.toml in theirs_dir), both read-only as the build user, both through
    the CONNECT proxy to api.github.com (the predecessor has no other API base)."""
    rows = []
    # its format, which ours reads unchanged (contract): tag, destination, no sha256
    config = project([("acme/one", "one-linux-amd64")]) + 'destination = "bin/one"\n'
    via = {k: v for k, v in full.items() if k not in ("GITHUB_API_URL", "GITHUB_SERVER_URL")}
    via["HTTPS_PROXY"] = proxy_url
    both = f"{how}; the predecessor: the same dir rules, its Go binary"
    with ReadOnlyPackage(theirs_dir) as theirs:
        detects = {}
        for name, bp in (("ours", ours_bp), ("theirs", theirs.dir)):
            cnb = workspace(base / f"detect-{name}", config, bp)
            cmd = as_user([str(bp / "bin" / "detect"), str(cnb.platform), str(cnb.plan_path)])
            env = {**cnb.env(via), "CNB_BUILD_PLAN_PATH": str(cnb.plan_path)}
            detects[name] = (cmd, env, cnb.app)
        ours, their = paired(
            lambda: timed(*detects["ours"]), lambda: timed(*detects["theirs"]), max(21, n)
        )
        rows.append(
            Row(
                "detect, one asset: `bin/detect` vs the Go predecessor's",
                ours,
                their,
                "s",
                "",
                how=both,
                https=True,
                spread=spread(),
            )
        )
        calls = {}
        for name, bp in (("ours", ours_bp), ("theirs", theirs.dir)):
            before = api_requests()
            cold(config, via, bp)
            calls[name] = api_requests() - before
        ours, their = paired(
            lambda: cold(config, via, ours_bp), lambda: cold(config, via, theirs.dir), n
        )
        rows.append(
            Row(
                "cold, one 12 MiB executable (tag, destination), through a CONNECT proxy: "
                "`bin/detect` + `bin/build` vs the Go predecessor's",
                ours,
                their,
                "s",
                "",
                f"API requests: ours {calls['ours']}, the predecessor's {calls['theirs']}",
                how=both,
                https=True,
                spread=spread(),
            )
        )
        # A rebuild: ours reuses the layer (a pinned tag: no request); the predecessor
        # keeps no metadata to compare with and downloads again.
        cnbs = {}
        for name, bp in (("ours", ours_bp), ("theirs", theirs.dir)):
            cnbs[name] = workspace(base / f"rebuild-{name}", config, bp)
            run_build(cnbs[name], via)

        def rebuild(name: str) -> float:
            cnbs[name].simulate_rebuild()
            return run_build(cnbs[name], via)

        ours, their = paired(lambda: rebuild("ours"), lambda: rebuild("theirs"), n)
        rows.append(
            Row(
                "rebuild of it, nothing changed, through the proxy: `bin/build` vs the Go "
                "predecessor's",
                ours,
                their,
                "s",
                "",
                "ours: 0 requests; the predecessor downloads again",
                how=both,
                https=True,
                spread=spread(),
            )
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--package", type=Path, default=None, help="a .tgz instead of make package's")
    ap.add_argument("--only", choices=SECTIONS, action="append", help="these rows only")
    ap.add_argument(
        "--predecessor",
        type=Path,
        default=None,
        help="the Go predecessor built into a dir (bin/, buildpack.toml): compare with it",
    )
    args = ap.parse_args()
    rows = builder_rows(args.runs, args.package, set(args.only or SECTIONS), args.predecessor)
    print(render(rows, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
