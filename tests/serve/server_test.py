#!/usr/bin/env python3
"""Integration tests of `herd serve` over loopback (stdlib only). Each group starts its own
server on a free port with the tiny model made by make_tiny_model.py, and stops it.

usage: server_test.py HERD MODEL_DIR GROUP    (GROUP: api, concurrency, disconnect, errors)
Every wait is bounded; the whole run ends by itself.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERD, MODEL, GROUP = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
passes = 0


def check(name, cond, detail=""):
    global passes
    if cond:
        passes += 1
    else:
        failures.append(name)
        print(f"FAIL: {name} {detail}", flush=True)


def streamed_calls(events):
    """OpenAI stream chunks put back together: (tool calls by index, content text, finish_reason)."""
    calls, content, finish = {}, "", None
    for e in events:
        if not e.get("choices"):
            continue
        ch = e["choices"][0]
        d = ch.get("delta") or {}
        content += d.get("content") or ""
        finish = ch.get("finish_reason") or finish
        for t in d.get("tool_calls") or []:
            c = calls.setdefault(t["index"], {"id": None, "type": None, "function": {"name": "", "arguments": ""}})
            c["id"] = t.get("id") or c["id"]
            c["type"] = t.get("type") or c["type"]
            f = t.get("function") or {}
            c["function"]["name"] += f.get("name") or ""
            c["function"]["arguments"] += f.get("arguments") or ""
    return [calls[i] for i in sorted(calls)], content, finish


class Server:
    def __init__(self, *args, model=None):
        self.dir = tempfile.mkdtemp(prefix="herd_serve_")
        self.port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.p = subprocess.Popen([HERD, "serve", "-m", model or MODEL, "--port", "0", "--port-file",
                                   self.port_file, "-t", "1", *args],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not os.path.exists(self.port_file) or not open(self.port_file).read().strip():
            if self.p.poll() is not None or time.time() > deadline:
                raise SystemExit("server did not start: " + self.output())
            time.sleep(0.05)
        self.port = int(open(self.port_file).read())

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.p.terminate()
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = -9
        check("server exits cleanly on SIGTERM", rc == 0, f"rc={rc} {self.output()[-2000:]}")

    def request(self, method, path, body=None, headers=None, raw=None, timeout=120):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode("utf-8")
        c.close()
        return r.status, r.getheader("Content-Type") or "", text

    def post(self, path, body, **kw):
        status, ctype, text = self.request("POST", path, body, **kw)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def stream(self, path, body, headers=None):
        """Returns (status, list of parsed events, saw [DONE] last)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, body=json.dumps(body), headers=h)
        r = c.getresponse()
        if r.status != 200:
            return r.status, [], False
        raw = r.read().decode("utf-8")
        c.close()
        events, done = [], False
        for block in raw.split("\n\n"):
            if not block:
                continue
            if not block.startswith("data: "):
                return r.status, events, False
            payload = block[6:]
            if payload == "[DONE]":
                done = True
                continue
            if done:
                return r.status, events, False  # anything after [DONE] is a framing error
            events.append(json.loads(payload))
        return r.status, events, done and raw.endswith("data: [DONE]\n\n")

    def metric(self, name):
        status, _, text = self.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None


def chat(content, **kw):
    body = {"messages": [{"role": "user", "content": content}], "temperature": 0,
            "max_tokens": 12}
    body.update(kw)
    return body


def herd_chat_reply(message, n):
    """What `herd chat --temp 0` answers to one user message."""
    p = subprocess.run([HERD, "chat", "-m", MODEL, "--temp", "0", "-n", str(n), "-t", "1"],
                       input=message + "\n", capture_output=True, text=True, timeout=120)
    return p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout


# ---- groups -------------------------------------------------------------------------------------
def group_api():
    s = Server("-np", "2", "--ctx", "1024")
    try:
        status, ctype, text = s.request("GET", "/health")
        check("health", status == 200 and json.loads(text)["status"] == "ok")
        status, ctype, text = s.request("GET", "/v1/models")
        m = json.loads(text)
        check("models", status == 200 and m["object"] == "list" and m["data"][0]["id"] == "tiny")
        status, ctype, text = s.request("GET", "/")
        check("chat page", status == 200 and "text/html" in ctype and "/v1/chat/completions" in text
              and "http://" not in text and "https://" not in text)

        # non-stream greedy == herd chat --temp 0
        status, r = s.post("/v1/chat/completions", chat("Hello there", max_tokens=16))
        want = herd_chat_reply("Hello there", 16)
        got = r["choices"][0]["message"]["content"] if status == 200 else None
        check("chat non-stream", status == 200 and r["object"] == "chat.completion" and
              r["choices"][0]["finish_reason"] == "length", str(r)[:300])
        check("greedy equals herd chat --temp 0", got == want, f"{got!r} vs {want!r}")
        u = r.get("usage", {})
        check("usage counts", u.get("completion_tokens") == 16 and u.get("prompt_tokens", 0) > 5
              and u["total_tokens"] == u["prompt_tokens"] + 16 and
              "cached_tokens" in u.get("prompt_tokens_details", {}), str(u))

        # stream: SSE framing, role first, deltas concatenate to the same text, usage chunk
        status, ev, done = s.stream("/v1/chat/completions",
                                    chat("Hello there", max_tokens=16, stream=True,
                                         stream_options={"include_usage": True}))
        check("stream framing ends with [DONE]", status == 200 and done and len(ev) >= 3)
        text = "".join(e["choices"][0]["delta"].get("content") or "" for e in ev if e["choices"])
        check("stream first chunk has the role", ev and ev[0]["choices"][0]["delta"].get("role") == "assistant")
        check("stream text equals non-stream", text == want, f"{text!r} vs {want!r}")
        check("stream chunk objects", all(e["object"] == "chat.completion.chunk" for e in ev))
        fin = [e for e in ev if e["choices"] and e["choices"][0]["finish_reason"]]
        check("stream finish_reason", len(fin) == 1 and fin[0]["choices"][0]["finish_reason"] == "length")
        check("stream usage chunk", ev[-1]["choices"] == [] and ev[-1]["usage"]["completion_tokens"] == 16)

        # stop strings cut the text and hold nothing back wrongly
        if len(want) > 6:
            stop = want[3:6]
            status, r = s.post("/v1/chat/completions", chat("Hello there", max_tokens=16, stop=[stop]))
            c = r["choices"][0]
            check("stop string", status == 200 and c["finish_reason"] == "stop" and
                  c["message"]["content"] == want[:want.index(stop)], str(c))
            status, ev, done = s.stream("/v1/chat/completions",
                                        chat("Hello there", max_tokens=16, stop=stop, stream=True))
            t = "".join(e["choices"][0]["delta"].get("content") or "" for e in ev if e["choices"])
            check("stop string streamed", done and t == want[:want.index(stop)], repr(t))

        # completions: string prompt and token ids give the same greedy text
        status, r1 = s.post("/v1/completions", {"prompt": "The capital of France is",
                                                "max_tokens": 8, "temperature": 0})
        status2, tk = s.post("/tokenize", {"content": "The capital of France is", "add_special": True})
        status3, r2 = s.post("/v1/completions", {"prompt": tk["tokens"], "max_tokens": 8,
                                                 "temperature": 0})
        check("completions", status == 200 and r1["object"] == "text_completion" and
              r1["usage"]["completion_tokens"] == 8, str(r1)[:300])
        check("completions by ids", status3 == 200 and r2["choices"][0]["text"] == r1["choices"][0]["text"])
        status, ev, done = s.stream("/v1/completions", {"prompt": "The capital of France is",
                                                        "max_tokens": 8, "temperature": 0, "stream": True})
        t = "".join(e["choices"][0]["text"] for e in ev)
        check("completions stream", done and t == r1["choices"][0]["text"], repr(t))

        # tokenize / detokenize
        status, t = s.post("/tokenize", {"content": "Hello world<|eot|>"})
        check("tokenize", status == 200 and t["tokens"][-1] == 200008 and len(t["tokens"]) == 3, str(t))
        status, d = s.post("/detokenize", {"tokens": t["tokens"]})
        check("detokenize", status == 200 and d["content"] == "Hello world<|eot|>", str(d))
        status, t = s.post("/tokenize", {"content": "<|eot|>", "parse_special": False})
        check("tokenize plain", status == 200 and 200008 not in t["tokens"])

        # penalties change greedy output and are accepted in OpenAI's range
        status, r = s.post("/v1/chat/completions", chat("Hello there", max_tokens=16, frequency_penalty=2,
                                                        presence_penalty=2, repeat_penalty=1.3))
        check("penalties accepted", status == 200, str(r)[:200])

        # seeded sampling repeats; JSON mode parses
        b = chat("Tell me", temperature=1.0, top_p=0.95, seed=42, max_tokens=10)
        check("seed repeats", s.post("/v1/chat/completions", b)[1]["choices"][0]["message"] ==
              s.post("/v1/chat/completions", b)[1]["choices"][0]["message"])
        for i, (temp, n) in enumerate([(0, 40), (0, 9), (0, 3), (1.0, 25)]):
            status, r = s.post("/v1/chat/completions",
                               chat(f"Give me JSON {i}", temperature=temp, seed=i, max_tokens=n,
                                    response_format={"type": "json_object"}))
            c = r["choices"][0] if status == 200 else {}
            try:
                v = json.loads(c["message"]["content"])
            except (ValueError, KeyError, TypeError):
                v = None
            check(f"JSON mode output parses (temp {temp}, {n} tokens)",
                  isinstance(v, dict) and c["finish_reason"] == "stop" and
                  r["usage"]["completion_tokens"] <= n, str(r)[:400])

        # prompt cache: turn 2 after a turn 1 whose cache is exactly its prompt
        sysmsg = {"role": "system", "content": "You are terse."}
        t1 = [sysmsg, {"role": "user", "content": "Name a color."}]
        t2 = t1 + [{"role": "assistant", "content": "Blue."}, {"role": "user", "content": "Another?"}]
        s2 = Server("-np", "1", "--ctx", "1024")
        try:
            st, cold = s2.post("/v1/chat/completions", {"messages": t2, "temperature": 0, "max_tokens": 10})
            st, r1 = s2.post("/v1/chat/completions", {"messages": t1, "temperature": 0, "max_tokens": 1})
            st, warm = s2.post("/v1/chat/completions", {"messages": t2, "temperature": 0, "max_tokens": 10})
            cached = warm["usage"]["prompt_tokens_details"]["cached_tokens"]
            check("prompt cache hit", cached == r1["usage"]["prompt_tokens"] and cached > 0,
                  f"cached {cached}, turn 1 prompt {r1['usage']['prompt_tokens']}")
            check("cold request has no cache", cold["usage"]["prompt_tokens_details"]["cached_tokens"] == 0)
            check("cached reply equals cold reply", warm["choices"][0]["message"] == cold["choices"][0]["message"])
            check("cache hits counted", s2.metric("herd_prompt_cache_hits_total") == 2)
            # a different question after the same system prompt reuses the system block
            t3 = [sysmsg, {"role": "user", "content": "Name a fruit."}]
            st, r3 = s2.post("/v1/chat/completions", {"messages": t3, "temperature": 0, "max_tokens": 4})
            c3 = r3["usage"]["prompt_tokens_details"]["cached_tokens"]
            check("shared system prompt reused", 8 <= c3 < r3["usage"]["prompt_tokens"], str(r3["usage"]))
        finally:
            s2.stop()

        # tools: rendered into the prompt; a tool result goes back under ipython
        tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
        msgs = [{"role": "user", "content": "Weather in Paris?"}]
        status, r = s.post("/v1/chat/completions", {"messages": msgs, "tools": tools, "max_tokens": 8,
                                                    "temperature": 0})
        check("tools request", status == 200 and r["choices"][0]["finish_reason"] in ("stop", "length", "tool_calls"))
        # a named tool_choice makes the reply a call: tool_calls come back, the result goes in
        named = {"type": "function", "function": {"name": "get_weather"}}
        status, r = s.post("/v1/chat/completions", {"messages": msgs, "tools": tools, "max_tokens": 30,
                                                    "temperature": 0, "tool_choice": named})
        c = r["choices"][0] if status == 200 else {}
        calls = (c.get("message") or {}).get("tool_calls") or []
        ok = len(calls) == 1 and calls[0]["type"] == "function" and calls[0]["id"].startswith("call_")
        check("named tool_choice gives a tool call", ok and c["finish_reason"] == "tool_calls" and
              c["message"]["content"] is None and calls[0]["function"]["name"] == "get_weather" and
              isinstance(json.loads(calls[0]["function"]["arguments"]), dict), str(r)[:500])
        status, ev, done = s.stream("/v1/chat/completions", {"messages": msgs, "tools": tools, "max_tokens": 30,
                                                             "temperature": 0, "tool_choice": named, "stream": True})
        scalls, content, finish = streamed_calls(ev)
        check("streamed tool call", done and ok and len(scalls) == 1 and
              scalls[0]["function"]["name"] == "get_weather" and scalls[0]["id"].startswith("call_") and
              json.loads(scalls[0]["function"]["arguments"]) == json.loads(calls[0]["function"]["arguments"]) and
              content == "" and finish == "tool_calls", str(ev)[:800])
        check("streamed arguments come in pieces after the name",
              sum(1 for e in ev if e["choices"] and "tool_calls" in e["choices"][0]["delta"]) >= 2, str(ev)[:800])
        # tool_choice with several tools: "required" picks one of them, a name forces that one
        tools2 = tools + [{"type": "function", "function": {"name": "get_time", "description": "Time",
                           "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}]
        for choice, names in (("required", ("get_weather", "get_time")),
                              ({"type": "function", "function": {"name": "get_time"}}, ("get_time",))):
            for seed in (1, 2):
                body = {"messages": msgs, "tools": tools2, "max_tokens": 40, "temperature": 1.0,
                        "seed": seed, "tool_choice": choice}
                status, r = s.post("/v1/chat/completions", body)
                c = r["choices"][0] if status == 200 else {}
                calls2 = (c.get("message") or {}).get("tool_calls") or []
                ok2 = (len(calls2) == 1 and calls2[0]["function"]["name"] in names and
                       isinstance(json.loads(calls2[0]["function"]["arguments"]), dict) and
                       c["finish_reason"] == "tool_calls" and c["message"]["content"] is None)
                check(f"tool_choice {choice} seed {seed} forces a call", ok2, str(r)[:500])
                status, ev, done = s.stream("/v1/chat/completions", dict(body, stream=True))
                scalls, content, finish = streamed_calls(ev)
                check(f"tool_choice {choice} seed {seed} streamed as the same call",
                      ok2 and done and len(scalls) == 1 and content == "" and finish == "tool_calls" and
                      scalls[0]["function"]["name"] == calls2[0]["function"]["name"] and
                      json.loads(scalls[0]["function"]["arguments"]) == json.loads(calls2[0]["function"]["arguments"]),
                      str(ev)[:800])
        # "none": the tools are not rendered and no call comes back
        status, r = s.post("/v1/chat/completions", {"messages": msgs, "tools": tools2, "max_tokens": 8,
                                                    "temperature": 0, "tool_choice": "none"})
        check("tool_choice none", status == 200 and "tool_calls" not in r["choices"][0]["message"] and
              r["usage"]["prompt_tokens"] < 40, str(r)[:300])
        status, r = s.post("/v1/chat/completions", {"messages": msgs, "max_tokens": 8, "tool_choice": "required"})
        check("tool_choice required without tools", status == 400 and r["error"]["param"] == "tool_choice", str(r))
        if ok:
            back = msgs + [{"role": "assistant", "content": None, "tool_calls": calls},
                           {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny, 21C"}]
            status, r = s.post("/v1/chat/completions", {"messages": back, "tools": tools, "max_tokens": 8,
                                                        "temperature": 0})
            check("tool result answered", status == 200 and r["choices"][0]["message"]["role"] == "assistant")
        status, r = s.post("/v1/chat/completions", {"messages": msgs, "tools": tools,
                                                    "tool_choice": {"type": "function", "function": {"name": "nope"}}})
        check("tool_choice of an unknown tool", status == 400, str(r))
        msgs += [{"role": "assistant", "content": None, "tool_calls": [
                     {"id": "call_1", "type": "function",
                      "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                 {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"}]
        status, r = s.post("/v1/chat/completions", {"messages": msgs, "tools": tools, "max_tokens": 8,
                                                    "temperature": 0})
        check("tool result round trip", status == 200 and r["usage"]["prompt_tokens"] > 60, str(r)[:300])
        status, r = s.post("/apply-template", {"messages": msgs, "tools": tools})
        p = r.get("prompt", "") if status == 200 else ""
        check("template: tools in the first user message",
              p.startswith("<|begin_of_text|><|header_start|>user<|header_end|>\n\nGiven the following functions")
              and '"name": "get_weather"' in p and p.count("Weather in Paris?") == 1, p[:400])
        check("template: tool call and result",
              '<|python_start|><|python_end|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot|>' in p
              and "<|header_start|>ipython<|header_end|>\n\nsunny, 21C<|eot|>" in p
              and p.endswith("<|header_start|>assistant<|header_end|>\n\n"), p[-400:])
        check("metrics", s.metric("herd_requests_total") >= 10 and s.metric("herd_slots_busy") == 0
              and s.metric("herd_decode_tokens_per_second") > 0)
    finally:
        s.stop()


def group_concurrency():
    prompts = [f"Story number {i} about {w}" for i, w in
               enumerate(["cats", "ships", "rain", "stars", "bread", "trains", "owls", "snow"])]
    s = Server("-np", "4", "--ctx", "512", "--max-queue", "8")
    try:
        solo = [s.post("/v1/chat/completions", chat(p, max_tokens=20))[1] for p in prompts]
        results = [None] * 8

        def run(i):
            if i % 2:
                st, ev, done = s.stream("/v1/chat/completions", chat(prompts[i], max_tokens=20, stream=True))
                results[i] = "".join(e["choices"][0]["delta"].get("content") or "" for e in ev) if done else None
            else:
                st, r = s.post("/v1/chat/completions", chat(prompts[i], max_tokens=20))
                results[i] = r["choices"][0]["message"]["content"] if st == 200 else None

        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for i in range(8):
            check(f"concurrent client {i} equals its solo run",
                  results[i] == solo[i]["choices"][0]["message"]["content"],
                  f"{results[i]!r} vs {solo[i]['choices'][0]['message']['content']!r}")
        check("all slots free afterwards", s.metric("herd_slots_busy") == 0 and s.metric("herd_queue_depth") == 0)
        print(f"8 concurrent clients in {time.time() - t0:.2f} s", flush=True)
    finally:
        s.stop()


def open_request(port, body, path="/v1/chat/completions"):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    data = json.dumps(body).encode()
    sock.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    return sock


def wait_metric(s, name, pred, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = s.metric(name)
        if v is not None and pred(v):
            return True
        time.sleep(0.02)
    return False


def group_disconnect():
    s = Server("-np", "1", "--ctx", "4096", "--prefill-chunk", "1", "--max-queue", "1")
    try:
        long_prompt = " ".join(f"word{i}" for i in range(1500))  # ~3000 steps of one token
        # mid-prefill: the client leaves right after sending a long prompt
        sock = open_request(s.port, chat(long_prompt, max_tokens=50))
        check("prefill under way", wait_metric(s, "herd_slots_busy", lambda v: v == 1, 10))
        gen0 = s.metric("herd_generated_tokens_total")
        sock.close()
        t0 = time.time()
        freed = wait_metric(s, "herd_slots_busy", lambda v: v == 0, 10)
        check("disconnect mid-prefill frees the slot", freed and s.metric("herd_requests_cancelled_total") == 1,
              f"after {time.time() - t0:.2f} s")
        check("nothing generated for the departed client", s.metric("herd_generated_tokens_total") == gen0)
        status, r = s.post("/v1/chat/completions", chat("Still there?"))
        check("serves after a mid-prefill disconnect", status == 200)

        # mid-stream: read some tokens, then leave
        sock = open_request(s.port, chat("Go on", max_tokens=3000, stream=True))
        got = b""
        while got.count(b"data: ") < 5:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        sock.close()
        freed = wait_metric(s, "herd_slots_busy", lambda v: v == 0, 10)
        gen = s.metric("herd_generated_tokens_total")
        check("disconnect mid-stream frees the slot", freed and s.metric("herd_requests_cancelled_total") == 2)
        time.sleep(0.3)
        check("generation stopped", s.metric("herd_generated_tokens_total") == gen and gen < 3000 + 20)

        # queue full: one running, one waiting, the third is refused with 503
        a = open_request(s.port, chat("Busy", max_tokens=3000, stream=True))
        check("first runs", wait_metric(s, "herd_slots_busy", lambda v: v == 1))
        b = open_request(s.port, chat("Waiting", max_tokens=4))
        check("second waits", wait_metric(s, "herd_queue_depth", lambda v: v == 1))
        status, r = s.post("/v1/chat/completions", chat("Refused"))
        check("queue full gives 503", status == 503 and r["error"]["type"] == "unavailable_error", str(r))
        a.close()
        b.settimeout(30)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = b.recv(65536)
            if not chunk:
                break
            reply += chunk
        b.close()
        check("the waiting request is served", reply.startswith(b"HTTP/1.1 200"), reply[:200])
        check("rejection counted", s.metric("herd_requests_rejected_total") == 1)
        check("server alive", s.request("GET", "/health")[0] == 200)
    finally:
        s.stop()


MALFORMED = [
    "", "{", "[]", "null", "42", '"text"', "{\"messages\": []}", "{\"messages\": {}}",
    "{\"messages\": \"hi\"}", "{\"messages\": [1]}", "{\"messages\": [{}]}",
    "{\"messages\": [{\"role\": 5, \"content\": \"x\"}]}",
    "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": [{\"text\": \"x\"}]}]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": \"hot\"}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": -1}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": 9}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_p\": 0}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_k\": 1.5}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 0}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": \"10\"}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 2}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": 5}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"\"]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream\": \"yes\"}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream_options\": {\"include_usage\": true}}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"response_format\": {\"type\": \"json_schema\"}}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"response_format\": \"json\"}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": {}}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": [{\"type\": \"function\"}]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tool_choice\": \"always\"}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"seed\": \"s\"}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"frequency_penalty\": 5}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": true}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_token\": 5}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"model\": 7}",
    "{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\", \"tool_calls\": 3}]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"messages\": []}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}],}",
    "\xff\xfe{}",
]
MALFORMED_COMPLETIONS = [
    "{}", "{\"prompt\": 5}", "{\"prompt\": []}", "{\"prompt\": [[1, 2], [3]]}", "{\"prompt\": [-1]}",
    "{\"prompt\": [999999999]}", "{\"prompt\": \"x\", \"echo\": true}", "{\"prompt\": \"x\", \"best_of\": 3}",
    "{\"prompt\": \"x\", \"suffix\": \"y\"}", "{\"prompt\": \"x\", \"messages\": []}",
]


def group_errors():
    s = Server("-np", "1", "--ctx", "64", "--max-body", "4096")
    try:
        n = 0
        for body in MALFORMED:
            status, ctype, text = s.request("POST", "/v1/chat/completions", raw=body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body)
            try:
                e = json.loads(text)["error"]
                ok = status == 400 and e["type"] == "invalid_request_error" and e["message"]
            except (ValueError, KeyError, TypeError):
                ok = False
            check(f"malformed chat body {body[:60]!r}", ok, f"{status} {text[:200]}")
            n += 1
        for body in MALFORMED_COMPLETIONS:
            status, ctype, text = s.request("POST", "/v1/completions", raw=body)
            check(f"malformed completions body {body!r}", status == 400 and "error" in json.loads(text), f"{status} {text[:200]}")
            n += 1
        for body in ["{}", "{\"content\": 5}", "{\"content\": \"x\", \"add_special\": 1}"]:
            status, ctype, text = s.request("POST", "/tokenize", raw=body)
            check(f"malformed tokenize {body}", status == 400, text)
            n += 1
        for body in ["{}", "{\"tokens\": [\"a\"]}", "{\"tokens\": [-5]}", "{\"tokens\": [300000]}"]:
            status, ctype, text = s.request("POST", "/detokenize", raw=body)
            check(f"malformed detokenize {body}", status == 400, text)
            n += 1
        print(f"{n} malformed bodies", flush=True)
        long = " ".join(["word"] * 200)
        status, r = s.post("/v1/chat/completions", chat(long))
        check("prompt over the context", status == 400 and r["error"]["code"] == "context_length_exceeded", str(r))
        status, r = s.post("/v1/chat/completions", chat("x", model="gpt-4"))
        check("unknown model", status == 404 and r["error"]["code"] == "model_not_found", str(r))
        status, ctype, text = s.request("POST", "/v1/chat/completions", raw="x" * 10000)
        check("body over the limit", status == 413, f"{status} {text}")
        status, ctype, text = s.request("POST", "/v1/chat/completions", chat("x"),
                                        headers={f"X-H{i}": "v" for i in range(80)})
        check("too many headers", status == 431, f"{status} {text}")
        status, ctype, text = s.request("GET", "/v1/chat/completions")
        check("wrong method", status == 405 and "error" in json.loads(text))
        status, ctype, text = s.request("GET", "/nope")
        check("unknown path", status == 404 and "error" in json.loads(text))
        status, r = s.post("/v1/chat/completions", chat("still fine"))
        check("serves after bad requests", status == 200)
        check("no request failed inside", s.metric("herd_requests_failed_total") == 0)
    finally:
        s.stop()

    s = Server("-np", "1", "--ctx", "256", "--api-key", "sesame")
    try:
        status, r = s.post("/v1/chat/completions", chat("x"))
        check("no key: 401", status == 401 and r["error"]["type"] == "authentication_error", str(r))
        status, r = s.post("/v1/chat/completions", chat("x"), headers={"Authorization": "Bearer nope"})
        check("wrong key: 401", status == 401)
        status, r = s.post("/v1/chat/completions", chat("x"), headers={"Authorization": "Bearer sesam"})
        check("key prefix: 401", status == 401)
        status, r = s.post("/v1/chat/completions", chat("x"), headers={"Authorization": "Bearer sesame"})
        check("right key: 200", status == 200)
        check("models need the key", s.request("GET", "/v1/models")[0] == 401)
        check("health needs no key", s.request("GET", "/health")[0] == 200)
    finally:
        s.stop()


    # a model without a vision tower (the tiny model's config without vision_config; its tower
    # tensors are then unused): an image part is a 400 that says so, and text still works
    text_only = os.path.join(tempfile.mkdtemp(prefix="herd_serve_text_"), "model")
    os.makedirs(text_only)
    for f in ("model.safetensors", "tokenizer.model"):
        os.symlink(os.path.join(MODEL, f), os.path.join(text_only, f))
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    cfg.pop("vision_config", None)
    json.dump(cfg, open(os.path.join(text_only, "config.json"), "w"))
    png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgAB4iG8MwAAAABJRU5ErkJggg=="
    image_msg = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": png}},
                                              {"type": "text", "text": "What is this?"}]}]
    s = Server("-np", "1", "--ctx", "256", model=text_only)
    try:
        status, r = s.post("/v1/chat/completions", {"messages": image_msg, "max_tokens": 2})
        check("image for a model without a vision tower: 400", status == 400 and
              r["error"]["type"] == "invalid_request_error" and "no images" in r["error"]["message"]
              and "vision tower" in r["error"]["message"], str(r))
        status, r = s.post("/v1/chat/completions", chat("still fine"))
        check("text after the refused image", status == 200, str(r))
    finally:
        s.stop()


{"api": group_api, "concurrency": group_concurrency, "disconnect": group_disconnect,
 "errors": group_errors}[GROUP]()
print(f"{passes} passed, {len(failures)} failed", flush=True)
sys.exit(1 if failures else 0)
