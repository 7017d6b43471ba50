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
