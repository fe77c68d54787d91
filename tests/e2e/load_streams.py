"""The front end's load test (docs/perf-log.md; not collected by pytest): `rotor serve` with
the embedded default model on the CPU, then `rotor bench serve` opening N concurrent
streaming connections with short outputs. Prints the server's memory (RSS), threads and
open file descriptors before, during (peak) and after, /health latency during the load
(probed twice a second), and the bench's completed / failed counts.

    python3 tests/e2e/load_streams.py --binary build/cpu/apps/rotor --connections 2000
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(__file__))
from raw_http import proc_status  # noqa: E402
from rotor_server import RotorServer  # noqa: E402


def sample(pid):
    s = proc_status(pid)
    s["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return s


def fmt(s):
    return f"RSS {s['VmRSS'] / 2**20:.0f} MiB, {s['Threads']} threads, {s['fds']} fds"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--connections", type=int, default=2000)
    p.add_argument("--input-len", type=int, default=16)
    p.add_argument("--output-len", type=int, default=4)
    p.add_argument("--serve-arg", action="append", default=[], help="extra `rotor serve` argument (repeatable)")
    a = p.parse_args()

    server = RotorServer(a.binary, *a.serve_arg, startup_timeout=180)
    pid = server.proc.pid
    name = requests.get(server.url + "/v1/models", timeout=10).json()["data"][0]["id"]
    requests.post(server.url + "/v1/completions", json={"model": name, "prompt": "warm up", "max_tokens": 2}, timeout=60)
    before = sample(pid)
    peak = dict(before)
    health = []
    done = threading.Event()

    def watch():
        next_probe = 0.0
        while not done.is_set():
            s = sample(pid)
            for k in peak:
                peak[k] = max(peak[k], s[k])
            if time.time() >= next_probe:
                next_probe = time.time() + 0.5
                t = time.time()
                try:
                    ok = requests.get(server.url + "/health", timeout=10).status_code == 200
                except requests.RequestException:
                    ok = False
                health.append((time.time() - t, ok))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "result.json")
        start = time.time()
        bench = subprocess.run(
            [a.binary, "bench", "serve", "--base-url", server.url, "--model", name, "--endpoint", "completions",
             "--dataset", "random", "--random-input-len", str(a.input_len), "--random-output-len", str(a.output_len),
             "--ignore-eos", "--num-prompts", str(a.connections), "--max-concurrency", str(a.connections),
             "--timeout", "600", "--result-json", result],
            capture_output=True, text=True)
        wall = time.time() - start
        done.set()
        watcher.join()
        r = json.load(open(result)) if os.path.exists(result) else {}
    time.sleep(2)
    after = sample(pid)
    code = server.stop()
    lat = sorted(t for t, _ in health)
    print(f"bench: exit {bench.returncode}, completed {r.get('completed')}, failed {r.get('failed')}, "
          f"peak concurrency {r.get('peak_concurrency')}, wall {wall:.1f} s, "
          f"output tokens {r.get('total_output_tokens')}")
    if r.get("errors"):
        print("errors:", json.dumps(r["errors"])[:500])
    print(f"before: {fmt(before)}")
    print(f"during (peak): {fmt(peak)}")
    print(f"after:  {fmt(after)}")
    print(f"/health during load: {len(lat)} probes, {sum(ok for _, ok in health)} ok, "
          f"median {lat[len(lat) // 2] * 1e3:.1f} ms, max {lat[-1] * 1e3:.1f} ms" if lat else "no /health probes")
    print(f"server exit status after SIGTERM: {code}")
    return 0 if bench.returncode == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
