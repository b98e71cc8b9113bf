/*
** t_reqid.c -- UUIDv4 shape, version and variant bits, uniqueness,
** seeding, and the unbiased bounded draw.
*/
#include <stdlib.h>

#include "reqid.h"
#include "t.h"

static int cmp(const void *a, const void *b) { return strcmp(a, b); }

int main(void)
{
    rt_rng r;
    ok(rt_rng_seed(&r) == 0, "seeded from getrandom");
    char u[RT_UUID_LEN + 1];
    rt_uuid4(&r, u);
    int shape = strlen(u) == 36 && u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-' && u[14] == '4' &&
                strchr("89ab", u[19]) != NULL;
    for (int i = 0; i < 36; i++)
        if (i != 8 && i != 13 && i != 18 && i != 23 && !strchr("0123456789abcdef", u[i])) shape = 0;
    ok(shape, "UUIDv4 shape, version 4, variant 10: %s", u);

    enum { N = 100000 };
    static char ids[N][RT_UUID_LEN + 1];
    int versions = 1;
    for (int i = 0; i < N; i++) {
        rt_uuid4(&r, ids[i]);
        if (ids[i][14] != '4' || !strchr("89ab", ids[i][19])) versions = 0;
    }
    qsort(ids, N, sizeof ids[0], cmp);
    int dups = 0;
    for (int i = 1; i < N; i++) dups += !strcmp(ids[i - 1], ids[i]);
    ok(versions && dups == 0, "100000 ids: all v4, no duplicates");

    rt_rng a, b, c;
    rt_rng_seed_with(&a, 42);
    rt_rng_seed_with(&b, 42);
    rt_rng_seed_with(&c, 43);
    uint64_t x = rt_rng_next(&a), y = rt_rng_next(&b), z = rt_rng_next(&c);
    ok(x == y && x != z, "deterministic seeding");
    rt_rng s1, s2;
    rt_rng_seed(&s1);
    rt_rng_seed(&s2);
    ok(rt_rng_next(&s1) != rt_rng_next(&s2), "two loops get different streams");

    /* bounded draws: in range and roughly uniform */
    int hist[3] = { 0 }, inrange = 1;
    for (int i = 0; i < 30000; i++) {
        uint64_t v = rt_rng_below(&a, 3);
        if (v >= 3) { inrange = 0; break; }
        hist[v]++;
    }
    ok(inrange && hist[0] > 9000 && hist[1] > 9000 && hist[2] > 9000, "below(3): %d %d %d", hist[0], hist[1], hist[2]);
    ok(rt_rng_below(&a, 1) == 0, "below(1) is 0");
    return t_done();
}
