"""`rotor serve` start and stop: SIGTERM and SIGINT during a stream end the process cleanly;
without a model directory it serves the embedded default model (what the README's curl
command talks to)."""
import os
import re
import signal
import subprocess
import time

import requests

from rotor_server import RotorServer


def test_sigterm_and_sigint_mid_stream_exit_cleanly(rotor_binary, tiny_model):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = RotorServer(rotor_binary, str(tiny_model), "--served-model-name", "tiny", "--max-model-len", "2048")
        body = {"model": "tiny", "prompt": "Once upon a time", "max_tokens": 1500, "ignore_eos": True, "stream": True}
        r = requests.post(s.url + "/v1/completions", json=body, stream=True, timeout=60)
        lines = r.iter_lines()
        assert next(line for line in lines if line.startswith(b"data: "))
        start = time.time()
        s.proc.send_signal(sig)
        rest = b"\n".join(lines)  # the stream ends (finish_reason abort, or the connection closes)
        assert s.proc.wait(timeout=30) == 0, s.proc.stdout.read()
        assert time.time() - start < 15
        assert b"Traceback" not in rest


def test_embedded_default_model_serves_chat(rotor_binary):
    s = RotorServer(rotor_binary, startup_timeout=180)
    try:
        models = requests.get(s.url + "/v1/models", timeout=10).json()
        name = models["data"][0]["id"]
        r = requests.post(s.url + "/v1/chat/completions", timeout=60,
                          json={"model": name, "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 8})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["choices"][0]["message"]["role"] == "assistant"
        assert body["usage"]["completion_tokens"] >= 1
        # The same request through curl, as the README shows it (with the system's libraries:
        # LD_LIBRARY_PATH may point the server at other builds of them, as on the GPU machine).
        curl_env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        out = subprocess.run(["curl", "-sf", s.url + "/v1/chat/completions", "-H", "Content-Type: application/json",
                              "-d", '{"model": "%s", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}' % name],
                             capture_output=True, text=True, timeout=60, env=curl_env)
        assert out.returncode == 0 and '"chat.completion"' in out.stdout
    finally:
        assert s.stop() == 0, s.output
    # The start-up line names where the model runs (the CPU, the GPU picked by --device auto, or
    # the number of tensor-parallel ranks, whose places a line before names).
    assert re.search(r"serving \S+ on http://\S+ \((cpu|cuda:\d+|\d+ ranks), max_model_len", s.output), s.output
