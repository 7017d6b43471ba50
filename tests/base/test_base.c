/* base layer: errors, sizes, ISA selection, the thread pool and range splitting. */
#include "harness.h"
#include "herd/base.h"
#include "herd/formats.h"

#include <stdatomic.h>

TEST(test_errors)
{
    herd_status st = herd_fail(HERD_ERR_FORMAT, "%s: bad\nmagic", "x.gguf");
    CHECK(st == HERD_ERR_FORMAT);
    CHECK(strcmp(herd_last_error(), "x.gguf: bad magic") == 0);
}

TEST(test_mul_size)
{
    size_t r = 0;
    CHECK(herd_mul_size(3, 5, &r) && r == 15);
    CHECK(!herd_mul_size(SIZE_MAX / 2, 3, &r));
}

TEST(test_isa)
{
    herd_isa_level cpu = herd_cpu_isa();
    CHECK(herd_set_isa(HERD_ISA_REF) == HERD_ISA_REF);
    CHECK(herd_isa() == HERD_ISA_REF);
    CHECK(herd_set_isa(HERD_ISA_AVX512BF16) == cpu);
    herd_isa_level l;
    CHECK(herd_isa_parse("avx512vnni", &l) && l == HERD_ISA_AVX512VNNI);
    CHECK(!herd_isa_parse("sse9", &l));
}

static void count_fn(void *ctx, int tid, int nthreads)
{
    _Atomic int *hits = ctx;
    atomic_fetch_add(&hits[tid], 1);
    (void)nthreads;
}

TEST(test_pool)
{
    for (int n = 1; n <= 4; n++) {
        herd_pool *pool;
        CHECK(herd_pool_create(n, &pool) == HERD_OK);
        _Atomic int hits[4] = {0};
        for (int r = 0; r < 200; r++)
            herd_pool_run(pool, count_fn, hits);
        for (int t = 0; t < n; t++)
            CHECK_EQ_INT(hits[t], 200);
        herd_pool_destroy(pool);
    }
    herd_pool *bad;
    CHECK(herd_pool_create(0, &bad) == HERD_ERR_ARG);
}

TEST(test_split)
{
    for (int nt = 1; nt <= 5; nt++) {
        size_t covered = 0, prev_end = 0;
        for (int t = 0; t < nt; t++) {
            size_t b, e;
            herd_split_range(1000, 16, t, nt, &b, &e);
            CHECK(b == prev_end);
            CHECK(b % 16 == 0 || b == 1000);
            covered += e - b;
            prev_end = e;
        }
        CHECK_EQ_INT(covered, 1000);
    }
}

TEST(test_half)
{
    CHECK(herd_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(herd_f32_to_bf16(1.00390625f) == 0x3f80); /* halfway, rounds to even */
    CHECK(herd_f32_to_bf16(1.01171875f) == 0x3f82); /* halfway, rounds to even (up) */
    CHECK(herd_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(herd_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(herd_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(herd_f32_to_f16(0x1p-25f) == 0); /* halfway to the smallest subnormal: even */
    CHECK(herd_f32_to_f16(0x1.8p-25f) == 0x0001);
    CHECK(isnan(herd_f16_to_f32(herd_f32_to_f16(NAN))));
    CHECK(isnan(herd_bf16_to_f32(herd_f32_to_bf16(NAN))));
}

int main(void)
{
    RUN(test_errors);
    RUN(test_mul_size);
    RUN(test_isa);
    RUN(test_pool);
    RUN(test_split);
    RUN(test_half);
    return harness_finish();
}
