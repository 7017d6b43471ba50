/* The OpenAI endpoints: /v1/chat/completions and /v1/completions (the job, the reply as one JSON
 * or as server-sent events), /tokenize, /detokenize and /apply-template; requests are checked in
 * request.c. */
#include "serve/request.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The tool calls of a finished reply, or NULL; *content_len: the text before them. */
static json_t *reply_calls(const srv_gen *g, const srv_job *j, size_t *content_len)
{
    *content_len = j->len;
    if (!g->tools)
        return NULL;
    if (!g->call_prefix[0])
        return srv_parse_tool_calls(j->text, j->len, j->python_start, content_len);
    size_t n = strlen(g->call_prefix) + j->len + 2;
    char *t = malloc(n);
    if (!t)
        return NULL;
    snprintf(t, n, "%s%s}", g->call_prefix, j->text);
    json_t *c = srv_parse_tool_calls(t, strlen(t), -1, content_len);
    *content_len = 0;
    free(t);
    return c;
}

/* ---- replies --------------------------------------------------------------------------------- */
/* A JSON string of bytes that may hold invalid UTF-8 (replaced by U+FFFD). */
static json_t *jstr(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (v)
        return v;
    char *b = malloc(n * 3 + 1);
    size_t o = 0;
    if (!b)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        json_t *t = l && i + l <= n ? json_stringn(s + i, l) : NULL;
        if (t) {
            memcpy(b + o, s + i, l);
            o += l;
            i += l;
            json_decref(t);
        } else {
            memcpy(b + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    v = json_stringn(b, o);
    free(b);
    return v;
}

static const char *finish_name(srv_finish f, bool tool_calls)
{
    if (tool_calls)
        return "tool_calls";
    return f == SRV_FINISH_LENGTH ? "length" : "stop";
}

static json_t *usage(const srv_job *j)
{
    int64_t p = (int64_t)j->prompt.n, c = j->n_generated;
    return json_pack("{s:I,s:I,s:I,s:{s:I}}", "prompt_tokens", (json_int_t)p, "completion_tokens",
                     (json_int_t)c, "total_tokens", (json_int_t)(p + c), "prompt_tokens_details",
                     "cached_tokens", (json_int_t)j->cached_tokens);
}

/* tool_calls of a parsed reply in OpenAI's form (index added for stream deltas). */
static json_t *openai_calls(json_t *calls, bool with_index)
{
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c)
    {
        char id[48];
        srv_make_id("call_", id, sizeof id);
        json_t *x =
            json_pack("{s:s,s:s,s:{s:O,s:O}}", "id", id, "type", "function", "function", "name",
                      json_object_get(c, "name"), "arguments", json_object_get(c, "arguments"));
        if (with_index)
            json_object_set_new(x, "index", json_integer((json_int_t)i));
        json_array_append_new(out, x);
    }
    return out;
}

static json_t *envelope(srv_server *s, const char *id, int64_t created, const char *object)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", id, "object", object, "created",
                     (json_int_t)created, "model", s->model_id, "system_fingerprint",
                     "herd-" HERD_VERSION);
}

static enum MHD_Result whole_reply(srv_conn *c, const srv_gen *g, srv_job *j, const char *id,
                                   int64_t created)
{
    json_t *r = envelope(c->srv, id, created, g->chat ? "chat.completion" : "text_completion");
    size_t content_len;
    json_t *calls = reply_calls(g, j, &content_len);
    json_t *choice;
    if (g->chat) {
        json_t *msg = json_pack("{s:s}", "role", "assistant");
        json_object_set_new(msg, "content",
                            calls && content_len == 0 ? json_null() : jstr(j->text, content_len));
        if (calls)
            json_object_set_new(msg, "tool_calls", openai_calls(calls, false));
        choice = json_pack("{s:i,s:o,s:n}", "index", 0, "message", msg, "logprobs");
    } else {
        choice = json_pack("{s:i,s:o,s:n}", "index", 0, "text", jstr(j->text, j->len), "logprobs");
    }
    json_object_set_new(choice, "finish_reason",
                        json_string(finish_name(j->finish, calls != NULL)));
    json_object_set_new(r, "choices", json_pack("[o]", choice));
    json_object_set_new(r, "usage", usage(j));
    json_decref(calls);
    return srv_reply_json(c, 200, r);
}

/* ---- streaming ------------------------------------------------------------------------------- */
enum { SRV_STREAM_CALLS = 16 };

typedef struct stream {
    srv_server *srv;
    srv_job *job;
    int fd;
    srv_gen g;
    char id[64];
    int64_t created;
    size_t sent;
    int phase; /* 0 role chunk next, 1 content, 2 over */
    /* tool calls: the held text from scan_from may start a call; once one is sure (committed)
     * the text from call_at is sent as tool_calls deltas, never as content */
    size_t scan_from, call_at;
    bool committed;
    int calls_sent;
    size_t args_sent[SRV_STREAM_CALLS];
    char call_id[SRV_STREAM_CALLS][48];
    srv_pcall pc[SRV_STREAM_CALLS];
    char *out;
    size_t n, off, cap;
} stream;

static void emit_raw(stream *st, const char *s, size_t n)
{
    if (st->n + n > st->cap) {
        size_t cap = (st->n + n) * 2;
        char *b = realloc(st->out, cap);
        if (!b)
            return;
        st->out = b;
        st->cap = cap;
    }
    memcpy(st->out + st->n, s, n);
    st->n += n;
}

static void emit(stream *st, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!s)
        return;
    emit_raw(st, "data: ", 6);
    emit_raw(st, s, strlen(s));
    emit_raw(st, "\n\n", 2);
    free(s);
}

/* One chunk: a delta (chat) or text (completions), finish_reason or null. */
static void emit_chunk(stream *st, json_t *delta_or_text, const char *finish)
{
    bool chat = st->g.chat;
    json_t *r =
        envelope(st->srv, st->id, st->created, chat ? "chat.completion.chunk" : "text_completion");
    json_t *choice =
        json_pack("{s:i,s:o,s:n}", "index", 0, chat ? "delta" : "text", delta_or_text, "logprobs");
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    json_object_set_new(r, "choices", json_pack("[o]", choice));
    if (st->g.include_usage)
        json_object_set_new(r, "usage", json_null());
    emit(st, r);
}

static void emit_text(stream *st, const char *s, size_t n)
{
    if (!n)
        return;
    emit_chunk(st, st->g.chat ? json_pack("{s:o}", "content", jstr(s, n)) : jstr(s, n), NULL);
}

/* Where content must pause while a tool call may be starting, looking from `from`:
 * <|python_start|>, or a '[' or '{' that begins a line. */
static size_t tool_hold(const srv_job *j, size_t from, size_t upto)
{
    if (j->python_start >= (int64_t)from && (size_t)j->python_start < upto)
        upto = (size_t)j->python_start;
    bool line_start = true;
    for (size_t i = 0; i < upto; i++) {
        char ch = j->text[i];
        if (i >= from && line_start && (ch == '[' || ch == '{'))
            return i;
        if (ch == '\n')
            line_start = true;
        else if (ch != ' ' && ch != '\t' && ch != '\r')
            line_start = false;
    }
    return upto;
}

/* Sends what is new of the calls parsed so far: a call's id, type and name once, then each
 * new piece of its arguments. */
static void emit_calls(stream *st, int n)
{
    for (int i = 0; i < n && i < SRV_STREAM_CALLS; i++) {
        srv_pcall *c = &st->pc[i];
        if (i == st->calls_sent) {
            srv_make_id("call_", st->call_id[i], sizeof st->call_id[i]);
            json_t *x = json_pack("{s:i,s:s,s:s,s:{s:s,s:s}}", "index", i, "id", st->call_id[i],
                                  "type", "function", "function", "name", c->name, "arguments", "");
            emit_chunk(st, json_pack("{s:[o]}", "tool_calls", x), NULL);
            st->args_sent[i] = 0;
            st->calls_sent++;
        }
        if (c->args_len > st->args_sent[i]) {
            json_t *x = json_pack("{s:i,s:{s:o}}", "index", i, "function", "arguments",
                                  jstr(c->args + st->args_sent[i], c->args_len - st->args_sent[i]));
            emit_chunk(st, json_pack("{s:[o]}", "tool_calls", x), NULL);
            st->args_sent[i] = c->args_len;
        }
    }
}

/* Parses the committed call text (for a forced call: the prompt's prefix, then the reply, and
 * at the end the call object's closing brace) and sends what is new. */
static int stream_calls(stream *st, const srv_job *j, size_t upto, bool final)
{
    const char *pre = st->g.call_prefix;
    size_t np = strlen(pre), n = np + (upto - st->call_at) + 1;
    char *t = malloc(n + 1);
    if (!t)
        return 0;
    memcpy(t, pre, np);
    memcpy(t + np, j->text + st->call_at, upto - st->call_at);
    n = np + (upto - st->call_at);
    if (final && np)
        t[n++] = '}';
    int calls = srv_stream_calls(t, n, final, st->pc, SRV_STREAM_CALLS);
    free(t);
    if (calls > 0)
        emit_calls(st, calls);
    return calls;
}

/* Content up to where a call may start; commits to a call once the held text surely is one. */
static void stream_tools(stream *st, const srv_job *j)
{
    if (st->committed) {
        stream_calls(st, j, j->visible, false);
        return;
    }
    for (;;) {
        size_t h = tool_hold(j, st->scan_from, j->visible), e = h;
        while (e > st->sent && (j->text[e - 1] == ' ' || j->text[e - 1] == '\n' ||
                                j->text[e - 1] == '\t' || j->text[e - 1] == '\r'))
            e--; /* the space before a call is not content */
        if (e > st->sent) {
            emit_text(st, j->text + st->sent, e - st->sent);
            st->sent = e;
        }
        if (h >= j->visible)
            return;
        st->call_at = h;
        int r = stream_calls(st, j, j->visible, false);
        if (r > 0) {
            st->committed = true;
            return;
        }
        if (r == 0)
            return;
        st->scan_from = h + 1; /* not a call: text after all; look further on */
    }
}

static void emit_end(stream *st, srv_job *j)
{
    if (j->finish == SRV_FINISH_ERROR || j->finish == SRV_FINISH_CANCEL) {
        emit(st, json_pack("{s:{s:s,s:s}}", "error", "message",
                           j->finish == SRV_FINISH_ERROR ? j->error : "the server is stopping",
                           "type", "server_error"));
        emit_raw(st, "data: [DONE]\n\n", 14);
        return;
    }
    bool called = false;
    if (st->committed) {
        called = stream_calls(st, j, j->len, true) > 0 || st->calls_sent > 0;
    } else {
        size_t content_len;
        json_t *calls = reply_calls(&st->g, j, &content_len);
        if (calls && content_len < st->sent) { /* the call began in text already sent */
            json_decref(calls);
            calls = NULL;
        }
        if (!calls)
            content_len = j->len;
        if (content_len > st->sent)
            emit_text(st, j->text + st->sent, content_len - st->sent);
        st->sent = j->len;
        size_t i;
        json_t *c;
        json_array_foreach(calls, i, c)
        {
            if (i >= SRV_STREAM_CALLS)
                break;
            const char *a = json_string_value(json_object_get(c, "arguments"));
            snprintf(st->pc[i].name, sizeof st->pc[i].name, "%s",
                     json_string_value(json_object_get(c, "name")));
            free(st->pc[i].args);
            st->pc[i].args = strdup(a);
            st->pc[i].args_len = st->pc[i].args ? strlen(a) : 0;
        }
        emit_calls(st, (int)json_array_size(calls));
        called = calls != NULL;
        json_decref(calls);
    }
    emit_chunk(st, st->g.chat ? json_object() : json_string(""), finish_name(j->finish, called));
    if (st->g.include_usage) {
        json_t *r = envelope(st->srv, st->id, st->created,
                             st->g.chat ? "chat.completion.chunk" : "text_completion");
        json_object_set_new(r, "choices", json_array());
        json_object_set_new(r, "usage", usage(j));
        emit(st, r);
    }
    emit_raw(st, "data: [DONE]\n\n", 14);
}

/* Makes what the job's text so far allows (under j->mu, without waiting): the end once it is
 * over. False when there is nothing new to send yet. */
static bool advance(stream *st, srv_job *j)
{
    if (j->finish) {
        emit_end(st, j);
        st->phase = 2;
        return true;
    }
    if (st->g.tools) {
        size_t n = st->n;
        stream_tools(st, j);
        return st->n > n;
    }
    if (j->visible > st->sent) {
        size_t upto = j->visible;
        emit_text(st, j->text + st->sent, upto - st->sent);
        st->sent = upto;
        return true;
    }
    return false;
}

/* The first chunk, before any text: the assistant role (chat only). */
static bool begin(stream *st)
{
    st->phase = 1;
    if (!st->g.chat)
        return false;
    emit_chunk(st, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL);
    return true;
}

/* Makes the next bytes to send; false when the client is gone. */
static bool produce(stream *st)
{
    srv_job *j = st->job;
    if (st->phase == 0 && begin(st))
        return true;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        if (advance(st, j))
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (!j->finish && srv_peer_gone(st->fd)) {
            pthread_mutex_unlock(&j->mu);
            return false;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *st = cls;
    while (st->off == st->n) {
        st->off = st->n = 0;
        if (st->phase == 2)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (!produce(st)) {
            atomic_store(&st->job->cancelled, true);
            srv_sched_poke(st->srv->sched);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = st->n - st->off < max ? st->n - st->off : max;
    memcpy(buf, st->out + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    if (!st->job->finish) {
        atomic_store(&st->job->cancelled, true);
        srv_sched_poke(st->srv->sched);
    }
    srv_job_release(st->job);
    srv_pcalls_free(st->pc, SRV_STREAM_CALLS);
    free(st->out);
    free(st);
}

char *srv_stream_replay(srv_server *s, const srv_gen *g, srv_job *j, const size_t *lens, int n)
{
    stream st = {.srv = s, .job = j, .fd = -1, .g = *g};
    st.committed = g->call_prefix[0] != 0;
    snprintf(st.id, sizeof st.id, "replay");
    size_t len = j->len;
    int64_t python_start = j->python_start;
    srv_finish fin = j->finish;
    j->finish = SRV_FINISH_NONE;
    begin(&st);
    for (int k = 0; k < n; k++) {
        j->len = j->visible = lens[k] < len ? lens[k] : len;
        j->python_start = python_start < (int64_t)j->len ? python_start : -1;
        advance(&st, j);
    }
    j->len = j->visible = len;
    j->python_start = python_start;
    j->finish = fin ? fin : SRV_FINISH_STOP;
    advance(&st, j);
    srv_pcalls_free(st.pc, SRV_STREAM_CALLS);
    emit_raw(&st, "", 1);
    return st.out;
}

/* ---- the endpoints --------------------------------------------------------------------------- */
enum MHD_Result srv_chat_completions(srv_conn *c, json_t *body, bool chat)
{
    srv_server *s = c->srv;
    const char *model = json_string_value(json_object_get(body, "model"));
    if (model && strcmp(model, s->model_id) != 0)
        return srv_reply_error(c, 404, "invalid_request_error", "model", "model_not_found",
                               "the model '%.100s' does not exist (this server has '%s')", model,
                               s->model_id);
    srv_job *j = srv_job_new();
    if (!j)
        return srv_reply_error(c, 500, "server_error", NULL, NULL, "out of memory");
    srv_gen g = {.chat = chat};
    srv_perr e = {0};
    if (!srv_parse_request(s, body, &g, j, &e)) {
        srv_job_release(j);
        return srv_reply_error(c, 400, "invalid_request_error", e.param, NULL, "%s", e.msg);
    }
    int64_t ctx = srv_sched_ctx(s->sched);
    if ((int64_t)j->prompt.n >= ctx) {
        int64_t n = (int64_t)j->prompt.n;
        srv_job_release(j);
        return srv_reply_error(c, 400, "invalid_request_error", chat ? "messages" : "prompt",
                               "context_length_exceeded",
                               "the prompt is %lld tokens; the context is %lld", (long long)n,
                               (long long)ctx);
    }
    if (!srv_sched_submit(s->sched, j)) {
        srv_job_release(j);
        return srv_reply_error(c, 503, "unavailable_error", NULL, "server_busy",
                               "every slot is busy and the queue is full; retry later");
    }
    char id[64];
    srv_make_id(chat ? "chatcmpl-" : "cmpl-", id, sizeof id);
    int64_t created = (int64_t)time(NULL);
    if (g.stream) {
        stream *st = calloc(1, sizeof *st);
        if (!st) {
            atomic_store(&j->cancelled, true);
            srv_job_release(j);
            return MHD_NO;
        }
        *st = (stream){.srv = s, .job = j, .fd = c->fd, .g = g, .created = created};
        st->committed = g.call_prefix[0] != 0; /* the prompt began the call */
        memcpy(st->id, id, sizeof id);
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
        if (!r) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        enum MHD_Result ret = MHD_queue_response(c->c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    /* one JSON: wait, watching for the client leaving */
    pthread_mutex_lock(&j->mu);
    while (!j->finish) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (!j->finish && srv_peer_gone(c->fd)) {
            pthread_mutex_unlock(&j->mu);
            atomic_store(&j->cancelled, true);
            srv_sched_poke(s->sched);
            srv_job_release(j);
            return MHD_NO; /* closes the connection */
        }
    }
    pthread_mutex_unlock(&j->mu);
    enum MHD_Result ret;
    if (j->finish == SRV_FINISH_ERROR)
        ret = srv_reply_error(c, 500, "server_error", NULL, NULL, "%s", j->error);
    else if (j->finish == SRV_FINISH_CANCEL)
        ret = srv_reply_error(c, 503, "unavailable_error", NULL, NULL, "the server is stopping");
    else
        ret = whole_reply(c, &g, j, id, created);
    srv_job_release(j);
    return ret;
}

enum MHD_Result srv_tokenize(srv_conn *c, json_t *body)
{
    const json_t *content = json_object_get(body, "content");
    srv_perr e = {0};
    bool add_special = false, parse_special = true, with_pieces = false;
    if (!json_is_string(content))
        return srv_reply_error(c, 400, "invalid_request_error", "content", NULL,
                               "'content' must be a string");
    if (!srv_req_boolean(body, "add_special", &add_special, &e) ||
        !srv_req_boolean(body, "parse_special", &parse_special, &e) ||
        !srv_req_boolean(body, "with_pieces", &with_pieces, &e))
        return srv_reply_error(c, 400, "invalid_request_error", e.param, NULL, "%s", e.msg);
    herd_tokens t = {0};
    unsigned flags =
        (add_special ? HERD_ENCODE_BOS : 0) | (parse_special ? HERD_ENCODE_SPECIAL : 0);
    if (herd_tokenizer_encode(c->srv->tok, json_string_value(content), json_string_length(content),
                              flags, &t)) {
        herd_tokens_free(&t);
        return srv_reply_error(c, 500, "server_error", NULL, NULL, "%s", herd_last_error());
    }
    json_t *ids = json_array();
    for (size_t i = 0; i < t.n; i++) {
        if (!with_pieces) {
            json_array_append_new(ids, json_integer(t.ids[i]));
            continue;
        }
        size_t len = 0;
        const uint8_t *b = herd_tokenizer_token_bytes(c->srv->tok, t.ids[i], &len);
        json_array_append_new(ids, json_pack("{s:i,s:o}", "id", t.ids[i], "piece",
                                             jstr((const char *)b, b ? len : 0)));
    }
    herd_tokens_free(&t);
    return srv_reply_json(c, 200, json_pack("{s:o}", "tokens", ids));
}

enum MHD_Result srv_detokenize(srv_conn *c, json_t *body)
{
    const json_t *tokens = json_object_get(body, "tokens");
    if (!json_is_array(tokens))
        return srv_reply_error(c, 400, "invalid_request_error", "tokens", NULL,
                               "'tokens' must be an array of token ids");
    size_t n = json_array_size(tokens), i;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return srv_reply_error(c, 500, "server_error", NULL, NULL, "out of memory");
    const json_t *x;
    json_array_foreach(tokens, i, x)
    {
        json_int_t id = json_is_integer(x) ? json_integer_value(x) : -1;
        if (id < 0 || id >= c->srv->vocab ||
            !herd_tokenizer_token_bytes(c->srv->tok, (int32_t)id, &(size_t){0})) {
            free(ids);
            return srv_reply_error(c, 400, "invalid_request_error", "tokens", NULL,
                                   "tokens[%zu] is not a token id of this vocabulary", i);
        }
        ids[i] = (int32_t)id;
    }
    char *text = NULL;
    size_t len = 0;
    herd_status st = herd_tokenizer_decode(c->srv->tok, ids, n, 0, &text, &len);
    free(ids);
    if (st)
        return srv_reply_error(c, 500, "server_error", NULL, NULL, "%s", herd_last_error());
    json_t *r = json_pack("{s:o}", "content", jstr(text, len));
    free(text);
    return srv_reply_json(c, 200, r);
}

enum MHD_Result srv_apply_template(srv_conn *c, json_t *body)
{
    const json_t *tools;
    srv_gen g = {.chat = true};
    srv_perr e = {0};
    char err[400];
    if (!srv_parse_tools(body, &tools, &g, NULL, &e))
        return srv_reply_error(c, 400, "invalid_request_error", e.param, NULL, "%s", e.msg);
    herd_tokens t = {0};
    if (srv_render_chat(c->srv->tok, json_object_get(body, "messages"), tools, &t, err,
                        sizeof err)) {
        herd_tokens_free(&t);
        return srv_reply_error(c, 400, "invalid_request_error", "messages", NULL, "%s", err);
    }
    char *text = NULL;
    size_t len = 0;
    herd_status st = herd_tokenizer_decode(c->srv->tok, t.ids, t.n, 0, &text, &len);
    herd_tokens_free(&t);
    if (st)
        return srv_reply_error(c, 500, "server_error", NULL, NULL, "%s", herd_last_error());
    json_t *r = json_pack("{s:o}", "prompt", jstr(text, len));
    free(text);
    return srv_reply_json(c, 200, r);
}
