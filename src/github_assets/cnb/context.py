"""The CNB environment of a phase: directories from env vars or positional args."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import BuildpackError
from ..platform import Target, target_from_env
from ..record import Record


class BuildContext(Record):
    app_dir: str
    buildpack_dir: str
    platform_dir: str
    layers_dir: str
    plan_path: str
    env: Mapping[str, str]
    target: Target


def _pick(env: Mapping[str, str], name: str, args: Sequence[str], index: int, phase: str) -> str:
    value = env.get(name) or (args[index] if len(args) > index else "")
    if not value:
        raise BuildpackError(
            f"{phase}: {name} is not set and no positional argument gives it",
            hint="run this under a CNB lifecycle (Buildpack API 0.10)",
        )
    return value


def build_context(
    args: Sequence[str], env: Mapping[str, str], cwd: str, default_bp_dir: str
) -> BuildContext:
    """API 0.10 build: bin/build <layers> <platform> <plan>, or the CNB_* variables."""
    return BuildContext(
        app_dir=cwd,
        buildpack_dir=env.get("CNB_BUILDPACK_DIR") or default_bp_dir,
        layers_dir=_pick(env, "CNB_LAYERS_DIR", args, 0, "build"),
        platform_dir=_pick(env, "CNB_PLATFORM_DIR", args, 1, "build"),
        plan_path=_pick(env, "CNB_BP_PLAN_PATH", args, 2, "build"),
        env=env,
        target=target_from_env(env),
    )
