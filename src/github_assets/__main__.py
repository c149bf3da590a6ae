"""Dispatch: the CNB phases (`detect`, `build`: what bin/* run), else the github-assets
command (cli.py, whose table VERBS lists its verbs); exit codes, and the one top-level
error print of the phases."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .errors import BuildpackError, report

DETECT_ERROR = 1
BUILD_ERROR = 1
PHASES = ("detect", "build")


def main(argv: Sequence[str]) -> int:
    """Run a phase; expected failures and OS errors print one line, bugs a traceback too."""
    if not argv:
        sys.stderr.write(
            "usage: python3 -m github_assets VERB [options]  (the github-assets command; -h)\n"
            "       python3 -m github_assets detect|build [CNB args...]  (what bin/* run)\n"
        )
        return 2
    if argv[0] not in PHASES:
        from .cli import main as cli

        return cli(argv)
    phase, args = argv[0], list(argv[1:])
    env = dict(os.environ)
    try:
        if phase == "detect":
            from .detect import run_detect

            return run_detect(args, env)
        from .runner import run_build

        bp_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
        return run_build(args, env, bp_dir)
    except BuildpackError as e:
        report(e, env)
        return DETECT_ERROR if phase == "detect" else BUILD_ERROR
    except OSError as e:
        # The deeper layers name the asset and what they were doing; this is the net under them.
        from .errors import os_error

        report(os_error(e, phase), env)
        return DETECT_ERROR if phase == "detect" else BUILD_ERROR


if __name__ == "__main__":
    # `python3 -m github_assets` from the source tree or an unpacked buildpack: the
    # vendored dependencies sit beside src/ (a pip-installed package has its own).
    _vendor = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "vendor")
    if os.path.isdir(_vendor):
        sys.path.insert(1, _vendor)
    sys.exit(main(sys.argv[1:]))
