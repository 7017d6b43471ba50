/* The machine-limits cache keeps when each entry was measured, says so, and calls figures stale
 * when a run streamed clearly faster than they allow (issue 16, item 7). */
#include "harness.h"
#include "herd/profile.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

TEST(test_limits_measured_at_roundtrip)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/herd_limits_test_%ld.json", (long)getpid());
    herd_limits a = {
        .cpus = 2, .threads = 1, .bw_gbs = 19.6, .fp32_gflops = 100, .measured_at = 1000000000};
    snprintf(a.cpu, sizeof a.cpu, "Test CPU");
    CHECK(herd_limits_store(path, &a) == HERD_OK);
    herd_limits b = {.cpus = 2, .threads = 1};
    snprintf(b.cpu, sizeof b.cpu, "Test CPU");
    CHECK(herd_limits_load(path, &b));
    CHECK(b.from_cache && b.measured_at == 1000000000 && b.bw_gbs == 19.6);
    char when[96];
    herd_limits_when(&b, when, sizeof when);
    CHECK(strstr(when, "cached, measured 2001-09-09 01:46 UTC") != NULL);
    b.measured_at = 0; /* an entry from before the field: said, not invented */
    herd_limits_when(&b, when, sizeof when);
    CHECK(strstr(when, "unknown time") != NULL);
    b.from_cache = false;
    herd_limits_when(&b, when, sizeof when);
    CHECK(strcmp(when, "measured now") == 0);
    unlink(path);
}

TEST(test_limits_stale)
{
    herd_limits l = {.bw_gbs = 19.6};
    double big = 2e9, small = 8e6;
    CHECK(herd_limits_stale(&l, 29.7, big));    /* the bench model run */
    CHECK(!herd_limits_stale(&l, 21.0, big));   /* within the noise */
    CHECK(!herd_limits_stale(&l, 90.0, small)); /* cache-resident: not a bandwidth test */
    l.bw_gbs = 0;
    CHECK(!herd_limits_stale(&l, 29.7, big));
}

int main(void)
{
    RUN(test_limits_measured_at_roundtrip);
    RUN(test_limits_stale);
    return harness_finish();
}
