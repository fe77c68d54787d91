"""`rotor bench serve` against the real `rotor serve` on the tiny fixture model: a short run
on each endpoint where every prompt has exactly the requested token count by the server's
own usage, every request yields exactly max_tokens (ignore_eos), the figures are consistent
with the per-request records, and the server's /metrics counted the same tokens."""
import json
import os
import subprocess

import pytest

from conftest import TINY_SERVE_ARGS
from rotor_server import RotorServer

IN_LEN, OUT_LEN, N, CONC = 48, 6, 8, 4


@pytest.fixture(scope="module")
def bench_server(rotor_binary, tiny_model):
    s = RotorServer(rotor_binary, str(tiny_model), *TINY_SERVE_ARGS)
    yield s
    assert s.stop() == 0, s.output


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_short_run_against_rotor_serve(rotor_binary, tiny_model, bench_server, endpoint, tmp_path):
    before = bench_server.metrics()
    out = tmp_path / "result.json"
    cmd = [rotor_binary, "bench", "serve", "--base-url", bench_server.url, "--model", "tiny",
           "--tokenizer", str(tiny_model), "--endpoint", endpoint, "--dataset", "random",
           "--random-input-len", str(IN_LEN), "--random-output-len", str(OUT_LEN), "--num-prompts", str(N),
           "--max-concurrency", str(CONC), "--num-warmups", "1", "--ignore-eos", "--result-json", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    assert run.returncode == 0, run.stdout + run.stderr
    r = json.loads(out.read_text())
    assert r["completed"] == N and r["failed"] == 0, r.get("errors")
    assert r["prompt_token_mismatches"] == 0
    assert r["total_input_tokens"] == N * IN_LEN
    assert r["total_output_tokens"] == N * OUT_LEN
    assert 1 <= r["peak_concurrency"] <= CONC
    for q in r["requests"]:
        assert q["success"] and q["prompt_tokens"] == IN_LEN and q["output_tokens"] == OUT_LEN
        assert 0 < q["ttft_ms"] <= q["e2el_ms"]
        assert q["tpot_ms"] > 0
        assert q["decode_tps"] == pytest.approx(1000.0 / q["tpot_ms"], rel=1e-3)
        assert q["output_tps"] == pytest.approx(OUT_LEN / (q["e2el_ms"] / 1000.0), rel=1e-3)
    assert r["output_throughput"] == pytest.approx(N * OUT_LEN / r["duration"], rel=1e-3)
    # The server counted the same work (measured requests plus the warm-up).
    after = bench_server.metrics()

    def delta(name):
        key = next(k for k in after if k.split("{")[0] == name)
        return after[key] - before.get(key, 0.0)

    assert delta("vllm:prompt_tokens_total") == (N + 1) * IN_LEN
    assert delta("vllm:generation_tokens_total") == (N + 1) * OUT_LEN


def test_burst_of_new_connections_all_served(rotor_binary, tiny_model, bench_server, tmp_path):
    """128 clients connecting at the same instant: none is refused or reset (cpp-httplib's own
    listen backlog of 5 dropped some of them; the server widens it)."""
    out = tmp_path / "burst.json"
    cmd = [rotor_binary, "bench", "serve", "--base-url", bench_server.url, "--model", "tiny",
           "--tokenizer", str(tiny_model), "--endpoint", "completions", "--dataset", "random",
           "--random-input-len", "16", "--random-output-len", "2", "--num-prompts", "128",
           "--max-concurrency", "128", "--ignore-eos", "--result-json", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    r = json.loads(out.read_text())
    assert r["failed"] == 0 and r["completed"] == 128, r.get("errors")
    assert run.returncode == 0, run.stdout + run.stderr
