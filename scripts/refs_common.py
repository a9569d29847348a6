"""Shared helpers for the reference generators: writing .npy files and the manifest."""

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ROOT / "references"
MANIFEST = REFERENCES / "manifest.json"


def versions(*packages):
    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save(kernel, name, array, entry):
    """Saves references/<kernel>/<name>.npy (float64, C order) and records it in the manifest."""
    path = REFERENCES / kernel / f"{name}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.ascontiguousarray(array, dtype=np.float64))
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    rel = str(path.relative_to(ROOT))
    manifest[rel] = {**entry, "shape": list(array.shape), "sha256": sha256(path)}
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    print(f"wrote {rel} {array.shape}")
    return path
