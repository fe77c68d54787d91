"""Hugging Face tokenizers on the same text as bench/tokenizer.cpp (pip install tokenizers):
  python3 bench/tokenizer_hf.py [--tokens N] FILE...
"""
import os, sys, time
from tokenizers import Tokenizer

args, want, files = sys.argv[1:], 16384, []
while args:
    a = args.pop(0)
    if a == "--tokens":
        want = int(args.pop(0))
    else:
        files.append(a)
shared = os.environ.get("ROTOR_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
t0 = time.perf_counter()
tok = Tokenizer.from_file(os.path.join(shared, "tokenizers", "qwen3", "tokenizer.json"))
print("load (tokenizer.json): %.0f ms" % ((time.perf_counter() - t0) * 1e3))
corpus = "".join(open(f, encoding="utf-8", errors="replace").read() for f in files)
text = corpus
while len(tok.encode(text, add_special_tokens=False).ids) < want:
    text += corpus
text = tok.decode(tok.encode(text, add_special_tokens=False).ids[:want])
best_cpu = best_wall = 1e9
for _ in range(30):
    c, w = time.thread_time(), time.perf_counter()
    ids = tok.encode(text, add_special_tokens=False).ids
    best_cpu, best_wall = min(best_cpu, time.thread_time() - c), min(best_wall, time.perf_counter() - w)
print("encode: %d bytes -> %d tokens: best of 30: %.2f ms thread CPU, %.2f ms wall" %
      (len(text.encode()), len(ids), best_cpu * 1e3, best_wall * 1e3))
