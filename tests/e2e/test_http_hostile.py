"""The HTTP front end of `rotor serve` under hostile traffic (issue 22), over real sockets:
400 connections sending their headers a byte at a time lock nobody out; bodies that inflate
past the limit (gzip, chunked) are refused with 413 before they cost memory; a negative
Content-Length is refused at once; pipelined requests are all answered, in order; a reader
that stops reading holds up nobody else."""
import gzip
import json
import select
import socket
import threading
import time
import zlib

import requests

from raw_http import Reader, connect, proc_status, request_bytes, reset_peak_rss

MB = 1 << 20
GOOD_CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def test_slow_header_connections_lock_nobody_out(server):
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    slow = [connect(server.port) for _ in range(400)]
    stop = threading.Event()

    def dribble():  # one more header byte on every connection every 100 ms
        i = 0
        while not stop.is_set() and i < len(head):
            for s in slow:
                try:
                    s.send(head[i:i + 1])
                except OSError:
                    pass
            i += 1
            stop.wait(0.1)

    t = threading.Thread(target=dribble)
    t.start()
    try:
        time.sleep(1)
        for path in ("/health", "/metrics"):
            start = time.time()
            r = requests.get(server.url + path, timeout=5)
            assert r.status_code == 200 and time.time() - start < 1, (path, time.time() - start)
        start = time.time()
        r = requests.post(server.url + "/v1/chat/completions", json=GOOD_CHAT, headers=server.headers, timeout=30)
        assert r.status_code == 200, r.text
        assert time.time() - start < 10
    finally:
        stop.set()
        t.join()
        for s in slow:
            s.close()


def growth_while(server, send):
    """The server's peak RSS growth (bytes) while `send()` runs, and what it returns."""
    pid = server.proc.pid
    reset_peak_rss(pid)
    before = proc_status(pid)["VmRSS"]
    result = send()
    return proc_status(pid)["VmHWM"] - before, result


def test_gzip_body_inflating_past_the_limit_is_413(server):
    # 160 MB of JSON-ish whitespace in ~160 KB of gzip, sent without an API key to /tokenize.
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = z.compress(b'{"prompt": ') + b"".join(z.compress(b" " * MB) for _ in range(160)) + z.flush()
    assert len(body) < MB
    growth, r = growth_while(server, lambda: requests.post(
        server.url + "/tokenize", data=body, timeout=60,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    assert r.status_code == 413, (r.status_code, r.text[:200])
    assert "error" in r.json()
    assert growth < 100 * MB, f"the server grew by {growth / MB:.0f} MB"
    r = requests.post(server.url + "/tokenize", data=gzip.compress(json.dumps({"prompt": "hello world"}).encode()),
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200 and r.json()["count"] == 2, r.text


def send_chunked(port, path, total_bytes, chunk=MB):
    """Streams a chunked body until the server answers (or the body ends); the response."""
    s = connect(port, timeout=60)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n".encode())
    piece = f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n"
    sent = 0
    try:
        while sent < total_bytes:
            if select.select([s], [], [], 0)[0]:
                break  # the server answered early
            s.sendall(piece)
            sent += chunk
        else:
            s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        return Reader(s).response(), sent
    finally:
        s.close()


def test_chunked_body_past_the_limit_is_413(server):
    growth, ((status, _, body), sent) = growth_while(server, lambda: send_chunked(server.port, "/tokenize", 96 * MB))
    assert status == 413, (status, body[:200])
    assert "error" in json.loads(body)
    assert sent < 96 * MB, "the server read the whole body before refusing it"
    assert growth < 100 * MB, f"the server grew by {growth / MB:.0f} MB"
    assert requests.get(server.url + "/health", timeout=5).status_code == 200


def test_negative_content_length_is_refused_at_once(server):
    s = connect(server.port, timeout=10)
    start = time.time()
    s.sendall(b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
    status, _, body = Reader(s).response()
    s.close()
    assert status == 400 and time.time() - start < 2, (status, body)


def test_oversized_headers_and_unknown_encodings(server):
    s = connect(server.port, timeout=10)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 << 10) + b"\r\n\r\n")
    status, _, body = Reader(s).response()
    s.close()
    assert status == 431 and "error" in json.loads(body)
    r = requests.post(server.url + "/tokenize", data=b"\x00\x01", timeout=10,
                      headers={"Content-Type": "application/json", "Content-Encoding": "br"})
    assert r.status_code == 415 and "br" in r.json()["error"]["message"]
    r = requests.post(server.url + "/tokenize", data=b"not gzip", timeout=10,
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 400 and "gzip" in r.json()["error"]["message"]


def test_three_pipelined_requests_answered_in_order(server):
    auth = {"Authorization": f"Bearer {server.api_key}"}
    s = connect(server.port)
    s.sendall(request_bytes("GET", "/health")
              + request_bytes("POST", "/v1/completions", {"model": "tiny", "prompt": "hi", "max_tokens": 3}, auth)
              + request_bytes("GET", "/v1/models", headers=auth))
    reader = Reader(s)
    answers = [reader.response() for _ in range(3)]
    s.close()
    assert [a[0] for a in answers] == [200, 200, 200], answers
    assert json.loads(answers[1][2])["object"] == "text_completion"
    assert json.loads(answers[2][2])["object"] == "list"


def test_expect_100_continue(server):
    s = connect(server.port)
    body = json.dumps({"prompt": "hello world"}).encode()
    s.sendall(request_bytes("POST", "/tokenize", None, {"Content-Type": "application/json",
                                                        "Content-Length": str(len(body)),
                                                        "Expect": "100-continue"}))
    assert s.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(body)
    status, _, answer = Reader(s).response()
    s.close()
    assert status == 200 and json.loads(answer)["count"] == 2


def test_a_reader_that_stops_reading_holds_up_nobody(server):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", server.port))
    s.sendall(request_bytes("POST", "/v1/completions", {
        "model": "tiny", "prompt": "Write forever.", "max_tokens": 400, "ignore_eos": True, "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True}},
        {"Authorization": f"Bearer {server.api_key}"}))
    try:
        time.sleep(1)  # the stream fills the socket buffers; this client reads nothing
        for _ in range(3):
            start = time.time()
            r = requests.post(server.url + "/v1/chat/completions", json=GOOD_CHAT, headers=server.headers, timeout=30)
            assert r.status_code == 200 and time.time() - start < 5
            assert requests.get(server.url + "/health", timeout=1).status_code == 200
    finally:
        s.close()


def test_200_streams_on_a_few_threads(server):
    """200 streaming requests at once, all answered in full, by a server of a few threads
    (the engine's, OpenMP's, I/O threads and workers: 2 + 2 on a small machine, at most
    8 + 16) whose count does not grow with the connections (no thread per connection)."""
    import selectors

    idle_threads = proc_status(server.proc.pid)["Threads"]
    assert idle_threads < 64, f"{idle_threads} threads before any connection"

    body = {"model": "tiny", "prompt": "Count:", "max_tokens": 2, "ignore_eos": True, "stream": True}
    sel = selectors.DefaultSelector()
    got = {}
    for _ in range(200):
        s = connect(server.port)
        s.sendall(request_bytes("POST", "/v1/completions", body, {"Authorization": f"Bearer {server.api_key}"}))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        got[s] = b""
    peak_threads, deadline = 0, time.time() + 120
    while any(not v.endswith(b"\r\n0\r\n\r\n") for v in got.values()) and time.time() < deadline:
        for key, _ in sel.select(timeout=0.5):
            data = key.fileobj.recv(65536)
            got[key.fileobj] += data
            if not data:
                sel.unregister(key.fileobj)
        peak_threads = max(peak_threads, proc_status(server.proc.pid)["Threads"])
    for s in got:
        s.close()
    done = [v for v in got.values() if v.startswith(b"HTTP/1.1 200") and b"data: [DONE]" in v]
    assert len(done) == 200, f"{len(done)} of 200 streams complete"
    assert peak_threads <= idle_threads + 2, (idle_threads, peak_threads)
