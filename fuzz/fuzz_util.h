/* Shared by the fuzz harnesses: herd's parsers take paths, so each input is handed over as an
 * in-memory file (a memfd, opened again through /proc/self/fd) without touching the disk.
 * The same harness sources build against libFuzzer (HERD_FUZZ=ON, clang) and against
 * replay_main.c, which runs them over saved inputs in ctest with any compiler. */
#ifndef HERD_FUZZ_UTIL_H
#define HERD_FUZZ_UTIL_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Stops the run with a message: a harness found a broken invariant (not a parse error). */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The path of an in-memory file holding data[0..size); slot 0..3 selects one of several files
 * (valid until the next call with the same slot). */
static inline const char *fuzz_mem_file(int slot, const uint8_t *data, size_t size)
{
    static int fds[4] = {-1, -1, -1, -1};
    static char paths[4][48];
    if (fds[slot] < 0) {
        fds[slot] = memfd_create("herd-fuzz", 0);
        if (fds[slot] < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
    }
    if (ftruncate(fds[slot], 0) != 0 ||
        (size && pwrite(fds[slot], data, size, 0) != (ssize_t)size)) {
        perror("memfd write");
        abort();
    }
    return paths[slot];
}

/* The error message of a failed call must be one non-empty line. */
static inline void fuzz_check_message(const char *msg)
{
    FUZZ_ASSERT(msg && *msg);
    FUZZ_ASSERT(strchr(msg, '\n') == NULL);
}

/* The directory of herd's test data (seed files, tokenizers): the source tree's tests/data. */
#ifndef HERD_TEST_DATA
#define HERD_TEST_DATA "tests/data"
#endif

#endif
