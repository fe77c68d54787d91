"""`rotor serve --prefill-lane-sms N` on the CPU backend (docs/prefill-lane.md: prompts computed in a
second lane of ranks beside the decode steps; on the CPU any N > 0 turns it on): concurrent
streamed completions, prompts in several chunks, give the greedy tokens the server gives
without the lane, with every prompt in the lane (--prefill-lane-backlog 0) and with prompts
also in decode steps while 2 wait; a client that leaves mid-stream loses nobody else anything; a bad value is a
one-line error at start-up."""
import concurrent.futures
import json
import subprocess

import requests

from conftest import TINY_SERVE_ARGS
from rotor_server import RotorServer

PROMPTS = ["The capital of France is " * 6, "def fibonacci(n):", "Once upon a time " * 9, "1, 2, 3, 4,",
           "The quick brown fox jumps over the lazy dog. " * 4, "Hello, my name is", "SELECT * FROM t " * 7]
MAX_TOKENS = 12
# Prompts longer than the budget go through the lane in several chunks.
LANE_ARGS = [{"1024": "16", "80": "8"}.get(a, a) for a in TINY_SERVE_ARGS]


def stream_tokens(url, prompt):
    r = requests.post(url + "/v1/completions", stream=True, timeout=120,
                      json={"model": "tiny", "prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0,
                            "ignore_eos": True, "stream": True, "return_tokens_as_token_ids": True,
                            "logprobs": 0})
    assert r.status_code == 200, r.text
    tokens = []
    for line in r.iter_lines():
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        for choice in json.loads(line[6:])["choices"]:
            if choice.get("logprobs"):
                tokens += choice["logprobs"]["tokens"]
    return tokens


def serve_concurrently(binary, model, *flags):
    s = RotorServer(binary, model, *LANE_ARGS, *flags)
    try:
        # One client leaves after its first chunk, while the others stream.
        with requests.post(s.url + "/v1/completions", stream=True, timeout=60,
                           json={"model": "tiny", "prompt": "Leaving early " * 20, "max_tokens": 200,
                                 "stream": True, "ignore_eos": True}) as gone:
            next(gone.iter_lines())
        with concurrent.futures.ThreadPoolExecutor(len(PROMPTS)) as pool:
            outs = list(pool.map(lambda p: stream_tokens(s.url, p), PROMPTS))
    finally:
        assert s.stop() == 0, s.output
    return outs, s.output


def test_prefill_lane_gives_the_tokens_without_it(rotor_binary, tiny_model_dir):
    without, _ = serve_concurrently(rotor_binary, tiny_model_dir)
    for backlog in ["0", "2"]:
        lane, log = serve_concurrently(rotor_binary, tiny_model_dir, "--prefill-lane-sms", "1", "--async-scheduling",
                                       "--prefill-lane-backlog", backlog)
        assert "prefill lane: prompts in chunks of up to 16 tokens" in log, log
        for p, a, b in zip(PROMPTS, without, lane):
            assert len(a) == MAX_TOKENS, (p, a)
            assert a == b, (backlog, p)


def test_prefill_lane_bad_value_is_a_clear_error(rotor_binary, tiny_model_dir):
    r = subprocess.run([rotor_binary, "serve", tiny_model_dir, *TINY_SERVE_ARGS, "--prefill-lane-sms", "-4"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "--prefill-lane-sms must be at least 0" in r.stdout + r.stderr, r.stdout + r.stderr
