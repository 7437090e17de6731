// Writes tests/Minnow.Tests/Tokenizers/Fixtures/random/<tokenizer>.jsonl: 300 random stress strings (a fixed seed)
// and their reference encodings, made the same way as ../shared/data's cases.jsonl (see its SOURCES.md):
//   mistral7b, llama3, qwen3: npm tokenizers 0.23.2 (HF tokenizers, native), encode(text, null, {addSpecialTokens: false})
//   gpt2, cl100k_base, o200k_base: npm js-tiktoken 1.0.21, encode(text, [], []) (U+FEFF and U+0085 become spaces:
//     JavaScript's \s disagrees with Rust's on them)
//   llama2: Debian python3-sentencepiece 0.1.97, encode(text, out_type=int)
// Run: npm install tokenizers@0.23.2 js-tiktoken@1.0.21 && node tools/gen_random_reference_cases.js
const fs = require('fs');
const path = require('path');
const data = path.join(__dirname, '..', '..', 'shared', 'data');
const { Tokenizer } = require('tokenizers');
const { getEncoding } = require('js-tiktoken');
let seed = 20251123;
const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const pick = a => a[Math.floor(rand() * a.length)];
const words = ["the", "The", "HELLO", "don't", "it'S", "we'LL", "I'm", "y'all'd've", "naïve", "café", "Straße", "über", "ĲSSEL", "ǅungla",
  "東京", "日本語", "中文字", "한국어", "안녕하세요", "Привет", "мир", "Ελληνικά", "שלום", "مرحبا", "नमस्ते", "ไทย", "𝐀𝐁𝐂", "𝓗𝓮𝓵𝓵𝓸",
  "x²", "½", "Ⅻ", "٣٤٥", "１２３", "ｆｕｌｌ", "ﬁne", "e\u0301", "a\u0308\u0323", "\u1100\u1161\u11a8", "<|endoftext|>", "<s>", "</s>",
  "<|im_start|>", "<|begin_of_text|>", "<unk>", "▁x", "▁▁", "http://x.org/a/b?c=1", "foo_bar", "camelCase", "snake_case_99", "3.14159",
  "1234567", "-42", "$100", "100%", "a/b/c", "//", "...", "!!!", "?!", "—", "…", "\"quoted\"", "(paren)", "[x]", "{y}", "#tag", "@user"];
const spaces = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000", "\u2028", "\u2009", "\u200b", "\u0085", "\ufeff"];
const emoji = ["😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", "🎉", "\u0000", "\u0007", "\u001b", "\u007f"];
function randomString(jsSafe) {
  let s = "";
  const n = 1 + Math.floor(rand() * 12);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.55) s += pick(words);
    else if (r < 0.65) s += pick(emoji);
    else s += String.fromCodePoint(rand() < 0.5 ? 0x20 + Math.floor(rand() * 0x5f) : 0xa1 + Math.floor(rand() * 0x2f00));
    s += pick(spaces);
  }
  if (rand() < 0.3) s = s.trim();
  if (jsSafe) s = s.replace(/[\ufeff\u0085]/g, " ");
  return s;
}
const out = process.argv[2] || path.join(__dirname, '..', 'tests', 'Minnow.Tests', 'Tokenizers', 'Fixtures', 'random');
const strings = []; for (let i = 0; i < 300; i++) strings.push(randomString(false));
fs.writeFileSync(out + "/strings.json", JSON.stringify(strings));
(async () => {
for (const name of ["mistral7b", "llama3", "qwen3"]) {
  const t = Tokenizer.fromFile(path.join(data, 'tokenizers', name, 'tokenizer.json'));
  const lines = [];
  for (const s of strings) {
    const ids = Array.from((await t.encode(s, null, { addSpecialTokens: false })).getIds());
    lines.push(JSON.stringify({ text: s, ids, decoded: await t.decode(ids, false) }));
  }
  fs.writeFileSync(`${out}/${name}.jsonl`, lines.join("\n") + "\n");
}
require('child_process').execFileSync('/usr/bin/python3', ['-c', `
import json, sentencepiece as spm
strings = json.load(open('${out}/strings.json'))
sp = spm.SentencePieceProcessor(model_file='${path.join(data, 'tokenizers', 'llama2', 'tokenizer.model')}')
with open('${out}/llama2.jsonl', 'w') as f:
    for s in strings:
        ids = sp.encode(s, out_type=int)
        f.write(json.dumps({"text": s, "ids": ids, "decoded": sp.decode(ids)}, ensure_ascii=False) + "\\n")
`]);
fs.unlinkSync(`${out}/strings.json`);
})();
for (const name of ["gpt2", "cl100k_base", "o200k_base"]) {
  const e = getEncoding(name);
  // JavaScript's \s also matches U+FEFF and not U+0085 (the Rust and Python engines differ): left out, as in SOURCES.md.
  const lines = strings.map(s => s.replace(/[\ufeff\u0085]/g, " ")).map(s => { const ids = e.encode(s, [], []); return JSON.stringify({ text: s, ids, decoded: e.decode(ids) }); });
  fs.writeFileSync(`${out}/${name}.jsonl`, lines.join("\n") + "\n");
}
