/* OpenAI request checking: the typed fields, the sampler, stops, tools and the prompt. */
#include "serve/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool fail(srv_perr *e, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(srv_perr *e, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->param = param;
    return false;
}

/* A number in [lo, hi] (absent or null: *out unchanged). */
static bool num(const json_t *b, const char *key, double lo, double hi, double *out, srv_perr *e)
{
    const json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_number(v))
        return fail(e, key, "'%s' must be a number", key);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return fail(e, key, "'%s' must be between %g and %g", key, lo, hi);
    *out = x;
    return true;
}

bool srv_req_integer(const json_t *b, const char *key, int64_t lo, int64_t hi, int64_t *out,
                     srv_perr *e)
{
    const json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v))
        return fail(e, key, "'%s' must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return fail(e, key, "'%s' must be between %lld and %lld", key, (long long)lo,
                    (long long)hi);
    *out = x;
    return true;
}

bool srv_req_boolean(const json_t *b, const char *key, bool *out, srv_perr *e)
{
    const json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_boolean(v))
        return fail(e, key, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return true;
}

/* Fields OpenAI defines that herd accepts only at their neutral value. */
static bool neutral(const json_t *b, srv_perr *e)
{
    const json_t *v = json_object_get(b, "logprobs");
    if (v && !json_is_null(v) && !json_is_false(v))
        return fail(e, "logprobs", "'logprobs' is not supported");
    v = json_object_get(b, "logit_bias");
    if (v && !json_is_null(v) && !(json_is_object(v) && json_object_size(v) == 0))
        return fail(e, "logit_bias", "'logit_bias' is not supported");
    v = json_object_get(b, "echo");
    if (v && !json_is_null(v) && !json_is_false(v))
        return fail(e, "echo", "'echo' is not supported");
    v = json_object_get(b, "suffix");
    if (v && !json_is_null(v))
        return fail(e, "suffix", "'suffix' is not supported");
    v = json_object_get(b, "best_of");
    if (v && !json_is_null(v) && !(json_is_integer(v) && json_integer_value(v) == 1))
        return fail(e, "best_of", "'best_of' must be 1");
    return true;
}

static bool known_fields(const json_t *b, bool chat, srv_perr *e)
{
    static const char *const common[] = {"model",
                                         "temperature",
                                         "top_p",
                                         "top_k",
                                         "min_p",
                                         "max_tokens",
                                         "stop",
                                         "seed",
                                         "n",
                                         "stream",
                                         "stream_options",
                                         "presence_penalty",
                                         "frequency_penalty",
                                         "logit_bias",
                                         "logprobs",
                                         "user",
                                         "metadata",
                                         "store",
                                         "service_tier",
                                         "ignore_eos",
                                         "repeat_penalty",
                                         "repeat_last_n",
                                         NULL};
    static const char *const chat_only[] = {
        "messages",    "max_completion_tokens", "response_format", "tools",
        "tool_choice", "parallel_tool_calls",   "top_logprobs",    NULL};
    static const char *const compl_only[] = {"prompt", "echo", "suffix", "best_of", NULL};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)b, key, v)
    {
        bool ok = false;
        for (const char *const *k = common; *k && !ok; k++)
            ok = !strcmp(*k, key);
        for (const char *const *k = chat ? chat_only : compl_only; *k && !ok; k++)
            ok = !strcmp(*k, key);
        if (!ok)
            return fail(e, key, "unrecognized request argument supplied: %.100s", key);
    }
    return true;
}

static bool parse_stop(const json_t *b, srv_job *j, srv_perr *e)
{
    const json_t *v = json_object_get(b, "stop");
    if (!v || json_is_null(v))
        return true;
    json_t *one = json_is_string(v) ? json_pack("[O]", v) : json_incref((json_t *)v);
    bool ok = json_is_array(one) && json_array_size(one) <= SRV_MAX_STOP;
    size_t i;
    json_t *s;
    json_array_foreach(one, i, s)
    {
        if (!ok)
            break;
        ok = json_is_string(s) && json_string_length(s) > 0 && json_string_length(s) <= 256;
        if (ok && !(j->stop[j->n_stop++] = strdup(json_string_value(s))))
            ok = false;
    }
    json_decref(one);
    return ok || fail(e, "stop",
                      "'stop' must be a string or an array of up to %d non-empty "
                      "strings (256 bytes each)",
                      SRV_MAX_STOP);
}

static const char *tool_name(const json_t *tool)
{
    return json_string_value(json_object_get(json_object_get(tool, "function"), "name"));
}

/* tools, tool_choice: *tools gets the tools to render (NULL: none); "required" or a named
 * function sets g->call_prefix and, with j (NULL: only checked), the job's choices when the
 * model is to pick one of several tools. */
bool srv_parse_tools(const json_t *b, const json_t **tools, srv_gen *g, srv_job *j, srv_perr *e)
{
    bool *use = &g->tools;
    const json_t *t = json_object_get(b, "tools"), *choice = json_object_get(b, "tool_choice");
    *tools = NULL;
    *use = false;
    if (choice && !json_is_null(choice) && !json_is_string(choice) && !json_is_object(choice))
        return fail(e, "tool_choice", "'tool_choice' must be a string or an object");
    if (json_is_string(choice) && strcmp(json_string_value(choice), "none") &&
        strcmp(json_string_value(choice), "auto") && strcmp(json_string_value(choice), "required"))
        return fail(e, "tool_choice", "'tool_choice' must be none, auto, required or an object");
    bool required = json_is_string(choice) && !strcmp(json_string_value(choice), "required");
    const char *name = tool_name(choice);
    if (json_is_object(choice) && !name)
        return fail(e, "tool_choice",
                    "tool_choice must be {\"type\": \"function\", \"function\": "
                    "{\"name\": ...}}");
    if (!t || json_is_null(t)) {
        if (required || name)
            return fail(e, "tool_choice", "tool_choice asks for a call, but there are no tools");
        return true;
    }
    if (!json_is_array(t))
        return fail(e, "tools", "'tools' must be an array");
    size_t i;
    const json_t *x;
    json_array_foreach(t, i, x)
    {
        const char *type = json_string_value(json_object_get(x, "type"));
        if (!json_is_object(x) || !type || strcmp(type, "function") || !tool_name(x))
            return fail(e, "tools",
                        "tools[%zu] must be {\"type\": \"function\", \"function\": "
                        "{\"name\": ...}}",
                        i);
        const json_t *p = json_object_get(json_object_get(x, "function"), "parameters");
        if (p && !json_is_object(p))
            return fail(e, "tools", "tools[%zu].function.parameters must be an object", i);
        /* a forced call spells the name inside a JSON string the model continues */
        if ((required || name) &&
            (!*tool_name(x) || strlen(tool_name(x)) > 100 || strpbrk(tool_name(x), "\"\\")))
            return fail(e, "tools",
                        "tools[%zu]: a name of 1 to 100 bytes without quotes or "
                        "backslashes is needed for tool_choice",
                        i);
    }
    if (json_is_string(choice) && !strcmp(json_string_value(choice), "none"))
        return true;
    *tools = json_array_size(t) ? t : NULL;
    *use = *tools != NULL;
    if (required && !*use)
        return fail(e, "tool_choice", "tool_choice \"required\" needs at least one tool");
    if (required && json_array_size(t) == 1)
        name = tool_name(json_array_get(t, 0));
    if (name) {
        bool known = false;
        json_array_foreach(t, i, x) known |= !strcmp(name, tool_name(x));
        if (!known)
            return fail(e, "tool_choice", "tool_choice names '%.60s', which is not among the tools",
                        name);
        snprintf(g->call_prefix, sizeof g->call_prefix,
                 "{\"name\": \"%s\", \"parameters\": ", name);
        return true;
    }
    if (!required)
        return true;
    /* "required" among several: the prompt ends with {"name": " and the model's next bytes
     * must spell one of NAME", "parameters":  */
    snprintf(g->call_prefix, sizeof g->call_prefix, "{\"name\": \"");
    if (!j)
        return true;
    j->choices = calloc(json_array_size(t), sizeof *j->choices);
    if (!j->choices)
        return fail(e, NULL, "out of memory");
    json_array_foreach(t, i, x)
    {
        char c[160];
        snprintf(c, sizeof c, "%s\", \"parameters\": ", tool_name(x));
        if (!(j->choices[j->n_choices++] = strdup(c)))
            return fail(e, NULL, "out of memory");
    }
    return true;
}

/* The completions prompt: a string, a list of one string, or a list of token ids. */
static bool completion_prompt(srv_server *s, const json_t *b, herd_tokens *out, srv_perr *e)
{
    const json_t *p = json_object_get(b, "prompt");
    if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0)))
        p = json_array_get(p, 0);
    if (json_is_string(p)) {
        const char *text = json_string_value(p);
        size_t n = json_string_length(p);
        unsigned flags = HERD_ENCODE_SPECIAL;
        if (strncmp(text, "<|begin_of_text|>", 17) != 0)
            flags |= HERD_ENCODE_BOS;
        if (herd_tokenizer_encode(s->tok, text, n, flags, out))
            return fail(e, "prompt", "%s", herd_last_error());
        return true;
    }
    if (json_is_array(p) && json_array_size(p) > 0) {
        size_t i;
        const json_t *x;
        json_array_foreach(p, i, x)
        {
            if (!json_is_integer(x))
                return fail(e, "prompt",
                            "'prompt' must be a string or a list of token ids "
                            "(one prompt per request)");
            json_int_t id = json_integer_value(x);
            if (id < 0 || id >= s->vocab)
                return fail(e, "prompt", "prompt token %lld is outside the vocabulary",
                            (long long)id);
            if (herd_tokens_push(out, (int32_t)id))
                return fail(e, NULL, "out of memory");
        }
        return true;
    }
    return fail(e, "prompt", "'prompt' must be a non-empty string or a list of token ids");
}

/* Fills the job from the request; false with *e set on a bad request. */
bool srv_parse_request(srv_server *s, const json_t *b, srv_gen *g, srv_job *j, srv_perr *e)
{
    if (!known_fields(b, g->chat, e) || !neutral(b, e))
        return false;
    const json_t *model = json_object_get(b, "model");
    if (model && !json_is_null(model) && !json_is_string(model))
        return fail(e, "model", "'model' must be a string");
    int64_t n = 1;
    if (!srv_req_integer(b, "n", 1, 1, &n, e))
        return false;
    herd_sampler_params_default(&j->sampler);
    double temp = j->sampler.temperature, top_p = j->sampler.top_p, min_p = j->sampler.min_p;
    int64_t top_k = 0, seed = -1, max_tokens = g->chat ? -1 : 16;
    if (!num(b, "temperature", 0, 2, &temp, e) || !num(b, "top_p", 0, 1, &top_p, e) ||
        !num(b, "min_p", 0, 1, &min_p, e) ||
        !srv_req_integer(b, "top_k", 0, INT32_MAX, &top_k, e) ||
        !srv_req_integer(b, "seed", INT64_MIN, INT64_MAX, &seed, e) ||
        !srv_req_integer(b, "max_tokens", 1, INT32_MAX, &max_tokens, e) ||
        (g->chat && !srv_req_integer(b, "max_completion_tokens", 1, INT32_MAX, &max_tokens, e)) ||
        !srv_req_boolean(b, "stream", &g->stream, e) ||
        !srv_req_boolean(b, "ignore_eos", &j->ignore_eos, e) || !parse_stop(b, j, e))
        return false;
    if (top_p <= 0)
        return fail(e, "top_p", "'top_p' must be above 0");
    const json_t *so = json_object_get(b, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so))
            return fail(e, "stream_options", "'stream_options' must be an object");
        if (!g->stream)
            return fail(e, "stream_options", "'stream_options' needs \"stream\": true");
        if (!srv_req_boolean(so, "include_usage", &g->include_usage, e))
            return false;
    }
    const json_t *rf = json_object_get(b, "response_format");
    if (rf && !json_is_null(rf)) {
        const char *type = json_string_value(json_object_get(rf, "type"));
        if (!json_is_object(rf) || !type)
            return fail(e, "response_format", "'response_format' must be {\"type\": ...}");
        if (!strcmp(type, "json_object"))
            j->json_mode = true;
        else if (strcmp(type, "text") != 0)
            return fail(e, "response_format",
                        "response_format type '%.40s' is not supported "
                        "(text or json_object)",
                        type);
    }
    double presence = 0, frequency = 0, repeat = 1;
    int64_t last_n = j->sampler.repeat_last_n;
    if (!num(b, "presence_penalty", -2, 2, &presence, e) ||
        !num(b, "frequency_penalty", -2, 2, &frequency, e) ||
        !num(b, "repeat_penalty", 0, 10, &repeat, e) ||
        !srv_req_integer(b, "repeat_last_n", -1, INT32_MAX, &last_n, e))
        return false;
    j->sampler.presence_penalty = (float)presence;
    j->sampler.frequency_penalty = (float)frequency;
    j->sampler.repeat_penalty = (float)repeat;
    j->sampler.repeat_last_n = last_n;
    j->sampler.temperature = (float)temp;
    j->sampler.top_p = (float)top_p;
    j->sampler.min_p = (float)min_p;
    j->sampler.top_k = top_k;
    static atomic_uint_fast64_t entropy;
    j->sampler.seed = seed >= 0 ? (uint64_t)seed
                                : (uint64_t)time(NULL) ^ (atomic_fetch_add(&entropy, 1) << 32) ^
                                      (uint64_t)(uintptr_t)j;
    j->max_tokens = max_tokens > 0 ? max_tokens : INT64_MAX;
    if (g->chat) {
        const json_t *tools;
        char err[400];
        if (!srv_parse_tools(b, &tools, g, j, e))
            return false;
        if (j->json_mode && g->tools)
            return fail(e, "response_format", "JSON mode and tools cannot be combined");
        json_t *images = json_array();
        bool ok = images && !srv_render_chat_images(s->tok, json_object_get(b, "messages"), tools,
                                                    images, &j->prompt, err, sizeof err);
        if (ok) /* each image decoded and encoded now; a bad one is the client's 400 */
            ok = !srv_images_attach(s->vision, images, j, err, sizeof err);
        json_decref(images);
        if (!ok)
            return fail(e, "messages", "%s", images ? err : "out of memory");
        if (g->call_prefix[0]) { /* the reply is a call: the prompt starts it */
            if (herd_tokenizer_encode(s->tok, g->call_prefix, strlen(g->call_prefix), 0,
                                      &j->prompt))
                return fail(e, NULL, "%s", herd_last_error());
            j->json_mode = true; /* the parameters object (after the choice, if any) */
        }
    } else if (!completion_prompt(s, b, &j->prompt, e)) {
        return false;
    }
    return true;
}
