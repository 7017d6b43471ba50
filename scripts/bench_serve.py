#!/usr/bin/env python3
"""Load benchmark of an OpenAI-compatible server (herd serve, llama-server): at each number of
concurrent streams, every stream sends the same count of streaming chat requests one after
the other (distinct prompts, so no prompt-cache help), and the run reports aggregate generated
tokens/s, time to first token p50/p95 and inter-token latency p50/p95. Loopback, bounded in
requests and time; stdlib only.

usage: bench_serve.py --url http://127.0.0.1:8080 [--streams 1,2,4,8] [--requests 4]
                      [--max-tokens 64] [--label NAME] [--json] [--model ID] [--api-key KEY]
                      [--endpoint completions|chat] [--no-ignore-eos] [--max-seconds S]

Works with any server that streams OpenAI chunks. The default endpoint is /v1/completions: the
same prompt text becomes the same prompt tokens on every server (a chat request would go
through each server's own chat template), and no server parses the reply (llama-server's chat
parser rejects the random text of a random-weight model with a 500 inside the stream).
`ignore_eos` (llama.cpp's and herd's field; --no-ignore-eos leaves it out for servers that
refuse it) makes every reply run to --max-tokens; `model` is the first of /v1/models unless
given. Generated and prompt tokens are counted from the usage the server sends with
stream_options.include_usage (one per text chunk if it sends none); the mean of each per level
shows that the servers compared did the same work. An error event inside a stream counts as an
error. ITL is the gap between token chunks (token_chunk); TPOT, a request's (last chunk - first
chunk) / (tokens - 1), is printed too, as a server may put several tokens in one chunk.
"""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

WORDS = ("river mountain lantern harbor meadow copper violet thunder orchard pebble canyon "
         "glacier ember willow saffron compass").split()


def prompt(i):
    topic = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(6))
    return f"Request {i}. Write a long, detailed story that mentions: {topic}."


OPTS = {"model": None, "api_key": None, "ignore_eos": True, "endpoint": "completions"}


def headers():
    h = {"Content-Type": "application/json"}
    if OPTS["api_key"]:
        h["Authorization"] = "Bearer " + OPTS["api_key"]
    return h


def first_model(url, timeout):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    c.request("GET", "/v1/models", headers=headers())
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        return None
    data = json.loads(body).get("data") or []
    return data[0].get("id") if data else None


def token_chunk(choice, chat):
    """Whether a streamed choice carries a generated token. A text completion's chunk counts even
    with empty text (llama-server sends "" for a token that does not end a UTF-8 character or
    that it does not print), unless it is only the finish_reason; a chat chunk counts when its
    delta has content (the first, role-only chunk has none)."""
    if chat:
        return bool((choice.get("delta") or {}).get("content"))
    return "text" in choice and (choice["text"] or choice.get("finish_reason") is None)


def one_request(url, i, max_tokens, timeout):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    chat = OPTS["endpoint"] == "chat"
    body = {"max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    if chat:
        body["messages"] = [{"role": "user", "content": prompt(i)}]
    else:
        body["prompt"] = prompt(i)
    if OPTS["ignore_eos"]:
        body["ignore_eos"] = True
    if OPTS["model"]:
        body["model"] = OPTS["model"]
    t0 = time.perf_counter()
    path = "/v1/chat/completions" if chat else "/v1/completions"
    c.request("POST", path, body=json.dumps(body), headers=headers())
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:200]!r}")
    times, usage, buf = [], None, b""
    while True:
        line = r.fp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            break
        ev = json.loads(data)
        if ev.get("error"):
            c.close()
            raise RuntimeError(f"error in the stream: {json.dumps(ev['error'])[:200]}")
        if ev.get("usage"):
            usage = ev["usage"]
        ch = ev.get("choices") or []
        if ch and token_chunk(ch[0], chat):
            times.append(time.perf_counter())
    c.close()
    n = usage["completion_tokens"] if usage else len(times)
    n_prompt = usage.get("prompt_tokens") if usage else None
    return {"t0": t0, "times": times, "tokens": n, "prompt_tokens": n_prompt,
            "end": time.perf_counter()}


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    f = int(k)
    return xs[f] + (xs[min(f + 1, len(xs) - 1)] - xs[f]) * (k - f)


def run_level(url, streams, requests, max_tokens, timeout, base, deadline):
    results, errors = [], []

    def worker(s):
        for k in range(requests):
            if time.perf_counter() > deadline:
                errors.append("--max-seconds reached")
                break
            try:
                results.append(one_request(url, base + s * requests + k, max_tokens, timeout))
            except Exception as e:  # noqa: BLE001 - reported, not hidden
                errors.append(str(e))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(streams)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * requests + 60)
    wall = time.perf_counter() - t0
    tokens = sum(r["tokens"] for r in results)
    ttft = [r["times"][0] - r["t0"] for r in results if r["times"]]
    itl = [b - a for r in results for a, b in zip(r["times"], r["times"][1:])]
    tpot = [(r["times"][-1] - r["times"][0]) / (r["tokens"] - 1)
            for r in results if len(r["times"]) > 1 and r["tokens"] > 1]
    prompts = [r["prompt_tokens"] for r in results if r["prompt_tokens"] is not None]
    return {"streams": streams, "requests": len(results), "errors": len(errors),
            "tokens": tokens, "mean_tokens": tokens / len(results) if results else 0,
            "mean_prompt_tokens": statistics.mean(prompts) if prompts else None,
            "seconds": wall, "tokens_per_s": tokens / wall if wall else 0,
            "ttft_p50_ms": pct(ttft, 50) * 1e3, "ttft_p95_ms": pct(ttft, 95) * 1e3,
            "itl_p50_ms": pct(itl, 50) * 1e3, "itl_p95_ms": pct(itl, 95) * 1e3,
            "tpot_p50_ms": pct(tpot, 50) * 1e3, "tpot_p95_ms": pct(tpot, 95) * 1e3,
            "first_error": errors[0] if errors else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--streams", default="1,2,4,8")
    ap.add_argument("--requests", type=int, default=4, help="requests per stream")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--label", default="")
    ap.add_argument("--json", action="store_true", help="one JSON object per level")
    ap.add_argument("--model", help="the model id to send (default: the first of /v1/models)")
    ap.add_argument("--api-key")
    ap.add_argument("--no-ignore-eos", action="store_true")
    ap.add_argument("--endpoint", choices=("completions", "chat"), default="completions")
    ap.add_argument("--max-seconds", type=float, default=1800,
                    help="no new request after this many seconds (the run stays bounded)")
    a = ap.parse_args()
    OPTS.update(api_key=a.api_key, ignore_eos=not a.no_ignore_eos, endpoint=a.endpoint)
    OPTS["model"] = a.model or first_model(a.url, a.timeout)
    deadline = time.perf_counter() + a.max_seconds
    one_request(a.url, 10**6, 4, a.timeout)  # warm up
    base = 0
    for s in (int(x) for x in a.streams.split(",")):
        m = run_level(a.url, s, a.requests, a.max_tokens, a.timeout, base, deadline)
        base += 1000
        m["label"] = a.label
        m["model"] = OPTS["model"]
        if a.json:
            print(json.dumps(m), flush=True)
        else:
            print(f"{a.label:>12} streams {s}: {m['tokens_per_s']:7.1f} tok/s aggregate, "
                  f"TTFT p50 {m['ttft_p50_ms']:7.1f} ms p95 {m['ttft_p95_ms']:7.1f} ms, "
                  f"ITL p50 {m['itl_p50_ms']:6.1f} ms p95 {m['itl_p95_ms']:6.1f} ms, "
                  f"TPOT p50 {m['tpot_p50_ms']:6.1f} ms "
                  f"({m['requests']} requests, {m['errors']} errors; per request "
                  f"{m['mean_prompt_tokens']} prompt, {m['mean_tokens']:.1f} generated tokens)",
                  flush=True)
            if m["first_error"]:
                print(f"{a.label:>12} first error: {m['first_error']}", flush=True)


if __name__ == "__main__":
    main()
