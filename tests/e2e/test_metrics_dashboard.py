"""/metrics against vLLM's stock Grafana dashboard (vLLM's
examples/online_serving/prometheus_grafana/grafana.json): after some traffic on a fresh
server, every series its panels query is there with the model_name and engine labels and
has data, the histograms are well formed, and the numbers agree with each other and with
what the requests were (token counts per request, per step and per prompt of n choices,
the request phases adding up)."""
import math
import re

import openai
import pytest
import requests

from conftest import API_KEY, TINY_SERVE_ARGS
from rotor_server import RotorServer

# The series the dashboard's panels query, by panel.
DASHBOARD = {
    "E2E Request Latency": ["vllm:e2e_request_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_sum",
                            "vllm:e2e_request_latency_seconds_count"],
    "Token Throughput": ["vllm:prompt_tokens_total", "vllm:generation_tokens_total"],
    "Time Per Output Token Latency": ["vllm:time_per_output_token_seconds_bucket",
                                      "vllm:time_per_output_token_seconds_sum",
                                      "vllm:time_per_output_token_seconds_count"],
    "Scheduler State": ["vllm:num_requests_running", "vllm:num_requests_waiting"],
    "Time To First Token Latency": ["vllm:time_to_first_token_seconds_bucket", "vllm:time_to_first_token_seconds_sum",
                                    "vllm:time_to_first_token_seconds_count"],
    "Cache Utilization": ["vllm:gpu_cache_usage_perc"],
    "Request Prompt Length": ["vllm:request_prompt_tokens_bucket"],
    "Request Generation Length": ["vllm:request_generation_tokens_bucket"],
    "Finish Reason": ["vllm:request_success_total"],
    "Queue Time": ["vllm:request_queue_time_seconds_sum"],
    "Requests Prefill and Decode Time": ["vllm:request_prefill_time_seconds_sum", "vllm:request_decode_time_seconds_sum"],
    "Max Generation Token in Sequence Group": ["vllm:request_max_num_generation_tokens_sum"],
}
GAUGES = {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:gpu_cache_usage_perc"}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$')


def scrape(url):
    """[(name, labels dict, value)] of the exposition text (every sample has labels here)."""
    out = []
    for line in requests.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, line
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def value(samples, name, **labels):
    found = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


@pytest.fixture(scope="module")
def traffic(rotor_binary, tiny_model):
    """A fresh server and known traffic: 3 completions of 5 tokens (one with n 2), 1 chat of 4."""
    s = RotorServer(rotor_binary, str(tiny_model), *TINY_SERVE_ARGS, api_key=API_KEY)
    client = openai.OpenAI(base_url=s.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)
    usage = []
    for prompt, n in (("The first prompt", 1), ("A second, somewhat longer prompt here", 2), ("Third", 1)):
        r = client.completions.create(model="tiny", prompt=prompt, max_tokens=5, n=n, extra_body={"ignore_eos": True})
        usage.append((r.usage.prompt_tokens, r.usage.completion_tokens, n))
    r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hello"}], max_tokens=4,
                                       extra_body={"ignore_eos": True})
    usage.append((r.usage.prompt_tokens, r.usage.completion_tokens, 1))
    yield scrape(s.url), usage
    assert s.stop() == 0, s.output


def test_every_dashboard_panel_has_data(traffic):
    samples, _ = traffic
    for panel, names in DASHBOARD.items():
        for name in names:
            mine = [(l, v) for n, l, v in samples if n == name]
            assert mine, f"{panel}: no {name}"
            for labels, _ in mine:
                assert labels["model_name"] == "tiny" and labels["engine"] == "0", (name, labels)
            if name not in GAUGES:
                assert max(v for _, v in mine) > 0, f"{panel}: {name} has no data"


def test_histograms_are_well_formed(traffic):
    samples, _ = traffic
    histograms = {n[:-len("_bucket")] for n, _, _ in samples if n.endswith("_bucket")}
    assert {"vllm:request_params_n", "vllm:request_params_max_tokens", "vllm:iteration_tokens_total",
            "vllm:request_inference_time_seconds", "vllm:inter_token_latency_seconds"} <= histograms
    for h in histograms:
        buckets = [(l["le"], v) for n, l, v in samples if n == h + "_bucket"]
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), h
        assert buckets[-1][0] == "+Inf" and buckets[-1][1] == value(samples, h + "_count"), h
        bounds = [float(le) for le, _ in buckets[:-1]]
        assert bounds == sorted(bounds), h


def test_the_numbers_agree(traffic):
    samples, usage = traffic
    v = lambda name: value(samples, name)  # noqa: E731
    requests_done = sum(n for _, _, n in usage)  # engine requests: one per choice
    prompt_tokens = sum(p for p, _, _ in usage)  # usage counts a prompt once; its n choices each prefill it
    assert v("vllm:request_prompt_tokens_count") == requests_done
    assert v("vllm:request_prompt_tokens_sum") == sum(p * n for p, _, n in usage) == v("vllm:prompt_tokens_total")
    assert prompt_tokens < v("vllm:request_prompt_tokens_sum")
    assert v("vllm:request_generation_tokens_sum") == sum(c for _, c, _ in usage) == v("vllm:generation_tokens_total")
    assert value(samples, "vllm:request_success_total", finished_reason="length") == requests_done
    # Each request computes its prompt (less what the prefix cache held) and every output token
    # but its last.
    computed = v("vllm:prompt_tokens_total") - v("vllm:prefix_cache_hits_total") + v("vllm:generation_tokens_total") \
        - requests_done
    assert v("vllm:iteration_tokens_total_sum") == computed and v("vllm:iteration_tokens_total_count") >= 1
    # Per prompt (n choices): n, and the most tokens one of its choices made.
    assert v("vllm:request_params_n_count") == len(usage) and v("vllm:request_params_n_sum") == requests_done
    assert v("vllm:request_max_num_generation_tokens_sum") == 5 + 5 + 5 + 4
    assert v("vllm:request_params_max_tokens_sum") == 5 * 4 + 4
    # The phases of every finished request: prefill then decode make the time it ran.
    for phase in ("queue", "prefill", "decode", "inference"):
        assert v(f"vllm:request_{phase}_time_seconds_count") == requests_done, phase
    assert math.isclose(v("vllm:request_prefill_time_seconds_sum") + v("vllm:request_decode_time_seconds_sum"),
                        v("vllm:request_inference_time_seconds_sum"), rel_tol=1e-6)
    assert v("vllm:request_inference_time_seconds_sum") <= v("vllm:e2e_request_latency_seconds_sum")
    assert v("vllm:num_requests_running") == 0 and v("vllm:num_requests_waiting") == 0
