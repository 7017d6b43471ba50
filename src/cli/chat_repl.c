/* herd chat's input, transcript and speed line (chat_repl.h). Line editing is libedit's (BSD
 * licensed, in Debian), through its own API rather than its readline emulation: el_gets reports
 * an interrupted read, which is how Ctrl-C at the prompt quits. */
#include "cli/chat_repl.h"

#include <errno.h>
#include <histedit.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct chat_input {
    EditLine *el; /* NULL: plain lines (a pipe or a file) */
    History *hist;
    HistEvent ev;
    bool in_block; /* inside a """ block: the continuation prompt */
    char *line;    /* getline's buffer */
    size_t line_cap;
    char *msg; /* the message being built */
    size_t msg_len, msg_cap;
    herd_status err; /* why input ended, if not its end */
};

static char *prompt_fn(EditLine *el)
{
    chat_input *in;
    el_get(el, EL_CLIENTDATA, &in);
    return in->in_block ? "... " : "> ";
}

chat_input *chat_input_open(void)
{
    chat_input *in = calloc(1, sizeof *in);
    if (!in || !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return in;
    in->el = el_init("herd", stdin, stdout, stderr);
    in->hist = history_init();
    if (!in->el || !in->hist) { /* no terminal editing: plain lines still work */
        if (in->el)
            el_end(in->el);
        if (in->hist)
            history_end(in->hist);
        in->el = NULL;
        in->hist = NULL;
        return in;
    }
    history(in->hist, &in->ev, H_SETSIZE, 1000);
    history(in->hist, &in->ev, H_SETUNIQUE, 1);
    el_set(in->el, EL_CLIENTDATA, in);
    el_set(in->el, EL_PROMPT, prompt_fn);
    el_set(in->el, EL_EDITOR, "emacs");
    el_set(in->el, EL_HIST, history, in->hist);
    el_source(in->el, NULL); /* the user's ~/.editrc, as every libedit program */
    return in;
}

void chat_input_close(chat_input *in)
{
    if (!in)
        return;
    if (in->el)
        el_end(in->el);
    if (in->hist)
        history_end(in->hist);
    free(in->line);
    free(in->msg);
    free(in);
}

/* One line without its line end in *out; false at end of input or on Ctrl-C. */
static bool read_line(chat_input *in, const char **out)
{
    if (in->el) {
        int n = 0;
        const char *l = el_gets(in->el, &n);
        if (!l || n <= 0)
            return false;
        size_t len = (size_t)n;
        if (len + 1 > in->line_cap) {
            char *b = realloc(in->line, len + 1);
            if (!b)
                return false;
            in->line = b;
            in->line_cap = len + 1;
        }
        memcpy(in->line, l, len + 1);
    } else { /* bounded: an endless line (< /dev/zero) must not fill the memory */
        size_t len;
        if ((in->err = herd_read_line(stdin, CHAT_LINE_MAX, &in->line, &in->line_cap, &len)) ||
            !in->line)
            return false;
    }
    size_t n = strlen(in->line);
    while (n > 0 && (in->line[n - 1] == '\n' || in->line[n - 1] == '\r'))
        in->line[--n] = 0;
    *out = in->line;
    return true;
}

static bool msg_add(chat_input *in, const char *s, size_t n, bool newline)
{
    size_t need = in->msg_len + n + 2;
    if (need > CHAT_LINE_MAX + 2) {
        in->err = herd_fail(HERD_ERR_RANGE, "a message longer than %zu bytes", CHAT_LINE_MAX);
        return false;
    }
    if (need > in->msg_cap) {
        char *b = realloc(in->msg, need * 2);
        if (!b)
            return false;
        in->msg = b;
        in->msg_cap = need * 2;
    }
    if (newline)
        in->msg[in->msg_len++] = '\n';
    memcpy(in->msg + in->msg_len, s, n);
    in->msg_len += n;
    in->msg[in->msg_len] = 0;
    return true;
}

void chat_print_help(FILE *f)
{
    fputs("  /help        this list\n"
          "  /image FILE  attach a PNG or JPEG to the next message (repeat for more)\n"
          "  /clear       forget the conversation (the system prompt stays)\n"
          "  /bye         quit (also Ctrl-D, or Ctrl-C at the prompt)\n"
          "  \"\"\"          begin a multi-line message; a line ending in \"\"\" ends it\n"
          "  //text       a message that begins with /\n"
          "  Ctrl-C while a reply streams stops it; arrow keys edit and recall lines\n",
          f);
}

static bool is_cmd(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncmp(line, name, n) == 0 && (line[n] == 0 || line[n] == ' ');
}

herd_status chat_input_error(const chat_input *in)
{
    return in ? in->err : HERD_OK;
}

chat_cmd chat_input_next(chat_input *in, const char **msg)
{
    for (;;) {
        const char *line;
        in->in_block = false;
        if (!in->el && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
            fputs("> ", stdout); /* a terminal libedit could not take: plain prompt */
            fflush(stdout);
        }
        if (!read_line(in, &line)) {
            if (isatty(STDIN_FILENO) && !in->err)
                putchar('\n');
            return CHAT_QUIT;
        }
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line)
            continue;
        if (in->hist)
            history(in->hist, &in->ev, H_ENTER, line);
        if (is_cmd(line, "/bye") || is_cmd(line, "/exit") || is_cmd(line, "/quit"))
            return CHAT_QUIT;
        if (is_cmd(line, "/clear"))
            return CHAT_CLEAR;
        if (is_cmd(line, "/image")) { /* the rest of the line is the file name, spaces and all */
            char *f = (char *)line + 6;
            while (*f == ' ' || *f == '\t')
                f++;
            size_t n = strlen(f);
            while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\t'))
                f[--n] = 0;
            if (!n) {
                fprintf(stderr, "herd chat: /image needs a file: /image FILE\n");
                continue;
            }
            *msg = f;
            return CHAT_IMAGE;
        }
        if (is_cmd(line, "/help") || is_cmd(line, "/?")) {
            chat_print_help(stdout);
            fflush(stdout);
            continue;
        }
        if (line[0] == '/' && line[1] != '/' && !strchr(line, ' ')) {
            fprintf(stderr,
                    "herd chat: unknown command '%s' (/help lists them; start a message "
                    "with // to send a leading /)\n",
                    line);
            continue;
        }
        if (line[0] == '/' && line[1] == '/')
            line++;
        in->msg_len = 0;
        if (strncmp(line, "\"\"\"", 3) != 0) {
            if (!msg_add(in, line, strlen(line), false))
                return CHAT_QUIT;
            *msg = in->msg;
            return CHAT_MESSAGE;
        }
        /* """ block: the text after the opening quotes, then whole lines joined by newlines,
         * until a line ends in """ */
        const char *s = line + 3;
        bool started = false;
        in->in_block = true;
        for (bool first = true;; first = false) {
            size_t n = strlen(s);
            bool end = n >= 3 && strcmp(s + n - 3, "\"\"\"") == 0;
            if (end)
                n -= 3;
            if (n || (!first && !end)) { /* a bare opening or closing """ adds no line */
                if (!msg_add(in, s, n, started))
                    return CHAT_QUIT;
                started = true;
            }
            if (end)
                break;
            if (!read_line(in, &s)) {
                if (isatty(STDIN_FILENO))
                    putchar('\n');
                return CHAT_QUIT;
            }
        }
        in->in_block = false;
        if (in->msg_len == 0)
            continue;
        *msg = in->msg;
        return CHAT_MESSAGE;
    }
}

/* ---- the transcript ---- */

static void drop_images_from(chat_history *h, size_t at)
{
    while (h->n_images && h->images[h->n_images - 1].at >= at)
        cli_image_rows_free(&h->images[--h->n_images].rms);
}

herd_status chat_history_begin(chat_history *h, const herd_tokenizer *tok, const char *system)
{
    h->toks.n = 0;
    h->n_turns = 0;
    drop_images_from(h, 0);
    herd_status st = herd_chat_begin(tok, system, &h->toks);
    h->start = h->toks.n;
    return st;
}

void chat_history_free(chat_history *h)
{
    drop_images_from(h, 0);
    free(h->images);
    herd_tokens_free(&h->toks);
    free(h->turns);
    memset(h, 0, sizeof *h);
}

herd_status chat_history_add_user(chat_history *h, const herd_tokenizer *tok, const char *text,
                                  cli_image_rows *imgs, int n_imgs, const herd_vision_config *vc)
{
    if (h->n_turns == h->cap_turns) {
        size_t cap = h->cap_turns ? h->cap_turns * 2 : 16;
        size_t *t = realloc(h->turns, cap * sizeof *t);
        if (!t)
            return herd_fail(HERD_ERR_NOMEM, "out of memory");
        h->turns = t;
        h->cap_turns = cap;
    }
    if (h->n_images + (size_t)n_imgs > h->cap_images) {
        size_t cap = (h->n_images + (size_t)n_imgs) * 2;
        chat_image *t = realloc(h->images, cap * sizeof *t);
        if (!t)
            return herd_fail(HERD_ERR_NOMEM, "out of memory");
        h->images = t;
        h->cap_images = cap;
    }
    size_t at = h->toks.n;
    herd_tokens blk = {0};
    herd_status st = herd_chat_add_message_images(tok, "user", n_imgs, text, &blk);
    if (!st)
        st = herd_chat_add_generation_prompt(tok, &blk);
    /* each <|image|> of the rendered block (text never yields one) becomes the image's block */
    int next = 0;
    for (size_t i = 0; i < blk.n && !st; i++) {
        if (n_imgs == 0 || blk.ids[i] != vc->image_id || next == n_imgs) {
            st = herd_tokens_push(&h->toks, blk.ids[i]);
            continue;
        }
        const cli_image_rows *r = &imgs[next++];
        int64_t len = herd_vision_expand(vc, r->grid_rows, r->grid_cols, NULL, 0);
        size_t from = h->toks.n;
        for (int64_t k = 0; k < len && !st; k++)
            st = herd_tokens_push(&h->toks, 0);
        if (!st)
            herd_vision_expand(vc, r->grid_rows, r->grid_cols, h->toks.ids + from, len);
    }
    herd_tokens_free(&blk);
    if (!st && next != n_imgs)
        st = herd_fail(HERD_ERR_INTERNAL, "the template placed %d of %d images", next, n_imgs);
    if (st) {
        h->toks.n = at;
        return st;
    }
    /* the images' blocks in order: find them again by their <|image_start|> ids */
    size_t p = at;
    for (int i = 0; i < n_imgs; i++) {
        while (h->toks.ids[p] != vc->image_start_id)
            p++;
        h->images[h->n_images++] = (chat_image){.at = p++, .rms = imgs[i]};
        memset(&imgs[i], 0, sizeof imgs[i]);
    }
    h->turns[h->n_turns++] = at;
    return HERD_OK;
}

void chat_history_drop_last(chat_history *h)
{
    if (h->n_turns) {
        h->toks.n = h->turns[--h->n_turns];
        drop_images_from(h, h->toks.n);
    }
}

size_t chat_history_fit(chat_history *h, int64_t ctx, int64_t room)
{
    size_t drop = 0; /* with `drop` turns gone the transcript is toks.n - (turns[drop] - start) */
    while (drop + 1 < h->n_turns && (int64_t)(h->toks.n - (h->turns[drop] - h->start)) + room > ctx)
        drop++;
    if (!drop)
        return 0;
    size_t from = h->turns[drop], gone = from - h->start;
    memmove(h->toks.ids + h->start, h->toks.ids + from, (h->toks.n - from) * sizeof *h->toks.ids);
    h->toks.n -= gone;
    for (size_t i = drop; i < h->n_turns; i++)
        h->turns[i - drop] = h->turns[i] - gone;
    h->n_turns -= drop;
    size_t k = 0; /* images of the dropped turns go; the rest move with their tokens */
    while (k < h->n_images && h->images[k].at < from)
        cli_image_rows_free(&h->images[k++].rms);
    for (size_t i = k; i < h->n_images; i++) {
        h->images[i - k] = h->images[i];
        h->images[i - k].at -= gone;
    }
    h->n_images -= k;
    return drop;
}

herd_status chat_history_inputs(const chat_history *h, size_t from, int64_t hidden,
                                const herd_vision_config *vc, int32_t **ids, float **embd)
{
    *ids = NULL;
    *embd = NULL;
    size_t n = h->toks.n - from;
    bool any = false; /* does a <|patch|> row of an image fall in [from, toks.n)? */
    for (size_t i = 0; i < h->n_images && !any; i++)
        any = h->images[i].at + herd_vision_expand(vc, h->images[i].rms.grid_rows,
                                                   h->images[i].rms.grid_cols, NULL, 0) >
              from;
    if (!any)
        return HERD_OK;
    size_t bytes;
    if (!herd_mul_size(n * (size_t)hidden, sizeof(float), &bytes))
        return herd_fail(HERD_ERR_NOMEM, "a prompt too large for its input rows");
    int32_t *x = herd_alloc(n * sizeof *x, "prompt ids");
    float *e = herd_calloc(bytes, "image input rows");
    if (!x || !e) {
        herd_free(x);
        herd_free(e);
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the image input rows");
    }
    memcpy(x, h->toks.ids + from, n * sizeof *x);
    for (size_t i = 0; i < h->n_images; i++) {
        const chat_image *im = &h->images[i];
        int64_t len = herd_vision_expand(vc, im->rms.grid_rows, im->rms.grid_cols, NULL, 0);
        int64_t r = 0; /* the feature row of the next <|patch|> of this block */
        for (size_t p = im->at; p < im->at + (size_t)len && p < h->toks.n; p++) {
            if (h->toks.ids[p] != vc->patch_id)
                continue;
            if (p >= from && r < im->rms.n_rows) {
                x[p - from] = -1;
                memcpy(e + (p - from) * (size_t)hidden, im->rms.rows + (size_t)(r * hidden),
                       (size_t)hidden * sizeof(float));
            }
            r++;
        }
    }
    *ids = x;
    *embd = e;
    return HERD_OK;
}

void chat_print_speed(FILE *f, const herd_gen_result *res)
{
    double pf = res->prefill_seconds, dc = res->decode_seconds;
    /* the first reply token comes from the prefill's logits: decode speed counts the rest */
    int64_t decoded = res->n_generated > 0 ? res->n_generated - 1 : 0;
    fprintf(f, "[ Prompt: %.1f t/s | Generation: %.1f t/s ]\n",
            pf > 0 ? (double)res->n_prompt / pf : 0, dc > 0 ? (double)decoded / dc : 0);
}
