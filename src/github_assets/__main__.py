"""Phase dispatch: `detect` or `build`, exit codes, and the one top-level error print."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import BuildpackError
from .log import redact

DETECT_ERROR = 1
BUILD_ERROR = 1


def _secrets(env: dict[str, str]) -> list[str]:
    return [v for k, v in env.items() if v and ("TOKEN" in k.upper() or "SECRET" in k.upper())]


def _report(e: BuildpackError, env: dict[str, str]) -> None:
    secrets = _secrets(env)
    sys.stderr.write("error: " + redact(e.first_line(), secrets) + "\n")
    if e.details:
        sys.stderr.write(redact(e.details, secrets).rstrip("\n") + "\n")


def main(argv: Sequence[str]) -> int:
    """Run a phase; expected failures print one line, unexpected ones a traceback too."""
    if not argv or argv[0] not in ("detect", "build"):
        sys.stderr.write("usage: python3 -m github_assets detect|build [CNB args...]\n")
        return 2
    phase, args = argv[0], list(argv[1:])
    env = dict(os.environ)
    bp_dir = Path(__file__).resolve().parent.parent.parent
    try:
        if phase == "detect":
            from .cnb.context import detect_context
            from .cnb.plan import write_build_plan
            from .detect import detect

            ctx = detect_context(args, env, Path.cwd(), bp_dir)
            write_build_plan(ctx.plan_path, detect(ctx))
            return 0
        from .runner import run_build

        return run_build(args, env, bp_dir)
    except BuildpackError as e:
        _report(e, env)
        return DETECT_ERROR if phase == "detect" else BUILD_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
