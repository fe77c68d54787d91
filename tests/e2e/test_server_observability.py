"""What an operator watches and what copied vLLM flags change, against `rotor serve` on the
tiny fixture: the periodic stats line (VLLM_LOG_STATS_INTERVAL shortens vLLM's 10 s),
--enable-log-requests with --max-log-len, --enable-prompt-tokens-details (cached_tokens from the
engine's prefix-cache hits), --return-tokens-as-token-ids as the default of requests, and the
weight-loading lines."""
import re
import time

import requests

from conftest import TINY_SERVE_ARGS
from rotor_server import RotorServer

PROMPT = "The quick brown fox jumps over the lazy dog. " * 6  # > 2 KV blocks of 16 tokens


def complete(s, **extra):
    body = {"model": "tiny", "prompt": PROMPT, "max_tokens": 3, "temperature": 0, **extra}
    r = requests.post(s.url + "/v1/completions", json=body, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_stats_line_request_log_and_usage_details(rotor_binary, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("VLLM_LOG_STATS_INTERVAL", "0.5")
    s = RotorServer(rotor_binary, tiny_model_dir, *TINY_SERVE_ARGS, "--enable-log-requests", "--max-log-len", "12",
                    "--enable-prompt-tokens-details", "--return-tokens-as-token-ids")
    try:
        first = complete(s, logprobs=1)
        second = complete(s)
        third = complete(s, logprobs=1, return_tokens_as_token_ids=False)
        time.sleep(1.5)  # a stats interval after the requests
    finally:
        assert s.stop() == 0
    out = s.output

    # usage.prompt_tokens_details.cached_tokens: none the first time, whole blocks after.
    n = first["usage"]["prompt_tokens"]
    assert first["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached > 0 and cached % 16 == 0 and cached < n, second["usage"]

    # Log-prob tokens as "token_id:N" unless the request says otherwise.
    assert all(re.fullmatch(r"token_id:\d+", t) for t in first["choices"][0]["logprobs"]["tokens"]), first
    assert not any(t.startswith("token_id:") for t in third["choices"][0]["logprobs"]["tokens"]), third

    # One request line each, the prompt cut at 12 characters / ids.
    lines = [l for l in out.splitlines() if re.search(r"request \d+: \d+ prompt tokens", l)]
    assert len(lines) == 3, out
    assert f": {n} prompt tokens" in lines[0] and '"temperature":0.0' in lines[0] and '"max_tokens":3' in lines[0]
    assert 'prompt: "The quick br", prompt_token_ids: [' in lines[0] and f"(first 12 of {n})" in lines[0], lines[0]

    # The stats line, vLLM's wording.
    stats = [l for l in out.splitlines() if "Avg prompt throughput" in l]
    assert stats, out
    assert re.search(r"Avg generation throughput: [\d.]+ tokens/s, Running: \d+ reqs, Waiting: \d+ reqs, "
                     r"KV cache usage: [\d.]+%, Prefix cache hit rate: [\d.]+%", stats[0]), stats[0]
    assert any(not l.endswith("Prefix cache hit rate: 0.0%") for l in stats), stats


def test_stats_line_off_and_no_request_log(rotor_binary, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("VLLM_LOG_STATS_INTERVAL", "0.3")
    s = RotorServer(rotor_binary, tiny_model_dir, *TINY_SERVE_ARGS, "--disable-log-stats")
    try:
        usage = complete(s)["usage"]
        time.sleep(1.0)
    finally:
        assert s.stop() == 0
    assert "prompt_tokens_details" not in usage
    assert "Avg prompt throughput" not in s.output and "prompt tokens, params" not in s.output
    assert "safetensors file(s)" in s.output  # the weights line (CPU or GPU) is still logged
