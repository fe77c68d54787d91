"""Structured outputs against `rotor serve` on the tiny random-weight fixture, with the
`openai` client: JSON schemas (100 schemas of the JSON Schema Test Suite that rotor accepts,
tests/e2e/data/json_schema_corpus.json), json_object, regexes, choices, EBNF grammars and
forced tool calls (tool_choice required / a named function). Every output that ends (the
grammar complete, eos forced) must validate against its constraint with an independent
checker (jsonschema, re); outputs cut by max_tokens cannot be checked as wholes, and a random
model closes a JSON string with about 0.3% of its draws, so some are: they are counted, and
must stay a minority. With ignore_eos a request runs on past its grammar's end on end tokens
alone, and no refusal is logged. Unsupported constructs answer 400 naming them."""
import concurrent.futures
import json
import pathlib
import re

import jsonschema
import openai
import pytest

from conftest import API_KEY, TINY_SERVE_ARGS
from rotor_server import RotorServer

CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "json_schema_corpus.json").read_text())
# The formats rotor writes (structured/json_string.h) that this jsonschema can check; others
# are annotations rotor does not enforce, as JSON schema's default vocabulary says.
FORMATS = [f for f in ("date", "time", "date-time", "email", "uuid", "ipv4", "hostname", "uri")
           if f in jsonschema.FormatChecker().checkers]


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=600)


def chat(client, max_tokens=300, seed=0, n=1, **extra):
    return client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Answer in the requested format."}],
        max_tokens=max_tokens, temperature=1.0, seed=seed, n=n, extra_body=extra.pop("extra_body", None), **extra)


def validate(instance, schema):
    jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.FormatChecker(FORMATS))


def test_corpus_is_the_test_suite_with_its_licence():
    assert len(CORPUS["schemas"]) == 100
    assert "Permission is hereby granted" in CORPUS["license"]
    assert all(s["file"].startswith("tests/draft2020-12/") for s in CORPUS["schemas"])


def test_json_schema_corpus_outputs_validate(client):
    def run(i):
        schema = CORPUS["schemas"][i]["schema"]
        r = chat(client, seed=i, response_format={"type": "json_schema",
                                                   "json_schema": {"name": f"s{i}", "schema": schema}})
        return i, r.choices[0]

    ended, cut = 0, []
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        for i, choice in pool.map(run, range(len(CORPUS["schemas"]))):
            if choice.finish_reason == "length":
                cut.append(i)
                continue
            assert choice.finish_reason == "stop"
            schema = CORPUS["schemas"][i]["schema"]
            try:
                validate(json.loads(choice.message.content), schema)
            except Exception as e:  # noqa: BLE001 (the message names the schema and output)
                pytest.fail(f"schema {i} {json.dumps(schema)}: output {choice.message.content!r}: {e}")
            ended += 1
    print(f"{ended} outputs ended and validate, {len(cut)} cut by max_tokens: {cut}")
    assert ended >= 60, cut


def test_json_object(client):
    r = chat(client, n=4, response_format={"type": "json_object"})
    for c in r.choices:
        if c.finish_reason == "stop":
            assert isinstance(json.loads(c.message.content), dict)


@pytest.mark.parametrize("pattern", [r"(yes|no|maybe), [a-z]{1,8}\.", r"\d{3}-\d{4}", r"[A-Z][a-z]{0,6}( [A-Z][a-z]{0,6}){0,2}",
                                     r"-?(0|[1-9]\d{0,4})(\.\d{1,3})?", r"(ab|cd){1,4}e?", r"[^\n]{1,12}!"])
def test_guided_regex(client, pattern):
    r = chat(client, n=4, seed=7, extra_body={"guided_regex": pattern})
    for c in r.choices:
        assert c.finish_reason == "stop", c
        assert re.fullmatch(pattern, c.message.content), (pattern, c.message.content)


def test_guided_choice_and_structured_outputs_field(client):
    choices = ["positive", "negative", "neutral ☺"]
    for extra in ({"guided_choice": choices}, {"structured_outputs": {"choice": choices}}):
        r = chat(client, n=6, seed=3, extra_body=extra)
        assert all(c.message.content in choices and c.finish_reason == "stop" for c in r.choices), r


def test_ignore_eos_past_the_grammars_end(rotor_binary, tiny_model):
    # With ignore_eos a request goes on past its grammar's end drawing end tokens only (all its
    # bitmask allows): its text is the constrained one, max_tokens are drawn, and the server logs
    # no refusal (that warning is for a sampler that ignored the mask).
    s = RotorServer(rotor_binary, str(tiny_model), *TINY_SERVE_ARGS, api_key=API_KEY)
    try:
        c = openai.OpenAI(base_url=s.url + "/v1", api_key=API_KEY, max_retries=0, timeout=600)
        r = chat(c, max_tokens=12, seed=1, extra_body={"guided_choice": ["yes", "no"], "ignore_eos": True})
        assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 12, r
        assert r.choices[0].message.content in ("yes", "no"), r
    finally:
        assert s.stop() == 0, s.output
    assert "constraint refused" not in s.output, s.output


def test_guided_grammar(client):
    grammar = 'root ::= "[" item ("," item){0,3} "]"\nitem ::= [a-c]{1,3} | [0-9]'
    r = chat(client, n=4, seed=5, extra_body={"guided_grammar": grammar})
    for c in r.choices:
        assert c.finish_reason == "stop"
        assert re.fullmatch(r"\[([a-c]{1,3}|[0-9])(,([a-c]{1,3}|[0-9])){0,3}\]", c.message.content), c.message.content


def test_completions_endpoint_and_streaming(client):
    r = client.completions.create(model="tiny", prompt="The answer:", max_tokens=50, temperature=1.0, seed=1, n=2,
                                  extra_body={"guided_regex": r"[0-9]{2,4}"})
    assert all(re.fullmatch(r"[0-9]{2,4}", c.text) and c.finish_reason == "stop" for c in r.choices), r
    stream = chat(client, stream=True, extra_body={"guided_choice": ["red", "green", "blue"]})
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text in ("red", "green", "blue")


TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 12}, "unit": {"enum": ["celsius", "fahrenheit"]},
                       "days": {"type": "integer", "minimum": 1, "maximum": 14}},
        "required": ["city", "days"], "additionalProperties": False}}},
    {"type": "function", "function": {"name": "set_alarm", "parameters": {
        "type": "object", "properties": {"hour": {"type": "integer", "minimum": 0, "maximum": 23},
                                         "label": {"type": ["string", "null"], "maxLength": 6}},
        "required": ["hour"], "additionalProperties": False}}},
]
PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}


@pytest.mark.parametrize("tool_choice", ["required", {"type": "function", "function": {"name": "set_alarm"}}])
def test_forced_tool_calls_parse_and_validate(client, tool_choice):
    r = chat(client, max_tokens=200, n=6, seed=11, tools=TOOLS, tool_choice=tool_choice)
    ended = 0
    for c in r.choices:
        # "required" takes one or more calls: a random model may go on calling past max_tokens.
        if c.finish_reason == "length" and tool_choice == "required":
            continue
        assert c.finish_reason == "tool_calls", c
        ended += 1
        calls = c.message.tool_calls
        assert calls and (tool_choice == "required" or len(calls) == 1), c
        for call in calls:
            if tool_choice != "required":
                assert call.function.name == "set_alarm"
            validate(json.loads(call.function.arguments), PARAMS[call.function.name])
    assert ended >= 3


@pytest.mark.parametrize("extra,needle", [
    ({"guided_json": {"type": "object", "properties": {"a": {"not": {"type": "string"}}}}}, "'not' is not supported"),
    ({"guided_json": {"type": "array", "uniqueItems": True}}, "uniqueItems"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "http://x/y"}}}},
     "only references inside the schema"),
    ({"guided_regex": "(a)\\1"}, "back-references"),
    ({"guided_grammar": "root ::= x"}, "'x' is used but not defined"),
    ({"guided_json": "{oops"}, "not valid JSON"),
    ({"guided_regex": "a", "guided_choice": ["b"]}, "only one structured output"),
])
def test_unsupported_constraints_are_400(client, extra, needle):
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, extra_body=extra)
    assert needle in str(e.value)
