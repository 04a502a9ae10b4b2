"""How wide a word is set in Times New Roman, so that a table column has room for its longest word (pure).

A word wider than its column is broken between letters by Word and LibreOffice ("ngườ/i"); only a column
at least as wide as the word keeps it whole. The widths are the advance widths of Liberation Serif 2.1,
which is metrically compatible with Times New Roman, in thousandths of an em: printable ASCII, then the
letters of Vietnamese that are wider than their base letter and the punctuation the report uses. A letter
with a tone mark or a circumflex or breve is as wide as its base letter (ấ, ậ, ă as a; ự as ư); a character
not listed counts as wide as 'M', the widest letter."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

EXTRA = "ưƯơƠđĐ“”‘’–—…•●○×"
CHARS = "".join(chr(i) for i in range(0x20, 0x7F)) + EXTRA
REGULAR = (
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278, 500, 500, 500, 500, 500, 500,
    500, 500, 500, 500, 278, 278, 564, 564, 564, 444, 921, 722, 667, 667, 722, 611, 556, 722, 722, 333, 389, 722,
    611, 889, 722, 722, 556, 722, 667, 556, 611, 722, 722, 944, 722, 722, 611, 333, 278, 333, 469, 500, 333, 444,
    500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500, 500, 500, 333, 389, 278, 500, 500, 722,
    500, 500, 444, 480, 200, 480, 541, 542, 776, 529, 722, 500, 722, 444, 444, 333, 333, 500, 1000, 1000, 350, 604,
    604, 564,
)
BOLD = (
    250, 333, 555, 500, 500, 1000, 833, 278, 333, 333, 500, 570, 250, 333, 250, 278, 500, 500, 500, 500, 500, 500,
    500, 500, 500, 500, 333, 333, 570, 570, 570, 500, 930, 722, 667, 722, 722, 667, 611, 778, 778, 389, 500, 778,
    667, 944, 722, 778, 611, 778, 722, 556, 667, 722, 722, 1000, 722, 722, 667, 333, 278, 333, 581, 500, 333, 500,
    556, 444, 556, 444, 333, 500, 556, 278, 333, 556, 278, 833, 556, 500, 556, 556, 444, 389, 333, 556, 500, 722,
    500, 500, 444, 394, 220, 394, 520, 600, 796, 554, 778, 556, 722, 500, 500, 333, 333, 500, 1000, 1000, 350, 604,
    604, 570,
)
WIDTHS = {False: dict(zip(CHARS, REGULAR, strict=True)), True: dict(zip(CHARS, BOLD, strict=True))}
CM_PER_PT = 2.54 / 72
BREAK = re.compile(r"\s+|(?<=[^\W_]-)(?=[^\W_])")
"""Where a line may break: at white space, and after a hyphen between letters or digits
("Mecklenburg-|Vorpommern", "KH-|UBND", "2021-|2025"), as Word and LibreOffice break lines."""


@cache
def _base(char: str) -> str:
    """The letter whose width `char` has: its first decomposed character, with the horn kept (ự -> ư)."""
    parts = unicodedata.normalize("NFD", char)
    if "\u031b" in parts:
        return unicodedata.normalize("NFC", parts[0] + "\u031b")
    return parts[0]


def char_width(char: str, bold: bool = False) -> int:
    """Advance width of a character, in thousandths of an em."""
    widths = WIDTHS[bold]
    found = widths.get(char)
    if found is None:
        found = widths.get(_base(char), widths["M"])
    return found


def text_cm(text: str, size_pt: float, bold: bool = False) -> float:
    """Width of `text` on one line, in centimetres."""
    return sum(char_width(c, bold) for c in text) * size_pt / 1000 * CM_PER_PT


def words(text: str) -> list[str]:
    """The pieces of `text` a line never breaks inside."""
    return [w for w in BREAK.split(text) if w]


def longest_word_cm(text: str, size_pt: float, bold: bool = False) -> float:
    """Width of the widest unbreakable piece of `text` (see `words`), in centimetres."""
    return max((text_cm(word, size_pt, bold) for word in words(text)), default=0.0)
