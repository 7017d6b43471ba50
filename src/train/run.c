/* herd train: the corpus as tokens, batches drawn by step (so a resumed run draws the same),
 * the loop with its progress line, periodic validation, checkpoints, the loss curve (TSV and
 * SVG) and the final GGUF export. */
#include "train/train_internal.h"

#include "herd/io_json.h"
#include "herd/text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct corpus {
    herd_tokens ids;
    int64_t *starts; /* token indices that begin a line */
    size_t n_starts;
} corpus;

static herd_status read_all(const char *path, char **out, size_t *len)
{
    herd_mapped_file f;
    herd_status st = herd_map_file(path, &f);
    if (st)
        return st;
    *out = malloc(f.size + 1);
    if (*out) {
        memcpy(*out, f.data, f.size);
        (*out)[f.size] = 0;
        *len = f.size;
    }
    herd_unmap_file(&f);
    return *out ? HERD_OK : herd_fail(HERD_ERR_NOMEM, "out of memory reading %s", path);
}

static herd_status corpus_load(const herd_tokenizer *tok, const char *path, int64_t T, corpus *c)
{
    char *text = NULL;
    size_t len = 0;
    memset(c, 0, sizeof *c);
    herd_status st = read_all(path, &text, &len);
    if (st)
        return st;
    st = herd_tokenizer_encode(tok, text, len, 0, &c->ids);
    free(text);
    if (!st && (int64_t)c->ids.n < T + 1)
        st = herd_fail(HERD_ERR_RANGE, "%s: %zu tokens, fewer than one training sequence (%lld)",
                       path, c->ids.n, (long long)T + 1);
    if (!st && !(c->starts = malloc(c->ids.n * sizeof *c->starts)))
        st = herd_fail(HERD_ERR_NOMEM, "out of memory for %s", path);
    for (size_t i = 0; !st && i + (size_t)T <= c->ids.n; i++) {
        size_t n = 0;
        const uint8_t *b = i ? herd_tokenizer_token_bytes(tok, c->ids.ids[i - 1], &n) : NULL;
        if (i == 0 || (b && n && b[n - 1] == '\n'))
            c->starts[c->n_starts++] = (int64_t)i;
    }
    return st;
}

static void corpus_free(corpus *c)
{
    herd_tokens_free(&c->ids);
    free(c->starts);
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Sequence b of a batch: BOS, then the corpus from token `at`; targets are the next tokens. */
static void fill(const corpus *c, int64_t at, int32_t bos, int64_t T, int32_t *ids, int32_t *tg)
{
    ids[0] = bos;
    for (int64_t t = 0; t < T; t++) {
        if (t > 0)
            ids[t] = c->ids.ids[at + t - 1];
        tg[t] = at + t < (int64_t)c->ids.n ? c->ids.ids[at + t] : -1;
    }
}

static herd_status write_text(const char *path, const char *s)
{
    return herd_atomic_save(path, s, strlen(s), false);
}

/* history: per step (loss, validation loss or NaN) */
static herd_status write_curves(const char *dir, const double *h, size_t steps, const char *what)
{
    size_t cap = 4096 + steps * 160; /* the header and every point, with room */
    char *s = malloc(cap), path[4200];
    if (!s)
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the loss curve");
    size_t n = (size_t)snprintf(s, cap, "step\tloss\tval_loss\n");
    for (size_t i = 0; i < steps; i++)
        n += (size_t)snprintf(s + n, cap - n,
                              isnan(h[2 * i + 1]) ? "%zu\t%.6f\t\n" : "%zu\t%.6f\t%.6f\n", i + 1,
                              h[2 * i], h[2 * i + 1]);
    snprintf(path, sizeof path, "%s/loss.tsv", dir);
    herd_status st = write_text(path, s);
    /* SVG: training loss (thin, smoothed over 1% of the steps) and validation (dots) */
    double lo = 1e30, hi = -1e30;
    for (size_t i = 0; i < steps; i++)
        for (int k = 0; k < 2; k++)
            if (!isnan(h[2 * i + k]) && isfinite(h[2 * i + k])) {
                lo = h[2 * i + k] < lo ? h[2 * i + k] : lo;
                hi = h[2 * i + k] > hi ? h[2 * i + k] : hi;
            }
    if (!st && steps > 0 && hi > lo) {
        double W = 640, Hh = 360, x0 = 60, y0 = 20, pw = W - 80, ph = Hh - 60;
        n = (size_t)snprintf(
            s, cap,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n<text x=\"%.0f\" y=\"14\">%s</text>\n"
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
            "stroke=\"#888\"/>\n<text x=\"4\" y=\"%.0f\">%.2f</text><text x=\"4\" "
            "y=\"%.0f\">%.2f</text>"
            "<text x=\"%.0f\" y=\"%.0f\">step %zu</text>\n<polyline fill=\"none\" "
            "stroke=\"#1f77b4\" "
            "points=\"",
            W, Hh, x0, what, x0, y0, pw, ph, y0 + 10, hi, y0 + ph, lo, x0 + pw - 60, y0 + ph + 16,
            steps);
        size_t win = steps / 100 + 1;
        double acc = 0;
        for (size_t i = 0; i < steps; i++) {
            acc += h[2 * i];
            if (i >= win)
                acc -= h[2 * (i - win)];
            double v = acc / (double)(i + 1 < win ? i + 1 : win);
            n += (size_t)snprintf(s + n, cap - n, "%.1f,%.1f ", x0 + pw * (double)i / (double)steps,
                                  y0 + ph * (hi - v) / (hi - lo));
        }
        n += (size_t)snprintf(s + n, cap - n, "\"/>\n");
        for (size_t i = 0; i < steps; i++)
            if (!isnan(h[2 * i + 1]))
                n += (size_t)snprintf(
                    s + n, cap - n, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n",
                    x0 + pw * (double)i / (double)steps, y0 + ph * (hi - h[2 * i + 1]) / (hi - lo));
        snprintf(
            s + n, cap - n,
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">training loss</text><text x=\"%.0f\" "
            "y=\"%.0f\" fill=\"#d62728\">validation loss</text>\n</svg>\n",
            x0 + 10, y0 + 16, x0 + 120, y0 + 16);
        snprintf(path, sizeof path, "%s/loss.svg", dir);
        st = write_text(path, s);
    }
    free(s);
    return st;
}

static void hms(double s, char *out, size_t n)
{
    long t = s > 0 && s < 1e8 ? (long)s : 0;
    if (t >= 3600)
        snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

/* Multiply-adds ×2 of the GEMMs one training token costs: every weight GEMM three times
 * (forward, dX, dW; top-k routed experts), attention's QKᵀ and PV over the whole T×T square
 * (computed whole, then masked) in the forward and four such products in the backward. */
static double train_flops_per_token(const tl_layout *lo)
{
    double H = (double)lo->H, qd = (double)(lo->nH * lo->D), kd = (double)(lo->nKV * lo->D);
    double w = H * (double)lo->V; /* the head */
    for (int64_t l = 0; l < lo->L; l++) {
        w += 2 * H * qd + 2 * H * kd;
        if (lo->layers[l].moe)
            w += H * (double)lo->E + ((double)lo->K + 1) * 3 * H * (double)lo->I;
        else
            w += 3 * H * (double)lo->Im;
    }
    double att = 2.0 * (double)lo->T * (double)lo->D * (double)lo->nH * (double)lo->L;
    return 3 * 2 * w + 6 * att;
}

herd_status herd_train_run(const herd_train_run_opts *o)
{
    herd_llama4_config cfg = {0};
    herd_train_hparams hp;
    herd_train_hparams_default(&hp);
    json_t *root = NULL;
    herd_tokenizer *tok = NULL;
    corpus tr = {0}, va = {0};
    herd_trainer *t = NULL;
    herd_pool *pool = NULL;
    double *hist = NULL;
    size_t n_hist = 0;
    int32_t *ids = NULL, *tg = NULL;
    char tokpath[4200], path[4200];
    const char *dir = o->out_dir ? o->out_dir : o->resume_dir;
    herd_status st = herd_llama4_config_load(o->config, &cfg);
    if (!st)
        st = herd_json_load_file(o->config, &root);
    if (!st)
        st = herd_train_hparams_parse(json_object_get(root, "training"), o->config, &hp);
    if (!st && o->steps > 0)
        hp.steps = o->steps;
    if (o->tokenizer) {
        snprintf(tokpath, sizeof tokpath, "%s", o->tokenizer);
    } else { /* tokenizer.json beside the config */
        const char *slash = strrchr(o->config, '/');
        snprintf(tokpath, sizeof tokpath, "%.*stokenizer.json",
                 slash ? (int)(slash - o->config + 1) : 0, o->config);
    }
    if (!st)
        st = herd_tokenizer_load_json(tokpath, &tok);
    if (!st && herd_tokenizer_vocab_size(tok) > cfg.vocab)
        st = herd_fail(HERD_ERR_ARG, "%s has %d tokens, more than the config's vocab_size %lld",
                       tokpath, herd_tokenizer_vocab_size(tok), (long long)cfg.vocab);
    int32_t bos = tok ? herd_tokenizer_bos(tok) : -1;
    if (!st && bos < 0)
        st = herd_fail(HERD_ERR_ARG, "%s has no <|begin_of_text|> token", tokpath);
    if (!st)
        st = corpus_load(tok, o->data, hp.seq, &tr);
    if (!st && o->val)
        st = corpus_load(tok, o->val, hp.seq, &va);
    if (!st && o->threads != 1)
        st = herd_pool_create(o->threads, &pool);
    if (!st && dir && mkdir(dir, 0777) != 0 && errno != EEXIST)
        st = herd_fail(HERD_ERR_IO, "%s: cannot create the directory: %s", dir, strerror(errno));
    if (!st)
        st = herd_trainer_create(&cfg, &hp, &o->prec, pool, &t);
    if (!st && o->resume_dir) {
        snprintf(path, sizeof path, "%s/checkpoint.bin", o->resume_dir);
        st = herd_trainer_load(t, path, &hist, &n_hist);
    }
    double *h = NULL;
    if (!st) {
        h = malloc((size_t)(2 * hp.steps + 2) * sizeof *h);
        ids = malloc((size_t)(hp.batch * hp.seq) * sizeof *ids);
        tg = malloc((size_t)(hp.batch * hp.seq) * sizeof *tg);
        if (!h || !ids || !tg)
            st = herd_fail(HERD_ERR_NOMEM, "out of memory for the training loop");
    }
    int64_t s0 = t ? herd_trainer_step_no(t) : 0;
    if (!st) {
        size_t keep = n_hist < (size_t)(2 * hp.steps) ? n_hist : (size_t)(2 * hp.steps);
        if (keep)
            memcpy(h, hist, keep * sizeof *h);
        if (keep != (size_t)(2 * s0) && s0 <= hp.steps)
            st = herd_fail(HERD_ERR_FORMAT, "checkpoint history does not match its step");
    }
    char prec[160];
    herd_train_precision_describe(&o->prec, prec, sizeof prec);
    if (!st && !o->quiet)
        fprintf(stderr,
                "herd train: %zu parameters, %lld layers, %lld experts (top-%lld), context %lld, "
                "batch %lld, %zu training tokens%s, precision %s, %d thread%s\n",
                herd_trainer_param_count(t), (long long)cfg.n_layers, (long long)cfg.n_experts,
                (long long)cfg.top_k, (long long)hp.seq, (long long)hp.batch, tr.ids.n,
                o->val ? "" : " (no validation)", prec, pool ? herd_pool_size(pool) : 1,
                pool && herd_pool_size(pool) > 1 ? "s" : "");
    double t0 = herd_now(), tok_done = 0;
    clock_t c0 = clock(); /* CPU time of every thread: the rate a shared machine cannot skew */
    for (int64_t s = s0; !st && s < hp.steps; s++) {
        uint64_t r = mix(hp.seed ^ mix((uint64_t)s + 0x51ed));
        for (int64_t b = 0; b < hp.batch; b++) {
            r = mix(r + (uint64_t)b);
            fill(&tr, tr.starts[r % tr.n_starts], bos, hp.seq, ids + b * hp.seq, tg + b * hp.seq);
        }
        double loss, gn, lr;
        st = herd_trainer_step(t, ids, tg, &loss, &gn, &lr);
        if (st)
            break;
        h[2 * s] = loss;
        h[2 * s + 1] = NAN;
        tok_done += (double)(hp.batch * hp.seq);
        bool last = s + 1 == hp.steps, stop = s + 1 == o->stop_after;
        /* validation on the regular schedule only, so a stopped run's curve stays the same */
        if (o->val && (last || (hp.eval_every > 0 && (s + 1) % hp.eval_every == 0))) {
            double sum = 0;
            int64_t nb = 0;
            int64_t stride = hp.seq - 1, windows = ((int64_t)va.ids.n - 1) / stride;
            for (int64_t k = 0; k < hp.eval_batches && !st && (k + 1) * hp.batch <= windows; k++) {
                for (int64_t b = 0; b < hp.batch; b++)
                    fill(&va, (k * hp.batch + b) * stride, bos, hp.seq, ids + b * hp.seq,
                         tg + b * hp.seq);
                double l;
                st = herd_trainer_eval(t, ids, tg, &l);
                sum += l;
                nb++;
            }
            if (nb)
                h[2 * s + 1] = sum / (double)nb;
        }
        double el = herd_now() - t0, rate = tok_done / (el > 0 ? el : 1e-9);
        if (!o->quiet && (last || stop || !isnan(h[2 * s + 1]) ||
                          (s + 1) % (hp.log_every > 0 ? hp.log_every : 1) == 0)) {
            char eta[32], val[48] = "";
            hms((double)(hp.steps - s - 1) * (double)(hp.batch * hp.seq) / rate, eta, sizeof eta);
            if (!isnan(h[2 * s + 1]))
                snprintf(val, sizeof val, "  val %.4f", h[2 * s + 1]);
            fprintf(stderr, "step %lld/%lld  loss %.4f%s  lr %.2e  |g| %.2f  %.0f tok/s  ETA %s\n",
                    (long long)s + 1, (long long)hp.steps, loss, val, lr, gn, rate, eta);
        }
        bool ck = dir && (last || stop || (hp.ckpt_every > 0 && (s + 1) % hp.ckpt_every == 0));
        if (ck) {
            snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
            st = herd_trainer_save(t, path, h, (size_t)(2 * (s + 1)));
            if (!st)
                st = write_curves(dir, h, (size_t)(s + 1), prec);
        }
        if (s + 1 == o->stop_after)
            break;
    }
    if (!st && !o->quiet && tok_done > 0) {
        double wall = herd_now() - t0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
        double fl = train_flops_per_token(&t->lo) * tok_done;
        fprintf(stderr,
                "herd train: %.0f tokens in %.1f s (%.1f s of CPU: %.0f tokens per CPU-second, "
                "%.1f GFLOP per CPU-second in the GEMMs)\n",
                tok_done, wall, cpu, tok_done / (cpu > 0 ? cpu : 1e-9),
                fl / (cpu > 0 ? cpu : 1e-9) / 1e9);
    }
    if (!st && dir && herd_trainer_step_no(t) >= hp.steps) {
        snprintf(path, sizeof path, "%s/model.gguf", dir);
        /* the model's name and license come from the config ("training": "name", "license") */
        const json_t *tr_obj = json_object_get(root, "training");
        const char *name = json_string_value(json_object_get(tr_obj, "name"));
        const char *lic = json_string_value(json_object_get(tr_obj, "license"));
        st = herd_trainer_export_gguf(t, &cfg, HERD_TYPE_BF16, tokpath,
                                      name ? name : "Llama-4-herd-trained", lic, path);
        if (!st && !o->quiet)
            fprintf(stderr, "herd train: wrote %s\n", path);
    }
    free(h);
    free(hist);
    free(ids);
    free(tg);
    herd_trainer_free(t);
    herd_pool_destroy(pool);
    corpus_free(&tr);
    corpus_free(&va);
    herd_tokenizer_free(tok);
    json_decref(root);
    herd_llama4_config_free(&cfg);
    return st;
}
