#!/usr/bin/env python3
"""Makes unifont-subset.hex.gz, the glyphs the PNG venue poster draws text with.

Usage: subset.py UNIFONT_HEX OUT_GZ

UNIFONT_HEX is unifont.hex of Debian's `unifont` package (see SOURCE.md). The
output keeps the input's lines unchanged ("CODEPOINT:BITMAP", 32 hex digits for an
8x16 glyph, 64 for a 16x16 one) for the code points in RANGES, in order, and is
gzip-compressed with a zero timestamp so the same input gives the same bytes.
"""

import gzip
import sys

# Inclusive ranges of code points kept.
RANGES = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 Supplement (the middle dot of the poster's lines)
    (0x2000, 0x206F),  # General Punctuation (the ellipsis of a cut line)
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs, the whole block
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
]


def wanted(cp):
    return any(lo <= cp <= hi for lo, hi in RANGES)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    kept = []
    with open(src, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            cp, bitmap = line.split(":")
            if len(bitmap) not in (32, 64):
                sys.exit(f"unexpected glyph size in line {line!r}")
            if wanted(int(cp, 16)):
                kept.append(line)
    data = ("\n".join(kept) + "\n").encode("ascii")
    with open(out, "wb") as f:
        f.write(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{len(kept)} glyphs, {len(data)} bytes, {out}")


if __name__ == "__main__":
    main()
