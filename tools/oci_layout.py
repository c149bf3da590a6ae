"""A minimal run image in OCI image layout form, for the lifecycle's layout mode."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path


def _blob(root: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"sha256:{digest}"


def write_run_image(root: Path, arch: str = "amd64") -> None:
    """An image with one tiny layer (/etc/os-release) and CNB run-image labels."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        data = b'ID=test\nVERSION_ID="1"\n'
        info = tarfile.TarInfo("etc/os-release")
        info.size = len(data)
        info.mtime = 315532800
        tf.addfile(info, io.BytesIO(data))
    layer = raw.getvalue()
    diff_id = f"sha256:{hashlib.sha256(layer).hexdigest()}"
    compressed = gzip.compress(layer, mtime=0)
    layer_digest = _blob(root, compressed)
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {
                "User": "1000:1000",
                "Labels": {"io.buildpacks.stack.id": "test.stack"},
                "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    config_digest = _blob(root, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest,
                    "size": len(compressed),
                }
            ],
        }
    ).encode()
    manifest_digest = _blob(root, manifest)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": manifest_digest,
                        "size": len(manifest),
                    }
                ],
            }
        )
    )
