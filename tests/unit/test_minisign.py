"""minisign verification against signatures made by real signers, and mutations of them.

The signers: py-minisign (a development dependency, by minisign's author among others) on random
keys and messages, and the `minisign` command itself when it is on PATH (Debian's package).
"""

from __future__ import annotations

import base64
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import minisign as reference
import pytest

from github_assets.provenance import minisign


def _ours(key_line: str, signature_file: bytes, message: bytes) -> bool:
    try:
        minisign.verify(
            minisign.parse_public_key(key_line), minisign.parse_signature(signature_file), message
        )
    except minisign.MinisignError:
        return False
    return True


def _theirs(key_line: str, signature_file: bytes, message: bytes) -> bool:
    try:
        reference.PublicKey.from_base64(key_line).verify(
            message, reference.Signature.from_bytes(signature_file)
        )
    except reference.Error:
        return False
    return True


def _lines(signature_file: bytes) -> list[bytes]:
    return signature_file.split(b"\n")


def _replace_line(signature_file: bytes, index: int, line: bytes) -> bytes:
    lines = _lines(signature_file)
    lines[index] = line
    return b"\n".join(lines)


def _flip_in_b64_line(signature_file: bytes, index: int, byte: int) -> bytes:
    raw = bytearray(base64.b64decode(_lines(signature_file)[index]))
    raw[byte % len(raw)] ^= 0x01
    return _replace_line(signature_file, index, base64.b64encode(bytes(raw)))


def _mutations(
    rng: random.Random, signature_file: bytes, message: bytes
) -> list[tuple[str, bytes, bytes]]:
    return [
        ("message", signature_file, message + b"\n"),
        ("algorithm", _flip_in_b64_line(signature_file, 1, 1), message),
        ("key id", _flip_in_b64_line(signature_file, 1, rng.randrange(2, 10)), message),
        ("signature", _flip_in_b64_line(signature_file, 1, rng.randrange(10, 74)), message),
        (
            "trusted comment",
            _replace_line(signature_file, 2, _lines(signature_file)[2] + b" (edited)"),
            message,
        ),
        ("global signature", _flip_in_b64_line(signature_file, 3, rng.randrange(64)), message),
        (
            "untrusted comment",  # not signed: still valid, for both
            _replace_line(signature_file, 0, b"untrusted comment: anything at all"),
            message,
        ),
    ]


@pytest.mark.parametrize("prehash", [True, False], ids=["ED prehashed", "Ed legacy"])
def test_same_verdict_as_py_minisign_on_random_keys_and_mutations(prehash: bool) -> None:
    rng = random.Random(2323 + prehash)
    accepted = refused = 0
    for _ in range(8):
        pair = reference.KeyPair.generate()
        key_line = pair.public_key.to_base64().decode()
        message = rng.randbytes(rng.randrange(0, 3000))
        signature_file = bytes(
            pair.secret_key.sign(message, prehash=prehash, trusted_comment="timestamp:1\tfile:x")
        )
        assert _ours(key_line, signature_file, message)
        assert minisign.parse_signature(signature_file).prehashed is prehash
        other_key = reference.KeyPair.generate().public_key.to_base64().decode()
        cases = [("other key", signature_file, message)]
        cases += _mutations(rng, signature_file, message)
        for what, mutated, data in cases:
            key = other_key if what == "other key" else key_line
            expected = _theirs(key, mutated, data)
            assert _ours(key, mutated, data) is expected, what
            accepted += expected
            refused += not expected
    assert accepted == 8 and refused == 8 * 7


def test_each_failed_check_is_named() -> None:
    pair = reference.KeyPair.generate()
    key = minisign.parse_public_key(pair.public_key.to_base64().decode())
    signature_file = bytes(pair.secret_key.sign(b"asset", trusted_comment="file:asset"))
    good = minisign.parse_signature(signature_file)
    minisign.verify(key, good, b"asset")
    with pytest.raises(minisign.MinisignError, match=r"^minisign: the signature does not verify$"):
        minisign.verify(key, good, b"other asset")
    comment = _replace_line(signature_file, 2, b"trusted comment: file:other")
    with pytest.raises(minisign.MinisignError, match="global signature over the trusted comment"):
        minisign.verify(key, minisign.parse_signature(comment), b"asset")
    other = minisign.parse_public_key(reference.KeyPair.generate().public_key.to_base64().decode())
    with pytest.raises(minisign.MinisignError, match=f"not by the configured {other.key_id_text}$"):
        minisign.verify(other, good, b"asset")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RWQ", "not base64"),
        ("RWQSCAJxMf2rCs8JaYkfwgfnxsm1/y3P6ZAwJr3M2VGIZcWIoUqUre==", "holds 40 bytes, not 42"),
        (base64.b64encode(b"ED" + bytes(40)).decode(), "not an Ed25519 key"),
        ("RWQSCAJxMf2rCs8JaYkfwgfnxsm1/y3P6ZAwJr3M2VGIZcWIoUqUreK0 x", "not base64"),
    ],
)
def test_bad_public_keys(text: str, message: str) -> None:
    with pytest.raises(minisign.MinisignError, match=message):
        minisign.parse_public_key(text)


def _signature_file() -> bytes:
    pair = reference.KeyPair.generate()
    return bytes(pair.secret_key.sign(b"x", trusted_comment="t"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: b"\n".join(_lines(s)[:3]), "fewer than 4 lines"),
        (lambda s: _replace_line(s, 0, b"comment: x"), "first line is not an untrusted comment"),
        (lambda s: _replace_line(s, 2, b"comment: x"), "third line is not a trusted comment"),
        (lambda s: _replace_line(s, 1, b"!!!!"), "signature line is not base64"),
        (lambda s: _replace_line(s, 3, base64.b64encode(bytes(63))), "holds 63 bytes, not 64"),
        (
            lambda s: _replace_line(s, 1, base64.b64encode(b"XX" + bytes(72))),
            "unsupported signature algorithm b'XX'",
        ),
        (lambda s: _replace_line(s, 2, b"trusted comment: " + b"a" * 9000), "too long"),
        (lambda s: s + b"\n" * 20000, "larger than 16384 bytes"),
    ],
)
def test_bad_signature_files(mutate: Callable[[bytes], bytes], message: str) -> None:
    with pytest.raises(minisign.MinisignError, match=message):
        minisign.parse_signature(mutate(_signature_file()))


def test_crlf_line_ends_and_trailing_lines_are_read_as_minisign_does() -> None:
    pair = reference.KeyPair.generate()
    signature_file = bytes(pair.secret_key.sign(b"x", trusted_comment="t"))
    crlf = signature_file.replace(b"\n", b"\r\n") + b"\r\nextra line\r\n"
    assert _ours(pair.public_key.to_base64().decode(), crlf, b"x")


FIXTURES = Path(__file__).parents[1] / "data" / "minisign"


@pytest.mark.parametrize(
    ("name", "prehashed"),
    [("release.txt.minisig", True), ("release.txt.legacy.minisig", False)],
)
def test_signatures_the_minisign_command_wrote(name: str, prehashed: bool) -> None:
    pub = (FIXTURES / "minisign.pub").read_text().splitlines()
    key = minisign.parse_public_key(pub[1])
    assert pub[0] == f"untrusted comment: minisign public key {key.key_id_text}"
    signature_file = (FIXTURES / name).read_bytes()
    signature = minisign.parse_signature(signature_file)
    assert signature.prehashed is prehashed
    data = (FIXTURES / "release.txt").read_bytes()
    minisign.verify(key, signature, data)
    rng = random.Random(11)
    for what, mutated, message in _mutations(rng, signature_file, data):
        refused = what != "untrusted comment"
        assert _ours(pub[1], mutated, message) is not refused, what
        assert _theirs(pub[1], mutated, message) is not refused, what


MINISIGN = shutil.which("minisign")


@pytest.mark.skipif(
    MINISIGN is None, reason="the minisign command is not on PATH (apt-get install minisign)"
)
@pytest.mark.parametrize("legacy", [False, True], ids=["ED prehashed", "Ed legacy"])
def test_signatures_of_the_minisign_command(tmp_path: Path, legacy: bool) -> None:
    assert MINISIGN is not None
    subprocess.run(
        [MINISIGN, "-G", "-W", "-p", "k.pub", "-s", "k.sec"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    key_line = (tmp_path / "k.pub").read_text().splitlines()[1]
    printed_id = (tmp_path / "k.pub").read_text().splitlines()[0].rsplit(" ", 1)[1]
    assert minisign.parse_public_key(key_line).key_id_text == printed_id
    asset = tmp_path / "tool.tar.gz"
    asset.write_bytes(random.Random(5).randbytes(70000))
    sign = [MINISIGN, "-S", "-s", "k.sec", "-m", asset.name, "-t", "release v1"]
    subprocess.run(sign + (["-l"] if legacy else []), cwd=tmp_path, check=True, capture_output=True)
    signature_file = (tmp_path / "tool.tar.gz.minisig").read_bytes()
    assert minisign.parse_signature(signature_file).prehashed is not legacy
    rng = random.Random(7)
    cases = [("valid", signature_file, asset.read_bytes())]
    cases += _mutations(rng, signature_file, asset.read_bytes())
    for what, mutated, data in cases:
        (tmp_path / "m.minisig").write_bytes(mutated)
        (tmp_path / "m.bin").write_bytes(data)
        verdict = (
            subprocess.run(
                [MINISIGN, "-V", "-q", "-P", key_line, "-x", "m.minisig", "-m", "m.bin"],
                cwd=tmp_path,
                capture_output=True,
            ).returncode
            == 0
        )
        assert _ours(key_line, mutated, data) is verdict, what
        assert verdict is (what in ("valid", "untrusted comment")), what


@pytest.mark.parametrize("prehash", [True, False], ids=["ED prehashed", "Ed legacy"])
def test_the_signed_data_may_stream_by_in_chunks(prehash: bool) -> None:
    pair = reference.KeyPair.generate()
    data = random.Random(3).randbytes(300_000)
    signature = minisign.parse_signature(bytes(pair.secret_key.sign(data, prehash=prehash)))
    key = minisign.parse_public_key(pair.public_key.to_base64().decode())
    check = minisign.Message(key, signature)
    check.update(b"bytes of an attempt that was cut off")
    check.reset()  # the fetch started over
    for start in range(0, len(data), 65536):
        check.update(memoryview(data)[start : start + 65536])
    check.verify()
    check.update(b"x")
    with pytest.raises(minisign.MinisignError, match="the signature does not verify"):
        check.verify()
