/* Tool calls in a Llama 4 reply. Llama 4 answers a tool prompt either in Meta's pythonic form,
 * [get_weather(city="Paris"), f(x=1)], or in the JSON form the HF template asks for,
 * {"name": "get_weather", "parameters": {"city": "Paris"}} (one, several separated by ';' or
 * new lines, or a list). A call may come after some text, which stays the content. */
#include "serve/serve_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct pp {
    const char *s;
    size_t n, i;
    int depth;
} pp;

static void ws(pp *p)
{
    while (p->i < p->n && isspace((unsigned char)p->s[p->i]))
        p->i++;
}

static bool eat(pp *p, char c)
{
    ws(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return true;
    }
    return false;
}

static bool word(pp *p, const char *w)
{
    size_t l = strlen(w);
    if (p->n - p->i >= l && memcmp(p->s + p->i, w, l) == 0 &&
        (p->i + l == p->n || !(isalnum((unsigned char)p->s[p->i + l]) || p->s[p->i + l] == '_'))) {
        p->i += l;
        return true;
    }
    return false;
}

static json_t *py_value(pp *p);

static json_t *py_string(pp *p)
{
    char q = p->s[p->i++];
    char *b = malloc(p->n - p->i + 1);
    size_t o = 0;
    if (!b)
        return NULL;
    while (p->i < p->n && p->s[p->i] != q) {
        char c = p->s[p->i++];
        if (c == '\\' && p->i < p->n) {
            c = p->s[p->i++];
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '0': c = 0; break;
            default: break; /* \\ \' \" and anything else stand for themselves */
            }
        }
        b[o++] = c;
    }
    json_t *v = p->i < p->n ? json_stringn(b, o) : NULL;
    p->i++;
    free(b);
    return v;
}

static json_t *py_number(pp *p)
{
    size_t a = p->i;
    bool real = false;
    if (p->s[p->i] == '-' || p->s[p->i] == '+')
        p->i++;
    while (p->i < p->n && (isdigit((unsigned char)p->s[p->i]) || strchr(".eE+-_", p->s[p->i]))) {
        real |= strchr(".eE", p->s[p->i]) != NULL;
        p->i++;
    }
    char buf[64];
    size_t l = 0;
    for (size_t k = a; k < p->i && l < sizeof buf - 1; k++)
        if (p->s[k] != '_')
            buf[l++] = p->s[k];
    buf[l] = 0;
    char *end;
    if (!real) {
        long long x = strtoll(buf, &end, 10);
        return *end || l == 0 ? NULL : json_integer(x);
    }
    double x = strtod(buf, &end);
    return *end || l == 0 ? NULL : json_real(x);
}

static json_t *py_seq(pp *p, char close, bool dict)
{
    json_t *v = dict ? json_object() : json_array();
    for (;;) {
        if (eat(p, close))
            return v;
        json_t *k = py_value(p);
        if (!k)
            break;
        if (dict) {
            json_t *x = json_is_string(k) && eat(p, ':') ? py_value(p) : NULL;
            if (!x) {
                json_decref(k);
                break;
            }
            json_object_set_new(v, json_string_value(k), x);
            json_decref(k);
        } else {
            json_array_append_new(v, k);
        }
        if (!eat(p, ',')) {
            if (eat(p, close))
                return v;
            break;
        }
    }
    json_decref(v);
    return NULL;
}

static json_t *py_value(pp *p)
{
    ws(p);
    if (p->i >= p->n || ++p->depth > 64)
        return NULL;
    json_t *v = NULL;
    char c = p->s[p->i];
    if (c == '"' || c == '\'')
        v = py_string(p);
    else if (isdigit((unsigned char)c) || c == '-' || c == '+' || c == '.')
        v = py_number(p);
    else if (c == '[' || c == '(') {
        p->i++;
        v = py_seq(p, c == '[' ? ']' : ')', false);
    } else if (c == '{') {
        p->i++;
        v = py_seq(p, '}', true);
    } else if (word(p, "True") || word(p, "true"))
        v = json_true();
    else if (word(p, "False") || word(p, "false"))
        v = json_false();
    else if (word(p, "None") || word(p, "null"))
        v = json_null();
    p->depth--;
    return v;
}

static json_t *make_call(const char *name, size_t len, json_t *args)
{
    char *a = json_dumps(args, JSON_COMPACT);
    json_t *c = a ? json_pack("{s:s%,s:s}", "name", name, len, "arguments", a) : NULL;
    free(a);
    return c;
}

/* [name(k=v, ...), ...] to the end of the text */
static json_t *pythonic(pp *p)
{
    if (!eat(p, '['))
        return NULL;
    json_t *calls = json_array();
    for (;;) {
        ws(p);
        size_t a = p->i;
        while (p->i < p->n && (isalnum((unsigned char)p->s[p->i]) || strchr("_.-", p->s[p->i])))
            p->i++;
        size_t len = p->i - a;
        if (!len || isdigit((unsigned char)p->s[a]) || !eat(p, '('))
            break;
        json_t *args = json_object();
        bool ok = true;
        while (ok && !eat(p, ')')) {
            ws(p);
            size_t k = p->i;
            while (p->i < p->n && (isalnum((unsigned char)p->s[p->i]) || p->s[p->i] == '_'))
                p->i++;
            char key[128];
            size_t kl = p->i - k;
            json_t *v = kl && kl < sizeof key && eat(p, '=') ? py_value(p) : NULL;
            if (!v) {
                ok = false;
                break;
            }
            memcpy(key, p->s + k, kl);
            key[kl] = 0;
            json_object_set_new(args, key, v);
            if (!eat(p, ',') && !(ws(p), p->i < p->n && p->s[p->i] == ')'))
                ok = false;
        }
        json_t *call = ok ? make_call(p->s + a, len, args) : NULL;
        json_decref(args);
        if (!call)
            break;
        json_array_append_new(calls, call);
        if (eat(p, ','))
            continue;
        if (eat(p, ']')) {
            ws(p);
            if (p->i == p->n)
                return calls;
        }
        break;
    }
    json_decref(calls);
    return NULL;
}

/* {"name": ..., "parameters"|"arguments": ...} */
static bool json_call(const json_t *o, json_t *calls)
{
    const json_t *f = json_object_get(o, "function");
    if (json_is_object(f))
        o = f;
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!name && json_is_string(f))
        name = json_string_value(f);
    const json_t *args = json_object_get(o, "parameters");
    if (!args)
        args = json_object_get(o, "arguments");
    if (!name || !*name)
        return false;
    json_t *parsed = NULL;
    if (json_is_string(args))
        args = parsed = json_loads(json_string_value(args), 0, NULL);
    json_t *empty = args ? NULL : json_object();
    json_t *c = json_is_object(args) || empty
                    ? make_call(name, strlen(name), empty ? empty : (json_t *)args)
                    : NULL;
    json_decref(parsed);
    json_decref(empty);
    if (!c)
        return false;
    json_array_append_new(calls, c);
    return true;
}

static json_t *json_calls(pp *p)
{
    json_t *calls = json_array();
    for (;;) {
        ws(p);
        if (p->i == p->n)
            break;
        json_error_t e;
        json_t *v = json_loadb(p->s + p->i, p->n - p->i, JSON_DISABLE_EOF_CHECK, &e);
        if (!v)
            goto bad;
        p->i += e.position;
        bool ok = true;
        if (json_is_array(v)) {
            size_t k;
            json_t *x;
            json_array_foreach(v, k, x) ok = ok && json_call(x, calls);
            ok = ok && json_array_size(v) > 0;
        } else {
            ok = json_is_object(v) && json_call(v, calls);
        }
        json_decref(v);
        if (!ok)
            goto bad;
        ws(p);
        if (p->i < p->n && (p->s[p->i] == ';' || p->s[p->i] == ','))
            p->i++;
    }
    if (json_array_size(calls))
        return calls;
bad:
    json_decref(calls);
    return NULL;
}

static json_t *calls_at(const char *text, size_t len, size_t at)
{
    pp p = {.s = text, .n = len, .i = at};
    ws(&p);
    if (p.i >= p.n)
        return NULL;
    size_t start = p.i;
    json_t *c = p.s[p.i] == '[' ? pythonic(&p) : NULL;
    if (!c) {
        p.i = start;
        p.depth = 0;
        c = json_calls(&p);
    }
    return c;
}

json_t *srv_parse_tool_calls(const char *text, size_t len, int64_t python_start,
                             size_t *content_len)
{
    *content_len = len;
    if (python_start >= 0 && (size_t)python_start <= len) {
        json_t *c = calls_at(text, len, (size_t)python_start);
        if (c)
            *content_len = (size_t)python_start;
        return c;
    }
    int tries = 0;
    for (size_t i = 0; i < len && tries < 64; i++) {
        if (text[i] != '[' && text[i] != '{')
            continue;
        tries++;
        json_t *c = calls_at(text, len, i);
        if (c) {
            size_t e = i;
            while (e > 0 && isspace((unsigned char)text[e - 1]))
                e--;
            *content_len = e;
            return c;
        }
    }
    return NULL;
}

/* ---- calls as far as they are written (streaming) ---------------------------------------------
 * The stream sends a call's name once it is whole and its arguments in pieces whose
 * concatenation is the arguments JSON: pythonic arguments are rebuilt pair by pair in the
 * compact form the whole-reply parser gives; JSON-form arguments are the model's own bytes of
 * the parameters object. Every piece only ever grows, so what was sent stays a prefix. */
static bool args_add(srv_pcall *c, const char *s, size_t n)
{
    char *a = realloc(c->args, c->args_len + n + 1);
    if (!a)
        return false;
    memcpy(a + c->args_len, s, n);
    c->args = a;
    c->args_len += n;
    a[c->args_len] = 0;
    return true;
}

static bool set_name(srv_pcall *c, const char *s, size_t n)
{
    if (!n || n >= sizeof c->name)
        return false;
    memcpy(c->name, s, n);
    c->name[n] = 0;
    return true;
}

/* A pair "k=v" of a pythonic call, complete when a ',' or ')' follows (or the text is over):
 * 1 added, 0 not yet written, -1 not a pair. */
static int py_pair(pp *p, srv_pcall *c, bool final)
{
    ws(p);
    size_t k = p->i;
    while (p->i < p->n && (isalnum((unsigned char)p->s[p->i]) || p->s[p->i] == '_'))
        p->i++;
    size_t kl = p->i - k;
    if (p->i == p->n)
        return 0;
    if (!kl || !eat(p, '='))
        return -1;
    p->depth = 0;
    json_t *v = py_value(p);
    if (!v)
        return p->i >= p->n ? 0 : -1;
    ws(p);
    bool delim = p->i < p->n && (p->s[p->i] == ',' || p->s[p->i] == ')');
    if (!delim && !(final && p->i == p->n)) {
        json_decref(v);
        return p->i == p->n ? 0 : -1;
    }
    json_t *key = json_stringn(p->s + k, kl);
    char *ks = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
    char *vs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    bool ok = ks && vs && (c->args_len <= 1 || args_add(c, ",", 1)) &&
              args_add(c, ks, strlen(ks)) && args_add(c, ":", 1) && args_add(c, vs, strlen(vs));
    free(ks);
    free(vs);
    json_decref(key);
    json_decref(v);
    return ok ? 1 : -1;
}

static int py_stream(pp *p, bool final, srv_pcall *out, int max)
{
    int n = 0;
    p->i++; /* '[' */
    for (; n < max;) {
        ws(p);
        size_t a = p->i;
        while (p->i < p->n && (isalnum((unsigned char)p->s[p->i]) || strchr("_.-", p->s[p->i])))
            p->i++;
        if (p->i == p->n)
            return n;
        if (p->i == a || isdigit((unsigned char)p->s[a]) || p->s[p->i] != '(')
            return n ? n : -1;
        srv_pcall *c = &out[n];
        if (!set_name(c, p->s + a, p->i - a) || !args_add(c, "{", 1))
            return n ? n : -1;
        p->i++;
        bool evidence = false; /* '(' with a whole pair or ')' after it: a call, not prose */
        for (;;) {
            ws(p);
            if (p->i < p->n && p->s[p->i] == ')') {
                p->i++;
                c->closed = args_add(c, "}", 1);
                break;
            }
            int r = py_pair(p, c, final);
            if (r <= 0) {
                if (r < 0 && !n && !evidence)
                    return -1;
                if (final && c->args_len && !c->closed)
                    c->closed = args_add(c, "}", 1);
                return evidence || final || n ? n + 1 : 0; /* a name alone: maybe prose */
            }
            evidence = true;
            eat(p, ',');
        }
        n++;
        if (!eat(p, ','))
            return n;
    }
    return n;
}

/* The end of a JSON string starting at i (the quote), or 0 when it is not over yet. */
static size_t js_string_end(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

/* The end of the JSON value at i, or 0 when it is not over yet. */
static size_t js_value_end(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    if (s[i] == '"')
        return js_string_end(s, n, i);
    if (s[i] != '{' && s[i] != '[') {
        while (i < n && !strchr(",}] \t\r\n", s[i]))
            i++;
        return i < n ? i : 0;
    }
    int depth = 0;
    for (; i < n; i++) {
        if (s[i] == '"') {
            size_t e = js_string_end(s, n, i);
            if (!e)
                return 0;
            i = e - 1;
        } else if (s[i] == '{' || s[i] == '[') {
            depth++;
        } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

/* Bytes of s[0..n) that end on a whole UTF-8 character. */
static size_t utf8_whole(const char *s, size_t n)
{
    size_t k = n, back = 0;
    while (k > 0 && back < 4 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
        k--, back++;
    if (k == 0)
        return n;
    unsigned char c = (unsigned char)s[k - 1];
    size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return back + 1 >= need ? n : k - 1;
}

/* One {"name": ..., "parameters"|"arguments": ...} object (or {"function": {...}}) at p->i:
 * 1 when it is over, 0 when not yet, -1 when it is not a call object. */
static int js_call(pp *p, srv_pcall *c, bool final, bool *args_seen)
{
    const char *s = p->s;
    p->i++; /* '{' */
    for (;;) {
        ws(p);
        if (p->i == p->n)
            return 0;
        if (s[p->i] == '}') {
            p->i++;
            return 1;
        }
        if (s[p->i] != '"')
            return -1;
        size_t ke = js_string_end(s, p->n, p->i);
        if (!ke)
            return 0;
        size_t k = p->i + 1, kl = ke - 1 - k;
        p->i = ke;
        if (!eat(p, ':'))
            return p->i == p->n ? 0 : -1;
        ws(p);
        size_t v = p->i, ve = js_value_end(s, p->n, v);
        bool is = false;
#define KEY(w) (kl == strlen(w) && !memcmp(s + k, w, kl))
        if (KEY("name")) {
            if (v < p->n && s[v] != '"')
                return -1;
            if (!ve)
                return 0;
            json_t *nm = json_loadb(s + v, ve - v, JSON_DECODE_ANY, NULL);
            is = json_is_string(nm) && set_name(c, json_string_value(nm), json_string_length(nm));
            json_decref(nm);
            if (!is)
                return -1;
        } else if (KEY("function") && v < p->n && s[v] == '{') {
            int r = js_call(p, c, final, args_seen);
            if (r <= 0)
                return r;
            ve = p->i;
        } else if (KEY("parameters") || KEY("arguments")) {
            *args_seen = true;
            if (v < p->n && s[v] == '{') { /* the model's bytes, as they come */
                size_t upto = ve ? ve : p->n;
                size_t have = v + c->args_len;
                if (upto > have) {
                    size_t add = upto - have;
                    if (!ve && !final)
                        add = utf8_whole(s + have, add);
                    if (!args_add(c, s + have, add))
                        return -1;
                }
                c->closed = ve != 0;
            } else if (ve) { /* a JSON string holding the arguments, or something else */
                json_t *x = json_loadb(s + v, ve - v, JSON_DECODE_ANY, NULL);
                json_t *o = json_is_string(x) ? json_loads(json_string_value(x), 0, NULL) : NULL;
                char *d = json_is_object(o) ? json_dumps(o, JSON_COMPACT) : NULL;
                c->args_len = 0;
                c->closed = args_add(c, d ? d : "{}", strlen(d ? d : "{}"));
                free(d);
                json_decref(o);
                json_decref(x);
            }
        }
#undef KEY
        if (!ve)
            return 0;
        p->i = ve;
        ws(p);
        if (p->i < p->n && s[p->i] == ',')
            p->i++;
    }
}

static int js_stream(pp *p, bool final, srv_pcall *out, int max)
{
    bool list = p->s[p->i] == '[';
    if (list)
        p->i++;
    int n = 0;
    while (n < max) {
        ws(p);
        if (p->i == p->n || p->s[p->i] != '{')
            return p->i == p->n || n ? n : -1;
        bool args_seen = false;
        srv_pcall *c = &out[n];
        int r = js_call(p, c, final, &args_seen);
        if (r < 0)
            return n ? n : -1;
        if (r == 1 && !args_seen && c->name[0])
            c->closed = args_add(c, "{}", 2);
        if (!c->name[0])
            return r == 1 && !n ? -1 : n;
        n++;
        if (r == 0)
            return n;
        ws(p);
        if (p->i < p->n && strchr(";,", p->s[p->i]))
            p->i++;
    }
    return n;
}

int srv_stream_calls(const char *text, size_t len, bool final, srv_pcall *out, int max)
{
    for (int i = 0; i < max; i++) {
        free(out[i].args);
        out[i] = (srv_pcall){0};
    }
    pp p = {.s = text, .n = len};
    ws(&p);
    if (p.i == p.n)
        return 0;
    if (p.s[p.i] == '{')
        return js_stream(&p, final, out, max);
    if (p.s[p.i] != '[')
        return -1;
    size_t at = p.i;
    pp q = p;
    q.i++;
    ws(&q);
    if (q.i == q.n)
        return 0;
    if (q.s[q.i] == '{')
        return js_stream(&p, final, out, max);
    p.i = at;
    return py_stream(&p, final, out, max);
}

void srv_pcalls_free(srv_pcall *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].args);
        c[i] = (srv_pcall){0};
    }
}
