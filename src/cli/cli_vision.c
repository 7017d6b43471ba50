/* --image for the model commands: plan (config, decode, tiles, expanded prompt), then the
 * vision tower's features enter the model as input rows of the <|patch|> positions. The session
 * form (cli_vision) loads the tower once and runs images one at a time, for chat. */
#include "cli/cli_vision.h"

#include <stdlib.h>
#include <string.h>

static int64_t special_id(void *tok, const char *name)
{
    return herd_tokenizer_special_id(tok, name);
}

herd_status cli_vision_ids(const herd_tokenizer *tok, herd_vision_config *c)
{
    return tok ? herd_vision_config_lookup_ids(c, special_id, (void *)tok) : HERD_OK;
}

herd_status cli_vision_open(const char *model, const char *mmproj, const herd_tokenizer *tok,
                            const herd_model_opts *mo, herd_model *m, herd_context *kv,
                            cli_vision *v)
{
    memset(v, 0, sizeof *v);
    v->hidden = herd_model_config(m)->hidden;
    herd_status st = herd_vision_config_for(model, mmproj, &v->cfg);
    if (!st && v->cfg.text_hidden != v->hidden)
        st = herd_fail(HERD_ERR_FORMAT,
                       "the vision projector gives rows of %lld, the text model's hidden size "
                       "is %lld",
                       (long long)v->cfg.text_hidden, (long long)v->hidden);
    if (!st)
        st = cli_vision_ids(tok, &v->cfg);
    herd_vision_opts vo;
    herd_vision_opts_default(&vo);
    vo.dtype = mo->dtype;
    vo.aprep = mo->aprep;
    vo.pool = herd_context_pool(kv);
    if (!st)
        st = herd_vision_load(model, mmproj, &vo, &v->vm);
    if (st)
        cli_vision_close(v);
    return st;
}

void cli_vision_close(cli_vision *v)
{
    herd_vision_model_free(v->vm);
    memset(v, 0, sizeof *v);
}

herd_status cli_vision_image(cli_vision *v, const char *path, cli_image_rows *out)
{
    memset(out, 0, sizeof *out);
    herd_image img;
    herd_image_tiles t = {0};
    herd_status st = herd_image_load(path, &img);
    if (st)
        return st;
    st = herd_image_preprocess(&img, &v->cfg.prep, &t);
    herd_image_free(&img);
    if (!st) {
        out->grid_rows = t.rows;
        out->grid_cols = t.cols;
        out->n_rows = t.n_tiles * v->cfg.tokens_per_tile;
        out->rows = herd_alloc((size_t)(out->n_rows * v->hidden) * sizeof(float), "image features");
        st = out->rows ? herd_vision_encode(v->vm, t.pixels, t.n_tiles, NULL, NULL, out->rows)
                       : HERD_ERR_NOMEM;
    }
    herd_image_tiles_free(&t);
    if (st)
        cli_image_rows_free(out);
    return st;
}

void cli_image_rows_free(cli_image_rows *r)
{
    herd_free(r->rows);
    memset(r, 0, sizeof *r);
}

int cli_model_parse_images(const char *cmd, int *argc, char **argv, cli_model_args *a,
                           const cli_opt *opts, void (*usage)(FILE *), cli_images *im)
{
    int rc = cli_images_take(cmd, argc, argv, im);
    if (!rc)
        rc = cli_model_parse(cmd, *argc, argv, a, opts, usage);
    if (rc < 0) {
        cli_model_args_free(a);
        cli_images_free(im);
    }
    return rc;
}

int cli_images_take(const char *cmd, int *argc, char **argv, cli_images *im)
{
    memset(im, 0, sizeof *im);
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        bool img = strcmp(argv[i], "--image") == 0, mm = strcmp(argv[i], "--mmproj") == 0;
        if (!img && !mm) {
            argv[out++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc)
            return cli_usage_error(cmd, "%s needs a value", argv[i]);
        if (mm) {
            im->mmproj = argv[++i];
            continue;
        }
        const char **p = realloc(im->paths, sizeof *p * (size_t)(im->n + 1));
        if (!p)
            return cli_error(cmd, 1, "out of memory");
        im->paths = p;
        im->paths[im->n++] = argv[++i];
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

void cli_images_free(cli_images *im)
{
    for (int i = 0; im->tiles && i < im->n; i++)
        herd_image_tiles_free(&im->tiles[i]);
    free(im->tiles);
    free(im->paths);
    free(im->ids);
    memset(im, 0, sizeof *im);
}

int cli_images_plan(const char *cmd, const char *model, const herd_tokenizer *tok,
                    const int32_t *ids, int64_t n, int64_t bos, cli_images *im)
{
    herd_status st = herd_vision_config_for(model, im->mmproj, &im->cfg);
    if (!st)
        st = cli_vision_ids(tok, &im->cfg);
    if (st)
        return cli_status_error(cmd, st);
    const herd_vision_config *c = &im->cfg;
    int64_t marks = 0;
    for (int64_t i = 0; i < n; i++)
        marks += ids[i] == c->image_id;
    if (marks > im->n)
        return cli_error(cmd, 1, "the prompt has %lld <|image|> tokens but %d images were given",
                         (long long)marks, im->n);
    if (!(im->tiles = calloc((size_t)im->n, sizeof *im->tiles)))
        return cli_error(cmd, 1, "out of memory");
    int64_t total = n + (im->n - marks);
    for (int i = 0; i < im->n; i++) {
        herd_image img;
        if ((st = herd_image_load(im->paths[i], &img)))
            return cli_status_error(cmd, st);
        st = herd_image_preprocess(&img, &c->prep, &im->tiles[i]);
        herd_image_free(&img);
        if (st)
            return cli_status_error(cmd, st);
        total += herd_vision_expand(c, im->tiles[i].rows, im->tiles[i].cols, NULL, 0) - 1;
    }
    if (!(im->ids = malloc(sizeof *im->ids * (size_t)total)))
        return cli_error(cmd, 1, "out of memory");
    int64_t o = 0, next = 0, missing = im->n - marks, at = n > 0 && ids[0] == bos ? 1 : 0;
    for (int64_t i = 0; i <= n; i++) {
        if (i == at) /* images the prompt does not place go first, after the BOS */
            for (; missing > 0; missing--, next++)
                o += herd_vision_expand(c, im->tiles[next].rows, im->tiles[next].cols, im->ids + o,
                                        total - o);
        if (i == n)
            break;
        if (ids[i] == c->image_id) {
            o += herd_vision_expand(c, im->tiles[next].rows, im->tiles[next].cols, im->ids + o,
                                    total - o);
            next++;
        } else {
            im->ids[o++] = ids[i];
        }
    }
    im->n_ids = o;
    return 0;
}

int cli_images_inputs(const char *cmd, const char *model, const herd_model_opts *mo, herd_model *m,
                      herd_kv_cache *kv, cli_images *im, int32_t **ids_out, float **embd_out)
{
    const herd_vision_config *c = &im->cfg;
    int64_t H = herd_model_config(m)->hidden;
    *ids_out = NULL;
    *embd_out = NULL;
    if (c->text_hidden != H)
        return cli_error(cmd, 1,
                         "the vision projector gives rows of %lld, the text model's "
                         "hidden size is %lld",
                         (long long)c->text_hidden, (long long)H);
    herd_vision_opts vo;
    herd_vision_opts_default(&vo);
    vo.dtype = mo->dtype;
    vo.aprep = mo->aprep;
    vo.pool = herd_context_pool(kv);
    herd_vision_model *vm = NULL;
    herd_status st = herd_vision_load(model, im->mmproj, &vo, &vm);
    size_t bytes;
    float *embd = NULL;
    int32_t *ids = herd_alloc(sizeof *ids * (size_t)(im->n_ids > 0 ? im->n_ids : 1), "prompt ids");
    if (!st && herd_mul_size((size_t)(im->n_ids * H), sizeof(float), &bytes))
        embd = herd_calloc(bytes, "image input rows");
    if (!st && (!embd || !ids))
        st = herd_fail(HERD_ERR_NOMEM, "out of memory for the image input rows");
    /* features of every image, in prompt order, into the rows of the <|patch|> positions */
    int64_t p = 0, rows_done = 0;
    double t0 = herd_now();
    for (int i = 0; i < im->n && !st; i++) {
        const herd_image_tiles *t = &im->tiles[i];
        int64_t rows = t->n_tiles * c->tokens_per_tile;
        float *f = herd_alloc((size_t)(rows * H) * sizeof(float), "image features");
        if (!f) {
            st = HERD_ERR_NOMEM;
            break;
        }
        st = herd_vision_encode(vm, t->pixels, t->n_tiles, NULL, NULL, f);
        for (int64_t r = 0; r < rows && !st; r++) {
            while (p < im->n_ids && im->ids[p] != c->patch_id)
                p++;
            if (p == im->n_ids) {
                st = herd_fail(HERD_ERR_INTERNAL, "fewer <|patch|> positions than feature rows");
                break;
            }
            memcpy(embd + (size_t)(p * H), f + (size_t)(r * H), (size_t)H * sizeof(float));
            p++;
        }
        rows_done += rows;
        herd_free(f);
    }
    if (!st && im->n > 0)
        herd_log(HERD_LOG_INFO, "%d image%s: %lld feature rows in %.2f s", im->n,
                 im->n == 1 ? "" : "s", (long long)rows_done, herd_now() - t0);
    for (int64_t i = 0; i < im->n_ids && !st; i++)
        ids[i] = im->ids[i] == c->patch_id ? -1 : im->ids[i];
    herd_vision_model_free(vm);
    if (st) {
        herd_free(embd);
        herd_free(ids);
        return cli_status_error(cmd, st);
    }
    *ids_out = ids;
    *embd_out = embd;
    return 0;
}

int cli_images_prefill(const char *cmd, const char *model, const herd_model_opts *mo, herd_model *m,
                       herd_kv_cache *kv, cli_images *im, float *logits, bool whole, int64_t piece)
{
    int64_t H = herd_model_config(m)->hidden, V = herd_model_config(m)->vocab;
    int32_t *ids;
    float *embd;
    int rc = cli_images_inputs(cmd, model, mo, m, kv, im, &ids, &embd);
    if (rc)
        return rc;
    int64_t n = whole ? im->n_ids : im->n_ids - 1;
    herd_status st = HERD_OK;
    /* batches of the engine's forward: a row with id < 0 takes its input row from embd */
    if (piece < 1 || piece > HERD_BATCH_MAX)
        piece = HERD_BATCH_MAX;
    bool *want = logits ? malloc(sizeof *want * (size_t)piece) : NULL;
    if (logits && !want)
        st = herd_fail(HERD_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; want && i < piece; i++)
        want[i] = true;
    for (int64_t done = 0; done < n && !st; done += piece) {
        int64_t k = n - done < piece ? n - done : piece;
        herd_batch b = {
            .n = k, .token = ids + done, .embd = embd + (size_t)(done * H), .logits = want};
        st = herd_forward(kv, &b, logits ? logits + (size_t)(done * V) : NULL);
    }
    free(want);
    herd_free(embd);
    herd_free(ids);
    return st ? cli_status_error(cmd, st) : 0;
}
