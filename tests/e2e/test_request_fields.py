"""vLLM's request fields beyond OpenAI's, against the real binary through the `openai`
client: prompt log-probs and echo with logprobs (the log-likelihoods evaluation harnesses
read), allowed_token_ids, bad_words, truncate_prompt_tokens, priority under
--scheduling-policy priority, include_reasoning, chat echo, request_id; and the fields rotor
knows but does not implement, which answer 400 naming the field (unknown fields pass)."""
import math
import threading
import time

import openai
import pytest
import requests

from conftest import API_KEY, TINY_SERVE_ARGS
from rotor_server import RotorServer

PROMPT = "The quick brown fox jumps over the lazy dog because"


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


def token_ids(server, text):
    r = requests.post(server.url + "/tokenize", json={"prompt": text}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["tokens"]


def post(server, path, body):
    return requests.post(server.url + path, json=body, headers=server.headers, timeout=120)


def test_prompt_logprobs_agree_with_generation(client, server):
    ids = token_ids(server, PROMPT)
    # The greedy next token and its log-prob, as generation reports them...
    g = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=1, temperature=0, logprobs=1,
                                  extra_body={"return_tokens_as_token_ids": True})
    nxt = int(g.choices[0].logprobs.tokens[0].split(":")[1])
    # ...are the last position's best entry when that token ends the prompt.
    r = client.completions.create(model="tiny", prompt=ids + [nxt], max_tokens=1, temperature=0,
                                  extra_body={"prompt_logprobs": 3})
    plp = r.choices[0].model_extra["prompt_logprobs"]
    assert len(plp) == len(ids) + 1 and plp[0] is None
    for pos, entry in enumerate(plp[1:], start=1):
        assert str((ids + [nxt])[pos]) in entry  # the prompt token itself, then the best three
        assert sorted(v["rank"] for v in entry.values())[:3] == [1, 2, 3]
        best = [v["logprob"] for v in entry.values() if v["rank"] <= 3]
        assert best == sorted(best, reverse=True)
    last = plp[-1][str(nxt)]
    assert last["rank"] == 1
    # (Two computations of the same position: equal up to the kernels' rounding on a GPU.)
    assert math.isclose(last["logprob"], g.choices[0].logprobs.token_logprobs[0], abs_tol=2e-2)
    # In chat the prompt's log-probs come at the top level.
    c = post(server, "/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}],
                                              "max_tokens": 2, "prompt_logprobs": 0})
    assert c.status_code == 200, c.text
    body = c.json()
    assert len(body["prompt_logprobs"]) == body["usage"]["prompt_tokens"] and body["prompt_logprobs"][0] is None
    r = post(server, "/v1/completions", {"model": "tiny", "prompt": "x", "prompt_logprobs": 1, "stream": True})
    assert r.status_code == 400 and r.json()["error"]["param"] == "prompt_logprobs"


def test_echo_logprobs_give_the_prompts_log_likelihood(client, server):
    """What lm-evaluation-harness sends for loglikelihood: echo, logprobs, max_tokens 0 or 1."""
    ids = token_ids(server, PROMPT)
    full = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=0, echo=True, logprobs=1, temperature=0)
    c = full.choices[0]
    assert c.text == PROMPT and full.usage.completion_tokens == 0 and full.usage.prompt_tokens == len(ids)
    lp = c.logprobs
    assert len(lp.tokens) == len(ids) and "".join(lp.tokens) == PROMPT
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None and lp.text_offset[0] == 0
    assert all(x < 0 for x in lp.token_logprobs[1:])
    assert lp.text_offset == [len("".join(lp.tokens[:i])) for i in range(len(ids))]
    # The same numbers as prompt_logprobs, and as the continuation scored after a context.
    plp = c.model_extra["prompt_logprobs"]
    assert [v[str(t)]["logprob"] for v, t in zip(plp[1:], ids[1:])] == pytest.approx(lp.token_logprobs[1:], abs=1e-4)
    one = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=1, echo=True, logprobs=1, temperature=0)
    o = one.choices[0]
    assert len(o.logprobs.tokens) == len(ids) + 1 and o.text.startswith(PROMPT)
    assert o.logprobs.token_logprobs[:-1] == pytest.approx(lp.token_logprobs, abs=1e-4)
    # Streamed, the prompt and its log-probs come in the first chunk.
    chunks = list(client.completions.create(model="tiny", prompt=PROMPT, max_tokens=3, echo=True, logprobs=1,
                                            temperature=0, stream=True))
    first = chunks[0].choices[0]
    assert first.text.startswith(PROMPT) and first.logprobs.token_logprobs[0] is None
    assert first.logprobs.token_logprobs[1:len(ids)] == pytest.approx(lp.token_logprobs[1:], abs=1e-4)
    streamed = [t for ch in chunks if ch.choices for t in ch.choices[0].logprobs.tokens]
    assert len(streamed) == len(ids) + 3
    r = post(server, "/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": 0})
    assert r.status_code == 400 and "echo" in r.json()["error"]["message"]


def generated_ids(choice):
    return [int(t.split(":")[1]) for t in choice.logprobs.tokens]


def test_allowed_token_ids_and_bad_words(client, server):
    allowed = token_ids(server, " red green blue yellow")
    r = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=24, temperature=1.0, seed=1, logprobs=0,
                                  extra_body={"allowed_token_ids": allowed, "return_tokens_as_token_ids": True})
    got = generated_ids(r.choices[0])
    assert len(got) == 24 and set(got) <= set(allowed) and len(set(got)) > 1

    greedy = generated_ids(client.completions.create(model="tiny", prompt=PROMPT, max_tokens=6, temperature=0,
                                                     logprobs=0, extra_body={"return_tokens_as_token_ids": True})
                           .choices[0])

    def banned_sequences(word):  # vLLM's rule: the word, and the word after a space if as long
        bare = word.lstrip()
        plain, spaced = token_ids(server, bare), token_ids(server, " " + bare)
        return [plain] + ([spaced] if len(spaced) == len(plain) and spaced[0] != plain[0] else [])

    # A greedy token the rule bans as it is, so the greedy answer cannot come back.
    for i, t in enumerate(greedy):
        word = requests.post(server.url + "/detokenize", json={"tokens": [t]}, timeout=30).json()["prompt"]
        if [t] in banned_sequences(word):
            break
    else:
        pytest.fail(f"no greedy token of {greedy} is a bad word by itself")
    banned = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=6, temperature=0, logprobs=0,
                                       extra_body={"bad_words": [word], "return_tokens_as_token_ids": True})
    out = generated_ids(banned.choices[0])
    assert len(out) == 6 and t not in out and out[:i] == greedy[:i]
    r = post(server, "/v1/completions", {"model": "tiny", "prompt": "x", "allowed_token_ids": [10 ** 7]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "allowed_token_ids"


def test_truncate_prompt_tokens(client, server):
    r = client.completions.create(model="tiny", prompt=PROMPT, max_tokens=1, echo=True,
                                  extra_body={"truncate_prompt_tokens": 4})
    ids = token_ids(server, PROMPT)
    kept = requests.post(server.url + "/detokenize", json={"tokens": ids[-4:]}, timeout=30).json()["prompt"]
    assert r.usage.prompt_tokens == 4 and r.choices[0].text.startswith(kept)
    c = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": PROMPT}], max_tokens=1,
                                       extra_body={"truncate_prompt_tokens": 5})
    assert c.usage.prompt_tokens == 5
    r = post(server, "/v1/completions", {"model": "tiny", "prompt": PROMPT, "truncate_prompt_tokens": 100000})
    assert r.status_code == 400 and r.json()["error"]["param"] == "truncate_prompt_tokens"


def test_chat_echo_and_request_id(client):
    messages = [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi there,"}]
    r = client.chat.completions.create(model="tiny", messages=messages, max_tokens=3, extra_body={
        "echo": True, "add_generation_prompt": False, "continue_final_message": True, "request_id": "abc-123"})
    assert r.choices[0].message.content.startswith("Hi there,") and r.id == "chatcmpl-abc-123"
    chunks = list(client.chat.completions.create(model="tiny", messages=messages, max_tokens=3, stream=True, extra_body={
        "echo": True, "add_generation_prompt": False, "continue_final_message": True}))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices).startswith("Hi there,")


UNSUPPORTED = [
    ("/v1/chat/completions", "logit_bias", {"50": 5}), ("/v1/completions", "guided_decoding_backend", "xgrammar"),
    ("/v1/chat/completions", "guided_whitespace_pattern", " "), ("/v1/chat/completions", "structural_tag", "{}"),
    ("/v1/completions", "use_beam_search", True), ("/v1/chat/completions", "length_penalty", 0.5),
    ("/v1/completions", "logits_processors", ["x.Y"]), ("/v1/chat/completions", "cache_salt", "salt"),
    ("/v1/chat/completions", "kv_transfer_params", {}), ("/v1/completions", "vllm_xargs", {"a": 1}),
    ("/v1/completions", "return_token_ids", True), ("/v1/chat/completions", "mm_processor_kwargs", {}),
    ("/v1/completions", "prompt_embeds", "AAAA"), ("/v1/chat/completions", "functions", [{"name": "f"}]),
    ("/v1/chat/completions", "function_call", "auto"), ("/v1/chat/completions", "audio", {"voice": "a"}),
    ("/v1/chat/completions", "modalities", ["text", "audio"]), ("/v1/chat/completions", "prediction", {}),
    ("/v1/chat/completions", "web_search_options", {}), ("/v1/chat/completions", "reasoning_effort", "low"),
    ("/v1/completions", "suffix", "end"),
]


@pytest.mark.parametrize("path,field,value", UNSUPPORTED, ids=[u[1] for u in UNSUPPORTED])
def test_unimplemented_fields_answer_400_naming_them(server, path, field, value):
    body = {"model": "tiny", "max_tokens": 1, field: value}
    body.update({"messages": [{"role": "user", "content": "hi"}]} if "chat" in path else {"prompt": "hi"})
    r = post(server, path, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == field and "not supported" in r.json()["error"]["message"]


def test_values_that_ask_for_nothing_and_unknown_fields_pass(server):
    body = {"model": "tiny", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}], "logit_bias": {},
            "use_beam_search": False, "length_penalty": 1.0, "return_token_ids": False, "modalities": ["text"],
            "user": "u1", "metadata": {"k": "v"}, "store": False, "service_tier": "auto", "parallel_tool_calls": True,
            "spaces_between_special_tokens": True, "add_special_tokens": False, "documents": [{"title": "t"}],
            "some_field_nobody_defined": 1}
    r = post(server, "/v1/chat/completions", body)
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def prio(rotor_binary, tiny_model):
    args = [a for a in TINY_SERVE_ARGS]
    args[args.index("--max-num-seqs") + 1] = "1"
    s = RotorServer(rotor_binary, str(tiny_model), *args, "--scheduling-policy", "priority", "--reasoning-parser",
                    "qwen3", api_key=API_KEY)
    yield s
    assert s.stop() == 0, s.output


def test_priority_policy_serves_urgent_requests_first(prio, server):
    # One request runs at a time: a long one holds the slot while two wait; the one with the
    # lower priority value goes first although it came second.
    done, submitted, running = {}, {}, threading.Event()

    def run(name, priority, max_tokens):
        body = {"model": "tiny", "prompt": PROMPT, "max_tokens": max_tokens, "ignore_eos": True, "priority": priority,
                "stream": True}
        with requests.post(prio.url + "/v1/completions", json=body, headers=prio.headers, stream=True,
                           timeout=120) as r:
            assert r.status_code == 200, r.text
            for line in r.iter_lines():
                running.set()
                if line == b"data: [DONE]":
                    break
        done[name] = time.monotonic()

    threads = [threading.Thread(target=run, args=("long", 0, 480))]
    submitted["long"] = time.monotonic()
    threads[0].start()
    assert running.wait(60)  # the long request holds the only slot
    for name, priority in (("later", 5), ("urgent", -5)):
        threads.append(threading.Thread(target=run, args=(name, priority, 4)))
        submitted[name] = time.monotonic()
        threads[-1].start()
        waiting = 1 if name == "later" else 2
        while prio.metric("vllm:num_requests_waiting") < waiting and time.monotonic() - submitted[name] < 30:
            time.sleep(0.005)  # "later" waits in the queue before "urgent" arrives
        assert "long" not in done, "the long request ended before both others waited: lengthen it"
    for t in threads:
        t.join()
    assert done["long"] < done["urgent"] < done["later"], done
    r = post(server, "/v1/completions", {"model": "tiny", "prompt": "x", "priority": 1})  # fcfs server
    assert r.status_code == 400 and r.json()["error"]["param"] == "priority"


def test_include_reasoning(prio):
    # The prompt ends inside <think>: everything generated is reasoning until </think>.
    body = {"model": "tiny", "max_tokens": 6, "temperature": 0, "ignore_eos": True,
            "messages": [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "<think>\nLet me"}],
            "add_generation_prompt": False, "continue_final_message": True}
    with_r = post(prio, "/v1/chat/completions", body).json()["choices"][0]["message"]
    without = post(prio, "/v1/chat/completions", {**body, "include_reasoning": False}).json()["choices"][0]["message"]
    assert with_r["reasoning_content"] and without["reasoning_content"] is None
    assert without["content"] == with_r["content"]
    r = post(prio, "/v1/chat/completions", {**body, "include_reasoning": False, "stream": True})
    assert "reasoning_content" not in r.text and "[DONE]" in r.text
