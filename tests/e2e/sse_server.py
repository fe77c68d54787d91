"""A small real HTTP server that streams OpenAI-shaped SSE, for the `rotor bench serve` tests.

It stands in for the network peer until `rotor serve` exists: chat and completions streaming
with a fixed time to first token and inter-token gap, `usage` when asked for, HTTP 500 for
prompts containing "<<FAIL>>", and a record of what it saw (bodies, requests in flight at most).
Given a tokenizer directory it counts prompt tokens as a real server does, with Hugging Face's
`tokenizers` and the chat template of tokenizer_config.json rendered by jinja2 (as transformers
renders it); otherwise it counts words.
"""
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SseServer:
    def __init__(self, ttft_s=0.05, itl_s=0.01, tokenizer_dir=None):
        self.ttft_s = ttft_s
        self.itl_s = itl_s
        self.counter = PromptCounter(tokenizer_dir) if tokenizer_dir else None
        self.lock = threading.Lock()
        self.bodies = []
        self.in_flight = 0
        self.max_in_flight = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Without TCP_NODELAY small SSE writes wait for the client's delayed ACK (~40 ms).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.bodies.append(body)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    outer.respond(self, body)
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def respond(self, h, body):
        chat = h.path.endswith("/chat/completions")
        prompt = body["messages"][-1]["content"] if chat else body["prompt"]
        if self.counter:
            prompt_tokens = self.counter.chat(body) if chat else self.counter.text(prompt)
        else:
            prompt_tokens = len(prompt.split())
        if "<<FAIL>>" in prompt:
            data = json.dumps({"error": {"message": "scripted failure", "type": "InternalServerError", "code": 500}})
            h.send_response(500)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data.encode())
            return
        n = body.get("max_tokens", 16)
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def send(obj):
            data = ("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n").encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()

        def choice(text, finish=None):
            if chat:
                delta = {"content": text} if text is not None else {}
                return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return {"object": "text_completion", "choices": [{"index": 0, "text": text or "", "finish_reason": finish}]}

        if chat:
            send({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        time.sleep(self.ttft_s)
        for i in range(n):
            if i:
                time.sleep(self.itl_s)
            send(choice(f" t{i}"))
        send(choice(None, "length"))
        if body.get("stream_options", {}).get("include_usage"):
            send({"object": "chat.completion.chunk", "choices": [],
                  "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n}})
        send("[DONE]")
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()


class PromptCounter:
    """Prompt token counts as a Hugging Face based server computes them."""

    def __init__(self, tokenizer_dir):
        import jinja2.sandbox
        from jinja2.ext import loopcontrols
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
        with open(os.path.join(tokenizer_dir, "tokenizer_config.json")) as f:
            template = json.load(f)["chat_template"]
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                           extensions=[loopcontrols])
        env.filters["tojson"] = lambda x, indent=None: json.dumps(x, ensure_ascii=False, indent=indent)

        def raise_exception(message):
            raise jinja2.exceptions.TemplateError(message)

        env.globals["raise_exception"] = raise_exception
        self.template = env.from_string(template)

    def text(self, text):
        return len(self.tok.encode(text, add_special_tokens=False).ids)

    def chat(self, body):
        kwargs = body.get("chat_template_kwargs") or {}
        rendered = self.template.render(messages=body["messages"], add_generation_prompt=True, **kwargs)
        return self.text(rendered)
