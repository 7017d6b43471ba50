/* The Llama 4 chat template, built as ids (see herd/text.h and docs/TOKENIZER.md). */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

static herd_status special(const herd_tokenizer *tok, const char *name, herd_tokens *out)
{
    int32_t id = herd_tokenizer_special_id(tok, name);
    if (id < 0)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: the vocabulary has no %s (not a Llama 4 "
                         "tokenizer?)",
                         tok->source, name);
    return herd_tokens_push(out, id);
}

/* Unicode White_Space, as Python's str.strip() (Jinja's trim) sees it, plus FS/GS/RS/US. */
static bool is_space_at(const char *s, size_t n, size_t *len)
{
    uint32_t cp;
    *len = tok_utf8_decode((const uint8_t *)s, n, &cp);
    if (!*len)
        return false;
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static void trim(const char **s, size_t *n)
{
    size_t l, last = 0;
    while (*n && is_space_at(*s, *n, &l))
        *s += l, *n -= l;
    for (size_t i = 0; i < *n;) {
        bool space = is_space_at(*s + i, *n - i, &l);
        i += l ? l : 1; /* an invalid byte counts as content */
        if (!space)
            last = i;
    }
    *n = last;
}

/* <|header_start|>role<|header_end|>\n\n[<|image|> × n_images]content<|eot|>: images before the
 * text, as HF's template renders a content list of image items then a text item. */
static herd_status add_block(const herd_tokenizer *tok, const char *role, const char *content,
                             size_t n, int n_images, herd_tokens *out)
{
    herd_status st = special(tok, "<|header_start|>", out);
    if (!st)
        st = herd_tokenizer_encode(tok, role, strlen(role), 0, out);
    if (!st)
        st = special(tok, "<|header_end|>", out);
    if (st)
        return st;
    if (n_images > 0) { /* "\n\n" and the text are segments of their own around the images */
        st = herd_tokenizer_encode(tok, "\n\n", 2, 0, out);
        for (int i = 0; i < n_images && !st; i++)
            st = special(tok, "<|image|>", out);
        if (!st && n)
            st = herd_tokenizer_encode(tok, content, n, 0, out);
        return st ? st : special(tok, "<|eot|>", out);
    }
    /* "\n\n" and the content are one text segment, as when the rendered template is tokenized. */
    char *text = malloc(n + 2);
    if (!text)
        return herd_fail(HERD_ERR_NOMEM, "out of memory for a chat message");
    memcpy(text, "\n\n", 2);
    memcpy(text + 2, content, n);
    st = herd_tokenizer_encode(tok, text, n + 2, 0, out);
    free(text);
    return st ? st : special(tok, "<|eot|>", out);
}

herd_status herd_chat_add_message(const herd_tokenizer *tok, const char *role, const char *content,
                                  herd_tokens *out)
{
    return add_block(tok, role, content, strlen(content), 0, out);
}

herd_status herd_chat_add_message_images(const herd_tokenizer *tok, const char *role, int n_images,
                                         const char *content, herd_tokens *out)
{
    return add_block(tok, role, content, strlen(content), n_images, out);
}

herd_status herd_chat_begin(const herd_tokenizer *tok, const char *system, herd_tokens *out)
{
    herd_status st = special(tok, "<|begin_of_text|>", out);
    if (st || !system)
        return st;
    size_t n = strlen(system);
    trim(&system, &n);
    return add_block(tok, "system", system, n, 0, out);
}

herd_status herd_chat_add_generation_prompt(const herd_tokenizer *tok, herd_tokens *out)
{
    herd_status st = special(tok, "<|header_start|>", out);
    if (!st)
        st = herd_tokenizer_encode(tok, "assistant", 9, 0, out);
    if (!st)
        st = special(tok, "<|header_end|>", out);
    if (!st)
        st = herd_tokenizer_encode(tok, "\n\n", 2, 0, out);
    return st;
}

herd_status herd_chat_render(const herd_tokenizer *tok, const herd_chat_message *msgs, size_t n,
                             bool add_generation_prompt, herd_tokens *out)
{
    bool has_system = n > 0 && strcmp(msgs[0].role, "system") == 0;
    herd_status st = herd_chat_begin(tok, has_system ? msgs[0].content : NULL, out);
    for (size_t i = has_system ? 1 : 0; i < n && !st; i++)
        st = herd_chat_add_message(tok, msgs[i].role, msgs[i].content, out);
    if (!st && add_generation_prompt)
        st = herd_chat_add_generation_prompt(tok, out);
    return st;
}
