"""Content-addressed PNG storage: every distinct image is written once, named by the hash of its pixels.

Paths are ``images/<h[:2]>/<h>.png`` relative to the dataset root, so two records (or two worker
processes) that draw the same picture share one file, and the name alone says whether two images are
identical (the splits use that to keep identical states out of both train and test).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from agents.outputs import written_beside
from envs.png import encode_png

IMAGE_DIR = "images"


def image_hash(img: np.ndarray) -> str:
    """SHA-1 of the shape and the raw pixels (two equal arrays always get the same name)."""
    h = hashlib.sha1(repr((img.shape, img.dtype.str)).encode())
    h.update(np.ascontiguousarray(img).tobytes())
    return h.hexdigest()


def check_image(img: object, where: str) -> np.ndarray:
    """An RGB (H, W, 3), RGBA (H, W, 4) or gray (H, W) uint8 array, or a ``ValueError`` naming ``where``
    it came from."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3) or (
            img.ndim == 3 and img.shape[2] not in (3, 4)) or 0 in img.shape:
        desc = f"{type(img).__name__} {getattr(img, 'dtype', '')} {getattr(img, 'shape', '')}".strip()
        raise ValueError(f"{where}: images must be uint8 arrays (H, W, 3), (H, W, 4) or (H, W), got {desc}")
    return img


class ImageStore:
    """Writes PNGs under ``root/images`` once per distinct image; safe to share between processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.seen: set[str] = set()

    def put(self, img: np.ndarray) -> str:
        """Store ``img`` (if new) and return its path relative to the dataset root."""
        h = image_hash(img)
        rel = f"{IMAGE_DIR}/{h[:2]}/{h}.png"
        if h in self.seen:
            return rel
        path = self.root / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # A reader (or a second writer of the same image) never sees half a file. Signals stay as they
            # are: an export worker ignores them (its export stops it).
            with written_beside(path, signals=False) as tmp:
                tmp.write_bytes(encode_png(img))
        self.seen.add(h)
        return rel
