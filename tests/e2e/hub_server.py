"""A local stand-in for the Hugging Face hub, serving the hub's URL layout for the e2e tests:

  GET  /api/models/{org}/{name}/revision/{rev}   {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD/GET /{org}/{name}/resolve/{rev}/{file}    small files: 200, ETag = git blob sha1;
                                                 *.safetensors (LFS): 302 to /cdn/{sha256} with
                                                 X-Linked-Etag (sha256) and X-Linked-Size
  GET  /cdn/{sha256}                             the content, with Range (206) support

with the hub's X-Repo-Commit header, 401 without the right bearer token when a repo asks for
one, and faults to inject: cut a file's first transfer after N bytes (the client must resume
with Range), or serve corrupted bytes under the right checksum (the client must refuse them).
Every request is recorded (method, path, Range, Authorization) for the tests to inspect."""
import hashlib
import http.server
import json
import threading


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, files: dict, commit: str, revisions=("main",), token=None):
        self.files = files            # name -> bytes
        self.commit = commit          # 40 hex
        self.revisions = set(revisions) | {commit}
        self.token = token


class HubServer:
    def __init__(self):
        self.repos = {}               # "Org/Name" -> Repo
        self.blobs = {}               # sha256 -> bytes (what /cdn serves)
        self.cut_after = {}           # sha256 -> bytes to send before dropping the first transfer
        self.corrupt = set()          # sha256s served with one byte flipped
        self.log = []
        self.lock = threading.Lock()
        handler = self._handler()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add_repo(self, repo_id, files, commit, **kw):
        self.repos[repo_id] = Repo(files, commit, **kw)
        for data in files.values():
            self.blobs[hashlib.sha256(data).hexdigest()] = data

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def requests(self, kind=None):
        with self.lock:
            return [r for r in self.log if kind is None or r["path"].startswith(kind)]

    def _handler(self):
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _record(self):
                with hub.lock:
                    hub.log.append({"method": self.command, "path": self.path, "range": self.headers.get("Range"),
                                    "auth": self.headers.get("Authorization")})

            def _send(self, status, body=b"", headers=(), head=False):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _json(self, status, obj):
                self._send(status, json.dumps(obj).encode(), [("Content-Type", "application/json")])

            def _repo(self, parts):
                repo_id = "/".join(parts[:2])
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return None, 404
                if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                    return None, 401
                return repo, 200

            def do_HEAD(self):
                self._route(head=True)

            def do_GET(self):
                self._route(head=False)

            def _route(self, head):
                self._record()
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
                    repo, status = self._repo(parts[2:4])
                    if repo is None:
                        return self._json(status, {"error": "Repository not found" if status == 404 else "Unauthorized"})
                    if parts[5] not in repo.revisions:
                        return self._json(404, {"error": f"Revision Not Found for url: {self.path}"})
                    return self._json(200, {"id": "/".join(parts[2:4]), "sha": repo.commit,
                                            "siblings": [{"rfilename": f} for f in sorted(repo.files)]})
                if len(parts) >= 5 and parts[2] == "resolve":
                    repo, status = self._repo(parts[:2])
                    if repo is None:
                        return self._send(status, head=head)
                    rev, name = parts[3], "/".join(parts[4:])
                    if rev not in repo.revisions or name not in repo.files:
                        return self._send(404, b"Entry not found", head=head)
                    data = repo.files[name]
                    common = [("X-Repo-Commit", repo.commit)]
                    if name.endswith(".safetensors"):  # an LFS file: redirect to the CDN
                        sha = hashlib.sha256(data).hexdigest()
                        return self._send(302, b"", common + [("Location", f"{hub.url}/cdn/{sha}"),
                                                              ("X-Linked-Etag", f'"{sha}"'),
                                                              ("X-Linked-Size", str(len(data))),
                                                              ("ETag", f'"{git_blob_sha1(data)}"')], head=head)
                    return self._send(200, data, common + [("ETag", f'"{git_blob_sha1(data)}"')], head=head)
                if len(parts) == 2 and parts[0] == "cdn" and parts[1] in hub.blobs:
                    return self._cdn(parts[1], head)
                self._send(404, b"not found", head=head)

            def _cdn(self, sha, head):
                data = hub.blobs[sha]
                if sha in hub.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start, status = 0, 200
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start, status = int(rng[6:-1]), 206
                    if start >= len(data):
                        return self._send(416, b"", [("Content-Range", f"bytes */{len(data)}")], head=head)
                body = data[start:]
                headers = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes")]
                if status == 206:
                    headers.append(("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"))
                cut = hub.cut_after.pop(sha, None) if not head else None
                if cut is None:
                    return self._send(status, body, headers, head=head)
                # Announce the whole body, send part of it, and drop the connection.
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)

        return Handler
