"""Requests that must not get more than they ask for (issue 22): a client that goes away
aborts its request within a second, streamed or not; max_tokens = 2**31 - 1 does not overflow
the context check; sampling values past a float's range are a 400 naming the field; one
request carries a bounded number of prompts; /tokenize answers a bounded number of tokens."""
import time

import pytest
import requests

from raw_http import connect, request_bytes


def wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def running(server):
    return server.metric("vllm:num_requests_running")


@pytest.mark.parametrize("stream", [False, True])
def test_disconnect_aborts_within_a_second(server, stream):
    assert wait_for(lambda: running(server) == 0, 20)
    s = connect(server.port)
    s.sendall(request_bytes("POST", "/v1/completions", {
        "model": "tiny", "prompt": "Write forever.", "max_tokens": 500, "ignore_eos": True, "stream": stream},
        {"Authorization": f"Bearer {server.api_key}"}))
    assert wait_for(lambda: running(server) == 1, 10), "the request did not start"
    time.sleep(0.3)
    s.close()  # the client goes away
    start = time.time()
    assert wait_for(lambda: running(server) == 0, 5), "the request kept running"
    assert time.time() - start < 1.0, f"aborted after {time.time() - start:.2f} s"
    assert server.metric("vllm:kv_cache_usage_perc") == 0


def post(server, path, body):
    return requests.post(server.url + path, json=body, headers=server.headers, timeout=30)


def assert_400(r, param):
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.json()["error"]["param"] == param, r.text


@pytest.mark.parametrize("path,body", [
    ("/v1/completions", {"model": "tiny", "prompt": "hi"}),
    ("/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}),
])
def test_max_tokens_int32_max_is_refused(server, path, body):
    for field in ("max_tokens", "max_completion_tokens") if "chat" in path else ("max_tokens",):
        assert_400(post(server, path, dict(body, **{field: 2**31 - 1})), field)
    assert post(server, path, dict(body, max_tokens=2)).status_code == 200


@pytest.mark.parametrize("field", ["temperature", "repetition_penalty", "top_p", "min_p", "presence_penalty",
                                   "frequency_penalty"])
def test_sampling_values_past_a_float_are_refused(server, field):
    for value in (1e300, -1e300, 3.5e38):
        assert_400(post(server, "/v1/completions", {"model": "tiny", "prompt": "hi", "max_tokens": 2, field: value}),
                   field)


def test_prompts_per_request_are_bounded(server):
    body = {"model": "tiny", "prompt": ["hi"] * 300, "max_tokens": 1}
    assert_400(post(server, "/v1/completions", body), "prompt")
    assert_400(post(server, "/v1/completions", dict(body, prompt=["hi"] * 20, n=16)), "prompt")
    r = post(server, "/v1/completions", dict(body, prompt=["hi"] * 8, n=2))
    assert r.status_code == 200 and len(r.json()["choices"]) == 16


def test_tokenize_answers_a_bounded_number_of_tokens(server):
    r = requests.post(server.url + "/tokenize", json={"prompt": " ".join(["hello"] * 600)}, timeout=30)
    assert r.status_code == 400 and "600 tokens" in r.json()["error"]["message"], r.text
    r = requests.post(server.url + "/tokenize", json={"prompt": " ".join(["hello"] * 100)}, timeout=30)
    assert r.status_code == 200 and r.json()["count"] == 100
