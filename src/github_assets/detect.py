"""Detect: provide github-assets always; require one per configured asset.

Imports nothing from the HTTP stack: detect runs for every app on a builder.
"""

from __future__ import annotations

from .cnb.context import DetectContext
from .cnb.plan import PROVIDES, DetectResult, Require
from .config import load_project


def detect(ctx: DetectContext) -> DetectResult:
    """Pass with `provides github-assets`, plus one `requires` per asset in the app's config."""
    specs = load_project(ctx.app_dir, ctx.env)
    return DetectResult(
        provides=(PROVIDES,),
        requires=tuple(Require(PROVIDES, spec.to_metadata()) for spec in specs),
    )
