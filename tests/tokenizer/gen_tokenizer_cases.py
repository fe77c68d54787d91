"""Golden cases for the tokenizer tests beyond ../shared/fixtures/text, from Hugging Face
`tokenizers` (pip install tokenizers). Run from the repository root:

  python3 tests/tokenizer/gen_tokenizer_cases.py

Writes tests/tokenizer/data/
  qwen3_extra_cases.json   Qwen3 text cases aimed at the edges: Unicode data differences
                           (new letters/numbers, new combining marks, U+180E), long words,
                           added tokens inside text, random code points
  tiny_<name>.json         small tokenizers (trained here) exercising what Qwen3 does not use:
                           added-token flags (lstrip, rstrip, single_word, normalized), NFKC,
                           ByteLevel with GPT-2's regex, every Split behaviour, invert
  tiny_<name>_cases.json   their cases
Each case: {"text", "ids", "decoded", "decoded_skip"}.
"""
import json, os, random
from tokenizers import Tokenizer, AddedToken, decoders, models, normalizers, pre_tokenizers, trainers, Regex

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
SHARED = os.environ.get("ROTOR_SHARED", os.path.join(HERE, "..", "..", "..", "shared"))

# Marks whose normalization tokenizers' Unicode tables do not know, letters/numbers its
# Oniguruma knows and PCRE2 10.42 does not (src/tokenizer/normalizer.cpp, regex.cpp).
NEW_MARKS = [0x7FD, 0x898, 0x8CA, 0x9FE, 0xC3C, 0xD3B, 0x1ABF, 0x1ACB, 0x1DF6, 0xA82C, 0x10D24, 0x1E4EC]
NEW_LETTERS = [0x1C89, 0xA7CB, 0x105C0, 0x10D4A, 0x13460, 0x16100, 0x2EBF0, 0x31350, 0x31C27]
NEW_NUMBERS = [0x10D40, 0x116D0, 0x1CCF0, 0x1E5F1]


def case(tok, text):
    ids = tok.encode(text, add_special_tokens=False).ids
    return {"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True)}


def qwen3_texts(rng):
    texts = []
    for cp in NEW_MARKS:
        texts += ["a\u0316" + chr(cp) + "\u0301e", "e" + chr(cp) + "\u0301", chr(cp) + "\u0334x"]
    for cp in NEW_LETTERS + NEW_NUMBERS:
        texts += [chr(cp) + "'s", "x" + chr(cp) + chr(cp) + "y", " " + chr(cp) + "1"]
    texts += ["a\u180e\u180eb", "a\u180e b", "a  \u180e", "\u2000\u3000x", "x\u0085\u0085", "\ufeffbom"]
    texts += ["x" * 5000, "ab" * 700 + " " * 300 + "\n" * 50, "\u4e00" * 400, "🙂" * 100,
              "".join(rng.choice("abcdefghij") for _ in range(3000))]
    texts += ["<|im_start|><|im_end|>", "<|im_start<|im_end|>|>", "<think></think>", "a<|endoftext|>b",
              " <tool_call>\n{}\n</tool_call> ", "<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>"]
    texts += ["I'M", "'S'T'RE'VE'M'LL'D", "'ſ 'K", "don\u2019t", "1234567890", "٣٤٥ ३४५ ①②"]
    for _ in range(150):
        s = []
        for _ in range(rng.randint(1, 40)):
            cp = rng.randint(0, 0x10FFFF)
            if 0xD800 <= cp < 0xE000:
                cp = 0x20
            s.append(chr(cp))
        texts.append("".join(s))
    return texts


def train(pre_tokenizer, normalizer, corpus, added, vocab_size=400):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    for t in added:
        if t.special:
            tok.add_special_tokens([t])
        else:
            tok.add_tokens([t])
    return tok


def tiny(rng):
    corpus = ["the quick brown fox jumps over the lazy dog", "Hello, world! hello WORLD", "tokenizers are fun",
              "I read a book yesterday", "ﬁnal ﬁx of the ｆｕｌｌ width", "Day after day", "1234 5678 90"] * 20
    added = [AddedToken("<mask>", single_word=True, lstrip=True, rstrip=True, normalized=False),
             AddedToken("[CLS]", special=True, normalized=False),
             AddedToken("Day", normalized=True),
             AddedToken("ﬁx", normalized=True),
             AddedToken("<r>", rstrip=True, normalized=False),
             AddedToken("<l>", lstrip=True, normalized=False, special=True),
             AddedToken("ony", single_word=True, normalized=False),
             AddedToken("x y", normalized=False)]
    texts = ["[CLS] My name is Anthony <mask> [SEP]", "<mask> My name <mask> A<mask> <mask>ony <mask>",
             "Hi <mask> there\t<mask>\t<mask>\u2000", "ony Tony ony_ ony, ony", "Day day DAY dAy",
             "the ﬁx fix ｆｉｘ", "a  <l>b  <r>  c <l><r> d", "x y x  y", "<mask>, <mask>- \u25cc\u0330<mask>",
             "", " ", "\u00e9 e\u0301 \u212b", "Hello, world!", "don't stop", "<r>\u3000<l>", "[CLS][CLS]"]
    texts += ["".join(rng.choice(["the", " ", "<mask>", "ony", "Day", "ﬁx", "x y", "<l>", "<r>", "\t", "é", "1", "!"])
                      for _ in range(rng.randint(1, 12))) for _ in range(80)]
    gpt2_regex = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    configs = {
        "gpt2": (pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), normalizers.NFKC()),
        "nfd": (pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
                normalizers.Sequence([normalizers.NFD(), normalizers.NFC()])),
    }
    for b in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
        configs["split_" + b] = (pre_tokenizers.Sequence([
            pre_tokenizers.Split(" ", behavior=b),
            pre_tokenizers.Split(Regex(r"\p{N}"), behavior=b),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), None)
    configs["split_invert"] = (pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[a-z]+"), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), normalizers.NFC())
    configs["split_gpt2"] = (pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(gpt2_regex), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), normalizers.NFC())
    for name, (pre, norm) in configs.items():
        tok = train(pre, norm, corpus, added)
        tok.save(os.path.join(OUT, f"tiny_{name}.json"))
        with open(os.path.join(OUT, f"tiny_{name}_cases.json"), "w") as f:
            json.dump([case(tok, t) for t in texts], f, ensure_ascii=False, indent=0)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(7)
    qwen = Tokenizer.from_file(os.path.join(SHARED, "tokenizers", "qwen3", "tokenizer.json"))
    with open(os.path.join(OUT, "qwen3_extra_cases.json"), "w") as f:
        json.dump([case(qwen, t) for t in qwen3_texts(rng)], f, ensure_ascii=False, indent=0)
    tiny(rng)


if __name__ == "__main__":
    main()
