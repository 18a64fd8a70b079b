/* Times policy_act() inside C: a warm-up, then N calls each timed with clock_gettime
 * (CLOCK_MONOTONIC), then N calls timed as one loop. Prints one JSON line:
 * {"calls": N, "p50_us": ..., "p99_us": ..., "mean_us": ..., "loop_mean_us": ...}
 * Usage: c_policy_timing [N]   (default 100000). Built by bench/inference.py with policy.c. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "policy.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int compare(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const long n = argc > 1 ? atol(argv[1]) : 100000L;
    double *times = malloc((size_t)n * sizeof *times);
    float obs[POLICY_OBS_DIM], act[POLICY_ACT_DIM];
    double sum = 0.0, start, checksum = 0.0;
    long r;
    int i;
    if (times == NULL || n < 100) {
        fprintf(stderr, "need at least 100 calls and memory for their times\n");
        return 1;
    }
    for (i = 0; i < POLICY_OBS_DIM; ++i) obs[i] = 0.1f * (float)(i % 7) - 0.3f;
    for (r = 0; r < 2000; ++r) policy_act(obs, act);
    for (r = 0; r < n; ++r) {
        const double t0 = now_ns();
        obs[r % POLICY_OBS_DIM] += 1e-3f;  /* a fresh observation each call */
        policy_act(obs, act);
        times[r] = now_ns() - t0;
        sum += times[r];
        checksum += act[0];
    }
    start = now_ns();
    for (r = 0; r < n; ++r) {
        obs[r % POLICY_OBS_DIM] -= 1e-3f;
        policy_act(obs, act);
        checksum += act[0];
    }
    {
        const double loop_ns = (now_ns() - start) / (double)n;
        qsort(times, (size_t)n, sizeof *times, compare);
        printf("{\"calls\": %ld, \"p50_us\": %.4f, \"p99_us\": %.4f, \"mean_us\": %.4f, \"loop_mean_us\": %.4f, "
               "\"checksum\": %.6g}\n", n, times[n / 2] / 1e3, times[(long)(0.99 * (double)n)] / 1e3,
               sum / (double)n / 1e3, loop_ns / 1e3, checksum);
    }
    free(times);
    return 0;
}
