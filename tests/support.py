"""Shared test helpers: run bin/detect and bin/build for real, make real ELF files and archives."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import toml
from tools.archives import Member, tar_bytes
from tools.archives import zip_bytes as archive_zip
from tools.cnb_dirs import LAYERS_ID as LAYERS_ID  # re-exported for the tests
from tools.cnb_dirs import CnbDirs as CnbDirs
from tools.cnb_dirs import Phase as Phase
from tools.elf import EM_AARCH64 as EM_AARCH64
from tools.elf import EM_X86_64 as EM_X86_64
from tools.elf import elf_bytes as elf_bytes
from tools.example_app import CAGE1016_PROJECT as CAGE1016_PROJECT

from github_assets.archive import Limits, Unpacked, stream_unpack
from github_assets.config import load_project

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "bin"


def host_binary() -> bytes:
    """A real dynamic x86-64 executable of this machine (runs here)."""
    return Path(shutil.which("true") or "/bin/true").read_bytes()


def tar_gz(members: dict[str, bytes], *, mode: int = 0o755, compression: str = "gz") -> bytes:
    """A tar (gz/xz/bz2 or plain with "") whose members all have ``mode``."""
    return tar_bytes(
        [Member(name, data, mode) for name, data in members.items()],
        compression=compression,
        fmt="pax",
    )


def zip_bytes(members: dict[str, bytes], *, mode: int = 0o755) -> bytes:
    """A zip made on Unix whose members all have ``mode``."""
    return archive_zip(
        [Member(name, data, mode) for name, data in members.items()],
        date_time=(2024, 1, 1, 0, 0, 0),
    )


def tree(base: Path) -> dict[str, str]:
    """Every path under base (symlinks not followed): its type, mode bits and content digest."""
    out: dict[str, str] = {}
    for path in sorted(base.rglob("*")):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            what = "file " + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        elif stat.S_ISLNK(st.st_mode):
            what = "link " + os.readlink(path)
        elif stat.S_ISDIR(st.st_mode):
            what = "dir"
        else:
            what = "special"
        out[str(path.relative_to(base))] = f"{what} {stat.S_IMODE(st.st_mode):o}"
    return out


def assert_secret_kept(secret: str, phase: Phase, cnb: CnbDirs, storage: list[Any]) -> None:
    """The token is in no output, no file of the build (layers, SBOMs, launch.toml labels,
    app dir), and never reached the storage host (storage: StandIn.storage_requests())."""
    assert secret not in phase.out and secret not in phase.err
    for path in cnb.base.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert secret.encode() not in path.read_bytes(), path
    for request in storage:
        assert "authorization" not in request.headers, request
        assert secret not in request.path, request
        assert all(secret not in value for value in request.headers.values()), request


def write_plan(cnb: CnbDirs) -> None:
    """The buildpack plan bin/detect + the lifecycle would give build for the app's config."""
    entries = [
        {"name": "github-assets", "metadata": spec.to_metadata()}
        for spec in load_project(cnb.app, {})
    ]
    cnb.bp_plan_path.write_text(toml.dumps({"entries": entries}))


def unpack(
    src: Path, dest: Path, *, strip_components: int, raw_path: str, limits: Limits | None = None
) -> Unpacked:
    """Unpack the file src into the empty dir dest through the sink a download feeds."""
    with tempfile.TemporaryDirectory() as spool, src.open("rb") as file:
        sink = stream_unpack(
            dest,
            strip_components=strip_components,
            raw_path=raw_path,
            limits=limits or Limits(),
            spool=Path(spool) / "asset",
        )
        try:
            while n := file.readinto(sink.buffer()):
                sink.commit(n)
            return sink.finish()
        finally:
            sink.close()


def go_version_m(path: Path) -> tuple[str, str, tuple[str, str], list[tuple[str, str]]]:
    """(go version, path, main module, deps with replacements applied) as Go prints them."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("Go is needed to compare with `go version -m` (the machine has it)")
    out = subprocess.run(
        [go, "version", "-m", str(path)], capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    version = lines[0].rsplit(" ", 1)[1]
    main_path, main, deps = "", ("", ""), []
    for line in lines[1:]:
        kind, *fields = line.strip("\t").split("\t")
        if kind == "path":
            main_path = fields[0]
        elif kind == "mod":
            main = (fields[0], fields[1])
        elif kind == "dep":
            deps.append((fields[0], fields[1]))
        elif kind == "=>":
            deps[-1] = (fields[0], fields[1])
    return version, main_path, main, deps


# The SPDX 2.3 JSON schema, byte for byte: spdx/spdx-spec schemas/spdx-schema.json at v2.3.
SPDX_SCHEMA = Path(__file__).parent / "data" / "spdx-2.3.schema.json"


def validate_cdx(doc: dict[str, Any]) -> None:
    """cyclonedx-python-lib's validator against the CycloneDX 1.5 JSON schema."""
    # Imported here: only the SBOM tests pay for the validators.
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(doc))
    assert error is None, error


def validate_spdx(doc: dict[str, Any], tmp_path: Path) -> None:
    """The SPDX 2.3 JSON schema, and spdx-tools' validator for the spec's other rules."""
    import jsonschema
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    if not SPDX_SCHEMA.is_file():
        pytest.fail(f"{SPDX_SCHEMA} (the SPDX 2.3 JSON schema) is missing")
    jsonschema.validate(doc, json.loads(SPDX_SCHEMA.read_text()))
    path = tmp_path / "layer.spdx.json"
    path.write_text(json.dumps(doc))
    messages = validate_full_spdx_document(parse_file(str(path)), "SPDX-2.3")
    assert [m.validation_message for m in messages] == []
