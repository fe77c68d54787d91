"""HTTP/1.1 over a plain socket, for the tests that need what client libraries hide: several
requests written at once (pipelining), bytes sent one at a time, bodies streamed in chunks,
a client that goes away, and the server's own memory and thread counts (/proc)."""
import json
import socket
import time


def connect(port, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request_bytes(method, path, body=None, headers=None):
    """One request: a JSON body (dict) or raw bytes, with Content-Length."""
    h = {"Host": "127.0.0.1"}
    if body is not None:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode() + (body or b"")


class Reader:
    """Reads HTTP/1.1 responses one after another from a socket (Content-Length or chunked)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self):
        """(status, headers with lower-case names, body bytes); skips 1xx responses."""
        while True:
            status = int(self._line().split(b" ")[1])
            headers = {}
            while True:
                line = self._line()
                if not line:
                    break
                k, v = line.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            if status >= 200:
                break
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    break
                body += self._exactly(size)
                self._exactly(2)
        else:
            body = self._exactly(int(headers.get("content-length", "0")))
        return status, headers, body


def closed_by_server(sock, within):
    """True if the server closes the connection within `within` seconds (reading what comes)."""
    sock.settimeout(0.2)
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def proc_status(pid):
    """VmRSS, VmHWM (bytes) and Threads of a process."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
            elif k == "Threads":
                out[k] = int(v)
    return out


def reset_peak_rss(pid):
    """Resets VmHWM to the current RSS (Linux clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
