"""A small aging bar chart as a PNG, for asset metadata that shows in the Dagster UI.

Drawn here (a 3x5 pixel font, zlib and the PNG chunk format) rather than with a plotting
library: one bar per aging bucket, labelled, does not need a dependency of tens of megabytes.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Sequence
from decimal import Decimal

__all__ = ["aging_chart_markdown", "aging_chart_png", "compact_amount"]

Color = tuple[int, int, int]

_GLYPHS = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", "..#", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    "-": ("...", "...", "###", "...", "..."),
    ".": ("...", "...", "...", "...", ".#."),
    " ": ("...", "...", "...", "...", "..."),
    "C": ("###", "#..", "#..", "#..", "###"),
    "E": ("###", "#..", "##.", "#..", "###"),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "M": ("#.#", "###", "###", "#.#", "#.#"),
    "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "O": ("###", "#.#", "#.#", "#.#", "###"),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"),
    "V": ("#.#", "#.#", "#.#", "#.#", ".#."),
}
# Green for money not yet due, through amber, to red for the oldest.
_BUCKET_COLORS: tuple[Color, ...] = (
    (46, 160, 67),
    (150, 190, 60),
    (235, 190, 40),
    (240, 140, 40),
    (225, 85, 45),
    (190, 35, 40),
)
_WHITE: Color = (255, 255, 255)
_INK: Color = (60, 60, 60)
_AXIS: Color = (190, 190, 190)
_SCALE = 2  # font pixels per glyph pixel
_SLOT = 84  # pixels per bar, gaps included
_BAR = 52
_PLOT = 120  # height of the tallest bar
_TEXT = 5 * _SCALE


def compact_amount(amount: Decimal) -> str:
    """1234567 -> '1.2M', 12345 -> '12.3K', 950 -> '950'."""
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    for limit, suffix in ((Decimal(10**6), "M"), (Decimal(10**3), "K")):
        if value >= limit:
            return f"{sign}{(value / limit).quantize(Decimal('0.1'))}{suffix}"
    return f"{sign}{value.quantize(Decimal(1))}"


def aging_chart_png(labels: Sequence[str], amounts: Sequence[Decimal]) -> bytes:
    """One labelled bar per bucket, heights proportional to the amounts (negatives drawn flat)."""
    width = _SLOT * len(labels) + 16
    top = 8 + _TEXT + 6
    baseline = top + _PLOT
    height = baseline + 8 + _TEXT + 8
    canvas = [[_WHITE] * width for _ in range(height)]
    tallest = max((a for a in amounts if a > 0), default=Decimal(0))
    for i, (label, amount) in enumerate(zip(labels, amounts, strict=True)):
        left = 8 + i * _SLOT + (_SLOT - _BAR) // 2
        bar = int(_PLOT * amount / tallest) if tallest and amount > 0 else 0
        color = _BUCKET_COLORS[min(i, len(_BUCKET_COLORS) - 1)]
        _fill(canvas, left, baseline - bar, _BAR, bar, color)
        centre = left + _BAR // 2
        _text(canvas, compact_amount(amount), centre, baseline - bar - 6 - _TEXT)
        _text(canvas, label.replace("_", " ").upper(), centre, baseline + 8)
    _fill(canvas, 8, baseline, width - 16, 1, _AXIS)
    return _png(canvas)


def aging_chart_markdown(
    labels: Sequence[str], amounts_by_currency: dict[str, Sequence[Decimal]]
) -> str:
    """A chart per currency (amounts in different currencies do not share an axis)."""
    sections = []
    for currency, amounts in amounts_by_currency.items():
        image = base64.b64encode(aging_chart_png(labels, amounts)).decode()
        sections.append(f"**{currency}**\n\n![aging {currency}](data:image/png;base64,{image})")
    return "\n\n".join(sections) or "No open receivables."


def _fill(canvas: list[list[Color]], x: int, y: int, w: int, h: int, color: Color) -> None:
    left, right = max(x, 0), min(x + w, len(canvas[0]))
    for row in canvas[max(y, 0) : max(y + h, 0)]:
        row[left:right] = [color] * max(right - left, 0)


def _text(canvas: list[list[Color]], text: str, centre: int, y: int) -> None:
    glyphs = [_GLYPHS.get(char, _GLYPHS[" "]) for char in text]
    advance = 4 * _SCALE
    x = centre - (advance * len(glyphs) - _SCALE) // 2
    for glyph in glyphs:
        for gy, row in enumerate(glyph):
            for gx, pixel in enumerate(row):
                if pixel == "#":
                    _fill(canvas, x + gx * _SCALE, y + gy * _SCALE, _SCALE, _SCALE, _INK)
        x += advance


def _png(canvas: list[list[Color]]) -> bytes:
    height, width = len(canvas), len(canvas[0])
    raw = b"".join(b"\x00" + bytes(channel for pixel in row for channel in pixel) for row in canvas)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
