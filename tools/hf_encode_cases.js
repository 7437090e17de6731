// Encodes the "text" of each JSON line of a file with HF tokenizers (npm tokenizers 0.23.2, native; NODE_PATH to where
// it is installed) and writes
// {"text", "ids", "decoded"} lines: node tools/hf_encode_cases.js tokenizer.json texts.jsonl out.jsonl
// Fixtures/sp_unigram_nfkc.hf.cases.jsonl was made this way from the tokenizer.json that
// SentencePieceTests.HfUnigramTokenizer builds (written out with MINNOW_DUMP_HF_JSON=path).
const fs = require('fs'); const { Tokenizer } = require('tokenizers');
(async () => {
const t = Tokenizer.fromFile(process.argv[2]);
const texts = fs.readFileSync(process.argv[3], 'utf8').trim().split('\n').map(l => JSON.parse(l).text);
const lines = [];
for (const s of texts) { const ids = Array.from((await t.encode(s, null, { addSpecialTokens: false })).getIds()); lines.push(JSON.stringify({ text: s, ids, decoded: await t.decode(ids, false) })); }
fs.writeFileSync(process.argv[4], lines.join('\n') + '\n');
})();
