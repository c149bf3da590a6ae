"""What the build makes reachable for other users and processes: the layer's executables on
PATH (env files the lifecycle applies) and the app-dir link's directories, through bin/build."""

from __future__ import annotations

import stat

from tools.github_standin import StandIn

from support import CnbDirs, write_plan

UMASK_077 = ["sh", "-c", 'umask 077 && exec "$0" "$@"']


def test_the_link_directories_in_the_app_dir_are_0755_under_umask_077(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """A hardened runner (umask 077) must not make the link's parents 0700: the image's run
    user is not the build user and could not reach /workspace/<link> through them."""
    standin.add_release("acme/tool", "v1", {"tool": b"#!/bin/sh\necho hi\n"})
    cnb.prefix = UMASK_077
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/tool"\nasset = "tool"\ntag = "v1"\n'
        'link = "probes/deep/tool"\n'
    )
    write_plan(cnb)
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    modes = {d: stat.S_IMODE((cnb.app / d).stat().st_mode) for d in ("probes", "probes/deep")}
    assert modes == {"probes": 0o755, "probes/deep": 0o755}
    assert (
        cnb.app / "probes" / "deep" / "tool"
    ).resolve() == cnb.layers / "acme_tool" / "bin" / "tool"
