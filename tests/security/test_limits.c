/* Issue #20 items 6 and 9 at the library level: merge lists are bounded and may not repeat a
 * merge; a thread that cannot start is reported with its errno; a config whose top-k exceeds its
 * experts is refused at load naming the file; an over-long input line is an error, not a huge
 * allocation; herd_open_input refuses a FIFO without blocking. */
#include "harness.h"
#include "herd/base.h"
#include "herd/model.h"
#include "text/tokenizer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(merge_lists_are_bounded)
{
    herd_tokenizer *t = NULL;
    CHECK(tok_create("merges.json", &t) == HERD_OK);
    if (!t)
        return;
    CHECK(tok_pairs_build(t, (size_t)TOK_MAX_MERGES + 1) == HERD_ERR_RANGE);
    CHECK(strstr(herd_last_error(), "merges.json") && strstr(herd_last_error(), "allowed"));
    CHECK(tok_pairs_build(t, 4) == HERD_OK);
    CHECK(tok_pair_add(t, 1, 2, 0, 7) == HERD_OK);
    CHECK(tok_pair_add(t, 2, 1, 1, 8) == HERD_OK);
    CHECK(tok_pair_add(t, 1, 2, 2, 7) == HERD_ERR_FORMAT); /* the same pair again */
    CHECK(strstr(herd_last_error(), "merge 2 repeats merge 0") != NULL);
    herd_tokenizer_free(t);
}

TEST(thread_start_failure_names_errno)
{
#if defined(__SANITIZE_ADDRESS__)
    fprintf(stderr,
            "  (skipped under AddressSanitizer: it cannot run with an address-space limit)\n");
#else
    pid_t pid = fork();
    if (pid == 0) {
        /* 64 MB more address space than now: 8 MB thread stacks run out after a few threads */
        struct rlimit r = {(rlim_t)256 << 20, (rlim_t)256 << 20};
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (f && fscanf(f, "%lu", &pages) == 1)
            r.rlim_cur = r.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (64 << 20);
        if (f)
            fclose(f);
        setrlimit(RLIMIT_AS, &r);
        herd_pool *p = NULL;
        herd_status st = herd_pool_create(1000, &p);
        if (st == HERD_OK)
            _exit(3);
        const char *m = herd_last_error();
        _exit(strstr(m, "cannot start thread") &&
                      (strstr(m, strerror(EAGAIN)) || strstr(m, strerror(ENOMEM)))
                  ? 0
                  : 4);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
#endif
}

TEST(top_k_above_experts_is_refused)
{
    static const char cfg[] =
        "{\"architectures\": [\"Llama4ForCausalLM\"], \"num_hidden_layers\": 2,"
        " \"hidden_size\": 64, \"num_attention_heads\": 4, \"head_dim\": 16,"
        " \"num_key_value_heads\": 2, \"interleave_moe_layer_step\": 1,"
        " \"num_experts_per_tok\": 9, \"num_local_experts\": 4, \"intermediate_size\": 32,"
        " \"intermediate_size_mlp\": 64, \"vocab_size\": 100}";
    herd_llama4_config c;
    CHECK(herd_llama4_config_parse(cfg, sizeof cfg - 1, "some/config.json", &c) == HERD_ERR_FORMAT);
    CHECK(strstr(herd_last_error(), "some/config.json") &&
          strstr(herd_last_error(), "num_experts_per_tok 9"));
}

TEST(long_lines_are_refused)
{
    FILE *f = tmpfile();
    if (!f)
        return;
    for (int i = 0; i < 5000; i++)
        fputc('x', f);
    fputs("\nshort\n", f);
    rewind(f);
    char *line = NULL;
    size_t cap = 0, len = 0;
    CHECK(herd_read_line(f, 4096, &line, &cap, &len) == HERD_ERR_RANGE);
    CHECK(cap <= 4096 + 2);
    free(line);
    fclose(f);
    f = tmpfile();
    fputs("a\r\n\nlast", f);
    rewind(f);
    line = NULL;
    cap = 0;
    CHECK(herd_read_line(f, 16, &line, &cap, &len) == HERD_OK && len == 2 && !strcmp(line, "a\r"));
    CHECK(herd_read_line(f, 16, &line, &cap, &len) == HERD_OK && len == 0 && line && !*line);
    CHECK(herd_read_line(f, 16, &line, &cap, &len) == HERD_OK && len == 4 && !strcmp(line, "last"));
    CHECK(herd_read_line(f, 16, &line, &cap, &len) == HERD_OK && line == NULL);
    fclose(f);
}

TEST(fifos_are_refused_without_blocking)
{
    char path[256];
    const char *d = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/herd_fifo_%d", d && *d ? d : "/tmp", (int)getpid());
    CHECK(mkfifo(path, 0600) == 0);
    alarm(20); /* a blocking open would hang here: die instead */
    int fd;
    size_t n;
    CHECK(herd_open_input(path, &fd, &n) == HERD_ERR_IO);
    CHECK(strstr(herd_last_error(), "FIFO") != NULL);
    herd_mapped_file m;
    CHECK(herd_map_file(path, &m) == HERD_ERR_IO);
    char *text;
    CHECK(herd_read_file(path, 100, &text, &n) == HERD_ERR_IO);
    alarm(0);
    unlink(path);
}

int main(void)
{
    RUN(merge_lists_are_bounded);
    RUN(thread_start_failure_names_errno);
    RUN(top_k_above_experts_is_refused);
    RUN(long_lines_are_refused);
    RUN(fifos_are_refused_without_blocking);
    return harness_finish();
}
