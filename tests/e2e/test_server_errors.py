"""Bad input on `rotor serve`: every case gets the right status and an OpenAI-shaped error
body while the server keeps serving; a bounded fuzz of request bodies gets no 5xx and no
crash."""
import json
import random

import pytest
import requests

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
GOOD_CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
GOOD_COMPLETION = {"model": "tiny", "prompt": "hi", "max_tokens": 2}


def post(server, path, body=None, raw=None, headers=None):
    h = dict(server.headers if headers is None else headers)
    if raw is not None:
        h["Content-Type"] = "application/json"
        return requests.post(server.url + path, data=raw, headers=h, timeout=60)
    return requests.post(server.url + path, json=body, headers=h, timeout=60)


def with_(base, **fields):
    b = json.loads(json.dumps(base))
    b.update(fields)
    return b


def assert_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["code"] == status and err["message"]


def assert_serving(server):
    r = post(server, COMPLETIONS, GOOD_COMPLETION)
    assert r.status_code == 200, r.text


BAD_400 = [
    (CHAT, None, b"{not json"),
    (CHAT, None, b""),
    (CHAT, None, b"[1, 2, 3]"),
    (CHAT, None, b'{"messages": "\xff\xfe"}'),
    (CHAT, {"model": "tiny"}, None),
    (CHAT, with_(GOOD_CHAT, messages=[]), None),
    (CHAT, with_(GOOD_CHAT, messages=[{"role": "user"}, 5]), None),
    (CHAT, with_(GOOD_CHAT, messages=[{"role": "robot", "content": "x"}]), None),
    (CHAT, with_(GOOD_CHAT, messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]), None),
    (CHAT, with_(GOOD_CHAT, temperature="hot"), None),
    (CHAT, with_(GOOD_CHAT, temperature=-0.5), None),
    (CHAT, with_(GOOD_CHAT, top_p=0), None),
    (CHAT, with_(GOOD_CHAT, top_p=1.01), None),
    (CHAT, with_(GOOD_CHAT, top_k=-5), None),
    (CHAT, with_(GOOD_CHAT, max_tokens=0), None),
    (CHAT, with_(GOOD_CHAT, max_tokens=-1), None),
    (CHAT, with_(GOOD_CHAT, max_tokens="10"), None),
    (CHAT, with_(GOOD_CHAT, max_tokens=10**30), None),
    (CHAT, with_(GOOD_CHAT, max_tokens=100000), None),
    (CHAT, with_(GOOD_CHAT, presence_penalty=5), None),
    (CHAT, with_(GOOD_CHAT, n=0), None),
    (CHAT, with_(GOOD_CHAT, n=1000), None),
    (CHAT, with_(GOOD_CHAT, stop=[1, 2]), None),
    (CHAT, with_(GOOD_CHAT, stream="yes"), None),
    (CHAT, with_(GOOD_CHAT, stream_options={"include_usage": True}), None),
    (CHAT, with_(GOOD_CHAT, logprobs=True, top_logprobs=50), None),
    (CHAT, with_(GOOD_CHAT, tools=[{"type": "function"}]), None),
    (CHAT, with_(GOOD_CHAT, messages=[{"role": "user", "content": "word " * 600}]), None),
    (COMPLETIONS, {"model": "tiny"}, None),
    (COMPLETIONS, with_(GOOD_COMPLETION, prompt=[]), None),
    (COMPLETIONS, with_(GOOD_COMPLETION, prompt=""), None),
    (COMPLETIONS, with_(GOOD_COMPLETION, prompt=[1, -2]), None),
    (COMPLETIONS, with_(GOOD_COMPLETION, prompt=[10**7]), None),
    (COMPLETIONS, with_(GOOD_COMPLETION, prompt=[1.5]), None),
    (COMPLETIONS, with_(GOOD_COMPLETION, prompt=[100] * 600), None),
    (COMPLETIONS, with_(GOOD_COMPLETION, prompt=[100] * 500, max_tokens=20), None),
    (COMPLETIONS, with_(GOOD_COMPLETION, logprobs=100), None),
    (COMPLETIONS, with_(GOOD_COMPLETION, min_tokens=5), None),
    ("/tokenize", {"text": "x"}, None),
    ("/detokenize", {"tokens": ["a"]}, None),
]


@pytest.mark.parametrize("case", range(len(BAD_400)))
def test_bad_request_is_400(server, case):
    path, body, raw = BAD_400[case]
    assert_error(post(server, path, body, raw), 400)
    if case % 10 == 0:
        assert_serving(server)


def test_unknown_model_is_404(server):
    assert_error(post(server, CHAT, with_(GOOD_CHAT, model="gpt-4")), 404)
    assert_error(post(server, COMPLETIONS, with_(GOOD_COMPLETION, model="nope")), 404)
    assert post(server, COMPLETIONS, {k: v for k, v in GOOD_COMPLETION.items() if k != "model"}).status_code == 200


def test_api_key_is_401(server):
    assert_error(post(server, CHAT, GOOD_CHAT, headers={}), 401)
    assert_error(post(server, CHAT, GOOD_CHAT, headers={"Authorization": "Bearer wrong"}), 401)
    assert_error(requests.get(server.url + "/v1/models", timeout=10), 401)
    assert requests.get(server.url + "/health", timeout=10).status_code == 200  # not under /v1
    assert_serving(server)


def test_unknown_route_is_404(server):
    assert_error(requests.get(server.url + "/v1/nothing", headers=server.headers, timeout=10), 404)


def random_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -1, 2, 5, 17, 2**31, -(2**63), 10**20])
    if kind == 3:
        return rng.choice([0.0, -0.5, 0.5, 1.0, 1.5, 1e308, -1e-9])
    if kind == 4:
        return rng.choice(["", "x", "stop", "<think>", "\u00e9\u4e2d", "\\u0000", "a" * 100])
    if kind == 5:
        return rng.choice(["text", "function", "user", "assistant", "tool", "auto", "none"])
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 7:
        return {rng.choice(["role", "content", "type", "text", "name", "include_usage", "function"]): random_value(rng, depth + 1)
                for _ in range(rng.randrange(4))}
    return rng.choice([{"role": "user", "content": "hi"}, [1, 2, 3], {"type": "text", "text": "x"}])


FIELDS = ["model", "messages", "prompt", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k",
          "min_p", "n", "stop", "stream", "stream_options", "seed", "logprobs", "top_logprobs", "presence_penalty",
          "frequency_penalty", "repetition_penalty", "ignore_eos", "min_tokens", "tools", "tool_choice", "echo",
          "chat_template_kwargs", "stop_token_ids", "response_format", "add_generation_prompt", "skip_special_tokens",
          "include_stop_str_in_output", "best_of", "logit_bias", "continue_final_message", "suffix", "user"]


def fuzz_body(rng):
    path, base = rng.choice([(CHAT, GOOD_CHAT), (COMPLETIONS, GOOD_COMPLETION)])
    body = json.loads(json.dumps(base))
    for _ in range(rng.randrange(1, 4)):
        body[rng.choice(FIELDS)] = random_value(rng)
    # Keep generation short whatever the mutation did.
    if body.get("max_tokens") is None or (isinstance(body["max_tokens"], int) and body["max_tokens"] > 4):
        body["max_tokens"] = 4
    if isinstance(body.get("max_completion_tokens"), int) and body["max_completion_tokens"] > 4:
        body["max_completion_tokens"] = 4
    if isinstance(body.get("n"), int) and body["n"] > 4:
        body["n"] = rng.choice([4, 17])  # 17 is over the server's limit
    raw = json.dumps(body).encode()
    if rng.random() < 0.1:  # broken bytes
        cut = rng.randrange(len(raw))
        raw = raw[:cut] + bytes([rng.randrange(256)]) + raw[cut + 1:]
    return path, raw


def test_fuzz_request_bodies(server):
    rng = random.Random(20250705)
    statuses = {}
    for i in range(250):
        path, raw = fuzz_body(rng)
        r = post(server, path, raw=raw)
        assert r.status_code < 500, (raw, r.status_code, r.text)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if r.status_code >= 400 and not r.headers.get("Content-Type", "").startswith("text/event-stream"):
            assert "error" in r.json()
    assert statuses.get(200, 0) > 10 and statuses.get(400, 0) > 10, statuses
    assert_serving(server)
