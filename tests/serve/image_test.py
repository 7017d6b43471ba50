#!/usr/bin/env python3
"""herd serve with images on tiny-vision (stdlib only). The model directory is tiny-vision with
the tiny tokenizer, given ids up to the model's 512 rows (special tokens), so the server, which
never samples past the tokenizer, and herd run choose among the same ids.

usage: image_test.py HERD TESTS_DATA_DIR TMP_DIR
"""
import base64
import http.client
import json
import os
import subprocess
import sys
import time

HERD, DATA, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
D = os.path.join(DATA, "llama4", "tiny-vision")
M = os.path.join(TMP, "model")
os.makedirs(M, exist_ok=True)
for f in os.listdir(D):
    os.symlink(os.path.join(D, f), os.path.join(M, f))
tok = json.load(open(os.path.join(DATA, "tokenizer", "tiny", "tokenizer.json")))
top = max(max(tok["model"]["vocab"].values()), max(a["id"] for a in tok["added_tokens"]))
for i in range(top + 1, 512):
    tok["added_tokens"].append({"id": i, "content": f"<|extra_{i}|>", "single_word": False,
                                "lstrip": False, "rstrip": False, "normalized": False,
                                "special": True})
json.dump(tok, open(os.path.join(M, "tokenizer.json"), "w"))

failures, passes = [], 0


def check(name, cond, detail=""):
    global passes
    if cond:
        passes += 1
    else:
        failures.append(name)
        print(f"FAIL: {name} {detail}", flush=True)


def data_url(path, kind="png"):
    return f"data:image/{kind};base64," + base64.b64encode(open(path, "rb").read()).decode()


def body(url, text="Describe it", n=8):
    return {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}]}],
        "temperature": 0, "max_tokens": n}


NL = "\n"
PROMPT = ("<|begin_of_text|><|header_start|>user<|header_end|>" + NL + NL +
          "<|image|>Describe it<|eot|><|header_start|>assistant<|header_end|>" + NL + NL)


def herd_run(image, n=8, prompt=PROMPT):
    ids = subprocess.run([HERD, "tokenize", "--vocab", os.path.join(M, "tokenizer.json"),
                          "--special", "-p", prompt], capture_output=True, text=True,
                         timeout=60).stdout.split()
    p = subprocess.run([HERD, "run", "-m", M, "--ids", ",".join(ids), "--image", image, "-n",
                        str(n), "--temp", "0", "-t", "1"], capture_output=True, timeout=120)
    out = p.stdout.decode("utf-8", "replace")  # a reply cut inside a character
    return out[:-1] if out.endswith("\n") else out


port_file = os.path.join(TMP, "port")
log = open(os.path.join(TMP, "log"), "w+")
srv = subprocess.Popen([HERD, "serve", "-m", M, "--port", "0", "--port-file", port_file, "-t",
                        "1", "-np", "1", "--ctx", "512"], stdout=log, stderr=subprocess.STDOUT)
deadline = time.time() + 60
while not os.path.exists(port_file) or not open(port_file).read().strip():
    if srv.poll() is not None or time.time() > deadline:
        log.seek(0)
        raise SystemExit("server did not start: " + log.read())
    time.sleep(0.05)
port = int(open(port_file).read())


def post(b, raw=None, path="/v1/chat/completions"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", path, body=raw if raw else json.dumps(b),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read().decode("utf-8")
    c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


try:
    img0, img1 = os.path.join(D, "image0.png"), os.path.join(D, "image1.png")
    want0, want1 = herd_run(img0), herd_run(img1)
    check("herd run gives text", want0 != "" and want1 != "", repr((want0, want1)))
    st, r = post(body(data_url(img0)))
    got = r["choices"][0]["message"]["content"] if st == 200 else r
    check("image0: herd run --image's reply", st == 200 and got == want0, f"{st} {got!r} {want0!r}")
    # one slot: the second request finds the first's ids; its image differs from the <|patch|>s on
    st, r = post(body(data_url(img1)))
    got = r["choices"][0]["message"]["content"] if st == 200 else r
    check("image1 after image0: not taken from the cache", st == 200 and got == want1,
          f"{st} {got!r} {want1!r}")
    cached = r["usage"].get("prompt_tokens_details", {}).get("cached_tokens", 0) if st == 200 else -1
    check("image1 reuses only the text before the image", 0 <= cached < 10, str(r))
    st, r = post(body(data_url(img1, "jpeg")))  # the type in the URL is not trusted: bytes decide
    got = r["choices"][0]["message"]["content"] if st == 200 else r
    cached = r["usage"].get("prompt_tokens_details", {}).get("cached_tokens", 0) if st == 200 else -1
    check("the same image again: same reply, its rows from the cache", st == 200 and got == want1
          and cached > 100, f"{st} {got!r} {cached}")
    bad = [("malformed base64", "data:image/png;base64,iVBOR!!!"),
           ("not an image", "data:image/png;base64," + base64.b64encode(b"hello world").decode()),
           ("truncated png", "data:image/png;base64," +
            base64.b64encode(open(img0, "rb").read()[:300]).decode()),
           ("not base64", "data:image/png,abc"),
           ("remote URL", "https://example.com/cat.png")]
    for name, url in bad:
        st, r = post(body(url))
        ok = st == 400 and isinstance(r, dict) and r["error"]["type"] == "invalid_request_error"
        if name == "remote URL":
            ok = ok and "remote" in r["error"]["message"] and "\n" not in r["error"]["message"]
        check(f"{name}: 400", ok, f"{st} {r}")
    st, r = post({"messages": [{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": data_url(img0)}}]},
        {"role": "user", "content": "x"}], "max_tokens": 2})
    check("an image in a system message: 400", st == 400, f"{st} {r}")
    # with tools, the first user message holds the tools and the user's text; its image stays
    # where it stands in that text
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    tb = body(data_url(img1))
    tb["tools"] = tools
    st, r = post({"messages": tb["messages"], "tools": tools}, path="/apply-template")
    prompt = r.get("prompt", "") if st == 200 else ""
    check("template with tools: the image after the tools, before the text",
          prompt.count("<|image|>") == 1 and prompt.index("get_weather") <
          prompt.index("<|image|>Describe it<|eot|>"), f"{st} {r}")
    want_t = herd_run(img1, prompt=prompt) if prompt else None
    st, r = post(tb)
    got = r["choices"][0]["message"].get("content") if st == 200 else r
    check("image in the first user message with tools: herd run --image's reply",
          st == 200 and got == want_t, f"{st} {got!r} {want_t!r}")
    st, r = post(body(data_url(img0)))
    got = r["choices"][0]["message"]["content"] if st == 200 else r
    check("still serving after the errors", st == 200 and got == want0, f"{st} {got!r}")
finally:
    srv.terminate()
    rc = srv.wait(30)
    check("server exits cleanly", rc == 0, f"rc={rc}")
    if failures:
        log.seek(0)
        print(log.read()[-3000:])
print(f"{passes} passed, {len(failures)} failed", flush=True)
sys.exit(1 if failures else 0)
