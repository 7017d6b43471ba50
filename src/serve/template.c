/* OpenAI messages -> Llama 4 prompt ids, as HF's chat_template for Llama 4 renders them
 * (spec llama4.md §7), tools included: with `tools`, the system block starts with
 * "Environment: ipython\n" and the tool definitions (JSON, indent 4) go into the first user
 * message with the template's instructions; tool results come back under the `ipython` header;
 * an assistant tool call renders as <|python_start|>content<|python_end|> followed by
 * {"name": ..., "parameters": ...}. Special tokens go in as ids and every piece of text between
 * them is encoded as one plain-text segment, exactly as tokenizing the rendered string would,
 * except that text from a client can never become a special token. */
#include "serve/serve_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rend {
    const herd_tokenizer *tok;
    json_t *images;    /* urls of the image parts, in order (NULL: not collected) */
    size_t img_at[64]; /* where each image of the message being read goes in its text */
    size_t n_img;
    herd_tokens *out;
    char *buf;
    size_t n, cap;
    herd_status st;
    char *err;
    size_t n_err;
} rend;

static void put(rend *r, const char *s, size_t n)
{
    if (r->st)
        return;
    if (r->n + n > r->cap) {
        size_t cap = (r->n + n) * 2;
        char *b = realloc(r->buf, cap);
        if (!b) {
            r->st = herd_fail(HERD_ERR_NOMEM, "out of memory rendering the prompt");
            return;
        }
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->n, s, n);
    r->n += n;
}

static void puts_(rend *r, const char *s)
{
    put(r, s, strlen(s));
}

static void special(rend *r, const char *name)
{
    if (r->st)
        return;
    if (r->n)
        r->st = herd_tokenizer_encode(r->tok, r->buf, r->n, 0, r->out);
    r->n = 0;
    int32_t id = herd_tokenizer_special_id(r->tok, name);
    if (!r->st && id < 0)
        r->st = herd_fail(HERD_ERR_UNSUPPORTED, "the tokenizer has no %s (not Llama 4?)", name);
    if (!r->st)
        r->st = herd_tokens_push(r->out, id);
}

static bool bad(rend *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool bad(rend *r, const char *fmt, ...)
{
    if (!r->st) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->n_err, fmt, ap);
        va_end(ap);
        r->st = HERD_ERR_ARG;
    }
    return false;
}

/* Unicode White_Space as Python's str.strip() sees it (Jinja's trim). */
static size_t space_len(const unsigned char *s, size_t n)
{
    if (n && ((*s >= 0x09 && *s <= 0x0D) || (*s >= 0x1C && *s <= 0x20)))
        return 1;
    static const char *const wide[] = {"\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80",
                                       "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF",
                                       "\xE2\x81\x9F", "\xE3\x80\x80"};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        size_t l = strlen(wide[i]);
        if (n >= l && memcmp(s, wide[i], l) == 0)
            return l;
    }
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x80 && s[2] <= 0x8A)
        return 3; /* U+2000..U+200A */
    return 0;
}

/* A message's text without the white space at its ends (Jinja's trim), with <|image|> at the
 * places of a user message's image parts (r->img_at; one in the space trimmed off goes to that
 * end of the text). */
static void put_trimmed(rend *r, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t a = 0, l, last = 0;
    while (a < n && (l = space_len(u + a, n - a)))
        a += l;
    for (size_t i = a; i < n;) {
        l = space_len(u + i, n - i);
        i += l ? l : 1;
        if (!l)
            last = i;
    }
    if (last < a)
        last = a;
    size_t from = a;
    for (size_t k = 0; k < r->n_img; k++) {
        size_t at = r->img_at[k] < a ? a : r->img_at[k] > last ? last : r->img_at[k];
        put(r, s + from, at - from);
        special(r, "<|image|>");
        from = at;
    }
    put(r, s + from, last - from);
    r->n_img = 0;
}

/* A message's content: a string, null, or an array of {"type": "text", "text": ...} parts
 * (and, in a user message, {"type": "image_url", "image_url": {"url": ...}} parts, whose places
 * in the text go to r->img_at). Writes it to *buf (malloc'd) as one string; false (r->err set)
 * when it is malformed. */
static bool content_text(rend *r, const json_t *m, size_t i, char **buf, size_t *len)
{
    const json_t *c = json_object_get(m, "content");
    const char *role = json_string_value(json_object_get(m, "role"));
    bool images = role && !strcmp(role, "user");
    *buf = NULL;
    *len = 0;
    r->n_img = 0;
    if (!c || json_is_null(c))
        return (*buf = strdup("")) != NULL || bad(r, "out of memory");
    if (json_is_string(c)) {
        *len = json_string_length(c);
        *buf = malloc(*len + 1);
        if (!*buf)
            return bad(r, "out of memory");
        memcpy(*buf, json_string_value(c), *len + 1);
        return true;
    }
    if (!json_is_array(c))
        return bad(r, "%smessages[%zu].content must be a string, an array of parts or null", "", i);
    size_t k, total = 0;
    const json_t *p;
    json_array_foreach(c, k, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        if (!json_is_object(p) || !type)
            return bad(r, "%smessages[%zu].content: each part must be an object with a type", "",
                       i);
        if (images && !strcmp(type, "image_url")) {
            const json_t *u = json_object_get(p, "image_url");
            const json_t *url = json_is_object(u) ? json_object_get(u, "url") : u;
            if (!json_is_string(url))
                return bad(r, "messages[%zu].content: an image_url part needs image_url.url", i);
            if (r->n_img == sizeof r->img_at / sizeof r->img_at[0])
                return bad(r, "messages[%zu]: more than %zu images", i,
                           sizeof r->img_at / sizeof r->img_at[0]);
            r->img_at[r->n_img++] = total;
            if (r->images && json_array_append(r->images, (json_t *)url))
                return bad(r, "out of memory");
            continue;
        }
        if (strcmp(type, "text") != 0)
            return bad(r, "content part type '%s' (in messages[%zu]) is not supported", type, i);
        if (!json_is_string(json_object_get(p, "text")))
            return bad(r, "messages[%zu].content: a text part needs a string 'text'", i);
        total += json_string_length(json_object_get(p, "text"));
    }
    char *b = malloc(total + 1);
    if (!b)
        return bad(r, "out of memory");
    json_array_foreach(c, k, p)
    {
        const json_t *t = json_object_get(p, "text");
        if (!t)
            continue; /* an image part */
        memcpy(b + *len, json_string_value(t), json_string_length(t));
        *len += json_string_length(t);
    }
    b[*len] = 0;
    *buf = b;
    return true;
}

/* A user message's text with <|image|> at the places its image parts had. */
static void put_with_images(rend *r, const char *text, size_t len)
{
    size_t from = 0;
    for (size_t k = 0; k < r->n_img; k++) {
        put(r, text + from, r->img_at[k] - from);
        special(r, "<|image|>");
        from = r->img_at[k];
    }
    put(r, text + from, len - from);
    r->n_img = 0;
}

static void header(rend *r, const char *role)
{
    special(r, "<|header_start|>");
    puts_(r, role);
    special(r, "<|header_end|>");
    puts_(r, "\n\n");
}

static bool tool_calls_block(rend *r, const json_t *m, size_t i, const char *content, size_t len)
{
    header(r, "assistant");
    special(r, "<|python_start|>");
    put(r, content, len);
    special(r, "<|python_end|>");
    size_t k;
    const json_t *tc;
    json_array_foreach(json_object_get(m, "tool_calls"), k, tc)
    {
        const json_t *f = json_object_get(tc, "function");
        const char *name = json_string_value(json_object_get(f, "name"));
        const json_t *args = json_object_get(f, "arguments");
        if (!name || !args)
            return bad(r, "messages[%zu].tool_calls: each needs function.name and arguments", i);
        puts_(r, "{\"name\": \"");
        puts_(r, name);
        puts_(r, "\", \"parameters\": ");
        /* arguments arrive as a JSON string; the model was trained on the object itself */
        json_t *parsed = json_is_string(args) ? json_loads(json_string_value(args), 0, NULL)
                                              : json_incref((json_t *)args);
        char *s = parsed ? json_dumps(parsed, JSON_ENCODE_ANY) : NULL;
        if (s)
            puts_(r, s);
        else
            put(r, json_string_value(args) ? json_string_value(args) : "{}",
                json_string_value(args) ? strlen(json_string_value(args)) : 2);
        free(s);
        json_decref(parsed);
        puts_(r, "}");
    }
    special(r, "<|eot|>");
    return true;
}

herd_status srv_render_chat(const herd_tokenizer *tok, const json_t *messages, const json_t *tools,
                            herd_tokens *out, char *err, size_t n_err)
{
    return srv_render_chat_images(tok, messages, tools, NULL, out, err, n_err);
}

herd_status srv_render_chat_images(const herd_tokenizer *tok, const json_t *messages,
                                   const json_t *tools, json_t *images, herd_tokens *out, char *err,
                                   size_t n_err)
{
    rend r = {.tok = tok, .out = out, .err = err, .n_err = n_err, .images = images};
    err[0] = 0;
    size_t n = json_array_size(messages);
    if (!json_is_array(messages) || n == 0) {
        snprintf(err, n_err, "'messages' must be a non-empty array");
        return HERD_ERR_ARG;
    }
    if (tools && (!json_is_array(tools) || json_array_size(tools) == 0))
        tools = NULL;
    /* check every message first: an object with a known role */
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || !role) {
            snprintf(err, n_err, "messages[%zu] must be an object with a string 'role'", i);
            return HERD_ERR_ARG;
        }
        if (strcmp(role, "system") && strcmp(role, "developer") && strcmp(role, "user") &&
            strcmp(role, "assistant") && strcmp(role, "tool") && strcmp(role, "ipython")) {
            snprintf(err, n_err,
                     "messages[%zu].role '%.40s' is not one of system, user, "
                     "assistant, tool",
                     i, role);
            return HERD_ERR_ARG;
        }
        const json_t *tc = json_object_get(m, "tool_calls");
        if (tc && !json_is_null(tc) && (!json_is_array(tc) || strcmp(role, "assistant"))) {
            snprintf(err, n_err,
                     "messages[%zu].tool_calls must be an array on an assistant "
                     "message",
                     i);
            return HERD_ERR_ARG;
        }
    }
    special(&r, "<|begin_of_text|>");
    size_t i = 0;
    const json_t *m0 = json_array_get(messages, 0);
    const char *role0 = json_string_value(json_object_get(m0, "role"));
    char *text = NULL;
    size_t len;
    if (!strcmp(role0, "system") || !strcmp(role0, "developer")) {
        if (!content_text(&r, m0, 0, &text, &len))
            goto done;
        header(&r, "system");
        if (tools)
            puts_(&r, "Environment: ipython\n");
        put_trimmed(&r, text, len);
        special(&r, "<|eot|>");
        free(text);
        text = NULL;
        i = 1;
    }
    if (tools) {
        if (i >= n) {
            snprintf(err, n_err, "with 'tools' the messages need a first user message");
            r.st = HERD_ERR_ARG;
            goto done;
        }
        if (!content_text(&r, json_array_get(messages, i), i, &text, &len))
            goto done;
        header(&r, "user");
        puts_(&r, "Given the following functions, please respond with a JSON for a function call "
                  "with its proper arguments that best answers the given prompt.\n\n"
                  "Respond in the format {\"name\": function name, \"parameters\": dictionary of "
                  "argument name and its value}.Do not use variables.\n\n");
        size_t k;
        const json_t *t;
        json_array_foreach(tools, k, t)
        {
            char *s = json_dumps(t, JSON_INDENT(4) | JSON_ENCODE_ANY);
            if (!s) {
                r.st = herd_fail(HERD_ERR_NOMEM, "out of memory rendering tools");
                goto done;
            }
            puts_(&r, s);
            puts_(&r, "\n\n");
            free(s);
        }
        /* HF's template keeps only this message's text; its images stay where they stand, as
         * in any other user message, so a request with tools can show the model an image */
        put_trimmed(&r, text, len);
        special(&r, "<|eot|>");
        free(text);
        text = NULL;
        i++;
    }
    for (; i < n && !r.st; i++) {
        const json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!content_text(&r, m, i, &text, &len))
            break;
        const json_t *tc = json_object_get(m, "tool_calls");
        if (json_array_size(tc) > 0) {
            tool_calls_block(&r, m, i, text, len);
        } else if (!strcmp(role, "tool") || !strcmp(role, "ipython")) {
            header(&r, "ipython");
            put(&r, text, len);
            special(&r, "<|eot|>");
        } else {
            header(&r, !strcmp(role, "developer") ? "system" : role);
            put_with_images(&r, text, len);
            special(&r, "<|eot|>");
        }
        free(text);
        text = NULL;
    }
    if (!r.st)
        header(&r, "assistant");
    special(&r, "<|eot|>"); /* flushes the "\n\n" ... */
    if (!r.st)
        out->n--; /* ... and the <|eot|> is not part of the prompt */
done:
    free(text);
    free(r.buf);
    if (r.st && !err[0])
        snprintf(err, n_err, "%s", herd_last_error());
    return r.st;
}
