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

# Test fixture: random strings rich in what normalization touches, with their four normal forms.
import json, random
rng = random.Random(11)
pools = ["aeiouAEIOU", "\u0300\u0301\u0302\u0308\u0323\u0327\u031b\u0345\u05b0\u0591\u0e48\u302a", "가각갂\u1100\u1161\u11a8\u1169",
         "ﬁﬀ½²ⅫÅΩ㎏℃ｆＡ１　ǅǈŉſẛ", "éüÅçñÖ", "日本語한국어", "\u0958\u2126\u212b\u0344\u0f73\u1e9b"]
cases = []
for _ in range(400):
    s = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 12)))
    cases.append({"text": s, **{form: unicodedata.normalize(form, s) for form in ("NFC", "NFD", "NFKC", "NFKD")}})
fixture = "tests/Minnow.Tests/Tokenizers/Fixtures/unicode_normalization.jsonl"
with open(fixture, "w") as f:
    for c in cases:
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(f"{fixture}: {len(cases)} cases")
