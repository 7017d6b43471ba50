/* The HTTP layer on GNU libmicrohttpd: one thread per connection (a generation request blocks
 * its own thread while it waits for tokens, never the others), limits on the body and the
 * headers, Bearer authentication, routing, and the endpoints that need no generation. */
#define _GNU_SOURCE /* POLLRDHUP */
#include "serve/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { MAX_HEADERS = 64, MAX_CONNECTIONS = 256 };

void herd_serve_opts_default(herd_serve_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->parallel = 4;
    o->ctx = 8192;
    o->max_queue = 64;
    o->prefill_chunk = 256;
    o->max_body = 8u << 20;
    herd_model_opts_default(&o->mopt);
    o->mopt.quiet = true;
}

/* ---- replies --------------------------------------------------------------------------------- */
static enum MHD_Result reply(srv_conn *c, unsigned status, const char *type, char *data, size_t n)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        n, data, data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(c->c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result srv_reply_json(srv_conn *c, unsigned status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s)
        return MHD_NO;
    return reply(c, status, "application/json", s, strlen(s));
}

enum MHD_Result srv_reply_error(srv_conn *c, unsigned status, const char *type, const char *param,
                                const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:{s:s,s:s,s:s?,s:s?}}", "error", "message", msg, "type", type, "param",
                          param, "code", code);
    return srv_reply_json(c, status, e);
}

bool srv_peer_gone(int fd)
{
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
        return true;
    char ch;
    return (p.revents & POLLIN) && recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void srv_make_id(const char *prefix, char *out, size_t n)
{
    static atomic_uint_fast64_t counter;
    uint64_t x = atomic_fetch_add(&counter, 1) + (uint64_t)time(NULL) * 0x9E3779B97F4A7C15u;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9u;
    x ^= x >> 29;
    uint64_t y = x * 0x94D049BB133111EBu;
    snprintf(out, n, "%s%016llx%08llx", prefix, (unsigned long long)x,
             (unsigned long long)(y >> 32));
}

/* ---- simple endpoints ------------------------------------------------------------------------ */
static enum MHD_Result models(srv_conn *c)
{
    srv_server *s = c->srv;
    json_t *m = json_pack("{s:s,s:[{s:s,s:s,s:I,s:s,s:{s:I,s:I,s:i}}]}", "object", "list", "data",
                          "id", s->model_id, "object", "model", "created", (json_int_t)s->created,
                          "owned_by", "herd", "meta", "n_ctx", (json_int_t)s->o.ctx, "n_vocab",
                          (json_int_t)s->vocab, "parallel", s->o.parallel);
    return srv_reply_json(c, 200, m);
}

static enum MHD_Result page(srv_conn *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        srv_page_html_len, (void *)srv_page_html, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'unsafe-inline'; "
                            "style-src 'unsafe-inline'");
    enum MHD_Result ret = MHD_queue_response(c->c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result metrics(srv_conn *c)
{
    char *m = srv_sched_metrics(c->srv->sched);
    if (!m)
        return MHD_NO;
    return reply(c, 200, "text/plain; version=0.0.4", m, strlen(m));
}

/* ---- routing --------------------------------------------------------------------------------- */
typedef enum route {
    R_NONE,
    R_PAGE,
    R_HEALTH,
    R_MODELS,
    R_METRICS,
    R_CHAT,
    R_COMPLETIONS,
    R_TOKENIZE,
    R_DETOKENIZE,
    R_TEMPLATE
} route;

static route find_route(const char *url, bool *post)
{
    static const struct {
        const char *url;
        route r;
        bool post;
    } table[] = {
        {"/", R_PAGE, false},
        {"/index.html", R_PAGE, false},
        {"/health", R_HEALTH, false},
        {"/v1/health", R_HEALTH, false},
        {"/v1/models", R_MODELS, false},
        {"/models", R_MODELS, false},
        {"/metrics", R_METRICS, false},
        {"/v1/chat/completions", R_CHAT, true},
        {"/chat/completions", R_CHAT, true},
        {"/v1/completions", R_COMPLETIONS, true},
        {"/completions", R_COMPLETIONS, true},
        {"/tokenize", R_TOKENIZE, true},
        {"/detokenize", R_DETOKENIZE, true},
        {"/apply-template", R_TEMPLATE, true},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(url, table[i].url) == 0) {
            *post = table[i].post;
            return table[i].r;
        }
    return R_NONE;
}

static bool authorized(srv_conn *c, route r)
{
    const char *key = c->srv->o.api_key;
    if (!key || r == R_PAGE || r == R_HEALTH)
        return true;
    const char *h = MHD_lookup_connection_value(c->c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    size_t n = strlen(key), m = strlen(h);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < m; i++)
        diff |= (unsigned char)h[i] ^ (unsigned char)key[i % (n ? n : 1)];
    return diff == 0;
}

static enum MHD_Result dispatch(srv_conn *c, const char *url, const char *method)
{
    bool post = false;
    route r = find_route(url, &post);
    if (r == R_NONE)
        return srv_reply_error(c, 404, "not_found_error", NULL, NULL, "no endpoint %.200s", url);
    bool is_post = strcmp(method, "POST") == 0,
         is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (post ? !is_post : !is_get)
        return srv_reply_error(c, 405, "invalid_request_error", NULL, NULL,
                               "%s takes %s, not %.20s", url, post ? "POST" : "GET", method);
    if (!authorized(c, r))
        return srv_reply_error(c, 401, "authentication_error", NULL, "invalid_api_key",
                               "invalid or missing API key (Authorization: Bearer KEY)");
    switch (r) {
    case R_PAGE: return page(c);
    case R_HEALTH: return srv_reply_json(c, 200, json_pack("{s:s}", "status", "ok"));
    case R_MODELS: return models(c);
    case R_METRICS: return metrics(c);
    default: break;
    }
    if (c->too_big)
        return srv_reply_error(c, 413, "invalid_request_error", NULL, "request_too_large",
                               "the request body is over %zu bytes", c->srv->o.max_body);
    json_error_t je;
    json_t *body = json_loadb(c->body ? c->body : "", c->n, JSON_REJECT_DUPLICATES, &je);
    if (!body)
        return srv_reply_error(c, 400, "invalid_request_error", NULL, "invalid_json",
                               "the body is not valid JSON: %s (line %d, column %d)", je.text,
                               je.line, je.column);
    if (!json_is_object(body)) {
        json_decref(body);
        return srv_reply_error(c, 400, "invalid_request_error", NULL, "invalid_json",
                               "the body must be a JSON object");
    }
    enum MHD_Result ret;
    switch (r) {
    case R_CHAT: ret = srv_chat_completions(c, body, true); break;
    case R_COMPLETIONS: ret = srv_chat_completions(c, body, false); break;
    case R_TOKENIZE: ret = srv_tokenize(c, body); break;
    case R_TEMPLATE: ret = srv_apply_template(c, body); break;
    default: ret = srv_detokenize(c, body); break;
    }
    json_decref(body);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    srv_server *s = cls;
    srv_conn *c = *con_cls;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        c->srv = s;
        c->c = conn;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        *con_cls = c;
        if (MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL) > MAX_HEADERS)
            return srv_reply_error(c, 431, "invalid_request_error", NULL, NULL,
                                   "more than %d header fields", MAX_HEADERS);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->o.max_body)
            return srv_reply_error(c, 413, "invalid_request_error", NULL, "request_too_large",
                                   "the request body is over %zu bytes", s->o.max_body);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (c->too_big || c->n + n > s->o.max_body) {
            c->too_big = true;
            return MHD_YES;
        }
        if (c->n + n + 1 > c->cap) {
            size_t cap = (c->n + n + 1) * 2;
            char *b = realloc(c->body, cap > s->o.max_body + 1 ? s->o.max_body + 1 : cap);
            if (!b)
                return MHD_NO;
            c->body = b;
            c->cap = cap > s->o.max_body + 1 ? s->o.max_body + 1 : cap;
        }
        memcpy(c->body + c->n, upload_data, n);
        c->n += n;
        return MHD_YES;
    }
    return dispatch(c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv_conn *c = *con_cls;
    if (!c)
        return;
    free(c->body);
    free(c);
    *con_cls = NULL;
}

/* ---- the server ------------------------------------------------------------------------------ */
static void model_id(const char *path, char *out, size_t n)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t l = len - start;
    if (l > 5 && strncmp(path + len - 5, ".gguf", 5) == 0)
        l -= 5;
    snprintf(out, n, "%.*s", (int)l, path + start);
}

/* The bound port for scripts and tests, written whole (never seen half-written) by the same
 * rules as every other output file. */
static herd_status write_port_file(const char *path, int port)
{
    char line[16];
    int n = snprintf(line, sizeof line, "%d\n", port);
    herd_atomic_file f;
    herd_status st = herd_atomic_open(&f, path);
    if (st != HERD_OK)
        return st;
    st = herd_atomic_write(&f, line, (size_t)n);
    if (st != HERD_OK) {
        herd_atomic_abort(&f);
        return st;
    }
    return herd_atomic_commit(&f);
}

herd_status herd_serve(const herd_serve_opts *o)
{
    srv_server s = {.o = *o, .created = (int64_t)time(NULL)};
    if (o->alias)
        snprintf(s.model_id, sizeof s.model_id, "%s", o->alias);
    else
        model_id(o->model, s.model_id, sizeof s.model_id);
    struct sockaddr_storage addr = {0};
    bool v6 = strchr(o->host, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)o->port);
        if (inet_pton(AF_INET6, o->host, &a->sin6_addr) != 1)
            return herd_fail(HERD_ERR_ARG, "--host: '%s' is not an IP address", o->host);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&addr;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)o->port);
        if (inet_pton(AF_INET, o->host, &a->sin_addr) != 1)
            return herd_fail(HERD_ERR_ARG, "--host: '%s' is not an IP address", o->host);
    }

    /* Signals: every thread blocks SIGINT/SIGTERM; this one waits for them. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);

    /* Every connection has its own thread: a few malloc arenas, not one per thread, keep memory
     * from creeping up with fragmentation across many short-lived threads. */
    mallopt(M_ARENA_MAX, 2);
    struct stat sb;
    herd_status st = HERD_OK;
    if (stat(o->model, &sb) != 0)
        st = herd_fail(HERD_ERR_IO, "%s: no such file or directory", o->model);
    if (!st)
        st = herd_model_load(o->model, &o->mopt, &s.model);
    if (!st)
        st = herd_tokenizer_load_dir(o->model, &s.tok);
    if (!st) /* the vision tower, once, when the model has one (or --mmproj gives it) */
        st = srv_vision_open(o->model, o->mmproj, s.tok, s.model, &o->mopt, &s.vision);
    if (!st) {
        const herd_llama4_config *cfg = herd_model_config(s.model);
        s.vocab = cfg->vocab;
        if (s.o.ctx > cfg->max_pos)
            s.o.ctx = cfg->max_pos;
        srv_sched_opts so = {.parallel = o->parallel,
                             .max_queue = o->max_queue,
                             .prefill_chunk = o->prefill_chunk,
                             .threads = o->mopt.threads,
                             .ctx = s.o.ctx,
                             .type_k = o->type_k,
                             .type_v = o->type_v};
        st = srv_sched_create(s.model, s.tok, &so, &s.sched);
    }
    struct MHD_Daemon *d = NULL;
    if (!st) {
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_POLL | (v6 ? MHD_USE_IPv6 : 0);
        d = MHD_start_daemon(
            flags, (uint16_t)o->port, NULL, NULL, on_request, &s, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)600, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_END);
        if (!d)
            st = herd_fail(HERD_ERR_IO, "cannot listen on %s port %d (in use?)", o->host, o->port);
    }
    if (!st) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        int port = di ? di->port : o->port;
        fprintf(stderr, "herd serve: %s on http://%s%s%s:%d/ (%d slots of %lld tokens)\n",
                s.model_id, v6 ? "[" : "", o->host, v6 ? "]" : "", port, o->parallel,
                (long long)s.o.ctx);
        if (o->port_file)
            st = write_port_file(o->port_file, port);
        if (!st) {
            int sig;
            sigwait(&set, &sig);
            fprintf(stderr, "herd serve: %s, stopping\n",
                    sig == SIGINT ? "interrupted" : "terminated");
        }
        MHD_quiesce_daemon(d);
        srv_sched_stop(s.sched); /* running jobs end as cancelled, so waiting threads return */
        MHD_stop_daemon(d);
    }
    srv_sched_free(s.sched);
    srv_vision_free(s.vision);
    herd_tokenizer_free(s.tok);
    herd_model_free(s.model);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}
