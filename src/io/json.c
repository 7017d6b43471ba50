/* JSON helpers over jansson: file loading with line/column errors and typed field reads. */
#include "herd/io_json.h"

#include <math.h>
#include <stdlib.h>

herd_status herd_json_parse(const char *text, size_t len, const char *what, json_t **out)
{
    json_error_t err;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!*out)
        return herd_fail(HERD_ERR_FORMAT, "%s:%d:%d: bad JSON: %s", what, err.line, err.column,
                         err.text);
    return HERD_OK;
}

herd_status herd_json_load_file(const char *path, json_t **out)
{
    *out = NULL;
    char *text;
    size_t n;
    herd_status st = herd_read_file(path, HERD_JSON_MAX_BYTES, &text, &n);
    if (st)
        return st;
    st = herd_json_parse(text, n, path, out);
    free(text);
    return st;
}

static const json_t *field(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

herd_status herd_json_get_int(const json_t *obj, const char *key, int64_t def, const char *what,
                              int64_t *out)
{
    const json_t *v = field(obj, key);
    *out = def;
    if (!v)
        return HERD_OK;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return HERD_OK;
    }
    if (json_is_real(v)) { /* some writers store 8192.0 */
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9e15) {
            *out = (int64_t)d;
            return HERD_OK;
        }
    }
    return herd_fail(HERD_ERR_FORMAT, "%s: '%s' must be an integer", what, key);
}

herd_status herd_json_get_real(const json_t *obj, const char *key, double def, const char *what,
                               double *out)
{
    const json_t *v = field(obj, key);
    *out = def;
    if (!v)
        return HERD_OK;
    if (!json_is_number(v))
        return herd_fail(HERD_ERR_FORMAT, "%s: '%s' must be a number", what, key);
    *out = json_number_value(v);
    return HERD_OK;
}

herd_status herd_json_get_bool(const json_t *obj, const char *key, bool def, const char *what,
                               bool *out)
{
    const json_t *v = field(obj, key);
    *out = def;
    if (!v)
        return HERD_OK;
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_number(v))
        *out = json_number_value(v) != 0;
    else
        return herd_fail(HERD_ERR_FORMAT, "%s: '%s' must be a boolean", what, key);
    return HERD_OK;
}

herd_status herd_json_get_string(const json_t *obj, const char *key, const char *what,
                                 const char **out)
{
    const json_t *v = field(obj, key);
    *out = NULL;
    if (!v)
        return HERD_OK;
    if (!json_is_string(v))
        return herd_fail(HERD_ERR_FORMAT, "%s: '%s' must be a string", what, key);
    *out = json_string_value(v);
    return HERD_OK;
}
