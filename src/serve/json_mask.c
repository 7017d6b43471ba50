/* JSON mode: a byte-level automaton for one JSON object, run over each token's bytes.
 *
 * The automaton's state is small (lexical state, a byte of detail, the depth and one bit per
 * open container saying object or array), and generation revisits the same few states again
 * and again (inside a string, after a value, expecting a key...). So the set of tokens allowed
 * in a state is computed once, by running every token's bytes from it (a few ms for 202k
 * tokens), and kept in a table; after that a step costs one lookup and one pass over a bitset.
 * A run of whitespace-only tokens outside strings is cut after a few, so a model cannot loop on
 * blank lines forever. */
#include "serve/serve_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    J_START,
    J_OBJ_OPEN, /* after '{': key or '}' */
    J_OBJ_KEY,  /* after ',' in an object: key */
    J_COLON,
    J_VALUE,
    J_ARR_OPEN, /* after '[': value or ']' */
    J_AFTER,    /* after a value in a container: ',' or the close */
    J_STR,      /* aux bit 0: the string is a key */
    J_STR_ESC,
    J_STR_U,   /* aux >> 1: hex digits left */
    J_STR_UTF, /* aux >> 1: continuation bytes left */
    J_NUM_MINUS,
    J_NUM_ZERO,
    J_NUM_INT,
    J_NUM_DOT,
    J_NUM_FRAC,
    J_NUM_E,
    J_NUM_ESIGN,
    J_NUM_EXP,
    J_LIT, /* aux: literal << 4 | bytes matched */
    J_DONE,
};

enum { MAX_DEPTH = 32, MAX_WS_TOKENS = 3, CACHE = 1024 };

static const char *const literals[] = {"true", "false", "null"};

void srv_jstate_init(srv_jstate *s)
{
    memset(s, 0, sizeof *s);
}
bool srv_jstate_done(const srv_jstate *s)
{
    return s->lex == J_DONE;
}

static bool in_string(const srv_jstate *s)
{
    return s->lex >= J_STR && s->lex <= J_STR_UTF;
}

static bool is_ws(uint8_t b)
{
    return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static bool push(srv_jstate *s, bool obj)
{
    if (s->depth >= MAX_DEPTH)
        return false;
    if (obj)
        s->stack |= 1ull << s->depth;
    else
        s->stack &= ~(1ull << s->depth);
    s->depth++;
    s->lex = obj ? J_OBJ_OPEN : J_ARR_OPEN;
    return true;
}

static bool top_is_obj(const srv_jstate *s)
{
    return s->depth && (s->stack >> (s->depth - 1)) & 1;
}

static void value_done(srv_jstate *s)
{
    s->lex = s->depth ? J_AFTER : J_DONE;
}

static bool close_container(srv_jstate *s, uint8_t b)
{
    if (!s->depth || (b == '}') != top_is_obj(s))
        return false;
    s->depth--;
    value_done(s);
    return true;
}

static bool value_start(srv_jstate *s, uint8_t b)
{
    switch (b) {
    case '{': return push(s, true);
    case '[': return push(s, false);
    case '"': s->lex = J_STR, s->aux = 0; return true;
    case '-': s->lex = J_NUM_MINUS; return true;
    case '0': s->lex = J_NUM_ZERO; return true;
    case 't': s->lex = J_LIT, s->aux = 0 << 4 | 1; return true;
    case 'f': s->lex = J_LIT, s->aux = 1 << 4 | 1; return true;
    case 'n': s->lex = J_LIT, s->aux = 2 << 4 | 1; return true;
    default:
        if (b >= '1' && b <= '9') {
            s->lex = J_NUM_INT;
            return true;
        }
        return false;
    }
}

static bool is_hex(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

/* One byte; false if it cannot continue a JSON object. */
static bool jstep(srv_jstate *s, uint8_t b)
{
    switch (s->lex) {
    case J_START:
        if (is_ws(b))
            return true;
        return b == '{' && push(s, true);
    case J_OBJ_OPEN:
        if (b == '}')
            return close_container(s, b);
        /* fall through */
    case J_OBJ_KEY:
        if (is_ws(b))
            return true;
        if (b != '"')
            return false;
        s->lex = J_STR, s->aux = 1;
        return true;
    case J_COLON:
        if (is_ws(b))
            return true;
        if (b != ':')
            return false;
        s->lex = J_VALUE;
        return true;
    case J_ARR_OPEN:
        if (b == ']')
            return close_container(s, b);
        /* fall through */
    case J_VALUE: return is_ws(b) || value_start(s, b);
    case J_AFTER:
        if (is_ws(b))
            return true;
        if (b == ',') {
            s->lex = top_is_obj(s) ? J_OBJ_KEY : J_VALUE;
            return true;
        }
        return (b == '}' || b == ']') && close_container(s, b);
    case J_STR:
        if (b == '"') {
            if (s->aux & 1)
                s->lex = J_COLON;
            else
                value_done(s);
            return true;
        }
        if (b == '\\') {
            s->lex = J_STR_ESC;
            return true;
        }
        if (b < 0x20)
            return false;
        if (b < 0x80)
            return true;
        if (b >= 0xC2 && b <= 0xDF)
            s->lex = J_STR_UTF, s->aux = (uint8_t)((s->aux & 1) | 1 << 1);
        else if (b >= 0xE0 && b <= 0xEF)
            s->lex = J_STR_UTF, s->aux = (uint8_t)((s->aux & 1) | 2 << 1);
        else if (b >= 0xF0 && b <= 0xF4)
            s->lex = J_STR_UTF, s->aux = (uint8_t)((s->aux & 1) | 3 << 1);
        else
            return false;
        return true;
    case J_STR_UTF:
        if (b < 0x80 || b > 0xBF)
            return false;
        s->aux = (uint8_t)(s->aux - 2);
        if (!(s->aux >> 1))
            s->lex = J_STR;
        return true;
    case J_STR_ESC:
        if (b == 'u') {
            s->lex = J_STR_U, s->aux = (uint8_t)((s->aux & 1) | 4 << 1);
            return true;
        }
        if (!strchr("\"\\/bfnrt", b) || !b)
            return false;
        s->lex = J_STR;
        return true;
    case J_STR_U:
        if (!is_hex(b))
            return false;
        s->aux = (uint8_t)(s->aux - 2);
        if (!(s->aux >> 1))
            s->lex = J_STR;
        return true;
    case J_LIT: {
        const char *lit = literals[s->aux >> 4];
        unsigned at = s->aux & 15;
        if (b != (uint8_t)lit[at])
            return false;
        s->aux++;
        if (!lit[at + 1])
            value_done(s);
        return true;
    }
    case J_NUM_MINUS:
        if (b == '0')
            s->lex = J_NUM_ZERO;
        else if (b >= '1' && b <= '9')
            s->lex = J_NUM_INT;
        else
            return false;
        return true;
    case J_NUM_INT:
        if (b >= '0' && b <= '9')
            return true;
        /* fall through */
    case J_NUM_ZERO:
        if (b == '.') {
            s->lex = J_NUM_DOT;
            return true;
        }
        /* fall through */
    case J_NUM_FRAC:
        if (s->lex == J_NUM_FRAC && b >= '0' && b <= '9')
            return true;
        if (b == 'e' || b == 'E') {
            s->lex = J_NUM_E;
            return true;
        }
        /* fall through */
    case J_NUM_EXP:
        if (s->lex == J_NUM_EXP && b >= '0' && b <= '9')
            return true;
        s->lex = J_AFTER; /* the number ended: this byte comes after it */
        return jstep(s, b);
    case J_NUM_DOT:
        if (b < '0' || b > '9')
            return false;
        s->lex = J_NUM_FRAC;
        return true;
    case J_NUM_E:
        if (b == '+' || b == '-') {
            s->lex = J_NUM_ESIGN;
            return true;
        }
        /* fall through */
    case J_NUM_ESIGN:
        if (b < '0' || b > '9')
            return false;
        s->lex = J_NUM_EXP;
        return true;
    case J_DONE:
    default: return false;
    }
}

/* ---- the vocabulary and the table of masks --------------------------------------------------- */
typedef struct entry {
    uint64_t k0, k1;
    uint64_t *bits; /* NULL: empty */
} entry;

struct srv_jmask {
    int64_t vocab;
    size_t words;
    uint8_t *bytes;    /* every token's bytes */
    uint32_t *off;     /* [vocab + 1] */
    uint8_t *kind;     /* 0 text, 1 stop, 2 other special or unknown */
    uint64_t *ws_only; /* tokens made only of whitespace */
    entry table[CACHE];
    size_t used;
};

static void key_of(const srv_jstate *s, uint64_t *k0, uint64_t *k1)
{
    uint64_t mask = s->depth >= 64 ? ~0ull : (1ull << s->depth) - 1;
    *k0 = (uint64_t)s->lex | (uint64_t)s->aux << 8 | (uint64_t)s->depth << 16 | 1ull << 63;
    *k1 = s->stack & mask;
}

herd_status srv_jmask_create(const herd_tokenizer *tok, int64_t vocab, srv_jmask **out)
{
    *out = NULL;
    srv_jmask *m = calloc(1, sizeof *m);
    if (!m)
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the JSON mask");
    m->vocab = vocab;
    m->words = (size_t)(vocab + 63) / 64;
    m->off = calloc((size_t)vocab + 1, sizeof *m->off);
    m->kind = calloc((size_t)vocab, 1);
    m->ws_only = calloc(m->words, sizeof *m->ws_only);
    size_t total = 0, len;
    for (int64_t i = 0; i < vocab; i++)
        if (herd_tokenizer_token_bytes(tok, (int32_t)i, &len) &&
            !herd_tokenizer_is_special(tok, (int32_t)i))
            total += len;
    m->bytes = malloc(total + 1);
    if (!m->off || !m->kind || !m->ws_only || !m->bytes) {
        srv_jmask_free(m);
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the JSON mask");
    }
    size_t o = 0;
    for (int64_t i = 0; i < vocab; i++) {
        m->off[i] = (uint32_t)o;
        const uint8_t *b = herd_tokenizer_token_bytes(tok, (int32_t)i, &len);
        if (!b || herd_tokenizer_is_special(tok, (int32_t)i) || !len) {
            m->kind[i] = b && herd_tokenizer_is_stop(tok, (int32_t)i) ? 1 : 2;
            continue;
        }
        memcpy(m->bytes + o, b, len);
        o += len;
        bool ws = true;
        for (size_t k = 0; k < len; k++)
            ws &= is_ws(b[k]);
        if (ws)
            m->ws_only[i / 64] |= 1ull << (i % 64);
    }
    m->off[vocab] = (uint32_t)o;
    *out = m;
    return HERD_OK;
}

void srv_jmask_free(srv_jmask *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < CACHE; i++)
        free(m->table[i].bits);
    free(m->bytes);
    free(m->off);
    free(m->kind);
    free(m->ws_only);
    free(m);
}

static bool token_ok(const srv_jmask *m, const srv_jstate *s0, int64_t id, srv_jstate *after)
{
    if (m->kind[id])
        return m->kind[id] == 1 && s0->lex == J_DONE;
    if (s0->lex == J_DONE)
        return false;
    srv_jstate s = *s0;
    for (uint32_t k = m->off[id]; k < m->off[id + 1]; k++)
        if (!jstep(&s, m->bytes[k]))
            return false;
    if (after)
        *after = s;
    return true;
}

static const uint64_t *mask_for(srv_jmask *m, const srv_jstate *s)
{
    uint64_t k0, k1;
    key_of(s, &k0, &k1);
    size_t h = (size_t)((k0 * 0x9E3779B97F4A7C15u ^ k1 * 0xC2B2AE3D27D4EB4Fu) >> 40) % CACHE;
    for (size_t probe = 0; probe < CACHE; probe++) {
        entry *e = &m->table[(h + probe) % CACHE];
        if (e->bits && e->k0 == k0 && e->k1 == k1)
            return e->bits;
        if (!e->bits)
            break;
    }
    if (m->used >= CACHE * 3 / 4) { /* full: start over (states of a long run rarely return) */
        for (size_t i = 0; i < CACHE; i++) {
            free(m->table[i].bits);
            m->table[i].bits = NULL;
        }
        m->used = 0;
    }
    uint64_t *bits = calloc(m->words, sizeof *bits);
    if (!bits)
        return NULL;
    for (int64_t id = 0; id < m->vocab; id++)
        if (token_ok(m, s, id, NULL))
            bits[id / 64] |= 1ull << (id % 64);
    for (size_t probe = 0;; probe++) {
        entry *e = &m->table[(h + probe) % CACHE];
        if (!e->bits) {
            *e = (entry){k0, k1, bits};
            m->used++;
            return bits;
        }
    }
}

/* The shortest bytes that end the object from state s (out holds at least 8 + MAX_DEPTH). */
static size_t closing(const srv_jstate *s, char *out)
{
    size_t n = 0;
    bool key = s->aux & 1;
    switch (s->lex) {
    case J_START: out[n++] = '{'; break;
    case J_OBJ_KEY: out[n++] = '"', key = true; /* fall through */
    case J_STR: out[n++] = '"'; break;
    case J_STR_ESC: out[n++] = 'n', out[n++] = '"'; break;
    case J_STR_U:
        for (int k = s->aux >> 1; k > 0; k--)
            out[n++] = '0';
        out[n++] = '"';
        break;
    case J_STR_UTF:
        for (int k = s->aux >> 1; k > 0; k--)
            out[n++] = (char)0xA0;
        out[n++] = '"';
        break;
    case J_COLON: key = true; break;
    case J_VALUE:
    case J_NUM_MINUS:
    case J_NUM_DOT:
    case J_NUM_E:
    case J_NUM_ESIGN: out[n++] = '0'; break;
    case J_LIT:
        for (const char *l = literals[s->aux >> 4] + (s->aux & 15); *l; l++)
            out[n++] = *l;
        break;
    case J_ARR_OPEN: out[n++] = ']'; break;
    case J_OBJ_OPEN: out[n++] = '}'; break;
    default: break;
    }
    bool in_key =
        (s->lex >= J_STR && s->lex <= J_STR_UTF && key) || s->lex == J_OBJ_KEY || s->lex == J_COLON;
    if (in_key)
        out[n++] = ':', out[n++] = '0';
    int depth = s->depth;
    if (s->lex == J_START)
        depth = 1;
    else if (s->lex == J_OBJ_OPEN || s->lex == J_ARR_OPEN)
        depth--;
    for (int d = depth - 1; d >= 0; d--)
        out[n++] = s->lex == J_START || (s->stack >> d) & 1 ? '}' : ']';
    return n;
}

/* Near the end of the token budget only tokens that are a prefix of the closing bytes may come,
 * so the object is complete when the budget runs out. */
static bool apply_closing(const srv_jmask *m, const srv_jstate *s, const char *close, size_t n,
                          float *logits)
{
    bool any = false;
    for (int64_t id = 0; id < m->vocab; id++) {
        uint32_t a = m->off[id], len = m->off[id + 1] - a;
        bool ok = m->kind[id] ? m->kind[id] == 1 && s->lex == J_DONE
                              : len && len <= n && memcmp(m->bytes + a, close, len) == 0;
        if (ok)
            any = true;
        else
            logits[id] = -INFINITY;
    }
    return any;
}

bool srv_jmask_apply(srv_jmask *m, const srv_jstate *s, int64_t budget, float *logits)
{
    char close[16 + MAX_DEPTH];
    size_t n = closing(s, close);
    if (s->lex != J_DONE && budget <= (int64_t)n)
        return apply_closing(m, s, close, n, logits);
    const uint64_t *bits = mask_for(m, s);
    if (!bits)
        return false;
    bool cut_ws = s->ws_tokens >= MAX_WS_TOKENS && !in_string(s);
    bool any = false;
    for (size_t w = 0; w < m->words; w++) {
        uint64_t b = bits[w] & (cut_ws ? ~m->ws_only[w] : ~0ull);
        if (w == m->words - 1 && m->vocab % 64)
            b |= ~0ull << (m->vocab % 64); /* past the vocabulary: nothing to clear */
        any |= (bits[w] & (cut_ws ? ~m->ws_only[w] : ~0ull)) != 0;
        if (b == ~0ull)
            continue;
        for (uint64_t z = ~b; z; z &= z - 1)
            logits[w * 64 + (size_t)__builtin_ctzll(z)] = -INFINITY;
    }
    return any;
}

bool srv_jmask_advance(const srv_jmask *m, srv_jstate *s, int32_t id)
{
    if (id < 0 || id >= m->vocab)
        return false;
    srv_jstate after;
    bool was_string = in_string(s);
    if (!token_ok(m, s, id, &after))
        return false;
    bool ws = (m->ws_only[id / 64] >> (id % 64)) & 1;
    uint8_t count = ws && !was_string ? (uint8_t)(s->ws_tokens + 1) : 0;
    if (m->kind[id] == 0)
        *s = after;
    s->ws_tokens = count;
    return true;
}
