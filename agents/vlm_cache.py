"""On-disk cache of chat-completion responses, so re-running a comparison sends no request at all.

The key is a SHA-256 over the endpoint URL and the request body as sent (model name, prompt text,
generation settings and extra body fields, the message layout), with each image replaced by the SHA-256
of its pixels (shape, dtype and bytes: stable across PNG encoders). The URL is part of it because two
servers can serve different models (or weights, or chat templates) under one model name. One small JSON
file per response, written to a temporary file and renamed, so concurrent threads (or processes) never
read half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from agents.outputs import json_object_or_none, written_beside
from agents.runs import remove_dead_temps


def default_cache_dir() -> Path:
    """``$DEPTHFIRST_VLM_CACHE``, else ``$XDG_CACHE_HOME/depthfirst/vlm`` (``~/.cache/depthfirst/vlm``).
    A ``~`` the shell left (a quoted value) is expanded, as in ``--cache-dir``, and a relative
    ``$DEPTHFIRST_VLM_CACHE`` is taken from the working folder, as ``--cache-dir`` is. A relative
    ``$XDG_CACHE_HOME`` is ignored, as the XDG Base Directory spec says: it is invalid there."""
    if os.environ.get("DEPTHFIRST_VLM_CACHE"):
        return Path(os.environ["DEPTHFIRST_VLM_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "depthfirst" / "vlm"


def image_digest(image: np.ndarray) -> str:
    """SHA-256 of an image's pixels, shape and dtype."""
    image = np.ascontiguousarray(image)
    h = hashlib.sha256(f"{image.shape}|{image.dtype}|".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def cache_key(url: str, request: dict[str, Any]) -> str:
    """The key of ``request`` (a JSON-able body, images as digests) sent to ``url``."""
    blob = json.dumps({"url": url, "request": request}, sort_keys=True)  # ASCII: any str encodes
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def check_cache_dir(root: Path, name: str) -> None:
    """Make sure ``root`` can be the cache folder: a folder, or one that can be made, in which a file can be
    written; ValueError naming it (``name``, e.g. the flag) and what to change otherwise (a file in the
    way, no permission). Nothing is made: the first answer cached makes it, so a command refused after
    this check (a bad game option, a full ``--out``) leaves no empty folder behind."""
    hint = "give another folder with --cache-dir, or pass --no-cache"
    if root.exists() and not root.is_dir():
        raise ValueError(f"{name} is a file, not a folder; {hint}")
    existing = root.absolute()
    while not existing.exists():  # the nearest folder that is, where the missing ones would be made
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{name} cannot be used: {existing} is a file, not a folder; {hint}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValueError(f"{name} cannot be used: {e.strerror or e}; {hint}") from None


class ResponseCache:
    """``get``/``put`` JSON-able responses under ``root/<key[:2]>/<key>.json``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.warned = False  # a failed put is said once

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response, or None (a missing or unreadable entry is a miss, never an error)."""
        return json_object_or_none(self._path(key))

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store a response; one that cannot be stored (a full disk) is said once on stderr and left out:
        the answer, maybe paid for, is still used, and the run goes on."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_dead_temps(path, "command")  # a miss: one killed while caching it may have left its temp
            with written_beside(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
                json.dump(value, f, ensure_ascii=False)
        except OSError as e:
            self._warn(e)

    def _warn(self, e: OSError) -> None:
        if not self.warned:
            self.warned = True
            print(f"warning: cannot cache answers in {self.root} ({e.strerror or e}); they are used but not "
                  "cached", file=sys.stderr)

    def __len__(self) -> int:
        # not the hidden temp files (written_beside's) of a put killed mid-write
        return sum(1 for _ in self.root.glob("*/[!.]*.json")) if self.root.is_dir() else 0
