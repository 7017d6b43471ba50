/* herd io: JSON files (thin helpers over jansson). Errors name the file, the line and column of
 * a syntax error, or the key whose value has the wrong kind. */
#ifndef HERD_IO_JSON_H
#define HERD_IO_JSON_H

#include "herd/base.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest JSON file herd reads (config.json, tokenizer.json, the sharded index, ...):
 * jansson needs several times the text's size in memory. */
#define HERD_JSON_MAX_BYTES ((size_t)64 << 20)
/* Loads a whole JSON file (a regular file of at most HERD_JSON_MAX_BYTES); on a syntax error
 * the message is "PATH:LINE:COL: what". The caller owns *out (json_decref). */
herd_status herd_json_load_file(const char *path, json_t **out);
/* Parses `len` bytes of text; `what` names the source in messages (a file, "header of X"). */
herd_status herd_json_parse(const char *text, size_t len, const char *what, json_t **out);

/* Typed reads of obj[key]. A missing key or a JSON null leaves *out at `def` (the caller's
 * default); a value of the wrong kind fails naming `what` (a file) and the key. Integers accept
 * only whole numbers; reals accept integers too; booleans accept 0/non-zero integers too. */
herd_status herd_json_get_int(const json_t *obj, const char *key, int64_t def, const char *what,
                              int64_t *out);
herd_status herd_json_get_real(const json_t *obj, const char *key, double def, const char *what,
                               double *out);
herd_status herd_json_get_bool(const json_t *obj, const char *key, bool def, const char *what,
                               bool *out);
/* A string, NULL if the key is missing or null. The pointer lives as long as obj. */
herd_status herd_json_get_string(const json_t *obj, const char *key, const char *what,
                                 const char **out);

#ifdef __cplusplus
}
#endif
#endif
