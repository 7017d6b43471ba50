/* The server's text pieces without a socket: the tool-call parser (pythonic and JSON forms,
 * content before a call, things that are not calls), the events of a streamed reply with tools
 * as its text arrives (content, then tool_calls), and the JSON-mode mask over the real Llama 4
 * vocabulary (random walks stay a prefix of one JSON object, the closing budget always ends in
 * a whole object, and the cost per token, printed for docs/SERVER.md). */
#include "harness.h"
#include "serve/request.h"

static json_t *parse(const char *text, int64_t python_start, size_t *content)
{
    return srv_parse_tool_calls(text, strlen(text), python_start, content);
}

static bool call_is(json_t *calls, size_t i, const char *name, const char *args)
{
    json_t *c = json_array_get(calls, i);
    const char *n = json_string_value(json_object_get(c, "name"));
    const char *a = json_string_value(json_object_get(c, "arguments"));
    json_t *want = json_loads(args, 0, NULL), *got = a ? json_loads(a, 0, NULL) : NULL;
    bool ok = n && !strcmp(n, name) && got && json_equal(want, got);
    if (!ok)
        fprintf(stderr, "  got %s(%s)\n", n ? n : "?", a ? a : "?");
    json_decref(want);
    json_decref(got);
    return ok;
}

TEST(pythonic_calls)
{
    size_t content;
    json_t *c = parse("[get_weather(city=\"Paris\", days=3)]", -1, &content);
    CHECK(c && json_array_size(c) == 1 && content == 0);
    CHECK(c && call_is(c, 0, "get_weather", "{\"city\": \"Paris\", \"days\": 3}"));
    json_decref(c);
    c = parse("[a(x=[1, 2.5, -3], y={'k': None, 'b': True}), b()]", -1, &content);
    CHECK(c && json_array_size(c) == 2);
    CHECK(c && call_is(c, 0, "a", "{\"x\": [1, 2.5, -3], \"y\": {\"k\": null, \"b\": true}}"));
    CHECK(c && call_is(c, 1, "b", "{}"));
    json_decref(c);
    c = parse("Let me check.\n[lookup(q='it\\'s \"quoted\"')]  ", -1, &content);
    CHECK(c && call_is(c, 0, "lookup", "{\"q\": \"it's \\\"quoted\\\"\"}"));
    CHECK_EQ_INT(content, 13);
    json_decref(c);
}

TEST(json_calls)
{
    size_t content;
    json_t *c = parse("{\"name\": \"f\", \"parameters\": {\"a\": 1}}", -1, &content);
    CHECK(c && call_is(c, 0, "f", "{\"a\": 1}") && content == 0);
    json_decref(c);
    c = parse("{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}; {\"name\": \"g\", "
              "\"parameters\": {}}",
              -1, &content);
    CHECK(c && json_array_size(c) == 2 && call_is(c, 0, "f", "{\"a\": 1}") &&
          call_is(c, 1, "g", "{}"));
    json_decref(c);
    c = parse("[{\"name\": \"f\", \"parameters\": {\"a\": [1]}}]", -1, &content);
    CHECK(c && call_is(c, 0, "f", "{\"a\": [1]}"));
    json_decref(c);
    /* after <|python_start|>: what follows it is the call, what precedes it the content */
    const char *t = "Sure. {\"name\": \"f\", \"parameters\": {\"a\": \"x\"}}";
    c = parse(t, 6, &content);
    CHECK(c && call_is(c, 0, "f", "{\"a\": \"x\"}") && content == 6);
    json_decref(c);
}

TEST(not_calls)
{
    const char *texts[] = {"Hello there.", "[1, 2, 3]",     "{\"a\": 1}", "[f(x=1)] and more",
                           "[f(x=)]",      "{\"name\": 5}", "[f(x=1)",    "[]",
                           "{}",           "[f(1)]"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t content;
        json_t *c = parse(texts[i], -1, &content);
        CHECK_MSG(!c && content == strlen(texts[i]), "'%s' parsed as a call", texts[i]);
        json_decref(c);
    }
}

/* Streaming: fed one byte more at a time, every call's name and arguments only grow (what was
 * sent stays a prefix), and at the end they equal the whole-reply parse. */
static void stream_check(const char *text)
{
    size_t len = strlen(text), content;
    json_t *whole = parse(text, -1, &content);
    CHECK_MSG(whole && content == 0, "'%s' is not a call to begin with", text);
    srv_pcall pc[4] = {0};
    char names[4][128] = {{0}};
    char *sent[4] = {0};
    int seen = 0;
    for (size_t n = 1; n <= len; n++) {
        int r = srv_stream_calls(text, n, n == len, pc, 4);
        CHECK_MSG(r >= 0, "'%.*s' said not a call", (int)n, text);
        CHECK_MSG(r >= seen, "'%.*s': calls went from %d to %d", (int)n, text, seen, r);
        for (int i = 0; i < r; i++) {
            if (i >= seen)
                memcpy(names[i], pc[i].name, sizeof names[i]);
            CHECK_MSG(!strcmp(names[i], pc[i].name), "call %d renamed to %s", i, pc[i].name);
            size_t had = sent[i] ? strlen(sent[i]) : 0;
            CHECK_MSG(pc[i].args_len >= had && (!had || !memcmp(pc[i].args, sent[i], had)),
                      "'%.*s': call %d arguments '%s' after '%s'", (int)n, text, i,
                      pc[i].args ? pc[i].args : "", sent[i]);
            free(sent[i]);
            sent[i] = strdup(pc[i].args ? pc[i].args : "");
        }
        seen = r > seen ? r : seen;
    }
    CHECK_EQ_INT(seen, (int)json_array_size(whole));
    for (int i = 0; i < seen && whole; i++) {
        CHECK(pc[i].closed);
        CHECK(call_is(whole, (size_t)i, pc[i].name, sent[i] ? sent[i] : ""));
        free(sent[i]);
    }
    srv_pcalls_free(pc, 4);
    json_decref(whole);
}

TEST(streamed_calls)
{
    stream_check("[get_weather(city=\"Paris\", days=3)]");
    stream_check("[a(x=[1, 2.5, -3], y={'k': None}), b()]");
    stream_check("[f(q='caf\xc3\xa9 \"x\"')]");
    stream_check("{\"name\": \"f\", \"parameters\": {\"a\": 1, \"b\": \"caf\xc3\xa9\"}}");
    stream_check("{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}; {\"name\": \"g\", "
                 "\"parameters\": {}}");
    stream_check("[{\"name\": \"f\", \"parameters\": {\"a\": [1]}}, {\"name\": \"g\"}]");
    stream_check("{\"type\": \"function\", \"function\": {\"name\": \"h\", \"parameters\": "
                 "{\"x\": {\"y\": [true, null]}}}}");
    /* prose that starts like a call is given up on as soon as it cannot be one */
    srv_pcall pc[2] = {0};
    const char *prose[] = {"[1] see the notes", "[see(the notes)", "{\"a\": 1}", "Hello",
                           "[link](http://x)"};
    for (size_t i = 0; i < sizeof prose / sizeof prose[0]; i++)
        CHECK_MSG(srv_stream_calls(prose[i], strlen(prose[i]), false, pc, 2) < 0,
                  "'%s' taken for a call", prose[i]);
    /* and a name alone is not enough to be sure */
    CHECK_EQ_INT(srv_stream_calls("[note(", 6, false, pc, 2), 0);
    CHECK_EQ_INT(srv_stream_calls("{\"name\": \"f", 11, false, pc, 2), 0);
    CHECK_EQ_INT(srv_stream_calls("{\"name\": \"f\"", 12, false, pc, 2), 1);
    srv_pcalls_free(pc, 2);
}

/* A streamed reply put back together: content, each call's name and arguments, the finish. */
typedef struct replayed {
    char content[512], name[2][64], args[2][256], finish[32];
    int chunks, content_chunks, call_chunks, calls, content_after_call;
    bool done, leaked;
} replayed;

static void read_events(const char *sse, replayed *r)
{
    memset(r, 0, sizeof *r);
    r->leaked = strstr(sse, "<|") != NULL || strstr(sse, "python_") != NULL;
    for (const char *p = strstr(sse, "data: "); p; p = strstr(p, "data: ")) {
        p += 6;
        const char *e = strstr(p, "\n\n");
        if (!e)
            break;
        if (!strncmp(p, "[DONE]", 6)) {
            r->done = true;
            break;
        }
        json_t *ev = json_loadb(p, (size_t)(e - p), 0, NULL);
        json_t *ch = json_array_get(json_object_get(ev, "choices"), 0);
        json_t *d = json_object_get(ch, "delta");
        const char *text = json_string_value(json_object_get(d, "content"));
        json_t *calls = json_object_get(d, "tool_calls");
        r->chunks++;
        if (text && *text) {
            strncat(r->content, text, sizeof r->content - strlen(r->content) - 1);
            r->content_chunks++;
            r->content_after_call += r->call_chunks > 0;
        }
        size_t i;
        json_t *c;
        json_array_foreach(calls, i, c)
        {
            int k = (int)json_integer_value(json_object_get(c, "index"));
            json_t *f = json_object_get(c, "function");
            const char *name = json_string_value(json_object_get(f, "name"));
            const char *args = json_string_value(json_object_get(f, "arguments"));
            r->call_chunks++;
            if (k < 0 || k > 1)
                continue;
            if (name && json_object_get(c, "id")) {
                snprintf(r->name[k], sizeof r->name[k], "%s", name);
                r->calls = k + 1 > r->calls ? k + 1 : r->calls;
            }
            if (args)
                strncat(r->args[k], args, sizeof r->args[k] - strlen(r->args[k]) - 1);
        }
        const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
        if (fin)
            snprintf(r->finish, sizeof r->finish, "%s", fin);
        json_decref(ev);
        p = e;
    }
}

/* The text of a reply (special tokens left out, as the scheduler keeps it; python_start where
 * <|python_start|> came) streamed in pieces of `step` bytes, with tools. */
static char *replay(const char *text, int64_t python_start, size_t step)
{
    srv_server s = {0};
    snprintf(s.model_id, sizeof s.model_id, "test");
    srv_gen g = {.chat = true, .stream = true, .tools = true};
    srv_job *j = srv_job_new();
    free(j->text);
    j->text = strdup(text);
    j->len = j->cap = strlen(text);
    j->python_start = python_start;
    j->finish = SRV_FINISH_STOP;
    size_t lens[512];
    int n = 0;
    for (size_t k = step; k < j->len && n < 512; k += step)
        lens[n++] = k;
    char *out = srv_stream_replay(&s, &g, j, lens, n);
    srv_job_release(j);
    return out;
}

TEST(streamed_text_then_call)
{
    const struct {
        const char *text;
        int64_t python_start;
        const char *content, *args;
    } cases[] = {
        /* pythonic, on a line of its own after the text */
        {"Let me look that up for you.\n[get_weather(city=\"Paris\", days=3)]", -1,
         "Let me look that up for you.", "{\"city\":\"Paris\",\"days\":3}"},
        /* JSON after <|python_start|> (the tag is not in the text; its place is) */
        {"Checking the weather. {\"name\": \"get_weather\", \"parameters\": {\"city\": "
         "\"Paris\"}}",
         22, "Checking the weather.", "{\"city\": \"Paris\"}"},
        /* text with a bracket that is not a call, then a call */
        {"See [1] and [2].\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}",
         -1, "See [1] and [2].", "{\"city\": \"Rome\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t step = 1; step <= 7; step += 3) {
            char *sse = replay(cases[i].text, cases[i].python_start, step);
            CHECK(sse != NULL);
            if (!sse)
                continue;
            replayed r;
            read_events(sse, &r);
            CHECK_MSG(r.done && !r.leaked, "case %zu step %zu: %s", i, step, sse);
            CHECK_MSG(!strcmp(r.content, cases[i].content) && r.content_chunks >= 1,
                      "case %zu step %zu: content '%s'", i, step, r.content);
            CHECK_MSG(r.calls == 1 && !strcmp(r.name[0], "get_weather"),
                      "case %zu step %zu: %d calls, '%s'", i, step, r.calls, r.name[0]);
            json_t *want = json_loads(cases[i].args, 0, NULL);
            json_t *got = json_loads(r.args[0], 0, NULL);
            CHECK_MSG(got && json_equal(want, got), "case %zu step %zu: arguments '%s'", i, step,
                      r.args[0]);
            json_decref(want);
            json_decref(got);
            CHECK_MSG(!r.content_after_call, "case %zu step %zu: content after the call", i, step);
            /* with small steps the call streams in pieces, as it is written */
            if (step == 1)
                CHECK_MSG(r.call_chunks >= 3, "case %zu: %d tool_calls chunks", i, r.call_chunks);
            CHECK_MSG(!strcmp(r.finish, "tool_calls"), "case %zu step %zu: finish '%s'", i, step,
                      r.finish);
            free(sse);
        }
}

static uint64_t rng = 88172645463325252u;
static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1p-53;
}

TEST(json_mask_walks)
{
    herd_tokenizer *tok;
    if (herd_tokenizer_load_file("tokenizer/llama4/tokenizer.model", NULL, &tok)) {
        CHECK_MSG(0, "%s", herd_last_error());
        return;
    }
    int64_t vocab = 202048;
    srv_jmask *m;
    CHECK(!srv_jmask_create(tok, vocab, &m));
    float *logits = malloc((size_t)vocab * sizeof *logits);
    char *out = malloc(1 << 16);
    double t_mask = 0, t_first = 0;
    int64_t steps = 0, completed = 0;
    for (int walk = 0; walk < 12; walk++) {
        srv_jstate s;
        srv_jstate_init(&s);
        size_t len = 0;
        int64_t budget = walk < 6 ? 20 + walk * 10 : 120;
        bool done = false;
        for (int64_t k = 0; k < budget && !done; k++) {
            for (int64_t i = 0; i < vocab; i++)
                logits[i] = (float)uniform();
            double t0 = herd_now();
            bool any = srv_jmask_apply(m, &s, budget - k, logits);
            double dt = herd_now() - t0;
            if (walk == 0 && k == 0)
                t_first = dt;
            t_mask += dt;
            steps++;
            CHECK(any);
            int32_t best = 0;
            for (int64_t i = 1; i < vocab; i++)
                if (logits[i] > logits[best])
                    best = (int32_t)i;
            if (herd_tokenizer_is_stop(tok, best)) {
                done = true;
                break;
            }
            CHECK(srv_jmask_advance(m, &s, best));
            size_t n;
            const uint8_t *b = herd_tokenizer_token_bytes(tok, best, &n);
            if (len + n < (1 << 16)) {
                memcpy(out + len, b, n);
                len += n;
            }
            done = srv_jstate_done(&s);
        }
        CHECK_MSG(srv_jstate_done(&s), "walk %d did not end in a whole object", walk);
        json_error_t e;
        json_t *v = json_loadb(out, len, JSON_DECODE_INT_AS_REAL, &e);
        CHECK_MSG(v && json_is_object(v), "walk %d: not a JSON object: %.*s (%s)", walk,
                  (int)(len < 300 ? len : 300), out, e.text);
        completed += v != NULL;
        json_decref(v);
    }
    printf("JSON mask: %lld steps, first step (table build) %.2f ms, mean %.3f ms per token, "
           "%lld objects\n",
           (long long)steps, t_first * 1e3, t_mask * 1e3 / (double)steps, (long long)completed);
    free(out);
    free(logits);
    srv_jmask_free(m);
    herd_tokenizer_free(tok);
}

int main(void)
{
    RUN(pythonic_calls);
    RUN(json_calls);
    RUN(not_calls);
    RUN(streamed_calls);
    RUN(streamed_text_then_call);
    RUN(json_mask_walks);
    return harness_finish();
}
