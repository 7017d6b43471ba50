/* Monotonic time, leveled logging to stderr, and progress lines with ETA. */
#include "herd/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double herd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int log_level = -1;

void herd_set_log_level(herd_log_level level)
{
    log_level = (int)level;
}

static int current_level(void)
{
    if (log_level < 0) {
        const char *e = getenv("HERD_LOG");
        log_level = HERD_LOG_INFO;
        if (e) {
            static const char *const names[] = {"error", "warn", "info", "debug"};
            for (int i = 0; i < 4; i++)
                if (strcmp(e, names[i]) == 0)
                    log_level = i;
        }
    }
    return log_level;
}

void herd_log(herd_log_level level, const char *fmt, ...)
{
    if ((int)level > current_level())
        return;
    /* one line, no control bytes: messages may carry names taken from hostile files */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F)
            *c = ' ';
    fprintf(stderr, "%s\n", line);
}

void herd_progress_begin(herd_progress *p, const char *label, double total)
{
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->done = 0;
    p->t_start = p->t_last = herd_now();
    p->tty = isatty(fileno(stderr));
}

static void draw(herd_progress *p, bool final)
{
    double el = herd_now() - p->t_start;
    double frac = p->done / p->total;
    if (frac > 1)
        frac = 1;
    double eta = frac > 0 ? el / frac - el : 0;
    int width = 30, fill = (int)(frac * width);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "%s%s [%s] %5.1f%%  %.1fs elapsed%s", p->tty ? "\r" : "", p->label, bar,
            100 * frac, el, final ? "" : "");
    if (!final)
        fprintf(stderr, ", ETA %.1fs", eta);
    fprintf(stderr, final || !p->tty ? "\n" : "   ");
    fflush(stderr);
}

void herd_progress_update(herd_progress *p, double done)
{
    p->done = done;
    double now = herd_now();
    if (p->tty && now - p->t_last >= 0.1) {
        p->t_last = now;
        draw(p, false);
    }
}

void herd_progress_end(herd_progress *p)
{
    p->done = p->total;
    draw(p, true);
}
