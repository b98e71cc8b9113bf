/*
** t_hostset.c -- the host index answers exactly what a scan with
** mc_host_matches (Istio's host.Name.Matches) answers: random host sets
** built from a small alphabet, so that suffixes, wildcards and partial
** wildcards collide often.
*/
#include "hostset.h"
#include "host.h"
#include "t.h"

#include <stdlib.h>

static const char *const parts[] = { "a", "b", "ab", "x", "example", "com" };

static char *random_host(mc_arena *a, unsigned *seed)
{
    char buf[64];
    size_t n = 0;
    int kind = rand_r(seed) % 6;
    if (kind == 0) { buf[n++] = '*'; }
    else if (kind == 1) { buf[n++] = '*'; buf[n++] = '.'; }
    int labels = 1 + rand_r(seed) % 3;
    for (int i = 0; i < labels; i++) {
        const char *p = parts[rand_r(seed) % 6];
        if (i) buf[n++] = '.';
        while (*p) buf[n++] = *p++;
    }
    if (kind == 2) { n = 0; buf[n++] = '*'; }      /* the catch-all */
    buf[n] = '\0';
    return mc_arena_strdup(a, buf);
}

typedef struct hits { int n; const char **hosts; int cap; } hits;

static bool collect(void *ud, const char *host, void *val)
{
    hits *h = ud;
    (void)val;
    if (h->n < h->cap) h->hosts[h->n] = host;
    h->n++;
    return true;
}

static bool stop_after_one(void *ud, const char *host, void *val)
{
    (void)host;
    (void)val;
    (*(int *)ud)++;
    return false;
}

int main(void)
{
    unsigned seed = 12345;
    int bad = 0, checks = 0;
    for (int round = 0; round < 400 && bad < 5; round++) {
        mc_arena a;
        mc_arena_init(&a);
        mc_hostset s;
        mc_hostset_init(&s, &a);
        int n = 1 + rand_r(&seed) % 12;
        const char *hosts[16];
        for (int i = 0; i < n; i++) {
            hosts[i] = random_host(&a, &seed);
            mc_hostset_add(&s, hosts[i], (void *)(uintptr_t)(i + 1));
        }
        for (int q = 0; q < 20; q++) {
            const char *h = random_host(&a, &seed);
            int want = 0;
            for (int i = 0; i < n; i++) want += mc_host_matches(h, hosts[i]);
            const char *got_hosts[16];
            hits got = { 0, got_hosts, 16 };
            mc_hostset_each(&s, h, collect, &got);
            checks++;
            if (got.n != want || mc_hostset_any(&s, h) != (want > 0)) {
                bad++;
                printf("# query %s: index %d matches, scan %d; set:", h, got.n, want);
                for (int i = 0; i < n; i++) printf(" %s", hosts[i]);
                printf("\n");
            }
            for (int i = 0; i < got.n && i < 16; i++)
                if (!mc_host_matches(h, got.hosts[i])) { bad++; printf("# %s reported for %s\n", got.hosts[i], h); }
        }
        mc_hostset_free(&s);
        mc_arena_free(&a);
    }
    ok(bad == 0, "index agrees with a scan on %d random queries", checks);

    mc_arena a;
    mc_arena_init(&a);
    mc_hostset s;
    mc_hostset_init(&s, &a);
    mc_hostset_add(&s, "shop.example.com", NULL);
    mc_hostset_add(&s, "*.example.com", NULL);
    mc_hostset_add(&s, "*.example.com", NULL);
    hits h = { 0, NULL, 0 };
    mc_hostset_each(&s, "shop.example.com", collect, &h);
    is_int(h.n, 3, "each entry reported, duplicates included");
    int calls = 0;
    mc_hostset_each(&s, "shop.example.com", stop_after_one, &calls);
    is_int(calls, 1, "the callback stops the query");
    ok(mc_hostset_any(&s, "*.com"), "a wildcard query matches longer hosts");
    ok(mc_hostset_any(&s, "*"), "'*' matches everything");
    ok(!mc_hostset_any(&s, "example.com"), "example.com is not *.example.com");
    ok(!mc_hostset_any(&s, "shop.example.org"), "no match across domains");
    mc_hostset_add(&s, "*", NULL);
    ok(mc_hostset_any(&s, "example.org"), "a '*' entry matches every query");
    mc_hostset_free(&s);
    mc_arena_free(&a);
    return t_done();
}
