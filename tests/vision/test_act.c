/* The vision encoder's element-wise steps: the AVX-512 GELU and softmax against their plain C
 * twins on every length up to 100 (all tails) and on wide ranges of inputs. */
#include "harness.h"
#include "vision/vision_internal.h"

TEST(gelu_matches_twin)
{
    if (herd_cpu_isa() < HERD_ISA_AVX512)
        return;
    float a[100], b[100];
    uint32_t r = 1;
    double worst = 0;
    for (int n = 1; n <= 100; n++)
        for (int rep = 0; rep < 20; rep++) {
            for (int i = 0; i < n; i++) {
                r = r * 1664525u + 1013904223u;
                a[i] = b[i] = ((float)(r >> 8) / (float)(1u << 24) - 0.5f) * (rep < 10 ? 8 : 40);
            }
            vision_gelu_ref(a, (size_t)n);
            vision_gelu_avx512(b, (size_t)n);
            for (int i = 0; i < n; i++) {
                double d = fabs((double)a[i] - b[i]) / (1 + fabs(a[i]));
                worst = d > worst ? d : worst;
            }
        }
    CHECK_MSG(worst < 4e-7, "gelu: worst %.3g", worst);
}

TEST(softmax_matches_twin)
{
    if (herd_cpu_isa() < HERD_ISA_AVX512)
        return;
    float a[100], b[100];
    uint32_t r = 9;
    double worst = 0;
    for (int n = 1; n <= 100; n++)
        for (int rep = 0; rep < 10; rep++) {
            for (int i = 0; i < n; i++) {
                r = r * 1664525u + 1013904223u;
                a[i] = b[i] = ((float)(r >> 8) / (float)(1u << 24) - 0.5f) * 60;
            }
            vision_softmax_ref(a, n, 0.25f);
            vision_softmax_avx512(b, n, 0.25f);
            double sum = 0;
            for (int i = 0; i < n; i++) {
                double d = fabs((double)a[i] - b[i]) / (1e-30 + fabs(a[i]));
                worst = a[i] > 1e-30f && d > worst ? d : worst;
                sum += b[i];
            }
            CHECK_NEAR(sum, 1.0, 1e-5);
        }
    CHECK_MSG(worst < 2e-6, "softmax: worst relative %.3g", worst);
}

int main(void)
{
    RUN(gelu_matches_twin);
    RUN(softmax_matches_twin);
    return harness_finish();
}
