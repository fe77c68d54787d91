"""Concurrency on `rotor serve`: 64 parallel SSE streams give exactly the greedy outputs of the
same requests run one at a time; a client that disconnects mid-stream aborts its request and
its KV blocks come back (seen in /metrics)."""
import concurrent.futures
import time

import openai
import pytest
import requests

from conftest import API_KEY


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=300)


def prompt(i):
    return [{"role": "user", "content": f"Request {i}: " + "tell me about the number " * (1 + i % 5) + str(i)}]


def run(client, i, stream):
    kw = dict(model="tiny", messages=prompt(i), max_tokens=6, temperature=0, extra_body={"ignore_eos": True})
    if not stream:
        return client.chat.completions.create(**kw).choices[0].message.content
    return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(stream=True, **kw)
                   if c.choices)


def test_64_parallel_streams_equal_sequential(client, server):
    sequential = [run(client, i, stream=False) for i in range(64)]
    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        parallel = list(pool.map(lambda i: run(client, i, stream=True), range(64)))
    assert parallel == sequential
    assert requests.get(server.url + "/health", timeout=5).status_code == 200


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_disconnect_aborts_and_frees_blocks(server):
    assert wait_for(lambda: server.metric("vllm:num_requests_running") == 0)
    aborted_before = next(v for k, v in server.metrics().items()
                          if k.startswith("vllm:request_success_total") and 'finished_reason="abort"' in k)
    body = {"model": "tiny", "prompt": "Write forever.", "max_tokens": 400, "temperature": 0, "ignore_eos": True,
            "stream": True}
    r = requests.post(server.url + "/v1/completions", json=body, headers=server.headers, stream=True, timeout=60)
    assert r.status_code == 200
    lines = r.iter_lines()
    got = 0
    for line in lines:
        if line.startswith(b"data: "):
            got += 1
            if got == 3:
                break
    assert server.metric("vllm:num_requests_running") == 1
    assert server.metric("vllm:kv_cache_usage_perc") > 0
    r.close()  # the client goes away mid-stream
    assert wait_for(lambda: server.metric("vllm:num_requests_running") == 0), "the request kept running"
    assert wait_for(lambda: server.metric("vllm:kv_cache_usage_perc") == 0), "its KV blocks were not freed"
    aborted = next(v for k, v in server.metrics().items()
                   if k.startswith("vllm:request_success_total") and 'finished_reason="abort"' in k)
    assert aborted == aborted_before + 1
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
