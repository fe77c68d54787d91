"""`rotor bench serve` end to end: the real binary against a real HTTP server that streams
OpenAI-shaped SSE on a known schedule (sse_server.py; it stands in for `rotor serve` until that
exists). Checks the figures against the schedule, recomputes every figure from the per-request
records of --result-json with BENCHMARK.md's definitions, and renders --report in headless
Chromium."""
import json
import math
import os
import pty
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from pngread import read_png  # noqa: E402
from sse_server import SseServer  # noqa: E402

TTFT_S, ITL_S, TOKENS = 0.08, 0.015, 8


@pytest.fixture
def server():
    s = SseServer(ttft_s=TTFT_S, itl_s=ITL_S)
    yield s
    s.close()


def write_jsonl(path, prompts):
    path.write_text("".join(json.dumps(p) + "\n" for p in prompts))
    return str(path)


def bench(rotor_binary, server, dataset, *extra, check=True):
    cmd = [rotor_binary, "bench", "serve", "--base-url", server.url, "--model", "test-model", "--dataset", "jsonl",
           "--dataset-path", dataset, *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr + p.stdout
    return p


def nearest_rank(values, p):
    v = sorted(values)
    return v[max(0, math.ceil(len(v) * p / 100) - 1)]


@pytest.fixture(scope="module")
def run12(tmp_path_factory, rotor_binary):
    """One run shared by the tests that read its outputs: 12 prompts, 4 in flight, 2 warm-ups."""
    server = SseServer(ttft_s=TTFT_S, itl_s=ITL_S)
    tmp_path = tmp_path_factory.mktemp("run12")
    data = write_jsonl(tmp_path / "p.jsonl", [{"prompt": f"prompt number {i} with words", "max_tokens": TOKENS}
                                              for i in range(12)])
    out, report = tmp_path / "r.json", tmp_path / "report.html"
    p = bench(rotor_binary, server, data, "--num-prompts", "12", "--max-concurrency", "4", "--num-warmups", "2",
              "--result-json", str(out), "--report", str(report))
    yield p, json.loads(out.read_text()), report, server
    server.close()


def test_figures_match_the_server_schedule(run12):
    p, r, _, server = run12
    assert "Successful requests:" in p.stdout and "Output token throughput" in p.stdout
    assert r["completed"] == 12 and r["failed"] == 0 and r["errors"] == {}
    assert len(server.bodies) == 14  # 2 warm-ups + 12 measured
    assert len(r["requests"]) == 12
    assert r["total_output_tokens"] == 12 * TOKENS
    assert r["total_input_tokens"] == 12 * 5  # the server counts words
    assert server.max_in_flight == 4 and r["peak_concurrency"] == 4
    body = server.bodies[-1]
    assert body["model"] == "test-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == TOKENS and body["temperature"] == 0
    assert body["messages"][0]["role"] == "user"
    # The schedule: first token after TTFT_S, then one every ITL_S (sleeps are lower bounds).
    assert TTFT_S * 1e3 <= r["mean_ttft_ms"] < TTFT_S * 1e3 + 60
    assert ITL_S * 1e3 * 0.8 <= r["mean_itl_ms"] < ITL_S * 1e3 + 15
    assert ITL_S * 1e3 * 0.8 <= r["mean_tpot_ms"] < ITL_S * 1e3 + 15
    assert r["count_itl_ms"] == 12 * (TOKENS - 1)


def test_figures_recomputed_from_the_records(run12):
    _, r, _, _ = run12
    reqs = r["requests"]
    ttft = [(q["output_times_s"][0] - q["start_s"]) * 1e3 for q in reqs]
    e2e = [(q["end_s"] - q["start_s"]) * 1e3 for q in reqs]
    itl = [(b - a) * 1e3 for q in reqs for a, b in zip(q["output_times_s"], q["output_times_s"][1:])]
    tpot = [(e - t) / (q["output_tokens"] - 1) for q, e, t in zip(reqs, e2e, ttft)]
    out_tps = [q["output_tokens"] / (e / 1e3) for q, e in zip(reqs, e2e)]
    dec_tps = [1e3 / t for t in tpot]
    duration = max(q["end_s"] for q in reqs) - min(q["start_s"] for q in reqs)
    tol = 2e-3  # the records are rounded to the microsecond
    assert r["duration"] == pytest.approx(duration, abs=2e-6)
    assert r["output_throughput"] == pytest.approx(sum(q["output_tokens"] for q in reqs) / duration, rel=1e-4)
    assert r["request_throughput"] == pytest.approx(12 / duration, rel=1e-4)
    for name, values in [("ttft_ms", ttft), ("e2el_ms", e2e), ("itl_ms", itl), ("tpot_ms", tpot)]:
        assert r[f"mean_{name}"] == pytest.approx(sum(values) / len(values), abs=tol), name
        for p in (50, 90, 99):
            key = "median" if p == 50 else f"p{p}"
            assert r[f"{key}_{name}"] == pytest.approx(nearest_rank(values, p), abs=tol), (name, p)
    assert r["mean_output_tps"] == pytest.approx(sum(out_tps) / 12, rel=1e-3)
    assert r["mean_decode_tps"] == pytest.approx(sum(dec_tps) / 12, rel=1e-3)
    for q, t in zip(reqs, ttft):
        assert q["ttft_ms"] == pytest.approx(t, abs=tol)
        assert q["output_tokens"] == TOKENS and q["success"] and q["finish_reason"] == "length"


def test_failures_are_counted_and_reported(tmp_path, server, rotor_binary):
    prompts = [{"prompt": "<<FAIL>> please" if i % 3 == 0 else f"fine {i}", "max_tokens": 4} for i in range(9)]
    data = write_jsonl(tmp_path / "p.jsonl", prompts)
    out = tmp_path / "r.json"
    p = bench(rotor_binary, server, data, "--num-prompts", "9", "--max-concurrency", "3", "--result-json", str(out), check=False)
    assert p.returncode == 1
    assert "3 of 9 requests failed" in p.stderr
    assert "HTTP 500: scripted failure" in p.stdout  # in the results table
    r = json.loads(out.read_text())
    assert r["completed"] == 6 and r["failed"] == 3
    assert r["errors"] == {"HTTP 500: scripted failure": 3}
    failed = [q for q in r["requests"] if not q["success"]]
    assert [q["index"] for q in failed] == [0, 3, 6]
    assert all(q["http_status"] == 500 for q in failed)


def test_completions_endpoint_and_messages(tmp_path, server, rotor_binary):
    data = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "a b c", "output_len": 3}])
    p = bench(rotor_binary, server, data, "--endpoint", "completions", "--num-prompts", "2", "--ignore-eos",
              "--extra-body", '{"top_k": 1}')
    assert server.bodies[0]["prompt"] == "a b c" and server.bodies[0]["max_tokens"] == 3
    assert server.bodies[0]["ignore_eos"] is True and server.bodies[0]["top_k"] == 1
    assert "Total generated tokens:" in p.stdout
    plain = write_jsonl(tmp_path / "q.jsonl", [{"prompt": "no length"}, {"prompt": "own length", "max_tokens": 2}])
    bench(rotor_binary, server, plain, "--num-prompts", "2", "--max-concurrency", "1", "--jsonl-output-len", "5")
    assert [b["max_tokens"] for b in server.bodies[-2:]] == [5, 2]
    bench(rotor_binary, server, plain, "--num-prompts", "1")
    assert "max_tokens" not in server.bodies[-1]
    msgs = write_jsonl(tmp_path / "m.jsonl", [{"messages": [{"role": "system", "content": "s"},
                                                            {"role": "user", "content": "hi there"}]}])
    bench(rotor_binary, server, msgs, "--num-prompts", "1")
    assert server.bodies[-1]["messages"][1]["content"] == "hi there"


@pytest.mark.parametrize("endpoint,extra", [("chat", []), ("completions", []),
                                           ("chat", ["--extra-body", '{"chat_template_kwargs": {"enable_thinking": false}}'])])
def test_random_prompts_count_what_the_server_counts(tmp_path, rotor_binary, tiny_model_dir, endpoint, extra):
    # The server counts with Hugging Face's tokenizers and the chat template rendered by jinja2.
    s = SseServer(ttft_s=0.01, itl_s=0.002, tokenizer_dir=tiny_model_dir)
    out = tmp_path / "r.json"
    try:
        p = subprocess.run([rotor_binary, "bench", "serve", "--base-url", s.url, "--model", "m", "--dataset", "random",
                            "--tokenizer", tiny_model_dir, "--random-input-len", "777", "--random-output-len", "3",
                            "--num-prompts", "6", "--num-warmups", "1", "--max-concurrency", "3", "--endpoint", endpoint,
                            "--seed", "5", "--result-json", str(out), *extra], capture_output=True, text=True, timeout=120)
    finally:
        s.close()
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    assert r["total_input_tokens"] == 6 * 777 and r["prompt_token_mismatches"] == 0
    assert all(q["prompt_tokens"] == q["expected_prompt_tokens"] == 777 for q in r["requests"])
    assert r["total_output_tokens"] == 6 * 3 and r["random_input_len"] == 777
    texts = [b["messages"][0]["content"] if endpoint == "chat" else b["prompt"] for b in s.bodies]
    assert len(set(texts)) == 7  # six measured prompts and a warm-up, all different
    assert all(b["max_tokens"] == 3 for b in s.bodies)


def test_prompt_length_mismatch_is_reported(tmp_path, rotor_binary, tiny_model_dir, server):
    # This server counts the words of the message, not the tokens of the rendered chat prompt:
    # 42 words where 50 tokens were built (the template's 8 are missing).
    out = tmp_path / "r.json"
    p = subprocess.run([rotor_binary, "bench", "serve", "--base-url", server.url, "--model", "m", "--tokenizer",
                        tiny_model_dir, "--random-input-len", "50", "--random-output-len", "2", "--num-prompts", "3",
                        "--result-json", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Prompt-length mismatches (server):      3" in p.stdout
    assert "3 requests: the server counted a different prompt length than the 50 tokens built" in p.stderr
    r = json.loads(out.read_text())
    assert r["prompt_token_mismatches"] == 3
    assert [q["prompt_tokens"] for q in r["requests"]] == [42, 42, 42]


@pytest.mark.parametrize("args,message", [
    (["--tokenizer", "/nonexistent"], "no tokenizer.json in '/nonexistent'"),
    (["--random-input-len", "8"], "--random-input-len 8 is shorter than the prompt's fixed tokens (8)"),
    (["--dataset", "jsonl"], "--dataset jsonl needs --dataset-path"),
    (["--dataset", "jsonl", "--dataset-path", "/nonexistent.jsonl"], "cannot read"),
    (["--dataset", "sharegpt"], "is not random or jsonl"),
    (["--endpoint", "embeddings", "--dataset", "jsonl", "--dataset-path", "x"], "is not chat or completions"),
    (["--base-url", "localhost:8000"], "is not http://host:port"),
    (["--request-rate", "0"], "--request-rate must be positive"),
])
def test_bad_flags_give_one_line_errors(rotor_binary, args, message):
    p = subprocess.run([rotor_binary, "bench", "serve", "--model", "m", *args], capture_output=True, text=True)
    assert p.returncode == 1
    last = p.stderr.splitlines()[-1]
    assert last.startswith("error: ") and message in last, p.stderr
    assert p.stderr.count("error") == 1


def test_unreachable_server_fails_every_request(tmp_path, rotor_binary):
    s = SseServer()
    url = s.url
    s.close()
    data = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "x"}])
    p = subprocess.run([rotor_binary, "bench", "serve", "--base-url", url, "--model", "m", "--dataset", "jsonl",
                        "--dataset-path", data, "--num-prompts", "2"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "2 of 2 requests failed" in p.stderr and "HTTP client error: Connection" in p.stdout


def test_progress_line_only_on_a_terminal(tmp_path, server, rotor_binary):
    data = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "x", "max_tokens": 60}])
    args = [rotor_binary, "bench", "serve", "--base-url", server.url, "--model", "m", "--dataset", "jsonl",
            "--dataset-path", data, "--num-prompts", "2"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert "chunks streamed" not in p.stderr  # not a terminal: no progress line
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait(timeout=60) == 0
    os.close(master)
    assert b"bench: " in seen and b"chunks streamed" in seen and b"\x1b[2K" in seen


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
COLORS = {"histogram bars": (0x4E, 0x79, 0xA7), "throughput line": (0xE1, 0x57, 0x59),
          "in-flight line": (0x59, 0xA1, 0x4F), "TTFT segments": (0xF2, 0x8E, 0x2B)}


def test_report_is_self_contained(run12):
    html = run12[2].read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 9
    for banned in ("<script", "<link", " src=", " href=", "url("):
        assert banned not in html, banned


def test_report_renders_in_headless_chromium(run12, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("ROTOR_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here (ROTOR_REQUIRE_CHROMIUM) but not installed")
        pytest.skip("chromium not installed (.ci/run installs it)")
    report = run12[2]
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" +
             str(tmp_path / "profile"), "--enable-logging=stderr", "--v=0", "--proxy-server=127.0.0.1:9",
             "--host-resolver-rules=MAP * ~NOTFOUND"]
    dom = subprocess.run(flags + ["--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 9 and "Time to first token" in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    png = tmp_path / "shot.png"
    shot = subprocess.run(flags + ["--window-size=1400,3400", "--force-device-scale-factor=0.5",
                                   "--hide-scrollbars", f"--screenshot={png}", report.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    width, height, bpp, rows = read_png(png)
    assert (width, height) == (700, 1700)
    counts = dict.fromkeys(COLORS, 0)
    for row in rows:
        for x in range(0, width * bpp, bpp):
            px = row[x:x + 3]
            for name, c in COLORS.items():
                if abs(px[0] - c[0]) <= 3 and abs(px[1] - c[1]) <= 3 and abs(px[2] - c[2]) <= 3:
                    counts[name] += 1
    for name, n in counts.items():
        assert n > 150, f"{name}: {n} pixels of its colour in the screenshot: {counts}"
