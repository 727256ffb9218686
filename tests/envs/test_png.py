"""envs.png: the one PNG codec (image store files, Game Boy state screens)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from envs.png import decode_png, encode_png


@pytest.mark.parametrize("shape", [(144, 160, 3), (7, 5), (9, 4, 4), (1, 1, 3)])
def test_round_trip_and_what_pillow_reads(shape: tuple[int, ...]) -> None:
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(img)
    assert np.array_equal(decode_png(data), img)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), img)
    assert encode_png(img.copy()) == data  # the same pixels, the same bytes (files are named by content)


def _rgb_png(rgb: np.ndarray, row_filter: int = 0) -> bytes:
    """RGB rows, each led by ``row_filter``, at zlib level 6: with 0, what the Game Boy states stored
    before the two codecs became one."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    h, w, _ = rgb.shape
    rows = np.concatenate([np.full((h, 1), row_filter, np.uint8), rgb.reshape(h, w * 3)], axis=1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b""))


def test_reads_the_unfiltered_screens_of_older_states() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (144, 160, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(_rgb_png(rgb)), rgb)


def test_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        decode_png(b"GIF89a")
    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8), mode="L").convert("P").save(buf, format="PNG")
    with pytest.raises(ValueError, match="8-bit gray, RGB or RGBA"):
        decode_png(buf.getvalue())  # a palette PNG
    with pytest.raises(ValueError, match="filtered"):
        decode_png(_rgb_png(np.zeros((4, 4, 3), np.uint8), row_filter=1))  # "Sub" rows
    with pytest.raises(ValueError, match=r"^encode_png takes a uint8 \(H, W\) or \(H, W, 1\|3\|4\) array, "
                                         r"got float32 \(2, 2\)$"):
        encode_png(np.zeros((2, 2), np.float32))


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks as (tag, body), in order."""
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(struct.pack(">I", len(body)) + tag + body
                                          + struct.pack(">I", zlib.crc32(tag + body)) for tag, body in chunks)


def test_reads_image_data_split_over_several_idat_chunks() -> None:
    """PNG lets the compressed stream run over several IDAT chunks (encoders split large images):
    the decoder joins them, not keeps the last."""
    img = np.random.default_rng(2).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    (ihdr, (_, idat), iend) = _chunks(encode_png(img))
    split = _png([ihdr, (b"IDAT", idat[:7]), (b"IDAT", idat[7:20]), (b"IDAT", idat[20:]), iend])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(split))), img)  # a valid PNG
    assert np.array_equal(decode_png(split), img)


def test_refuses_by_name_16_bit_interlaced_headerless_pngs_and_two_channels() -> None:
    """The docstring's refusals are ValueErrors that say what is read, not a reshape or unpack failure."""
    (_, header), idat, iend = _chunks(encode_png(np.zeros((4, 4, 3), np.uint8)))
    w, h, _, color, comp, filt, _ = struct.unpack(">IIBBBBB", header)
    for depth, interlace in ((16, 0), (8, 1)):
        head = struct.pack(">IIBBBBB", w, h, depth, color, comp, filt, interlace)
        bad = _png([(b"IHDR", head), idat, iend])
        with pytest.raises(ValueError, match="only 8-bit gray, RGB or RGBA non-interlaced"):
            decode_png(bad)
    with pytest.raises(ValueError, match="without IHDR"):
        decode_png(_png([idat, iend]))
    with pytest.raises(ValueError, match=r"\(H, W, 1\|3\|4\)"):
        encode_png(np.zeros((2, 2, 2), np.uint8))  # gray + alpha: no colour type here
    with pytest.raises(ValueError, match=r"\(H, W, 1\|3\|4\)"):
        encode_png(np.zeros((2, 2, 3, 2), np.uint8))  # a stack of images, not NumPy's reshape error
    with pytest.raises(ValueError, match="not a PNG"):
        decode_png(b"\x89PNG\r\n\x00\x00" + bytes(40))  # the whole 8-byte signature is checked


def test_a_damaged_png_is_a_value_error_at_any_cut() -> None:
    # A Game Boy state's screen_png cut short or corrupted raised zlib.error or struct.error, which callers
    # that catch the documented ValueError let through as a traceback.
    data = encode_png(np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3))
    for cut in range(8, len(data)):
        try:
            decode_png(data[:cut])
        except ValueError:
            continue  # a cut inside the closing IEND chunk still reads the whole image
    with pytest.raises(ValueError, match="damaged PNG"):  # cut just after IHDR's tag: damaged, not headerless
        decode_png(data[:16])
    at = data.index(b"IDAT") + 4  # the compressed pixels' first bytes, flipped
    damaged = data[:at] + bytes(b ^ 0xFF for b in data[at:at + 6]) + data[at + 6:]
    with pytest.raises(ValueError, match="damaged PNG"):
        decode_png(damaged)


def test_a_chunk_that_fails_its_crc_is_refused() -> None:
    """Damage that leaves a chunk readable (a header byte the decoder does not use, a CRC byte) read as if
    nothing were wrong: only the CRC tells."""
    data = encode_png(np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3))
    at = data.index(b"IHDR") + 4 + 11  # IHDR's filter method, unused past the check that rows are Up or None
    for damaged in (data[:at] + b"\x01" + data[at + 1:], data[:-1] + bytes([data[-1] ^ 1])):  # + IEND's CRC
        with pytest.raises(ValueError, match=r"damaged PNG \((IHDR|IEND) fails its CRC\)"):
            decode_png(damaged)


@pytest.mark.parametrize(("extra", "size"), [(7, 28), (-7, 14)])
def test_pixels_longer_or_shorter_than_the_header_says_are_refused_by_name(extra: int, size: int) -> None:
    # More (or fewer) decompressed bytes than H rows of 1 + W*C: NumPy's reshape error, not the codec's
    # ValueError.
    (ihdr, (_, idat), iend) = _chunks(encode_png(np.zeros((3, 2, 3), np.uint8)))
    pixels = zlib.decompress(idat)
    changed = zlib.compress(pixels + bytes(extra) if extra > 0 else pixels[:extra])
    with pytest.raises(ValueError, match=rf"damaged PNG \({size} bytes of pixels for 2x3x3\)"):
        decode_png(_png([ihdr, (b"IDAT", changed), iend]))
