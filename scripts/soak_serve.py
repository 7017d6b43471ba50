#!/usr/bin/env python3
"""Soak test of herd serve: N requests (default 2,000) from 8 client threads against one server
process, mixed: whole and streamed chat completions, text completions, malformed bodies,
clients that leave right after sending and clients that leave mid-stream. Checks that every
well-formed request that stayed was answered correctly, that the server never died, and that
its resident memory at the end is within 10 % of what it was after the first 100 requests.

usage: soak_serve.py --url http://127.0.0.1:PORT --pid PID [--requests 2000] [--threads 8]
Exit status 0 when every check holds. Loopback only; stdlib only.
"""
import argparse
import http.client
import json
import random
import socket
import threading
import time
import urllib.parse


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=0)
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port
    lock = threading.Lock()
    counts = {"ok": 0, "bad_ok": 0, "left": 0, "wrong": 0, "busy": 0}
    wrong = []
    done = [0]
    rss = {}

    def conn():
        return http.client.HTTPConnection(host, port, timeout=300)

    def post(path, body):
        c = conn()
        c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def one(i, rnd):
        kind = rnd.random()
        msg = {"messages": [{"role": "user", "content": f"Soak {i}: say something {rnd.random()}"}],
               "max_tokens": a.max_tokens, "temperature": a.temperature}
        if kind < 0.35:
            st, data = post("/v1/chat/completions", json.dumps(msg))
            ok = st == 200 and json.loads(data)["choices"][0]["message"]["content"] is not None
            return ("ok" if ok else "busy" if st == 503 else "wrong"), st
        if kind < 0.60:
            msg["stream"] = True
            st, data = post("/v1/chat/completions", json.dumps(msg))
            ok = st == 200 and data.endswith(b"data: [DONE]\n\n")
            return ("ok" if ok else "busy" if st == 503 else "wrong"), st
        if kind < 0.70:
            st, data = post("/v1/completions", json.dumps({"prompt": f"Soak {i}", "max_tokens": 8}))
            return ("ok" if st == 200 else "busy" if st == 503 else "wrong"), st
        if kind < 0.85:
            bad = rnd.choice(["{", "[]", "{\"messages\": 3}", "{\"messages\": [], \"n\": 2}",
                              "{\"prompt\": [-1]}", "null", "\x00\x01", "{\"temperature\": \"x\"}"])
            st, data = post("/v1/chat/completions", bad)
            ok = 400 <= st < 500 and "error" in json.loads(data)
            return ("bad_ok" if ok else "wrong"), st
        # a client that leaves: right after sending, or after a few streamed chunks
        msg["stream"] = True
        msg["max_tokens"] = 200
        s = socket.create_connection((host, port), timeout=60)
        body = json.dumps(msg).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  b"application/json\r\nContent-Length: " + str(len(body)).encode() +
                  b"\r\n\r\n" + body)
        if kind < 0.92:
            got = b""
            while got.count(b"data: ") < 3:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        s.close()
        return "left", 0

    def worker(t):
        rnd = random.Random(t)
        while True:
            with lock:
                i = done[0]
                if i >= a.requests:
                    return
                done[0] += 1
            try:
                kind, st = one(i, rnd)
            except Exception as e:  # noqa: BLE001 - counted and shown
                kind, st = "wrong", str(e)
            with lock:
                counts[kind] += 1
                if kind == "wrong" and len(wrong) < 10:
                    wrong.append((i, st))
                finished = sum(counts.values())
                if finished == 100:
                    rss["first"] = rss_kb(a.pid)
                if finished % 250 == 0:
                    print(f"{finished} requests, RSS {rss_kb(a.pid) / 1024:.1f} MiB", flush=True)

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(1)
    alive = True
    try:
        alive = post("/v1/chat/completions", json.dumps({"messages": [{"role": "user",
                     "content": "done?"}], "max_tokens": 2}))[0] == 200
    except OSError:
        alive = False
    end = rss_kb(a.pid)
    growth = end / rss["first"] - 1 if rss.get("first") else float("nan")
    print(f"{a.requests} requests in {time.time() - t0:.1f} s: {counts}; RSS after 100 "
          f"{rss.get('first', 0) / 1024:.1f} MiB, at the end {end / 1024:.1f} MiB "
          f"({growth * 100:+.1f} %); server alive: {alive}")
    if wrong:
        print("wrong answers:", wrong)
    ok = alive and counts["wrong"] == 0 and counts["busy"] == 0 and abs(growth) <= 0.10
    print("soak:", "PASS" if ok else "FAIL")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
