"""Starts `rotor serve` as a child process on a free local port and stops it with SIGTERM,
checking that it shuts down cleanly (exit status 0). ROTOR_E2E_ARGS (environment) adds
flags to every server the tests start, e.g. "--tensor-parallel-size 2" runs the suite against
a tensor-parallel server."""
import os
import shlex
import signal
import socket
import subprocess
import time

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RotorServer:
    def __init__(self, binary, *args, api_key=None, startup_timeout=120, tls=None):
        """tls: (CA file the server's certificate is checked against, client certificate
        (cert, key) or None) for a server started with --ssl-certfile / --ssl-keyfile."""
        self.port = free_port()
        self.api_key = api_key
        self.verify, self.cert = tls if tls else (True, None)
        extra = shlex.split(os.environ.get("ROTOR_E2E_ARGS", ""))
        cmd = [binary, "serve", *args, *extra, "--host", "127.0.0.1", "--port", str(self.port)]
        if api_key:
            cmd += ["--api-key", api_key]
        # Passive OpenMP waits: far faster on a shared or small machine (docs/perf-log.md).
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
                   OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        deadline = time.time() + startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rotor serve exited with {self.proc.returncode}:\n{self.proc.stdout.read()}")
            try:
                if requests.get(self.url + "/health", timeout=1, verify=self.verify, cert=self.cert).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline:
                self.proc.kill()
                raise RuntimeError("rotor serve did not become healthy:\n" + self.proc.stdout.read())
            time.sleep(0.1)

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def metrics(self) -> dict:
        """The /metrics samples without labels other than model_name, by metric name
        (histogram buckets and labelled counters are keyed with their labels)."""
        out = {}
        for line in requests.get(self.url + "/metrics", timeout=10).text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
        return out

    def metric(self, name: str) -> float:
        for key, value in self.metrics().items():
            if key.split("{")[0] == name and "le=" not in key and "finished_reason" not in key:
                return value
        raise KeyError(name)

    def stop(self, timeout=30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        self.output = self.proc.stdout.read()
        return self.proc.returncode
