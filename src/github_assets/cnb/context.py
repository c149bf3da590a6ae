"""The CNB environment of a phase: directories from env vars or positional args."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import BuildpackError
from ..platform import Target, target_from_env
from ..record import Record


class BuildContext(Record):
    app_dir: Path
    buildpack_dir: Path
    platform_dir: Path
    layers_dir: Path
    plan_path: Path
    env: Mapping[str, str]
    target: Target


def _pick(env: Mapping[str, str], name: str, args: Sequence[str], index: int, phase: str) -> Path:
    value = env.get(name) or (args[index] if len(args) > index else "")
    if not value:
        raise BuildpackError(
            f"{phase}: {name} is not set and no positional argument gives it",
            hint="run this under a CNB lifecycle (Buildpack API 0.10)",
        )
    return Path(value)


def build_context(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, default_bp_dir: Path
) -> BuildContext:
    """API 0.10 build: bin/build <layers> <platform> <plan>, or the CNB_* variables."""
    return BuildContext(
        app_dir=cwd,
        buildpack_dir=Path(env.get("CNB_BUILDPACK_DIR") or default_bp_dir),
        layers_dir=_pick(env, "CNB_LAYERS_DIR", args, 0, "build"),
        platform_dir=_pick(env, "CNB_PLATFORM_DIR", args, 1, "build"),
        plan_path=_pick(env, "CNB_BP_PLAN_PATH", args, 2, "build"),
        env=env,
        target=target_from_env(env),
    )
