"""The one failure of provenance checks: a line that names the check that did not hold."""

from __future__ import annotations

from ..errors import BuildpackError


class ProvenanceError(BuildpackError):
    """A signature, bundle or trusted root did not verify; the message names the check."""
