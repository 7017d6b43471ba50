/* A tiny test harness: TEST(name) functions registered with RUN(name) in main, CHECK macros
 * that record a failure with file:line and keep going, and a closing "N passed, N failed" line.
 * Data files are read relative to tests/data (ctest's working directory). */
#ifndef HERD_TEST_HARNESS_H
#define HERD_TEST_HARNESS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_passed, harness_failed, harness_current_failed;
static const char *harness_current;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, harness_current,  \
                    #cond);                                                                        \
            harness_current_failed++;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, harness_current);                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            harness_current_failed++;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    CHECK_MSG((long long)(a) == (long long)(b), "%s == %s: %lld != %lld", #a, #b, (long long)(a),  \
              (long long)(b))

#define CHECK_NEAR(a, b, tol)                                                                      \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b,  \
              (double)(a), (double)(b), (double)(tol))

#define RUN(name)                                                                                  \
    do {                                                                                           \
        harness_current = #name;                                                                   \
        harness_current_failed = 0;                                                                \
        name();                                                                                    \
        if (harness_current_failed) {                                                              \
            harness_failed++;                                                                      \
            fprintf(stderr, "FAIL %s\n", #name);                                                   \
        } else {                                                                                   \
            harness_passed++;                                                                      \
        }                                                                                          \
    } while (0)

static inline int harness_finish(void)
{
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed ? 1 : 0;
}

/* Reads a whole file into a malloc'd buffer; aborts the test program if it cannot. */
static inline void *harness_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open test data %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read test data %s\n", path);
        exit(2);
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Deterministic xorshift random numbers for test shapes and data. */
static inline uint64_t harness_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static inline float harness_randf(uint64_t *s) /* uniform in [-1, 1) */
{
    return (float)((double)(harness_rand(s) >> 11) * 0x1p-52 - 1.0);
}

#endif
