"""Detect: provide github-assets always; require one per configured asset.

Runs for every app on a builder, so it stays lean: no HTTP stack, no dataclasses,
no pathlib (see config.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from .cnb.plan import PROVIDES, DetectResult, Require, write_build_plan
from .config import load_entries
from .errors import BuildpackError


def detect(app_dir: str, env: Mapping[str, str]) -> DetectResult:
    """Pass with `provides github-assets`, plus one `requires` per asset in the app's config,
    its metadata the asset's table as written (once it validated)."""
    entries = load_entries(app_dir, env)
    return DetectResult(
        provides=(PROVIDES,),
        requires=tuple(Require(PROVIDES, table) for _, table in entries),
    )


def run_detect(args: Sequence[str], env: Mapping[str, str]) -> int:
    """API 0.10: bin/detect <platform> <plan>, or CNB_BUILD_PLAN_PATH; the app is the cwd."""
    plan = env.get("CNB_BUILD_PLAN_PATH") or (args[1] if len(args) > 1 else "")
    if not plan:
        raise BuildpackError(
            "detect: CNB_BUILD_PLAN_PATH is not set and no positional argument gives it",
            hint="run this under a CNB lifecycle (Buildpack API 0.10)",
        )
    write_build_plan(plan, detect(os.getcwd(), env))
    return 0
