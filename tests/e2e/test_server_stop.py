"""Stop strings on `rotor serve`: found across token boundaries, never emitted, the same
streamed and not, with usage counting only the tokens up to the stop."""
import openai
import pytest
import requests

from conftest import API_KEY

PROMPT = "The capital of France is"
N = 16


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def greedy(client, server):
    """The greedy continuation, its tokens and each token's text."""
    r = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=N, temperature=0, logprobs=0,
                                  extra_body={"ignore_eos": True, "return_tokens_as_token_ids": True})
    ids = [int(t.split(":")[1]) for t in r.choices[0].logprobs.tokens]
    pieces = [requests.post(server.url + "/detokenize", json={"tokens": ids[:i]}, timeout=30).json()["prompt"]
              for i in range(N + 1)]
    assert pieces[-1] == r.choices[0].text
    return r.choices[0].text, ids, pieces


def stop_spanning_a_boundary(pieces):
    """A stop string that starts inside token k and ends inside token k+1, with the token
    index that completes it."""
    for k in range(3, N - 2):
        a, b, c = pieces[k], pieces[k + 1], pieces[k + 2]
        if len(b) - len(a) >= 2 and len(c) - len(b) >= 2 and b.startswith(a) and c.startswith(b):
            start = len(b) - 1
            stop = c[start:start + 2]
            if stop not in c[:start] + stop[:1]:
                return stop, start, k + 2
    pytest.skip("no two consecutive multi-character tokens in the greedy text")


def test_stop_string_across_tokens(client, greedy):
    text, ids, pieces = greedy
    stop, start, tokens_needed = stop_spanning_a_boundary(pieces)
    expected = text[:text.find(stop)]
    kw = dict(model="tiny", prompt=PROMPT, max_tokens=N, temperature=0, stop=[stop], extra_body={"ignore_eos": True})
    r = client.completions.create(**kw)
    assert r.choices[0].text == expected
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].model_extra["stop_reason"] == stop
    assert r.usage.completion_tokens == tokens_needed
    chunks = list(client.completions.create(stream=True, **kw))
    assert "".join(c.choices[0].text for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stop_string_in_chat_stream(client):
    messages = [{"role": "user", "content": "Count."}]
    kw = dict(model="tiny", messages=messages, max_tokens=N, temperature=0, extra_body={"ignore_eos": True})
    text = client.chat.completions.create(**kw).choices[0].message.content
    stop = text[len(text) // 2:len(text) // 2 + 3]
    if len(stop) < 3:
        pytest.skip("greedy text too short")
    expected = text[:text.find(stop)]
    full = client.chat.completions.create(stop=stop, **kw)
    assert full.choices[0].message.content == expected and full.choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(stop=stop, stream=True, **kw)
                       if c.choices)
    assert streamed == expected


def test_stop_included_when_asked(client, greedy):
    text, _, pieces = greedy
    stop, _, _ = stop_spanning_a_boundary(pieces)
    r = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=N, temperature=0, stop=stop,
                                  extra_body={"ignore_eos": True, "include_stop_str_in_output": True})
    assert r.choices[0].text == text[:text.find(stop) + len(stop)]


def test_stop_token_ids(client, greedy):
    _, ids, _ = greedy
    r = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=N, temperature=0,
                                  extra_body={"ignore_eos": True, "stop_token_ids": [ids[5]]})
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].model_extra["stop_reason"] == ids[5]
    assert r.usage.completion_tokens == ids.index(ids[5]) + 1
