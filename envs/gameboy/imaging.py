"""Screen -> observation (grayscale, downsampled) and a minimal PNG codec for states.

The PNG codec only needs to round-trip what ``encode_png`` writes (8-bit RGB, no filtering), so
states carry a viewable, compact picture without an imaging dependency.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SCREEN_H, SCREEN_W = 144, 160
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Downsampler:
    """RGB(A) screen (144, 160, >=3) -> grayscale (h, w) uint8.

    Integer factors use the mean of each block (no aliasing of 1-pixel details), other sizes pick the
    nearest pixel. Luma is the integer BT.601 mix, exact for the gray DMG palettes.
    """

    def __init__(self, height: int, width: int, channel_order: str = "RGBA") -> None:
        if not (1 <= height <= SCREEN_H and 1 <= width <= SCREEN_W):
            raise ValueError(f"observation size must be within {SCREEN_H}x{SCREEN_W}, got {height}x{width}")
        self.height, self.width = height, width
        self.rgb = tuple(channel_order.index(c) for c in "RGB")
        self.fy, self.fx = SCREEN_H // height, SCREEN_W // width
        self.block = height * self.fy == SCREEN_H and width * self.fx == SCREEN_W
        self.rows = (np.arange(height) * SCREEN_H) // height
        self.cols = (np.arange(width) * SCREEN_W) // width

    def __call__(self, screen: np.ndarray) -> np.ndarray:
        if self.block:
            # sum each channel over the block with strided adds (far cheaper than a reshape-reduce),
            # then mix the small sums: n * 255 * 256 fits uint32 for any block that fits the screen
            sums = []
            for c in self.rgb:
                ch = screen[:, :, c]
                acc = np.zeros((self.height, self.width), np.uint32)
                for dy in range(self.fy):
                    for dx in range(self.fx):
                        acc += ch[dy::self.fy, dx::self.fx]
                sums.append(acc)
            n = self.fy * self.fx
            luma = sums[0] * 77 + sums[1] * 150 + sums[2] * 29
            return ((luma + (n << 7)) // (n << 8)).astype(np.uint8)
        small = screen[self.rows][:, self.cols]
        r, g, b = (small[:, :, c].astype(np.uint32) for c in self.rgb)
        return ((r * 77 + g * 150 + b * 29 + 128) >> 8).astype(np.uint8)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (H, W, 3) uint8."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, c = rgb.shape
    if c != 3:
        raise ValueError("encode_png takes (H, W, 3) RGB")
    rows = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)  # filter byte 0
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (_PNG_MAGIC + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + _chunk(b"IEND", b""))


def decode_png(data: bytes) -> np.ndarray:
    """Inverse of ``encode_png`` (8-bit RGB, filter 0 rows only)."""
    if not data.startswith(_PNG_MAGIC):
        raise ValueError("not a PNG")
    pos, idat, size = len(_PNG_MAGIC), b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, color, interlace) != (8, 2, 0):
                raise ValueError("only 8-bit RGB, non-interlaced PNGs are supported")
            size = (h, w)
        elif kind == b"IDAT":
            idat += body
    if size is None:
        raise ValueError("PNG without IHDR")
    h, w = size
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * 3)
    if rows[:, 0].any():
        raise ValueError("filtered PNG rows are not supported")
    return rows[:, 1:].reshape(h, w, 3).copy()
