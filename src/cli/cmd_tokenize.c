/* herd tokenize: encode text to token ids, or decode ids back to text, with a rank file, a
 * tokenizer.json or a model directory's tokenizer. */
#include "cli/cli.h"
#include "herd/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: herd tokenize (--vocab FILE | -m MODEL) [--pattern FILE] [--specials TSV]\n"
    "                     (--per-line TEXTFILE | -p TEXT) [--decode] [--special] [--bos]\n"
    "  Encodes text to token ids (space-separated), or with --decode turns ids back to text.\n"
    "  --vocab FILE       a tiktoken rank file (.tiktoken, tokenizer.model) or a tokenizer.json\n"
    "  -m MODEL           a model directory (tokenizer.json or tokenizer.model) or GGUF\n"
    "  --pattern FILE     the pre-tokenizer regex for a rank file (default: o200k / Llama 4)\n"
    "  --specials TSV     add special tokens: 'id<TAB>text' per line\n"
    "  --per-line FILE    one output line per input line (split on LF only, nothing stripped)\n"
    "  -p TEXT            one text (with --decode: ids separated by spaces or commas)\n"
    "  --decode           input lines are ids; print the text of each, followed by LF\n"
    "  --special          special-token text becomes its id (default: plain text)\n"
    "  --bos              start each encoding with <|begin_of_text|>\n";

#define CMD "tokenize"

static char *read_pattern(const char *path)
{
    char *s;
    size_t n;
    herd_status st = herd_read_file(path, HERD_PATTERN_MAX_BYTES, &s, &n);
    if (st) {
        cli_status_error(CMD, st);
        return NULL;
    }
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--; /* a trailing line end is not part of the pattern */
    s[n] = 0;
    if (strlen(s) != n || n == 0) {
        cli_error(CMD, 1, "%s: the pattern is empty or contains NUL", path);
        free(s);
        return NULL;
    }
    return s;
}

static int print_ids(const herd_tokens *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        printf(i ? " %d" : "%d", ids->ids[i]);
    putchar('\n');
    return 0;
}

/* Parses ids separated by spaces, tabs or commas. */
static int decode_line(const herd_tokenizer *tok, const char *s, size_t n, const char *where,
                       size_t line)
{
    herd_tokens ids = {0};
    size_t i = 0;
    int rc = 0;
    while (i < n && !rc) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == ',' || s[i] == '\r') {
            i++;
            continue;
        }
        long v = 0;
        size_t j = i;
        while (j < n && s[j] >= '0' && s[j] <= '9' && v < (1L << 31))
            v = v * 10 + (s[j++] - '0');
        if (j == i || v >= (1L << 31) || (j < n && !strchr(" \t,\r", s[j])))
            rc = cli_error(CMD, 1, "%s:%zu: '%.*s' is not a token id", where, line,
                           (int)(j < n ? j - i + 1 : j - i), s + i);
        else if (herd_tokens_push(&ids, (int32_t)v))
            rc = cli_status_error(CMD, HERD_ERR_NOMEM);
        i = j;
    }
    char *text = NULL;
    size_t len = 0;
    herd_status st = rc ? HERD_OK : herd_tokenizer_decode(tok, ids.ids, ids.n, 0, &text, &len);
    if (st)
        rc = cli_error(CMD, 1, "%s:%zu: %s", where, line, herd_last_error());
    else if (!rc) {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    }
    free(text);
    herd_tokens_free(&ids);
    return rc;
}

static int run_line(const herd_tokenizer *tok, const char *s, size_t n, bool decode, unsigned flags,
                    const char *where, size_t line)
{
    if (decode)
        return decode_line(tok, s, n, where, line);
    herd_tokens ids = {0};
    herd_status st = herd_tokenizer_encode(tok, s, n, flags, &ids);
    int rc = st ? cli_status_error(CMD, st) : print_ids(&ids);
    herd_tokens_free(&ids);
    return rc;
}

static int run_file(const herd_tokenizer *tok, const char *path, bool decode, unsigned flags)
{
    herd_mapped_file f;
    herd_status st = herd_map_file(path, &f);
    if (st)
        return cli_status_error(CMD, st);
    const char *p = (const char *)f.data, *end = p + f.size;
    int rc = 0;
    for (size_t line = 1; p < end && !rc; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        rc = run_line(tok, p, (size_t)(eol - p), decode, flags, path, line);
        p = eol + 1;
    }
    herd_unmap_file(&f);
    return rc;
}

static int cmd_main(int argc, char **argv)
{
    const char *vocab = NULL, *dir = NULL, *pattern_path = NULL, *specials = NULL;
    const char *per_line = NULL, *text = NULL;
    bool decode = false;
    unsigned flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--vocab"))
            dst = &vocab;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            dst = &dir;
        else if (!strcmp(a, "--pattern"))
            dst = &pattern_path;
        else if (!strcmp(a, "--specials"))
            dst = &specials;
        else if (!strcmp(a, "--per-line"))
            dst = &per_line;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt"))
            dst = &text;
        else if (!strcmp(a, "--decode"))
            decode = true;
        else if (!strcmp(a, "--special"))
            flags |= HERD_ENCODE_SPECIAL;
        else if (!strcmp(a, "--bos"))
            flags |= HERD_ENCODE_BOS;
        else
            return cli_usage_error(CMD, "unknown option '%s'", a);
        if (dst && !(*dst = cli_value(CMD, argc, argv, &i)))
            return 2;
    }
    if (!vocab == !dir)
        return cli_usage_error(CMD, "give exactly one of --vocab FILE and -m MODEL");
    if (!per_line == !text)
        return cli_usage_error(CMD, "give exactly one of --per-line FILE and -p TEXT");
    if (dir && pattern_path)
        return cli_usage_error(CMD, "--pattern goes with --vocab, not -m");
    char *pattern = NULL;
    if (pattern_path && !(pattern = read_pattern(pattern_path)))
        return 1;
    herd_tokenizer *tok = NULL;
    herd_status st =
        dir ? herd_tokenizer_load_dir(dir, &tok) : herd_tokenizer_load_file(vocab, pattern, &tok);
    free(pattern);
    if (!st && specials)
        st = herd_tokenizer_load_specials(tok, specials);
    int rc = st         ? cli_status_error(CMD, st)
             : per_line ? run_file(tok, per_line, decode, flags)
                        : run_line(tok, text, strlen(text), decode, flags, "-p", 1);
    herd_tokenizer_free(tok);
    if (!rc && (fflush(stdout) != 0 || ferror(stdout)))
        rc = cli_error(CMD, 1, "cannot write the output: %s", strerror(errno));
    return rc;
}

const cli_command cli_cmd_tokenize = {"tokenize", "encode or decode text with a model's tokenizer",
                                      cmd_main};
