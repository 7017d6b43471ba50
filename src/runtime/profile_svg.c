/* The roofline plot as a standalone SVG: log-log axes with decade ticks, the measured memory
 * bandwidth diagonal, one horizontal roof per compute peak, every op a labelled point (prefill
 * and decode in two colours) and a legend. Written by hand so herd needs no plotting library. */
#include "herd/profile.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SVG_W = 1000, SVG_H = 700 };
static const double PLOT_LEFT = 80, PLOT_TOP = 50, PLOT_W = 660, PLOT_H = 580;
static const double FONT_PX = 11, CHAR_W = 6.1; /* average glyph width of 11 px sans-serif */

static const char *const phase_colour[HERD_PHASE_COUNT] = {"#1f6fb4", "#e0540b"};
static const char *const peak_colour[HERD_PEAK_COUNT] = {"#2a8a2a", "#8a3fb0", "#a0522d"};
static const char *const peak_dash[HERD_PEAK_COUNT] = {"", "8 4", "3 3"};

/* ---- a growing text buffer --------------------------------------------------------------- */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 16384;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* Text content and attribute values: escape the five XML specials. */
static void sb_escaped(sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': sb_printf(b, "&amp;"); break;
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        case '\'': sb_printf(b, "&#39;"); break;
        default: sb_printf(b, "%c", *s);
        }
    }
}

/* ---- geometry ---------------------------------------------------------------------------- */
static bool plottable(const herd_roofline_point *p)
{
    return p->intensity > 0 && p->gflops > 0 && isfinite(p->intensity) && isfinite(p->gflops);
}

void herd_roofline_axes_fit(const herd_limits *lim, const herd_roofline_point *pts, int n,
                            herd_roofline_axes *ax)
{
    double bw = lim->bw_gbs > 0 ? lim->bw_gbs : 1;
    double top = 0;
    for (int p = 0; p < HERD_PEAK_COUNT; p++)
        top = fmax(top, herd_limits_peak(lim, (herd_peak)p));
    if (top <= 0)
        top = 1;
    /* Always show the ridges (peak / bw) with room on both sides. */
    double x0 = 1, x1 = 1, y0 = top, y1 = top;
    for (int p = 0; p < HERD_PEAK_COUNT; p++) {
        double pk = herd_limits_peak(lim, (herd_peak)p);
        if (pk > 0) {
            x0 = fmin(x0, pk / bw / 10);
            x1 = fmax(x1, pk / bw * 10);
        }
    }
    for (int i = 0; i < n; i++) {
        if (!plottable(&pts[i]))
            continue;
        x0 = fmin(x0, pts[i].intensity);
        x1 = fmax(x1, pts[i].intensity);
        y0 = fmin(y0, pts[i].gflops);
        y1 = fmax(y1, pts[i].gflops);
    }
    y0 = fmin(y0, bw * x0);
    /* a margin so no point sits on the frame */
    ax->xmin = pow(10, floor(log10(x0 / 1.3)));
    ax->xmax = pow(10, ceil(log10(x1 * 1.3)));
    ax->ymin = pow(10, floor(log10(y0 / 1.3)));
    ax->ymax = pow(10, ceil(log10(y1 * 1.5))); /* room for the roof labels */
    ax->left = PLOT_LEFT;
    ax->top = PLOT_TOP;
    ax->width = PLOT_W;
    ax->height = PLOT_H;
}

void herd_roofline_xy(const herd_roofline_axes *ax, double intensity, double gflops, double *x,
                      double *y)
{
    double lx0 = log10(ax->xmin), lx1 = log10(ax->xmax);
    double ly0 = log10(ax->ymin), ly1 = log10(ax->ymax);
    *x = ax->left + (log10(intensity) - lx0) / (lx1 - lx0) * ax->width;
    *y = ax->top + ax->height - (log10(gflops) - ly0) / (ly1 - ly0) * ax->height;
}

/* "0.01", "1", "100", "1e+06": short labels for powers of ten. */
static void decade_label(double v, char *out, size_t size)
{
    if (v >= 1e-3 && v < 1e5)
        snprintf(out, size, "%g", v);
    else
        snprintf(out, size, "1e%d", (int)lround(log10(v)));
}

static void axes_and_grid(sbuf *b, const herd_roofline_axes *ax)
{
    double x0 = ax->left, y0 = ax->top, x1 = ax->left + ax->width, y1 = ax->top + ax->height;
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" "
              "stroke=\"#333\"/>\n",
              x0, y0, ax->width, ax->height);
    char lab[32];
    double px, py;
    for (double d = ax->xmin; d <= ax->xmax * 1.0001; d *= 10) {
        for (int m = 1; m <= 9 && d * m <= ax->xmax * 1.0001; m++) {
            herd_roofline_xy(ax, d * m, ax->ymin, &px, &py);
            sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"1\"/>\n",
                      px, y0, px, y1, m == 1 ? "#d0d0d0" : "#eeeeee");
            sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                      px, y1, px, y1 + (m == 1 ? 6 : 3));
            if (m == 1) {
                decade_label(d, lab, sizeof lab);
                sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", px,
                          y1 + 20, lab);
            }
        }
    }
    for (double d = ax->ymin; d <= ax->ymax * 1.0001; d *= 10) {
        for (int m = 1; m <= 9 && d * m <= ax->ymax * 1.0001; m++) {
            herd_roofline_xy(ax, ax->xmin, d * m, &px, &py);
            sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"1\"/>\n",
                      x0, py, x1, py, m == 1 ? "#d0d0d0" : "#eeeeee");
            sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                      x0 - (m == 1 ? 6 : 3), py, x0, py);
            if (m == 1) {
                decade_label(d, lab, sizeof lab);
                sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", x0 - 9,
                          py + 4, lab);
            }
        }
    }
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#333\"/>\n",
              x0, y0, ax->width, ax->height);
    sb_printf(b,
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\">arithmetic "
              "intensity (FLOP per byte moved)</text>\n",
              x0 + ax->width / 2, y1 + 42);
    sb_printf(b,
              "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" "
              "font-size=\"13\">GFLOP/s</text>\n",
              x0 - 52, y0 + ax->height / 2);
}

typedef struct box {
    double x0, y0, x1, y1;
} box;
enum { MAX_TEXT_BOXES = 64 };

/* Marker radius: area in proportion to the op's share of its phase's time. */
static double radius(const herd_roofline_point *p)
{
    double s = p->share > 0 ? fmin(p->share, 1) : 0;
    return 3.5 + 11 * sqrt(s);
}

/* Where along the diagonal its label covers the fewest markers: samples along the rotated
 * text for each candidate start, counting markers within reach. */
static double diagonal_label_x(const herd_roofline_axes *ax, double bw, double ridge,
                               const herd_roofline_point *pts, int n, double len_px)
{
    double best_x = ax->xmin * 2, best_hits = INFINITY;
    for (double x = ax->xmin * 1.5; x < ridge / 4; x *= 1.25) {
        double x0, y0, x1, y1, hits = 0;
        herd_roofline_xy(ax, x, bw * x, &x0, &y0);
        herd_roofline_xy(ax, x * 10, bw * x * 10, &x1, &y1);
        double dx = x1 - x0, dy = y1 - y0, norm = sqrt(dx * dx + dy * dy);
        dx /= norm;
        dy /= norm;
        if (x0 < ax->left + 10 || y0 > ax->top + ax->height - 10)
            continue; /* keep the text inside the frame */
        for (double d = 0; d <= len_px; d += 6) {
            /* the text sits ~8 px above the line: shift along the normal (dy, -dx) */
            double sx = x0 + dx * d + dy * 8, sy = y0 + dy * d - dx * 8;
            for (int i = 0; i < n; i++) {
                double px, py;
                if (!(pts[i].intensity > 0 && pts[i].gflops > 0))
                    continue;
                herd_roofline_xy(ax, pts[i].intensity, pts[i].gflops, &px, &py);
                double r = radius(&pts[i]) + 7;
                if ((px - sx) * (px - sx) + (py - sy) * (py - sy) < r * r)
                    hits++;
            }
        }
        if (hits < best_hits) {
            best_hits = hits;
            best_x = x;
        }
    }
    return best_x;
}

/* The bandwidth diagonal up to the highest roof, then each peak from its ridge point on. */
static void roofs(sbuf *b, const herd_roofline_axes *ax, const herd_limits *lim,
                  const herd_roofline_point *pts, int n, box *text_boxes, int *ntext)
{
    *ntext = 0;
    double bw = lim->bw_gbs, top = 0;
    for (int p = 0; p < HERD_PEAK_COUNT; p++)
        top = fmax(top, herd_limits_peak(lim, (herd_peak)p));
    if (bw <= 0 || top <= 0)
        return;
    double xa, ya, xb, yb;
    herd_roofline_xy(ax, ax->xmin, bw * ax->xmin, &xa, &ya);
    herd_roofline_xy(ax, top / bw, top, &xb, &yb);
    sb_printf(b,
              "<line class=\"roof\" data-roof=\"bandwidth\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" "
              "y2=\"%.2f\" stroke=\"#111\" stroke-width=\"2.5\"/>\n",
              xa, ya, xb, yb);
    /* the label along the diagonal, where it hides no marker */
    char text[64];
    snprintf(text, sizeof text, "memory read %.1f GB/s", bw);
    double lx, ly, at = diagonal_label_x(ax, bw, top / bw, pts, n, CHAR_W * 12 / 11 * strlen(text));
    herd_roofline_xy(ax, at, bw * at, &lx, &ly);
    double angle = atan2(yb - ya, xb - xa), len = CHAR_W * 12 / 11 * (double)strlen(text);
    sb_printf(b,
              "<text transform=\"translate(%.1f %.1f) rotate(%.2f)\" font-size=\"12\" "
              "fill=\"#111\">%s</text>\n",
              lx + 4, ly - 6, angle * 180 / M_PI, text);
    /* the rotated text as a chain of small boxes, for the point labels to avoid */
    for (double d = 0; d <= len && *ntext < MAX_TEXT_BOXES; d += 8) {
        double cx = lx + 4 + cos(angle) * d + sin(angle) * 4;
        double cy = ly - 6 + sin(angle) * d - cos(angle) * 4;
        text_boxes[(*ntext)++] = (box){cx - 5, cy - 5, cx + 5, cy + 5};
    }
    for (int p = HERD_PEAK_COUNT - 1; p >= 0; p--) {
        double pk = herd_limits_peak(lim, (herd_peak)p);
        if (pk <= 0)
            continue;
        herd_roofline_xy(ax, pk / bw, pk, &xa, &ya);
        herd_roofline_xy(ax, ax->xmax, pk, &xb, &yb);
        sb_printf(b,
                  "<line class=\"roof\" data-roof=\"%s\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" "
                  "y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2.5\" stroke-dasharray=\"%s\"/>\n",
                  herd_peak_name((herd_peak)p), xa, ya, xb, yb, peak_colour[p], peak_dash[p]);
        sb_printf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\" "
                  "fill=\"%s\">%s %.0f GFLOP/s</text>\n",
                  xb - 6, ya - 6, peak_colour[p], herd_peak_name((herd_peak)p), pk);
        if (*ntext < MAX_TEXT_BOXES) { /* the roof's label: the point labels keep off it */
            char lab[64];
            int chars =
                snprintf(lab, sizeof lab, "%s %.0f GFLOP/s", herd_peak_name((herd_peak)p), pk);
            text_boxes[(*ntext)++] =
                (box){xb - 6 - CHAR_W * 12 / 11 * chars, ya - 18, xb - 4, ya - 2};
        }
    }
}

/* ---- labels that avoid each other ---------------------------------------------------------- */

static double overlap(box a, box b)
{
    double w = fmin(a.x1, b.x1) - fmax(a.x0, b.x0), h = fmin(a.y1, b.y1) - fmax(a.y0, b.y0);
    return w > 0 && h > 0 ? w * h : 0;
}

/* Candidate offsets from the point: beside, above, below, then further out with a leader. */
static const struct {
    double dx, dy;
    bool right_aligned;
} spots[] = {
    {7, 4, false},   {-7, 4, true},   {6, -7, false},   {-6, -7, true},
    {6, 15, false},  {-6, 15, true},  {10, -18, false}, {-10, -18, true},
    {10, 26, false}, {-10, 26, true}, {14, -30, false}, {-14, -30, true},
    {14, 38, false}, {-14, 38, true}, {24, 4, false},   {-24, 4, true},
};
enum { NSPOTS = sizeof spots / sizeof spots[0] };

/* The label's box at `spot` around a marker of radius r (offsets grow with the marker). */
static box label_box(double px, double py, int spot, const char *text, double radius_px)
{
    double grow = fmax(0, radius_px - 4.5), dx = spots[spot].dx, dy = spots[spot].dy;
    dx += dx > 0 ? grow : -grow;
    dy += dy < 0 ? -grow : dy > 4 ? grow : 0;
    double w = CHAR_W * (double)strlen(text), x = px + dx, y = py + dy;
    if (spots[spot].right_aligned)
        x -= w;
    box r = {x - 1, y - FONT_PX + 1, x + w + 1, y + 3};
    return r;
}

static void points(sbuf *b, const herd_roofline_axes *ax, const herd_roofline_point *pts, int n,
                   const box *obstacles, int nobstacles)
{
    box *taken = malloc(sizeof(box) * (size_t)(2 * n + nobstacles + 1));
    if (!taken) {
        b->failed = true;
        return;
    }
    int ntaken = nobstacles;
    memcpy(taken, obstacles, sizeof(box) * (size_t)nobstacles);
    box plot = {ax->left, ax->top, ax->left + ax->width, ax->top + ax->height};
    for (int i = 0; i < n; i++) { /* every marker is an obstacle for every label */
        if (!plottable(&pts[i]))
            continue;
        double x, y;
        herd_roofline_xy(ax, pts[i].intensity, pts[i].gflops, &x, &y);
        double r = radius(&pts[i]) + 1;
        taken[ntaken++] = (box){x - r, y - r, x + r, y + r};
    }
    for (int i = 0; i < n; i++) {
        const herd_roofline_point *p = &pts[i];
        if (!plottable(p))
            continue;
        double x, y;
        herd_roofline_xy(ax, p->intensity, p->gflops, &x, &y);
        const char *col = phase_colour[p->phase == HERD_PHASE_DECODE];
        sb_printf(b,
                  "<circle class=\"op\" data-op=\"%s\" data-phase=\"%s\" data-intensity=\"%.9g\" "
                  "data-gflops=\"%.9g\" cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\" fill=\"%s\" "
                  "fill-opacity=\"0.8\" stroke=\"#fff\" stroke-width=\"1\"><title>%s %s: "
                  "%.1f%% of the time</title></circle>\n",
                  p->label, herd_prof_phase_name(p->phase), p->intensity, p->gflops, x, y,
                  radius(p), col, herd_prof_phase_name(p->phase), p->label, 100 * p->share);
        int best = 0;
        double best_cost = INFINITY;
        for (int s = 0; s < NSPOTS && best_cost > 0; s++) {
            box r = label_box(x, y, s, p->label, radius(p));
            double cost = 0;
            for (int t = 0; t < ntaken; t++)
                cost += overlap(r, taken[t]);
            double inside = overlap(r, plot), area = (r.x1 - r.x0) * (r.y1 - r.y0);
            cost += 4 * (area - inside); /* leaving the plot is worse than crowding */
            cost += s * 0.01;            /* prefer the nearer spots on a tie */
            if (cost < best_cost - 0.5 || s == 0) {
                best = s;
                best_cost = cost;
            }
            if (cost < 1)
                break;
        }
        box r = label_box(x, y, best, p->label, radius(p));
        taken[ntaken++] = r;
        double tx = spots[best].right_aligned ? r.x1 - 1 : r.x0 + 1, ty = r.y1 - 3;
        if (fabs(spots[best].dy) > 16) /* a leader line back to the point */
            sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"0.7\"/>\n",
                      x, y, tx, spots[best].dy < 0 ? r.y1 : r.y0, col);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">", tx, ty,
                  spots[best].right_aligned ? "end" : "start", col);
        sb_escaped(b, p->label);
        sb_printf(b, "</text>\n");
    }
    free(taken);
}

static void legend(sbuf *b, const herd_limits *lim)
{
    double x = PLOT_LEFT + PLOT_W + 20, y = PLOT_TOP;
    sb_printf(b,
              "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"225\" "
              "height=\"%d\" fill=\"#fafafa\" stroke=\"#999\"/>\n",
              x, y, 22 * (HERD_PHASE_COUNT + 1 + HERD_PEAK_COUNT) + 58);
    x += 12;
    y += 22;
    for (int p = 0; p < HERD_PHASE_COUNT; p++, y += 22) {
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", x + 12, y - 4,
                  phase_colour[p]);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s ops</text>\n", x + 30, y,
                  herd_prof_phase_name((herd_prof_phase)p));
    }
    sb_printf(b,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#111\" "
              "stroke-width=\"2.5\"/>\n",
              x, y - 4, x + 24, y - 4);
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">memory read bandwidth</text>\n", x + 30, y);
    y += 22;
    for (int p = 0; p < HERD_PEAK_COUNT; p++) {
        double pk = herd_limits_peak(lim, (herd_peak)p);
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"2.5\" stroke-dasharray=\"%s\"/>\n",
                  x, y - 4, x + 24, y - 4, peak_colour[p], peak_dash[p]);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s peak%s</text>\n", x + 30, y,
                  herd_peak_name((herd_peak)p), pk > 0 ? "" : " (not on this CPU)");
        y += 22;
    }
    y += 6;
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\">", x, y);
    sb_escaped(b, lim->cpu);
    sb_printf(b, "</text>\n");
    y += 16;
    sb_printf(b,
              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\">%d thread%s, limits "
              "measured by herd</text>\n</g>\n",
              x, y, lim->threads, lim->threads == 1 ? "" : "s");
}

herd_status herd_roofline_svg(const char *title, const herd_limits *lim,
                              const herd_roofline_point *pts, int n, char **out)
{
    *out = NULL;
    herd_roofline_axes ax;
    herd_roofline_axes_fit(lim, pts, n, &ax);
    sbuf b = {0};
    sb_printf(&b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" "
              "font-size=\"%.0f\">\n",
              SVG_W, SVG_H, SVG_W, SVG_H, FONT_PX);
    sb_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", SVG_W, SVG_H);
    sb_printf(&b, "<text x=\"%.1f\" y=\"30\" font-size=\"16\" font-weight=\"bold\">", PLOT_LEFT);
    sb_escaped(&b, title);
    sb_printf(&b, "</text>\n");
    sb_printf(&b,
              "<defs><clipPath id=\"plot\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
              "height=\"%.1f\"/></clipPath></defs>\n",
              ax.left, ax.top, ax.width, ax.height);
    axes_and_grid(&b, &ax);
    sb_printf(&b, "<g clip-path=\"url(#plot)\">\n");
    box text_boxes[MAX_TEXT_BOXES];
    int ntext = 0;
    roofs(&b, &ax, lim, pts, n, text_boxes, &ntext);
    points(&b, &ax, pts, n, text_boxes, ntext);
    sb_printf(&b, "</g>\n");
    legend(&b, lim);
    sb_printf(&b, "</svg>\n");
    if (b.failed) {
        free(b.p);
        return herd_fail(HERD_ERR_NOMEM, "roofline: out of memory writing the SVG");
    }
    *out = b.p;
    return HERD_OK;
}

herd_status herd_roofline_svg_write(const char *path, const char *title, const herd_limits *lim,
                                    const herd_roofline_point *pts, int n)
{
    char *svg;
    herd_status st = herd_roofline_svg(title, lim, pts, n, &svg);
    if (st)
        return st;
    st = herd_atomic_save(path, svg, strlen(svg), false);
    free(svg);
    return st;
}
