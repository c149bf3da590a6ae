"""Asset selection measured on copies of real releases (tools/releases.py, every asset listed).

With `asset` removed from each hand-written config, the choice for linux/amd64 and
linux/arm64 must equal the hand-written asset for at least 19 of every 20 entries,
and whatever it picks must be a program for that target: the bytes are an ELF file
of the target's machine, or an archive holding one (never a package, signature,
checksum file, SBOM, source archive or another OS's build, which in the copies are
stand-in texts or carry no such ELF file).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

import pytest
from tools.elf import MACHINES, elf_machine
from tools.releases import TARGETS, catalogue

from github_assets.assetpick import Libc, choose
from github_assets.errors import GitHubError
from github_assets.platform import Target

COPIES = catalogue()


def programs_inside(data: bytes) -> list[bytes]:
    """The asset itself, or the members of an archive (or a lone compressed file)."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [zf.read(i) for i in zf.infolist() if not i.is_dir()]
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:6] == b"\xfd7zXZ\x00":
        data = lzma.decompress(data)
    elif data[:3] == b"BZh":
        data = bz2.decompress(data)
    if data[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            return [f.read() for m in tf.getmembers() if m.isfile() and (f := tf.extractfile(m))]
    return [data]


def measure(libc: Libc) -> tuple[list[str], list[str]]:
    """(matches, misses) as 'key[#entry] target' strings, over every live entry and target."""
    matches, misses = [], []
    for copy in COPIES.values():
        for index, entry in enumerate(copy.entries):
            cfg = dict(entry.config)
            for target in TARGETS:
                want = entry.expected[target]
                if want.skipped:
                    continue
                label = f"{copy.key}#{index} {target}"
                os_name, arch = target.split("/")
                try:
                    got = choose(
                        list(copy.assets),
                        Target(os_name, arch),
                        libc=libc,
                        files="files" in cfg,
                        repo=cfg["repo"],
                        release=f"{copy.repo} {copy.tag}",
                    ).name
                except GitHubError as e:
                    misses.append(f"{label}: {e.first_line()}")
                    continue
                machines = {elf_machine(p) for p in programs_inside(copy.assets[got])}
                assert MACHINES[arch] in machines, f"{label}: chose {got}, no {arch} program"
                if got == want.asset:
                    matches.append(label)
                else:
                    misses.append(f"{label}: chose {got}, the cookbook says {want.asset}")
    return matches, misses


@pytest.mark.parametrize("libc", ["glibc", "unknown"])
def test_selection_matches_the_cookbook_for_19_of_every_20(libc: Libc) -> None:
    matches, misses = measure(libc)
    total = len(matches) + len(misses)
    missed_tools = {m.split("#", 1)[0] for m in misses}
    print(
        f"\nasset selection ({libc}): {len(matches)} of {total} entry-targets match the "
        f"cookbook; {len(COPIES) - len(missed_tools)} of {len(COPIES)} tools on every target"
    )
    for miss in misses:
        print("  miss:", miss)
    assert total >= 60, "the copies cover at least 30 tools"
    assert len(matches) * 20 >= total * 19, misses


def test_add_templates_the_shortest_tied_name_as_written_by_hand() -> None:
    """Where selection ties (tini, cosign), `add` writes a template from the shortest tied
    name per target: it renders to the hand-written asset on both targets."""
    from github_assets.assetpick import consider, template_for
    from github_assets.platform import render

    for key in ("tini", "cosign"):
        copy = COPIES[key]
        entry = copy.entries[0]
        picks = {}
        for target in TARGETS:
            t = Target(*target.split("/"))
            outcomes = consider(list(copy.assets), t, libc="glibc", files=False, repo=copy.repo)
            best = [c.name for c in outcomes if c.outcome in ("chosen", "tie")]
            picks[t] = min(best, key=lambda n: (len(n), n))
        made = template_for(picks, copy.tag)
        assert made is not None, key
        template, replacements = made
        for t in picks:
            assert render(template, t, copy.tag, replacements) == entry.expected[str(t)].asset
