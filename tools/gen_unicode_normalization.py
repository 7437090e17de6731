#!/usr/bin/env python3
"""Writes src/Minnow/Tokenizers/Text/UnicodeNormalization.bin, the data behind Minnow's managed NFC/NFD/NFKC/NFKD.

.NET's string.Normalize needs ICU on Linux and does nothing in globalization-invariant mode (which Minnow uses), so
the tokenizers carry their own tables, taken from Python's unicodedata (its Unicode version is written into the file).

Format (raw DEFLATE of): "MNUN", u8 format version, u8 length + ASCII Unicode version,
  u32 n, then n x (u32 code point, u8 canonical combining class)            -- every non-zero class
  u32 m, then m x (u32 code point, u8 flags, u8 k, k x u32 code point)      -- one-level decompositions
      flags: 1 = compatibility mapping, 2 = excluded from composition (NFC leaves it decomposed)
Hangul syllables are algorithmic and not listed.
"""
import struct, sys, unicodedata, zlib

out = sys.argv[1] if len(sys.argv) > 1 else "src/Minnow/Tokenizers/Text/UnicodeNormalization.bin"
ccc, decomp = [], []
for cp in range(0x110000):
    if 0xD800 <= cp < 0xE000 or 0xAC00 <= cp <= 0xD7A3:
        continue
    c = chr(cp)
    if unicodedata.combining(c):
        ccc.append((cp, unicodedata.combining(c)))
    d = unicodedata.decomposition(c)
    if not d:
        continue
    parts = d.split()
    compat = parts[0].startswith("<")
    if compat:
        parts = parts[1:]
    mapping = [int(p, 16) for p in parts]
    excluded = not compat and unicodedata.normalize("NFC", c) != c
    decomp.append((cp, (1 if compat else 0) | (2 if excluded else 0), mapping))

version = unicodedata.unidata_version.encode("ascii")
body = bytearray(b"MNUN" + bytes([1, len(version)]) + version)
body += struct.pack("<I", len(ccc))
for cp, cls in ccc:
    body += struct.pack("<IB", cp, cls)
body += struct.pack("<I", len(decomp))
for cp, flags, mapping in decomp:
    body += struct.pack("<IBB", cp, flags, len(mapping)) + b"".join(struct.pack("<I", m) for m in mapping)
packer = zlib.compressobj(9, zlib.DEFLATED, -15)
data = packer.compress(bytes(body)) + packer.flush()
open(out, "wb").write(data)
print(f"{out}: Unicode {unicodedata.unidata_version}, {len(ccc)} combining classes, {len(decomp)} decompositions, {len(data)} bytes")
