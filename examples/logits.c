/* The smallest program on libherd: load a model, run a prompt of token ids, print the last
 * position's first logits and its most likely next token. Build it against an installed herd:
 *     cc logits.c $(pkg-config --cflags --libs herd) -o logits && ./logits MODEL 1 2 3 */
#include <herd/herd.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL ID...\n", argv[0]);
        return 2;
    }
    herd_engine_opts o;
    herd_engine_opts_default(&o);
    o.model.quiet = true;
    o.ctx = argc; /* room for the prompt */
    herd_engine *e;
    if (herd_engine_load(argv[1], &o, &e)) {
        fprintf(stderr, "%s\n", herd_last_error());
        return 1;
    }
    int n = argc - 2;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    int64_t V = herd_model_config(herd_engine_model(e))->vocab;
    float *logits = malloc((size_t)V * sizeof *logits);
    for (int i = 0; i < n; i++)
        ids[i] = (int32_t)atoi(argv[i + 2]);
    herd_status st =
        herd_model_forward(herd_engine_model(e), herd_engine_context(e), ids, n, logits, false);
    if (st) {
        fprintf(stderr, "%s\n", herd_last_error());
        return 1;
    }
    int64_t best = 0;
    for (int64_t i = 0; i < V; i++)
        best = logits[i] > logits[best] ? i : best;
    printf("logits[0..3] %.4f %.4f %.4f %.4f, next token %lld\n", logits[0], logits[1], logits[2],
           logits[3], (long long)best);
    free(ids);
    free(logits);
    herd_engine_free(e);
    return 0;
}
