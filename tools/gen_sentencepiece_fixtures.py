#!/usr/bin/env python3
"""Writes the SentencePiece test fixtures in tests/Minnow.Tests/Tokenizers/Fixtures/ with the reference implementation.

Run with Debian's python3-sentencepiece 0.1.97 (`apt-get install python3-sentencepiece`, then /usr/bin/python3):
three small models trained on the first 300,000 bytes of ../shared/data/corpora/tinyshakespeare.txt, and for each a
<name>.cases.jsonl with the reference `encode(text, out_type=int)` (no BOS), `decode(ids)` and pieces of 160 strings
(the llama2 reference texts, hand-picked normalization and whitespace cases, and 40 random strings, seed 7).
  sp_unigram_nfkc  unigram, 500 pieces, nmt_nfkc charsmap, user-defined <mask> and [SEP], no byte fallback
  sp_unigram_bytes unigram, 600 pieces, identity normalizer, remove_extra_whitespaces off, byte fallback
  sp_bpe_nfkc      BPE, 500 pieces, nmt_nfkc charsmap, user-defined <mask>
"""
import json, os, random, sys
import sentencepiece as spm

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "tests/Minnow.Tests/Tokenizers/Fixtures/")
corpus = "/tmp/shake300k.txt"
with open(os.path.join(root, "../shared/data/corpora/tinyshakespeare.txt"), "rb") as f:
    open(corpus, "wb").write(f.read(300000))
models = {
    "sp_unigram_nfkc": dict(vocab_size=500, model_type="unigram", user_defined_symbols=["<mask>", "[SEP]"], character_coverage=0.9995),
    "sp_unigram_bytes": dict(vocab_size=600, model_type="unigram", byte_fallback=True, normalization_rule_name="identity",
                             remove_extra_whitespaces=False, character_coverage=1.0),
    "sp_bpe_nfkc": dict(vocab_size=500, model_type="bpe", user_defined_symbols=["<mask>"]),
}
texts = [json.loads(l)["text"] for l in open(os.path.join(root, "../shared/data/tokenizers/llama2/cases.jsonl"))]
texts += ["", " ", "   leading and   repeated   spaces   ", "\t\ttabs\tand\nnewlines\r\n", "ｆｕｌｌ　ｗｉｄｔｈ　ＡＢＣ １２３",
          "ﬁnance ﬂow ﬀ Ⅻ ½ ² ㎏ ℃", "e\u0301 vs é, A\u030A vs Å, Ω vs Ω", "KING RICHARD III:\nNow is the winter of our discontent",
          "<mask> is a user symbol, [SEP] too: a<mask>b [SEP][SEP]", "\u00a0non\u00a0breaking\u2003em\u2009thin",
          "zero\u200bwidth\u200djoiner", "\u0000\u0001\u0007 controls \u007f", "😀 emoji 👍🏽 and 日本語 and العربية",
          "unknown ⍼ ⎈ ⏚ characters ⍼⍼⍼", "ThouUnknownWord’s “quotes” — dash…", "x" * 300, "ab " * 50, "\ufeffBOM start",
          "trailing space ", "ŉ ǅ ǈ ǲ ﬀ ſt"]
rng = random.Random(7)
alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ  \t\n.,;:'!?-éüßøÆœ日本中文😀👍ｆｕ①½ﬁ\u0301\u00a0\u3000<>[]mask"
texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(40)]
for name, options in models.items():
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(out, name), **options)
    os.remove(os.path.join(out, name + ".vocab"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, name + ".model"))
    with open(os.path.join(out, name + ".cases.jsonl"), "w") as f:
        for t in texts:
            ids = sp.encode(t, out_type=int)
            f.write(json.dumps({"text": t, "ids": ids, "decoded": sp.decode(ids), "pieces": sp.id_to_piece(ids)}, ensure_ascii=False) + "\n")
    print(name, len(texts), file=sys.stderr)
