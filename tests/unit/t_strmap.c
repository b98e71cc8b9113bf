/*
** t_strmap.c -- the string map every index uses (strmap.h): keys found
** after the table grew many times, absent keys (also ones that share a
** prefix or a length), keys with NUL bytes and binary keys (pointers,
** ports), the empty key, rekeying, and iteration over every entry once.
*/
#include "arena.h"
#include "strmap.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

#define N 100000

int main(void)
{
    mc_arena a;
    mc_arena_init(&a);
    mc_strmap m;
    mc_strmap_init(&m);
    ok(mc_strmap_get(&m, "x", 1) == NULL, "an empty map has nothing");

    char **keys = mc_xmalloc(N * sizeof *keys);
    bool fresh = true;
    for (uintptr_t i = 0; i < N; i++) {
        keys[i] = mc_arena_printf(&a, "svc%05lu.example.com", (unsigned long)i);
        bool found;
        void **slot = mc_strmap_put(&m, keys[i], strlen(keys[i]), &found);
        fresh = fresh && !found && *slot == NULL;
        *slot = (void *)(i + 1);
    }
    ok(fresh, "%d distinct keys are each new when put", N);
    is_int((long long)m.n, N, "the count");
    ok(m.cap >= m.n + m.n / 2, "at most two thirds full (cap %zu for %zu)", m.cap, m.n);
    bool all = true;
    for (uintptr_t i = 0; i < N; i++) all = all && mc_strmap_get(&m, keys[i], strlen(keys[i])) == (void *)(i + 1);
    ok(all, "every key finds its value after the table grew");
    bool again = true;
    for (uintptr_t i = 0; i < N; i += 7) {
        bool found;
        void **slot = mc_strmap_put(&m, keys[i], strlen(keys[i]), &found);
        again = again && found && *slot == (void *)(i + 1);
    }
    ok(again && m.n == N, "putting a key again finds the slot it has");

    /* absent: a prefix, a longer key, same length other bytes */
    ok(mc_strmap_get(&m, "svc00001.example.co", 19) == NULL, "a prefix of a key is absent");
    ok(mc_strmap_get(&m, "svc00001.example.comx", 21) == NULL, "a key with one more byte is absent");
    ok(mc_strmap_get(&m, "svc99999.example.org", 20) == NULL, "a key of the same length is absent");
    ok(mc_strmap_get(&m, keys[5], 3) == NULL, "a key's first bytes alone are absent");

    /* binary keys: lengths count, NUL bytes are part of the key */
    mc_strmap b;
    mc_strmap_init(&b);
    const char k1[] = { 'a', 0, 'b' }, k2[] = { 'a', 0, 'c' };
    *mc_strmap_put(&b, k1, 3, NULL) = (void *)1;
    *mc_strmap_put(&b, k2, 3, NULL) = (void *)2;
    *mc_strmap_put(&b, "a", 1, NULL) = (void *)3;
    *mc_strmap_put(&b, "", 0, NULL) = (void *)4;
    ok(mc_strmap_get(&b, k1, 3) == (void *)1 && mc_strmap_get(&b, k2, 3) == (void *)2, "keys with NUL bytes differ after it");
    ok(mc_strmap_get(&b, "a", 1) == (void *)3 && mc_strmap_get(&b, "", 0) == (void *)4, "a one-byte and the empty key");
    uint32_t ports[1000];
    for (uint32_t i = 0; i < 1000; i++) {
        ports[i] = i * 65;
        *mc_strmap_put(&b, (const char *)&ports[i], sizeof ports[i], NULL) = (void *)(uintptr_t)(i + 10);
    }
    bool pok = true;
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t p = i * 65;
        pok = pok && mc_strmap_get(&b, (const char *)&p, sizeof p) == (void *)(uintptr_t)(i + 10);
    }
    ok(pok, "binary keys (ports) are found by value");

    /* rekey: the slot keeps its value under an equal, longer-lived key */
    char tmp[32];
    strcpy(tmp, "transient");
    bool found;
    void **slot = mc_strmap_put(&b, tmp, strlen(tmp), &found);
    *slot = (void *)99;
    mc_strmap_rekey(&b, slot, mc_arena_strdup(&a, tmp));
    strcpy(tmp, "overwrite");
    ok(mc_strmap_get(&b, "transient", 9) == (void *)99, "a rekeyed slot no longer depends on the first key");

    size_t seen = 0;
    uintptr_t sum = 0;
    MC_STRMAP_EACH(&m, s) {
        seen++;
        sum += (uintptr_t)s->val;
    }
    ok(seen == N && sum == (uintptr_t)N * (N + 1) / 2, "iteration visits every entry once");

    mc_strmap_free(&b);
    mc_strmap_free(&m);
    ok(m.n == 0 && mc_strmap_get(&m, keys[0], strlen(keys[0])) == NULL, "a freed map is empty");
    free(keys);
    mc_arena_free(&a);
    return t_done();
}
