"""The front end's bounds, set by rotor's flags (issue 22), over real sockets: overload past
--max-waiting-requests is answered with 503 and Retry-After; past --max-connections a new
connection gets a 503 while /health is still answered; --timeout-keep-alive and
--timeout-read close idle and slow connections; --api-key takes several keys."""
import concurrent.futures
import socket
import time

import pytest
import requests

from conftest import TINY_SERVE_ARGS
from raw_http import Reader, closed_by_server, connect, request_bytes
from rotor_server import RotorServer

KEYS = ["sk-one", "sk-two"]
MAX_CONNECTIONS = 20
TIMEOUT = 2  # --timeout-keep-alive and --timeout-read


@pytest.fixture(scope="module")
def limited(rotor_binary, tiny_model):
    args = [a for a in TINY_SERVE_ARGS]
    args[args.index("--max-num-seqs") + 1] = "1"
    s = RotorServer(rotor_binary, str(tiny_model), *args, "--max-waiting-requests", "1",
                    "--max-connections", str(MAX_CONNECTIONS), "--timeout-keep-alive", str(TIMEOUT),
                    "--timeout-read", str(TIMEOUT), "--api-key", *KEYS)
    yield s
    assert s.stop() == 0, s.output


def auth(key=KEYS[0]):
    return {"Authorization": f"Bearer {key}"}


def completion(server, max_tokens, key=KEYS[0]):
    return requests.post(server.url + "/v1/completions", headers=auth(key), timeout=60,
                         json={"model": "tiny", "prompt": "Go on.", "max_tokens": max_tokens, "ignore_eos": True})


def test_overload_is_answered_with_503(limited):
    # --max-num-seqs 1 --max-waiting-requests 1: one runs, one waits, the others are refused.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: completion(limited, 200), range(4)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 200, 503, 503], statuses
    for r in answers:
        if r.status_code == 503:
            assert int(r.headers["Retry-After"]) >= 1
            assert "--max-waiting-requests" in r.json()["error"]["message"]
    assert completion(limited, 2).status_code == 200


def test_past_max_connections_503_but_health_answered(limited):
    held = [connect(limited.port) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        s = connect(limited.port)
        s.sendall(request_bytes("POST", "/v1/completions", {"model": "tiny", "prompt": "hi", "max_tokens": 2},
                                auth()))
        status, headers, body = Reader(s).response()
        s.close()
        assert status == 503 and headers["retry-after"] == "1" and b"--max-connections" in body, (status, body)
        s = connect(limited.port)
        s.sendall(request_bytes("GET", "/health"))
        assert Reader(s).response()[0] == 200
        s.close()
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    assert completion(limited, 2).status_code == 200


def test_idle_and_slow_connections_are_closed(limited):
    idle = connect(limited.port)  # sends nothing
    used = connect(limited.port)  # one request, then idle
    used.sendall(request_bytes("GET", "/health"))
    assert Reader(used).response()[0] == 200
    slow = connect(limited.port)  # a header that never ends
    slow.sendall(b"GET /health HTTP/1.1\r\n")
    start = time.time()
    for _ in range(2 * TIMEOUT * 4):
        try:
            slow.send(b"X")
        except OSError:
            break
        time.sleep(0.25)
    assert closed_by_server(slow, 1)
    assert time.time() - start < TIMEOUT + 2
    assert closed_by_server(idle, 1) and closed_by_server(used, 1)
    for s in (idle, used, slow):
        s.close()


def test_several_api_keys(limited):
    for key in KEYS:
        assert completion(limited, 2, key).status_code == 200
    for key in ("sk-three", "sk-on", KEYS[0] + "x", ""):
        r = completion(limited, 2, key)
        assert r.status_code == 401 and r.json()["error"]["code"] == 401
    r = requests.get(limited.url + "/v1/models", headers={"Authorization": "Bearer " + KEYS[1]}, timeout=10)
    assert r.status_code == 200
