/* herd bench tokenize: single-thread encoding speed (MB/s) on a large text, optionally beside
 * npm tiktoken (OpenAI's Rust core built to WASM) run by node in the same invocation. */
#include "cli/cli.h"
#include "herd/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bench_tokenize_main(int argc, char **argv);

#define CMD "bench tokenize"

static const char usage[] =
    "usage: herd bench tokenize (--vocab FILE | -m DIR) --text FILE [--mb N] [--reps N]\n"
    "                           [--tiktoken DIR]\n"
    "  Encodes FILE (repeated up to N MB, default 8) as one text, ordinary encoding, one thread;\n"
    "  prints the median MB/s over --reps runs (default 5).\n"
    "  --tiktoken DIR   also time npm tiktoken installed in DIR (DIR/node_modules/tiktoken) with\n"
    "                   `node` on the same rank file, text and pattern, and compare id counts\n";

/* The peer: argv = vocab, text, reps. Prints "<median ms> <ids>". Pattern: o200k (= Llama 4). */
static const char peer_js[] =
    "const fs = require('fs');\n"
    "const [dir, vocab, textPath, reps] = process.argv.slice(2);\n"
    "const { Tiktoken } = require(require.resolve('tiktoken', { paths: [dir] }));\n"
    "const pat = fs.readFileSync(process.argv[6], 'utf8');\n"
    "const enc = new Tiktoken(fs.readFileSync(vocab, 'utf8'), {}, pat);\n"
    "const text = fs.readFileSync(textPath, 'utf8');\n"
    "let times = [], n = 0;\n"
    "for (let r = 0; r < +reps; r++) {\n"
    "  const t0 = process.hrtime.bigint();\n"
    "  n = enc.encode_ordinary(text).length;\n"
    "  times.push(Number(process.hrtime.bigint() - t0) / 1e6);\n"
    "}\n"
    "times.sort((a, b) => a - b);\n"
    "console.log(times[times.length >> 1].toFixed(3) + ' ' + n);\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = false;
    return ok;
}

static int run_peer(const char *dir, const char *vocab, const char *text, size_t n, long reps,
                    size_t our_ids)
{
    char tmp[] = "/tmp/herd-bench-tok-XXXXXX";
    if (!mkdtemp(tmp))
        return cli_error(CMD, 1, "cannot make a temporary directory: %s", strerror(errno));
    char js[96], txt[96], pat[96], cmd[4096];
    snprintf(js, sizeof js, "%s/peer.js", tmp);
    snprintf(txt, sizeof txt, "%s/text.txt", tmp);
    snprintf(pat, sizeof pat, "%s/pattern.txt", tmp);
    int rc = 0;
    if (!write_file(js, peer_js, strlen(peer_js)) || !write_file(txt, text, n) ||
        !write_file(pat, herd_o200k_pattern, strlen(herd_o200k_pattern)))
        rc = cli_error(CMD, 1, "cannot write to %s", tmp);
    double ms = 0;
    size_t ids = 0;
    if (!rc) {
        snprintf(cmd, sizeof cmd, "node '%s' '%s' '%s' '%s' %ld '%s'", js, dir, vocab, txt, reps,
                 pat);
        FILE *p = popen(cmd, "r");
        if (!p || fscanf(p, "%lf %zu", &ms, &ids) != 2)
            rc = cli_error(CMD, 1,
                           "the tiktoken peer failed (is node installed and tiktoken in "
                           "%s/node_modules?)",
                           dir);
        if (p)
            pclose(p);
    }
    if (!rc)
        printf("tiktoken (npm, WASM): %8.2f MB/s  %zu ids%s\n", n / (ms / 1e3) / 1e6, ids,
               ids == our_ids ? "  (same count as herd)" : "  (DIFFERENT count from herd)");
    unlink(js);
    unlink(txt);
    unlink(pat);
    rmdir(tmp);
    return rc;
}

int bench_tokenize_main(int argc, char **argv)
{
    const char *vocab = NULL, *dir = NULL, *text_path = NULL, *peer = NULL;
    long mb = 8, reps = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc)
            return cli_usage_error(CMD, "unknown option or missing value '%s'", a);
        v = argv[++i];
        if (!strcmp(a, "--vocab"))
            vocab = v;
        else if (!strcmp(a, "-m"))
            dir = v;
        else if (!strcmp(a, "--text"))
            text_path = v;
        else if (!strcmp(a, "--tiktoken"))
            peer = v;
        else if (!strcmp(a, "--mb")) {
            if (!cli_parse_long(CMD, a, v, 1, 1024, &mb))
                return 2;
        } else if (!strcmp(a, "--reps")) {
            if (!cli_parse_long(CMD, a, v, 1, 1000, &reps))
                return 2;
        } else
            return cli_usage_error(CMD, "unknown option '%s'", a);
    }
    if (!vocab == !dir || !text_path)
        return cli_usage_error(CMD, "give --vocab FILE or -m DIR, and --text FILE");
    if (peer && !vocab)
        return cli_usage_error(CMD, "--tiktoken needs a rank file given with --vocab");
    herd_tokenizer *tok;
    double t0 = herd_now();
    herd_status st =
        dir ? herd_tokenizer_load_dir(dir, &tok) : herd_tokenizer_load_file(vocab, NULL, &tok);
    if (st)
        return cli_status_error(CMD, st);
    double load_ms = (herd_now() - t0) * 1e3;
    herd_mapped_file f;
    if ((st = herd_map_file(text_path, &f))) {
        herd_tokenizer_free(tok);
        return cli_status_error(CMD, st);
    }
    size_t want = (size_t)mb << 20, n = 0;
    char *text = f.size ? malloc(want + f.size) : NULL;
    while (text && n < want) { /* whole copies of the file, so no character is cut */
        memcpy(text + n, f.data, f.size);
        n += f.size;
    }
    herd_unmap_file(&f);
    if (!text) {
        herd_tokenizer_free(tok);
        return cli_error(CMD, 1, "%s: empty, or out of memory", text_path);
    }
    double *ms = malloc((size_t)reps * sizeof *ms);
    herd_tokens ids = {0};
    for (long r = 0; r < reps && !st; r++) {
        ids.n = 0;
        t0 = herd_now();
        st = herd_tokenizer_encode(tok, text, n, 0, &ids);
        ms[r] = (herd_now() - t0) * 1e3;
    }
    int rc = 0;
    if (st)
        rc = cli_status_error(CMD, st);
    else {
        qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
        double med = ms[reps / 2];
        printf("text: %s repeated to %.1f MB; vocabulary loaded in %.0f ms\n", text_path, n / 1e6,
               load_ms);
        printf("herd:                 %8.2f MB/s  %zu ids  (median of %ld)\n",
               n / (med / 1e3) / 1e6, ids.n, reps);
        if (peer)
            rc = run_peer(peer, vocab, text, n, reps, ids.n);
    }
    free(ms);
    free(text);
    herd_tokens_free(&ids);
    herd_tokenizer_free(tok);
    return rc;
}
