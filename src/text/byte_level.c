/* GPT-2's byte-level alphabet (tokenizer.json and GGUF vocabularies spell token bytes with it):
 * bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF stand for themselves; the other 68 bytes, in
 * increasing order, are U+0100..U+0143. Also the merge-list entry shared by both loaders. */
#include "text/tokenizer_internal.h"

long tok_byte_level_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = tok_utf8_decode(p + i, n - i, &cp);
        if (!l || o == cap)
            return -1;
        if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
            out[o++] = (uint8_t)cp;
        else if (cp >= 0x100 && cp < 0x100 + 33)
            out[o++] = (uint8_t)(cp - 0x100); /* 0x00..0x20 */
        else if (cp >= 0x100 + 33 && cp < 0x100 + 67)
            out[o++] = (uint8_t)(0x7F + cp - (0x100 + 33)); /* 0x7F..0xA0 */
        else if (cp == 0x100 + 67)
            out[o++] = 0xAD;
        else
            return -1;
        i += l;
    }
    return (long)o;
}

size_t tok_byte_level_encode(const uint8_t *b, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = b[i];
        uint32_t cp = (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE ? c
                      : c <= 0x20                                                       ? 0x100 + c
                      : c <= 0xA0 ? 0x100 + 33 + (c - 0x7F)
                                  : 0x100 + 67;
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else {
            out[o++] = (char)(0xC0 | cp >> 6);
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return o;
}

herd_status tok_add_merge(herd_tokenizer *t, const char *path, size_t index, const char *a,
                          size_t an, const char *b, size_t bn)
{
    uint8_t buf[2048];
    long la = tok_byte_level_decode(a, an, buf, sizeof buf / 2);
    long lb = tok_byte_level_decode(b, bn, buf + sizeof buf / 2, sizeof buf / 2);
    int32_t left = la > 0 ? tok_map_find(t, &t->ordinary, buf, (size_t)la) : -1;
    int32_t right = lb > 0 ? tok_map_find(t, &t->ordinary, buf + sizeof buf / 2, (size_t)lb) : -1;
    if (left < 0 || right < 0)
        return herd_fail(HERD_ERR_FORMAT, "%s: merge %zu uses a token not in the vocab", path,
                         index);
    memmove(buf + la, buf + sizeof buf / 2, (size_t)lb);
    int32_t merged = tok_map_find(t, &t->ordinary, buf, (size_t)(la + lb));
    if (merged < 0)
        return herd_fail(HERD_ERR_FORMAT, "%s: merge %zu makes a token that is not in the vocab",
                         path, index);
    return tok_pair_add(t, left, right, (uint32_t)index, merged);
}
