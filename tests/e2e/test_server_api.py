"""`rotor serve` on the tiny fixture through the official `openai` client: chat and
completions, streaming and not, usage equal to the tokenizer's counts, greedy tokens equal to
transformers' (reference.json), logprobs, n, seeds, and the auxiliary endpoints."""
import json

import openai
import pytest
import requests

from conftest import API_KEY


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def reference(tiny_model):
    return json.loads((tiny_model / "reference.json").read_text())["prompts"]


def tokenize(server, **body):
    r = requests.post(server.url + "/tokenize", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name three colours."}]


def test_models(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny"]
    assert models.data[0].model_extra["max_model_len"] == 512


def test_completion_greedy_matches_transformers(client, server, reference):
    for ref in reference:
        n = len(ref["greedy"])
        r = client.completions.create(model="tiny", prompt=ref["text"], max_tokens=n, temperature=0, logprobs=0,
                                      extra_body={"ignore_eos": True, "return_tokens_as_token_ids": True})
        assert r.usage.prompt_tokens == len(ref["ids"])
        assert r.usage.completion_tokens == n
        ids = [int(t.split(":")[1]) for t in r.choices[0].logprobs.tokens]
        assert ids == ref["greedy"], ref["text"]
        detok = requests.post(server.url + "/detokenize", json={"tokens": ref["greedy"]}, timeout=30).json()
        assert r.choices[0].text == detok["prompt"]
        assert r.choices[0].finish_reason == "length"


def test_completion_prompt_forms(client, reference):
    ids = reference[0]["ids"]
    by_text = client.completions.create(model="tiny", prompt=reference[0]["text"], max_tokens=4, temperature=0)
    by_ids = client.completions.create(model="tiny", prompt=ids, max_tokens=4, temperature=0)
    assert by_ids.choices[0].text == by_text.choices[0].text
    many = client.completions.create(model="tiny", prompt=[reference[0]["text"], ids, reference[1]["ids"]],
                                     max_tokens=4, temperature=0)
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert many.choices[0].text == many.choices[1].text == by_text.choices[0].text
    assert many.usage.prompt_tokens == 2 * len(ids) + len(reference[1]["ids"])
    echo = client.completions.create(model="tiny", prompt=reference[0]["text"], max_tokens=4, temperature=0, echo=True)
    assert echo.choices[0].text == reference[0]["text"] + by_text.choices[0].text


def test_chat_usage_equals_tokenizer(client, server):
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=6, temperature=0,
                                       extra_body={"ignore_eos": True})
    assert r.object == "chat.completion" and r.choices[0].message.role == "assistant"
    assert r.usage.prompt_tokens == tokenize(server, messages=MESSAGES)["count"]
    assert r.usage.completion_tokens == 6 and r.usage.total_tokens == r.usage.prompt_tokens + 6
    assert r.choices[0].finish_reason == "length"
    text = r.choices[0].message.content
    # The text re-tokenizes to at most the generated count (random weights may emit merges
    # that tokenize shorter, never longer).
    assert tokenize(server, prompt=text)["count"] <= 6


def test_chat_stream_equals_non_stream(client):
    kw = dict(model="tiny", messages=MESSAGES, max_tokens=10, temperature=0, extra_body={"ignore_eos": True})
    full = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 10
    assert chunks[-1].usage.prompt_tokens == full.usage.prompt_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_completion_stream_equals_non_stream(client, reference):
    kw = dict(model="tiny", prompt=reference[2]["text"], max_tokens=12, temperature=0, extra_body={"ignore_eos": True})
    full = client.completions.create(**kw)
    chunks = list(client.completions.create(stream=True, **kw))
    assert "".join(c.choices[0].text for c in chunks) == full.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_max_completion_tokens_and_min_tokens(client):
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_completion_tokens=3, temperature=0,
                                       extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 3


def test_chat_logprobs(client):
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=4, temperature=0, logprobs=True,
                                       top_logprobs=3, extra_body={"ignore_eos": True})
    content = r.choices[0].logprobs.content
    assert len(content) == 4
    for lp in content:
        assert len(lp.top_logprobs) == 3
        assert lp.top_logprobs[0].logprob >= lp.top_logprobs[1].logprob >= lp.top_logprobs[2].logprob
        assert lp.logprob == pytest.approx(lp.top_logprobs[0].logprob, abs=1e-5)  # greedy takes the best
        assert lp.logprob <= 0
    assert "".join(bytes(lp.bytes).decode("utf-8", "replace") for lp in content) == r.choices[0].message.content


def test_n_and_seeds(client):
    kw = dict(model="tiny", messages=MESSAGES, max_tokens=8, temperature=1.0, extra_body={"ignore_eos": True})
    a = client.chat.completions.create(seed=1234, n=3, **kw)
    b = client.chat.completions.create(seed=1234, n=3, **kw)
    assert [c.index for c in a.choices] == [0, 1, 2]
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert a.usage.completion_tokens == 24
    assert len({c.message.content for c in a.choices}) > 1  # choices draw different samples
    stream = list(client.chat.completions.create(seed=1234, n=3, stream=True, **kw))
    texts = ["", "", ""]
    for c in stream:
        for ch in c.choices:
            texts[ch.index] += ch.delta.content or ""
    assert texts == [c.message.content for c in a.choices]


def test_sampling_parameters_are_accepted(client):
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=4, temperature=0.7, top_p=0.9,
                                       presence_penalty=0.5, frequency_penalty=0.5, seed=7,
                                       extra_body={"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.1,
                                                   "min_tokens": 2, "chat_template_kwargs": {"enable_thinking": False},
                                                   "unknown_field": [1, 2]})
    assert r.usage.completion_tokens >= 2


def test_tools_render_into_the_prompt(client, server):
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, tools=tools, max_tokens=2, temperature=0)
    assert r.usage.prompt_tokens == tokenize(server, messages=MESSAGES, tools=tools)["count"]
    assert r.usage.prompt_tokens > tokenize(server, messages=MESSAGES)["count"]


def test_tokenize_detokenize_version_health(server, reference):
    t = tokenize(server, prompt=reference[2]["text"])
    assert t["tokens"] == reference[2]["ids"] and t["count"] == len(reference[2]["ids"])
    d = requests.post(server.url + "/detokenize", json={"tokens": t["tokens"]}, timeout=30).json()
    assert d["prompt"] == reference[2]["text"]
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    assert "version" in requests.get(server.url + "/version", timeout=5).json()


def test_metrics_use_vllm_names(server, client):
    before = server.metrics()
    client.completions.create(model="tiny", prompt="hello there", max_tokens=3, temperature=0,
                              extra_body={"ignore_eos": True})
    after = server.metrics()
    names = {k.split("{")[0] for k in after}
    for name in ["vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                 "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
                 "vllm:time_to_first_token_seconds_count", "vllm:inter_token_latency_seconds_count",
                 "vllm:e2e_request_latency_seconds_count", "vllm:e2e_request_latency_seconds_bucket"]:
        assert name in names, name

    def value(m, name):
        return next(v for k, v in m.items() if k.split("{")[0] == name)
    assert value(after, "vllm:generation_tokens_total") >= value(before, "vllm:generation_tokens_total") + 3
    assert value(after, "vllm:e2e_request_latency_seconds_count") == value(before, "vllm:e2e_request_latency_seconds_count") + 1


def test_chat_template_kwargs_reach_the_template(client, server):
    plain = tokenize(server, messages=MESSAGES)["count"]
    no_think = tokenize(server, messages=MESSAGES, chat_template_kwargs={"enable_thinking": False})["count"]
    assert no_think > plain  # Qwen3's template adds an empty <think></think> block
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=1,
                                       extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    assert r.usage.prompt_tokens == no_think


def test_continue_final_message(client, server):
    partial = MESSAGES + [{"role": "assistant", "content": "Red, green and"}]
    r = client.chat.completions.create(model="tiny", messages=partial, max_tokens=1, extra_body={
        "add_generation_prompt": False, "continue_final_message": True})
    full = tokenize(server, messages=partial, add_generation_prompt=False)
    assert r.usage.prompt_tokens < full["count"]  # the prompt stops inside the assistant message
    text = requests.post(server.url + "/detokenize", json={"tokens": full["tokens"]}, timeout=30).json()["prompt"]
    cut = text[:text.rindex("Red, green and") + len("Red, green and")]
    assert not cut.endswith("<|im_end|>\n")
    assert r.usage.prompt_tokens == tokenize(server, prompt=cut)["count"]
