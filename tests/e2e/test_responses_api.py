"""/v1/responses (OpenAI's Responses API) and /ping against the real binary, through the
`openai` client: text output, usage equal to the rendered chat prompt, max_output_tokens
and the incomplete status, the streamed event sequence, logprobs when included, function
tools and function-call items in the input, refusals. (Function calls in the output and
reasoning items: tests/server/test_responses_api.cpp, where the model's answer is scripted.)"""
import openai
import pytest
import requests

from conftest import API_KEY

TOOLS = [{"type": "function", "name": "get_weather", "description": "Current weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


def prompt_tokens(server, messages, **extra):
    r = requests.post(server.url + "/tokenize", json={"messages": messages, **extra}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["count"]


def test_text_response(client, server):
    r = client.responses.create(model="tiny", instructions="Be brief.", input="Name a colour.", max_output_tokens=6,
                                temperature=0)
    assert r.object == "response" and r.id.startswith("resp_") and r.model == "tiny"
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert [o.type for o in r.output] == ["message"] and r.output_text == r.output[0].content[0].text
    assert r.usage.output_tokens == 6 and r.usage.total_tokens == r.usage.input_tokens + 6
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]
    assert r.usage.input_tokens == prompt_tokens(server, messages)
    assert r.instructions == "Be brief." and r.temperature == 0 and r.max_output_tokens == 6
    # Greedy: the same text as chat completions gives for the same conversation.
    chat = client.chat.completions.create(model="tiny", messages=messages, max_tokens=6, temperature=0)
    assert r.output_text == chat.choices[0].message.content
    # vLLM's sampling extras are taken as on chat completions.
    seeded = [client.responses.create(model="tiny", input="Hi", max_output_tokens=5, extra_body={"seed": 9, "top_k": 5})
              for _ in range(2)]
    assert seeded[0].output_text == seeded[1].output_text


def test_streamed_events(client):
    events = list(client.responses.create(model="tiny", input=[{"role": "user", "content": "Tell a story"}],
                                          max_output_tokens=8, temperature=0, stream=True,
                                          include=["message.output_text.logprobs"], top_logprobs=2))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.incomplete"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    final = events[-1].response
    assert "".join(d.delta for d in deltas) == final.output_text == events[-4].text
    assert sum(len(d.logprobs) for d in deltas) == final.usage.output_tokens == 8
    assert all(len(lp.top_logprobs) == 2 for d in deltas for lp in d.logprobs)
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    # Not streamed, the same output (greedy) with its logprobs on the text part.
    r = client.responses.create(model="tiny", input=[{"role": "user", "content": "Tell a story"}],
                                max_output_tokens=8, temperature=0, include=["message.output_text.logprobs"])
    assert r.output_text == final.output_text and len(r.output[0].content[0].logprobs) == 8


def test_function_tools_and_call_items(client, server):
    plain = client.responses.create(model="tiny", input="Weather in Paris?", max_output_tokens=1)
    with_tools = client.responses.create(model="tiny", input="Weather in Paris?", tools=TOOLS, max_output_tokens=1)
    assert with_tools.usage.input_tokens > plain.usage.input_tokens + 20  # the template lists the tools
    assert with_tools.tools[0].name == "get_weather" and with_tools.tool_choice == "auto"
    # A previous call and its result, sent back as input items.
    history = [{"role": "user", "content": "Weather in Paris?"},
               {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
               {"type": "function_call_output", "call_id": "call_1", "output": "22 C and sunny"}]
    r = client.responses.create(model="tiny", input=history, tools=TOOLS, max_output_tokens=2)
    messages = [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                                     "arguments": '{"city": "Paris"}'}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "22 C and sunny"}]
    chat_tools = [{"type": "function", "function": {k: v for k, v in t.items() if k != "type"}} for t in TOOLS]
    assert r.usage.input_tokens == prompt_tokens(server, messages, tools=chat_tools)


def test_refusals(server):
    for field, value in [("previous_response_id", "resp_x"), ("background", True), ("reasoning", {"effort": "low"}),
                         ("tools", [{"type": "web_search"}]), ("include", ["file_search_call.results"]),
                         ("text", {"format": {"type": "json_object"}}), ("max_output_tokens", 0)]:
        r = requests.post(server.url + "/v1/responses", json={"model": "tiny", "input": "hi", field: value},
                          headers=server.headers, timeout=30)
        assert r.status_code == 400, (field, r.text)
        assert r.json()["error"]["param"] == field
    r = requests.post(server.url + "/v1/responses", json={"input": "hi"}, timeout=30)
    assert r.status_code == 401  # under /v1: the API key applies


def test_ping(server):
    assert requests.get(server.url + "/ping", timeout=10).status_code == 200
    assert requests.post(server.url + "/ping", timeout=10).status_code == 200
    r = requests.put(server.url + "/ping", timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"
