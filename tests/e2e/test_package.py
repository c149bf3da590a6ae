"""`make package`: the .tgz platforms consume, and the .cnb from `pack buildpack package`."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import toml
from tools.cnb_lifecycle import ROOT, tools_bin


def test_package_makes_tgz_and_cnb(tmp_path: Path) -> None:
    assert (tools_bin() / "pack").exists(), "pack is built by make tools"
    out = subprocess.run(
        [str(ROOT / "scripts" / "package.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    ).stdout.split()
    tgz, cnb = Path(out[0]), Path(out[1])
    version = toml.loads((ROOT / "buildpack.toml").read_text())["buildpack"]["version"]
    assert tgz.name == f"github-assets-{version}.tgz"

    with tarfile.open(tgz) as tf:
        names = set(tf.getnames())
        mode = tf.getmember("bin/build").mode
        # PEP 552 flags: 0b01 = hash-based and never checked against the source (no mtime
        # inside, nothing for Python to re-validate in a dir it cannot write)
        flags = set()
        for member in tf.getmembers():
            if member.name.endswith(".pyc"):
                f = tf.extractfile(member)
                assert f is not None
                flags.add(int.from_bytes(f.read(8)[4:8], "little"))
    assert flags == {0b01}
    assert {"buildpack.toml", "bin/detect", "bin/build", "src/boot.py"} <= names
    # the Sigstore trusted root is data inside the package, read at run time
    assert "src/github_assets/provenance/trusted_root.json" in names
    assert mode == 0o755
    for dep in ("requests", "urllib3", "certifi", "idna", "charset_normalizer", "toml"):
        assert any(n.startswith(f"vendor/{dep}/") for n in names), dep
    assert not any(n.startswith("vendor/elftools/") for n in names), "ELF is read with struct"
    assert not any(n.endswith(".so") for n in names), "vendored code is pure Python"
    # bytecode for every supported minor beside every module (boot.py runs as __main__),
    # and none that matches no module
    modules = {n.removesuffix(".py") for n in names if n.endswith(".py")} - {"src/boot"}
    for minor in ("310", "311", "312", "313"):
        pycs = {
            n.replace("/__pycache__/", "/").removesuffix(f".cpython-{minor}.pyc")
            for n in names
            if n.endswith(f".cpython-{minor}.pyc")
        }
        assert pycs == modules, minor
    assert len([n for n in names if n.endswith(".pyc")]) == 4 * len(modules)
    assert not any(n.startswith(("tests/", "tools/")) for n in names)

    # the .cnb is an OCI image layout with our buildpack in a layer
    with tarfile.open(cnb) as tf:

        def blob(digest: str) -> bytes:
            f = tf.extractfile(f"/blobs/sha256/{digest.split(':')[1]}")
            assert f is not None
            return f.read()

        index_file = tf.extractfile("/index.json")
        assert index_file is not None
        manifest = json.loads(blob(json.load(index_file)["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        meta = json.loads(config["config"]["Labels"]["io.buildpacks.buildpackage.metadata"])
        assert meta["id"] == "probe-assets/github-assets"
        assert meta["version"] == version
        layer = blob(manifest["layers"][0]["digest"])
    with tarfile.open(fileobj=io.BytesIO(layer)) as lt:
        layer_names = lt.getnames()
    prefix = f"cnb/buildpacks/probe-assets_github-assets/{version}/"
    assert any(n.lstrip("/").startswith(prefix + "buildpack.toml") for n in layer_names)


def test_package_is_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        subprocess.run(
            ["python3", str(ROOT / "scripts" / "package.py"), str(d)],
            check=True,
            capture_output=True,
        )
    [ta], [tb] = a.glob("*.tgz"), b.glob("*.tgz")
    assert ta.read_bytes() == tb.read_bytes()
