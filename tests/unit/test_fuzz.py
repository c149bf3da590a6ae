"""Property tests: the config parser and the archive extractor on generated input.

Whatever the input, the only exceptions that may escape are our own (BuildpackError
subclasses, printed as one line), and the extractor never writes outside its destination.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tarfile
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from requests.structures import CaseInsensitiveDict

from github_assets.archive import Limits
from github_assets.config import KEYS, load_project, parse_entry, parse_project
from github_assets.errors import ArchiveError, BuildpackError, ConfigError, GitHubError
from github_assets.sources.http import MAX_EPOCH, rate_limit
from github_assets.sources.judge import api_limit_error, host_limit_error
from github_assets.tomlfile import dumps, loads
from support import unpack

# Hypothesis keeps caches in ./.hypothesis; keep the work tree clean.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "github-assets-hypothesis")
# A small alphabet with the characters that matter to paths, templates and TOML: fast to
# draw (no Unicode table to build) and more likely to hit an edge than arbitrary text.
ALPHABET = "ab1-_./\\{}[]\"' \t\n\r\x00\u00e9\u202e\U0001f600:=#"
text = st.text(alphabet=ALPHABET, max_size=12)

SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# -- config ---------------------------------------------------------------------------------

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    text,
    st.sampled_from(
        [
            "a/b",
            "grpc-ecosystem/grpc-health-probe",
            "x-{os}-{arch}",
            "{version}",
            "{nope}",
            "{",
            "bin/",
            "../x",
            "/abs",
            ".",
            "sha256:" + "a" * 64,
            "b" * 64,
            "GITHUB_TOKEN",
            "https://ghe.example/api/v3",
            "build",
        ]
    ),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["amd64", "arm64", "linux", "\n"]), scalars, max_size=3),
)
entries = st.dictionaries(st.sampled_from(KEYS) | text, values, max_size=8)


@SETTINGS
@given(entries)
def test_parse_entry_raises_only_config_errors(table: dict[str, Any]) -> None:
    try:
        spec = parse_entry(table, "entry")
    except ConfigError as e:
        assert e.first_line() and "\n" not in e.first_line()
        return
    # A valid entry round-trips through its plan metadata (what detect hands to build).
    assert parse_entry(spec.to_metadata(), "again") == spec


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["metadata", "_", "project", "build"]),
        st.one_of(
            values,
            st.fixed_dictionaries(
                {"githubassets": st.one_of(values, st.lists(entries | values, max_size=3))}
            ),
            st.fixed_dictionaries(
                {"metadata": st.fixed_dictionaries({"githubassets": st.lists(entries)})}
            ),
        ),
    )
)
def test_parse_project_raises_only_config_errors(data: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):
        parse_project(data, "project.toml")


toml_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "[[metadata.githubassets]]",
                "[metadata]",
                "[[_.metadata.githubassets]]",
                'repo = "a/b"',
                'asset = "x-{os}"',
                "strip_components = 1",
                "sha256 = { amd64 = 1 }",
                "args = [",
                "tag =",
                '"',
                "a.b.c = 1",
                "[[metadata.githubassets]]]",
                "x = 1979-05-27T07:32:00Z",
                "\ufeff",
                "\x00",
            ]
        ),
        text,
    ),
    max_size=8,
)


@SETTINGS
@given(toml_lines)
def test_load_project_on_any_text_raises_only_config_errors(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "project.toml").write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        with contextlib.suppress(ConfigError):
            load_project(Path(tmp), {})


@SETTINGS
@given(st.binary(max_size=200))
def test_load_project_on_any_bytes_raises_only_config_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "project.toml").write_bytes(data)
        with contextlib.suppress(ConfigError):
            load_project(Path(tmp), {})


# -- archives -------------------------------------------------------------------------------

names = st.lists(
    st.sampled_from(["a", "b", "..", ".", "", "bin", "x y", "\u00e9", "/"]), min_size=1, max_size=4
).map("/".join)
KINDS = ["file", "dir", "symlink", "hardlink", "chr", "fifo"]
members = st.lists(
    st.tuples(
        names,
        st.sampled_from(KINDS),
        names,  # link target
        st.integers(min_value=0, max_value=0o7777),
        st.binary(max_size=64),
    ),
    max_size=8,
)


def make_tar(entries: list[tuple[str, str, str, int, bytes]], compression: str) -> bytes:
    types = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "chr": tarfile.CHRTYPE,
        "fifo": tarfile.FIFOTYPE,
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}" if compression else "w") as tf:
        for name, kind, target, mode, data in entries:
            info = tarfile.TarInfo(name or "x")
            info.type = types[kind]
            info.mode = mode
            info.linkname = target
            if kind == "file":
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return buf.getvalue()


def make_zip(entries: list[tuple[str, str, str, int, bytes]]) -> bytes:
    types = {
        "file": stat.S_IFREG,
        "dir": stat.S_IFDIR,
        "symlink": stat.S_IFLNK,
        "hardlink": stat.S_IFREG,
        "chr": stat.S_IFCHR,
        "fifo": stat.S_IFIFO,
    }
    buf = io.BytesIO()
    # Duplicate names are part of the attack surface; zipfile warns about them.
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore", UserWarning)
        for name, kind, target, mode, data in entries:
            info = zipfile.ZipInfo(name or "x")
            info.create_system = 3
            info.external_attr = (types[kind] | mode) << 16
            zf.writestr(info, target.encode() if kind == "symlink" else data)
    return buf.getvalue()


def unpack_in_a_box(data: bytes, strip: int) -> None:
    """Unpack data in box/dest; only BuildpackError may escape, and box/ holds nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        box = Path(tmp)
        (box / "dest").mkdir()
        src = box / "asset"
        src.write_bytes(data)
        try:
            result = unpack(
                src,
                box / "dest",
                strip_components=strip,
                raw_path="bin/tool",
                limits=Limits(max_bytes=1 << 16, max_entries=20),
            )
        except BuildpackError as e:
            assert "\n" not in e.first_line()
        else:
            root = os.path.realpath(box / "dest")
            for rel in result.files + result.links:
                real = os.path.realpath(box / "dest" / rel)
                assert real == root or real.startswith(root + os.sep), rel
        assert sorted(p.name for p in box.iterdir()) == ["asset", "dest"]


@SETTINGS
@given(members, st.sampled_from(["", "gz", "xz", "bz2"]), st.integers(0, 3))
def test_unpack_generated_tar(
    entries: list[tuple[str, str, str, int, bytes]], compression: str, strip: int
) -> None:
    unpack_in_a_box(make_tar(entries, compression), strip)


@SETTINGS
@given(members, st.integers(0, 3))
def test_unpack_generated_zip(entries: list[tuple[str, str, str, int, bytes]], strip: int) -> None:
    unpack_in_a_box(make_zip(entries), strip)


@SETTINGS
@given(
    st.sampled_from(["tar", "tar.gz", "zip"]),
    st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 4096),
)
def test_unpack_corrupted_archives(kind: str, flips: list[tuple[int, int]], cut: int) -> None:
    good = [("bin/tool", "file", "", 0o755, b"#!/bin/sh\n" * 20), ("doc", "file", "", 0o644, b"d")]
    data = bytearray(make_zip(good) if kind == "zip" else make_tar(good, kind[4:]))
    for offset, value in flips:
        data[offset % len(data)] = value
    unpack_in_a_box(bytes(data[: max(1, len(data) - cut)]), 0)


@SETTINGS
@given(st.binary(max_size=1024))
def test_unpack_any_bytes(data: bytes) -> None:
    unpack_in_a_box(data, 0)


def test_toml_dump_of_a_parsed_entry_is_loadable() -> None:
    """A sanity anchor for the round-trip property above: detect writes to_metadata as TOML."""
    spec = parse_entry({"repo": "a/b", "asset": "x-{os}", "sha256": {"amd64": "a" * 64}}, "e")
    assert parse_entry(loads(dumps(spec.to_metadata()), "plan"), "e") == spec


@SETTINGS
@given(entries)
def test_a_valid_entry_round_trips_through_the_written_plan(table: dict[str, Any]) -> None:
    """What detect writes (our TOML writer) is what build reads back (tomllib), key by key."""
    try:
        spec = parse_entry(table, "fuzz")
    except ConfigError:
        return
    written = dumps({"requires": [{"name": "github-assets", "metadata": spec.to_metadata()}]})
    plan = loads(written, "plan")
    assert parse_entry(plan["requires"][0]["metadata"], "again") == spec


toml_keys = st.text(alphabet=ALPHABET + "\x7f\x1b\u2028", max_size=6)
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=ALPHABET + "\x7f\x1b\x08\x0c\u2028", max_size=12),
)
toml_values = st.recursive(
    toml_scalars | st.lists(toml_scalars, max_size=3),
    lambda inner: (
        st.dictionaries(toml_keys, inner, max_size=3)
        | st.lists(st.dictionaries(toml_keys, inner, max_size=3), min_size=1, max_size=2)
    ),
    max_leaves=12,
)


@SETTINGS
@given(st.dictionaries(toml_keys, toml_values, max_size=5))
def test_the_toml_writer_round_trips_through_tomllib(data: dict[str, Any]) -> None:
    assert loads(dumps(data), "fuzz") == _lists(data)


def _lists(value: Any) -> Any:
    """value as tomllib gives it back (every array a list)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


# -- rate-limit headers ---------------------------------------------------------------------

header_values = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    text,
    st.just("0"),
    st.integers(min_value=1, max_value=500).map(lambda n: "9" * n),  # float() says inf
    st.sampled_from(["\u00b2", "\u0663", "1e3", " 7 ", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
)


@SETTINGS
@given(
    st.sampled_from([200, 401, 403, 404, 429, 500]),
    st.dictionaries(
        st.sampled_from(["retry-after", "x-ratelimit-remaining", "x-ratelimit-reset"]),
        header_values,
    ),
    st.floats(min_value=0, max_value=4e9),
)
def test_rate_limit_headers_never_crash(status: int, headers: dict[str, str], now: float) -> None:
    """Whatever a server or proxy puts in the headers, the answer is a wait or an error line."""
    resp = requests.Response()
    resp.status_code = status
    resp.headers = CaseInsensitiveDict(headers)
    limit = rate_limit(resp, now)
    if limit is None:
        assert status != 429, "a 429 is always a rate limit"
        return
    assert limit.wait is None or 0 <= limit.wait <= MAX_EPOCH
    assert "\n" not in limit.waiting()
    line = api_limit_error(limit, "repo", token=False, error=GitHubError).first_line()
    assert line.startswith("GitHub API ") and "GITHUB_TOKEN" in line
    other = host_limit_error(limit, "the download of x").first_line()
    assert "\n" not in other and "GitHub" not in other and "TOKEN" not in other


# -- what the fuzzer found: stdlib readers that raise more than their own errors ------------


def _gnu_sparse_without_its_extension_block() -> bytes:
    info = tarfile.TarInfo("x")
    buf = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    buf[156] = ord("S")  # old GNU sparse member
    buf[482] = 1  # "an extension block follows", and none does
    buf[148:156] = b"%06o\0 " % tarfile.calc_chksums(bytes(buf))[0]
    return bytes(buf)


def _pax_sparse_map_that_is_not_numbers() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("y")
        info.size = 1
        info.pax_headers = {
            "GNU.sparse.major": "0",
            "GNU.sparse.minor": "1",
            "GNU.sparse.map": "a,b",
            "GNU.sparse.size": "1",
        }
        tf.addfile(info, io.BytesIO(b"z"))
    return buf.getvalue()


def _zip_name_flagged_utf8_that_is_not() -> bytes:
    data = bytearray(make_zip([("ab", "file", "", 0o644, b"x")]))
    central = data.rfind(b"PK\x01\x02")
    data[central + 9] |= 0x08  # general purpose flag bit 11: the name is UTF-8
    data[data.find(b"ab", central)] = 0xFF
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (_gnu_sparse_without_its_extension_block(), "tar"),
        (_pax_sparse_map_that_is_not_numbers(), "tar"),
        (_zip_name_flagged_utf8_that_is_not(), "zip"),
    ],
    ids=["gnu-sparse-truncated", "pax-sparse-map-garbage", "zip-name-not-utf8"],
)
def test_stdlib_reader_crashes_are_archive_errors(tmp_path: Path, data: bytes, kind: str) -> None:
    """tarfile and zipfile raise IndexError/ValueError here; the build prints one line instead."""
    src = tmp_path / "asset"
    src.write_bytes(data)
    (tmp_path / "dest").mkdir()
    with pytest.raises(ArchiveError, match=rf"^failed to unpack {kind} archive: "):
        unpack(src, tmp_path / "dest", strip_components=0, raw_path="tool")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (".=", "Invalid statement (line 1, column 1)"),
        ("{r1=}", "Invalid statement (line 1, column 1)"),
        ("'4'.", "Invalid initial character for a key part (line 1, column 5)"),
        ("a = " + "[" * 5000, "arrays or inline tables nested too deeply"),
    ],
)
def test_toml_the_old_parser_choked_on_is_a_config_error(
    tmp_path: Path, text: str, reason: str
) -> None:
    """toml 0.10 raised IndexError/RecursionError on these; now one line, with the position."""
    (tmp_path / "project.toml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_project(tmp_path, {})
    assert raised.value.first_line() == (
        f"failed to parse project.toml: {reason}; fix the TOML syntax"
    )
