"""Phase dispatch: `detect` or `build`, exit codes, and the one top-level error print."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .errors import BuildpackError

DETECT_ERROR = 1
BUILD_ERROR = 1


def _secrets(env: dict[str, str]) -> list[str]:
    return [v for k, v in env.items() if v and ("TOKEN" in k.upper() or "SECRET" in k.upper())]


def _report(e: BuildpackError, env: dict[str, str]) -> None:
    from .log import redact

    secrets = _secrets(env)
    sys.stderr.write("error: " + redact(e.first_line(), secrets) + "\n")
    if e.details:
        sys.stderr.write(redact(e.details, secrets).rstrip("\n") + "\n")


def main(argv: Sequence[str]) -> int:
    """Run a phase; expected failures and OS errors print one line, bugs a traceback too."""
    if not argv or argv[0] not in ("detect", "build"):
        sys.stderr.write("usage: python3 -m github_assets detect|build [CNB args...]\n")
        return 2
    phase, args = argv[0], list(argv[1:])
    env = dict(os.environ)
    try:
        if phase == "detect":
            from .detect import run_detect

            return run_detect(args, env)
        from pathlib import Path

        from .runner import run_build

        return run_build(args, env, Path(__file__).resolve().parent.parent.parent)
    except BuildpackError as e:
        _report(e, env)
        return DETECT_ERROR if phase == "detect" else BUILD_ERROR
    except OSError as e:
        # The deeper layers name the asset and what they were doing; this is the net under them.
        from .errors import os_error

        _report(os_error(e, phase), env)
        return DETECT_ERROR if phase == "detect" else BUILD_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
