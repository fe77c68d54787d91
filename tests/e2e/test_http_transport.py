"""The HTTP transport's vLLM flags against the real binary: CORS (preflights as a browser sends
them, the headers on cross-origin replies, and a real cross-origin fetch in headless Chromium
when it is installed), TLS (certificates made here with the openssl tool; the openai client
over HTTPS; client certificates checked against --ssl-ca-certs) and --root-path."""
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading

import openai
import pytest
import requests

from conftest import API_KEY, TINY_SERVE_ARGS
from rotor_server import RotorServer, free_port

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3}
ALL_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"


def preflight(url, origin, method="POST", headers="authorization, content-type"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=h, timeout=10)


# --- CORS with vLLM's defaults (every origin, method and header) -------------------------

def test_default_cors_preflight_and_replies(server):
    r = preflight(server.url + "/v1/chat/completions", "http://app.example")
    assert r.status_code == 200 and r.text == "OK"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == ALL_METHODS
    assert r.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in r.headers

    origin = {"Origin": "http://app.example"}
    r = requests.post(server.url + "/v1/chat/completions", json=CHAT, headers={**server.headers, **origin}, timeout=60)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    with requests.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                       headers={**server.headers, **origin}, stream=True, timeout=60) as r:
        assert r.headers["Content-Type"] == "text/event-stream" and r.headers["Access-Control-Allow-Origin"] == "*"
        assert b"[DONE]" in r.content
    # Errors carry it too (the page must be able to read why), and a reply without an Origin has none.
    r = requests.post(server.url + "/v1/chat/completions", json=CHAT, headers=origin, timeout=10)
    assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in requests.get(server.url + "/health", timeout=10).headers
    # OPTIONS that is not a preflight is an ordinary request: /health does not take it.
    assert requests.options(server.url + "/health", timeout=10).status_code == 405


# --- CORS restricted by the flags ----------------------------------------------------------

@pytest.fixture(scope="module")
def page_ports():
    return free_port(), free_port()  # an origin the server allows, and one it does not


@pytest.fixture(scope="module")
def strict(rotor_binary, tiny_model, page_ports):
    allowed = ["http://good.example", f"http://127.0.0.1:{page_ports[0]}"]
    s = RotorServer(rotor_binary, str(tiny_model), *TINY_SERVE_ARGS, "--allowed-origins", json.dumps(allowed),
                    "--allowed-methods", '["GET", "POST"]', "--allowed-headers", '["Authorization", "Content-Type"]',
                    "--allow-credentials", api_key=API_KEY)
    yield s
    assert s.stop() == 0, s.output


def test_restricted_cors_preflights(strict):
    url = strict.url + "/v1/chat/completions"
    r = preflight(url, "http://good.example")
    assert r.status_code == 200 and r.text == "OK"
    assert r.headers["Access-Control-Allow-Origin"] == "http://good.example"
    assert r.headers["Vary"] == "Origin" and r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert r.headers["Access-Control-Allow-Headers"] == \
        "Accept, Accept-Language, Authorization, Content-Language, Content-Type"

    r = preflight(url, "http://evil.example")
    assert r.status_code == 400 and r.text == "Disallowed CORS origin"
    assert "Access-Control-Allow-Origin" not in r.headers
    assert preflight(url, "http://good.example", method="PUT").text == "Disallowed CORS method"
    assert preflight(url, "http://good.example", headers="authorization, x-secret").text == "Disallowed CORS headers"
    r = preflight(url, "http://evil.example", method="DELETE", headers="x-secret")
    assert r.status_code == 400 and r.text == "Disallowed CORS origin, method, headers"
    # A preflight needs no API key (the browser sends none with it).
    assert preflight(strict.url + "/v1/models", "http://good.example", method="GET", headers=None).status_code == 200


def test_restricted_cors_reply_headers(strict):
    r = requests.get(strict.url + "/v1/models", headers={**strict.headers, "Origin": "http://good.example"}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "http://good.example"
    assert r.headers["Access-Control-Allow-Credentials"] == "true" and r.headers["Vary"] == "Origin"
    r = requests.get(strict.url + "/v1/models", headers={**strict.headers, "Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PAGE = """<!DOCTYPE html><html><body><pre id="out">pending</pre><script>
fetch("%(url)s/v1/chat/completions", {method: "POST",
  headers: {"Authorization": "Bearer %(key)s", "Content-Type": "application/json"},
  body: JSON.stringify({model: "tiny", messages: [{role: "user", content: "Hello"}], max_tokens: 3})})
  .then(r => r.json())
  .then(j => { document.getElementById("out").textContent = "OK " + j.object + " " + j.usage.completion_tokens; })
  .catch(e => { document.getElementById("out").textContent = "FAILED " + e; });
</script></body></html>"""


def serve_page(port, html):
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def browser_text(url, profile):
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-proxy-server",
             f"--user-data-dir={profile}", "--virtual-time-budget=30000", "--dump-dom", url]
    dom = subprocess.run(flags, capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout.split('<pre id="out">')[1].split("</pre>")[0]


def test_cross_origin_fetch_in_a_browser(strict, page_ports, tmp_path):
    """A page on another origin calls the API the way a web app does: Chromium sends the
    preflight (the Authorization header makes it one), then the POST, and lets the page read
    the answer only if the server allows its origin."""
    if CHROMIUM is None:
        if os.environ.get("ROTOR_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here (ROTOR_REQUIRE_CHROMIUM) but not installed")
        pytest.skip("chromium not installed (.ci/run installs it)")
    page = PAGE % {"url": strict.url, "key": API_KEY}
    servers = [serve_page(port, page) for port in page_ports]
    try:
        allowed, refused = (f"http://127.0.0.1:{port}/" for port in page_ports)
        assert browser_text(allowed, tmp_path / "a") == "OK chat.completion 3"
        assert browser_text(refused, tmp_path / "b").startswith("FAILED TypeError")
    finally:
        for s in servers:
            s.shutdown()


# --- TLS and --root-path -------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, a server certificate it signed for 127.0.0.1, a client certificate it signed, and
    a self-signed client certificate it did not."""
    if OPENSSL is None:  # scripts/install-deps.sh installs it (CI); a bare GPU machine may lack it
        pytest.skip("the openssl tool is not installed")
    d = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=rotor test CA", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "2",
            "-subj", "/CN=rogue", cwd=d)
    return d


@pytest.fixture(scope="module")
def https(rotor_binary, tiny_model, certs):
    d = certs
    s = RotorServer(rotor_binary, str(tiny_model), *TINY_SERVE_ARGS, "--ssl-keyfile", str(d / "server.key"),
                    "--ssl-certfile", str(d / "server.pem"), "--ssl-ca-certs", str(d / "ca.pem"), "--ssl-cert-reqs",
                    "2", "--root-path", "/llm", api_key=API_KEY,
                    tls=(str(d / "ca.pem"), (str(d / "client.pem"), str(d / "client.key"))))
    yield s
    assert s.stop() == 0, s.output


def test_openai_client_over_https_under_the_root_path(https, certs):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
    http_client = openai.DefaultHttpxClient(verify=ctx)
    client = openai.OpenAI(base_url=https.url + "/llm/v1", api_key=API_KEY, http_client=http_client)
    assert [m.id for m in client.models.list()] == ["tiny"]
    r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    assert r.usage.completion_tokens == 4
    chunks = list(client.completions.create(model="tiny", prompt="Once upon", max_tokens=5, stream=True))
    assert sum(len(c.choices[0].text) for c in chunks if c.choices) > 0
    # Paths without the prefix are served as well (a proxy may strip it or not).
    r = requests.get(https.url + "/v1/models", headers=https.headers, verify=https.verify, cert=https.cert, timeout=10)
    assert r.status_code == 200
    r = requests.get(https.url + "/llm", verify=https.verify, cert=https.cert, timeout=10)
    assert r.status_code == 404  # the prefix alone is "/", which is no route


def test_tls_refusals(https, certs):
    ca = str(certs / "ca.pem")
    with pytest.raises(requests.exceptions.SSLError):  # the client does not trust the server
        requests.get(https.url + "/health", timeout=10, cert=https.cert)
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(https.url + "/health", verify=ca, timeout=10)  # no client certificate
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(https.url + "/health", verify=ca, cert=(str(certs / "rogue.pem"), str(certs / "rogue.key")),
                     timeout=10)
    # Plain HTTP to the TLS port gets no HTTP answer; the server goes on serving.
    with socket.create_connection(("127.0.0.1", https.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert not sock.recv(4096).startswith(b"HTTP/")
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
    with socket.create_connection(("127.0.0.1", https.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert tls.recv(4096).startswith(b"HTTP/1.1 200")


def test_mismatched_key_fails_with_one_line(rotor_binary, tiny_model, certs):
    p = subprocess.run([rotor_binary, "serve", str(tiny_model), *TINY_SERVE_ARGS, "--port", "0",
                        "--ssl-keyfile", str(certs / "rogue.key"), "--ssl-certfile", str(certs / "server.pem")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    errors = [line for line in p.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "--ssl-keyfile" in errors[0], p.stderr
