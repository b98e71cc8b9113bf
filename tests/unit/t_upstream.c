/*
** t_upstream.c -- load balancing (runtime/upstream.c) without sockets:
** the share each policy gives each host, least request avoiding the busy
** host, consistent-hash rings and Maglev tables (spread, determinism,
** stability when a host goes), hash keys from headers, cookies, query
** parameters and the source IP, and outlier ejection.
*/
#include "t.h"

#include "table.h"
#include "upstream.h"

#include <stdlib.h>

#define NH 8

static rt_worker W;
static rt_host H[NH];
static rt_host *HP[NH];

/* a cluster of n hosts with these weights (NULL: all 1) */
static rt_ucluster *cluster(uint32_t lb, uint32_t n, const uint32_t *weights)
{
    static rt_ucluster uc;
    free(uc.healthy);
    rt_ring_free(uc.ring);
    memset(&uc, 0, sizeof uc);
    memset(H, 0, sizeof H);
    uc.lb = lb;
    uc.hosts = HP;
    uc.nhosts = n;
    uc.equal_weights = true;
    for (uint32_t i = 0; i < n; i++) {
        HP[i] = &H[i];
        H[i].weight = weights ? weights[i] : 1;
        H[i].refs = 1;
        snprintf(H[i].addr_str, sizeof H[i].addr_str, "10.0.0.%u:8080", i + 1);
        if (H[i].weight != H[0].weight) uc.equal_weights = false;
    }
    uc.ring_size = lb == IMG_LB_MAGLEV ? RT_MAGLEV_SIZE : 1024;
    rt_timer_init(&uc.od_timer, NULL, &uc);
    return &uc;
}

static uint32_t idx(const rt_host *h) { return h ? (uint32_t)(h - H) : 99; }

static void counts(rt_ucluster *uc, uint32_t picks, uint32_t *c)
{
    memset(c, 0, NH * sizeof *c);
    for (uint32_t i = 0; i < picks; i++) {
        uint32_t k = idx(rt_up_pick(&W, uc, NULL));
        if (k < NH) c[k]++;
    }
}

static void test_round_robin(void)
{
    uint32_t c[NH];
    rt_ucluster *uc = cluster(IMG_LB_ROUND_ROBIN, 3, NULL);
    uint32_t first = idx(rt_up_pick(&W, uc, NULL)), period = 1;
    for (int i = 1; i < 30; i++)
        if (idx(rt_up_pick(&W, uc, NULL)) != (first + (uint32_t)i) % 3) period = 0;
    ok(period, "ROUND_ROBIN: hosts in turn");
    counts(uc, 3000, c);
    ok(c[0] == 1000 && c[1] == 1000 && c[2] == 1000, "ROUND_ROBIN: exactly 1000 each of 3000 (%u %u %u)", c[0], c[1], c[2]);
    static const uint32_t w[] = { 1, 2, 3 };
    uc = cluster(IMG_LB_ROUND_ROBIN, 3, w);
    counts(uc, 600, c);
    ok(c[0] == 100 && c[1] == 200 && c[2] == 300, "ROUND_ROBIN weighted 1:2:3: exactly 100/200/300 of 600 (%u %u %u)", c[0], c[1], c[2]);
    /* smooth: the heaviest never runs three times in a row with weights 1:2:3 */
    uint32_t run = 0, maxrun = 0, prev = 99;
    for (int i = 0; i < 60; i++) {
        uint32_t k = idx(rt_up_pick(&W, uc, NULL));
        run = k == prev ? run + 1 : 1;
        if (run > maxrun) maxrun = run;
        prev = k;
    }
    ok(maxrun <= 2, "weighted round robin is smooth (longest run %u)", maxrun);
}

static void test_random(void)
{
    uint32_t c[NH];
    rt_ucluster *uc = cluster(IMG_LB_RANDOM, 3, NULL);
    counts(uc, 30000, c);
    bool even = true;
    for (int i = 0; i < 3; i++) even = even && c[i] > 9500 && c[i] < 10500;
    ok(even, "RANDOM: each of 3 hosts within 5%% of a third of 30000 (%u %u %u)", c[0], c[1], c[2]);
    static const uint32_t w[] = { 1, 3 };
    uc = cluster(IMG_LB_RANDOM, 2, w);
    counts(uc, 40000, c);
    ok(c[0] > 9400 && c[0] < 10600, "RANDOM weighted 1:3: a quarter to the first (%u of 40000)", c[0]);
}

static void test_least_request(void)
{
    uint32_t c[NH];
    rt_ucluster *uc = cluster(IMG_LB_LEAST_REQUEST, 3, NULL);
    H[0].active_rq = 5;
    counts(uc, 3000, c);
    ok(c[0] == 0 && c[1] > 1300 && c[2] > 1300, "LEAST_REQUEST (two choices): a busy host is never picked (%u %u %u)", c[0], c[1], c[2]);
    H[0].active_rq = 0;
    H[1].active_rq = 1;
    H[2].active_rq = 2;
    counts(uc, 30000, c);
    /* two distinct choices of three: the least loaded wins 2 pairs of 3,
    ** the middle one 1 of 3, the most loaded never */
    ok(c[2] == 0 && c[0] > 19000 && c[0] < 21000 && c[1] > 9000 && c[1] < 11000,
       "LEAST_REQUEST: shares 2/3, 1/3, 0 by load (%u %u %u)", c[0], c[1], c[2]);
    H[1].active_rq = H[2].active_rq = 0;
    counts(uc, 30000, c);
    ok(c[0] > 9000 && c[1] > 9000 && c[2] > 9000, "LEAST_REQUEST with equal load spreads (%u %u %u)", c[0], c[1], c[2]);
}

static void test_rings(bool maglev)
{
    const char *name = maglev ? "MAGLEV" : "RING_HASH";
    rt_ucluster *uc = cluster(maglev ? IMG_LB_MAGLEV : IMG_LB_RING_HASH, 4, NULL);
    rt_ring *r = rt_ring_build(uc->hosts, 4, maglev, uc->ring_size);
    rt_ring *r2 = rt_ring_build(uc->hosts, 4, maglev, uc->ring_size);
    rt_ring *r3 = rt_ring_build(uc->hosts, 3, maglev, uc->ring_size);        /* host 3 gone */
    uint32_t c[NH] = { 0 }, same = 0, kept = 0, moved_ok = 1, n3 = 0;
    for (uint32_t k = 0; k < 40000; k++) {
        uint64_t key = img_hash(&k, sizeof k, 0);
        uint32_t a = rt_ring_lookup(r, key), b = rt_ring_lookup(r3, key);
        c[a]++;
        if (a == rt_ring_lookup(r2, key)) same++;
        if (a == 3) moved_ok = moved_ok && b < 3;
        else {
            n3++;
            if (a == b) kept++;
        }
    }
    ok(same == 40000, "%s: the same hosts build the same table", name);
    bool even = true;
    for (int i = 0; i < 4; i++) even = even && c[i] > 8000 && c[i] < 12000;
    ok(even, "%s: 40000 keys spread over 4 hosts within 20%% (%u %u %u %u)", name, c[0], c[1], c[2], c[3]);
    ok(moved_ok, "%s: keys of a removed host go to the others", name);
    ok(kept * 100 >= n3 * 80, "%s: at least 80%% of the other keys keep their host when one goes (%u of %u)", name, kept, n3);
    if (maglev) {
        /* the table itself: equal weights, equal shares (within one entry) */
        uint32_t t[NH] = { 0 };
        for (uint32_t i = 0; i < RT_MAGLEV_SIZE; i++) t[rt_ring_lookup(r, i)]++;
        uint32_t lo = t[0], hi = t[0];
        for (int i = 1; i < 4; i++) {
            if (t[i] < lo) lo = t[i];
            if (t[i] > hi) hi = t[i];
        }
        ok(hi - lo <= 1, "MAGLEV: table entries per host differ by at most one (%u..%u)", lo, hi);
        static const uint32_t w[] = { 1, 2 };
        rt_ucluster *wc = cluster(IMG_LB_MAGLEV, 2, w);
        rt_ring *rw = rt_ring_build(wc->hosts, 2, true, RT_MAGLEV_SIZE);
        memset(t, 0, sizeof t);
        for (uint32_t i = 0; i < RT_MAGLEV_SIZE; i++) t[rt_ring_lookup(rw, i)]++;
        ok(t[0] > 21500 && t[0] < 22200, "MAGLEV weighted 1:2: a third of the table to the first (%u)", t[0]);
        rt_ring_free(rw);
    } else {
        static const uint32_t w[] = { 1, 3 };
        rt_ucluster *wc = cluster(IMG_LB_RING_HASH, 2, w);
        rt_ring *rw = rt_ring_build(wc->hosts, 2, false, 1024);
        uint32_t n0 = 0;
        for (uint32_t k = 0; k < 40000; k++) n0 += rt_ring_lookup(rw, img_hash(&k, sizeof k, 0)) == 0;
        ok(n0 > 8000 && n0 < 12000, "RING_HASH weighted 1:3: about a quarter of the keys to the first (%u of 40000)", n0);
        rt_ring_free(rw);
    }
    rt_ring *empty = rt_ring_build(uc->hosts, 0, maglev, uc->ring_size);
    ok(empty && rt_ring_lookup(empty, 42) == UINT32_MAX, "%s: an empty host list gives no host", name);
    rt_ring_free(empty);
    rt_ring_free(r);
    rt_ring_free(r2);
    rt_ring_free(r3);
}

/* ------------------------------------------------------------ hash keys */

static const char *hdrs_cookie, *hdrs_user;
static const char *hdr(void *ud, const char *name, size_t nn, size_t *vn)
{
    (void)ud;
    const char *v = NULL;
    if (nn == 6 && !memcmp(name, "cookie", 6)) v = hdrs_cookie;
    if (nn == 6 && !memcmp(name, "x-user", 6)) v = hdrs_user;
    if (v) *vn = strlen(v);
    return v;
}

static void test_keys(void)
{
    rt_ucluster *uc = cluster(IMG_LB_RING_HASH, 3, NULL);
    uint64_t k1 = 0, k2 = 0;
    uc->hash_kind = IMG_HASH_HEADER;
    uc->hash_name = "x-user";
    uc->hash_name_len = 6;
    hdrs_user = "alice";
    bool a = rt_up_hash_key(uc, hdr, NULL, "/", 1, "1.2.3.4", &k1);
    hdrs_user = "bob";
    bool b = rt_up_hash_key(uc, hdr, NULL, "/", 1, "1.2.3.4", &k2);
    ok(a && b && k1 != k2 && k1 == img_hash("alice", 5, 0), "header key: the header's value");
    hdrs_user = NULL;
    ok(!rt_up_hash_key(uc, hdr, NULL, "/", 1, "1.2.3.4", &k1), "header key: absent header, no key");
    uc->hash_kind = IMG_HASH_COOKIE;
    uc->hash_name = "session";
    uc->hash_name_len = 7;
    hdrs_cookie = "a=1; session=xyz; b=2";
    ok(rt_up_hash_key(uc, hdr, NULL, "/", 1, NULL, &k1) && k1 == img_hash("xyz", 3, 0), "cookie key: the named cookie among others");
    hdrs_cookie = "sessionx=1; xsession=2";
    ok(!rt_up_hash_key(uc, hdr, NULL, "/", 1, NULL, &k1), "cookie key: similar names do not match");
    hdrs_cookie = "session=\"q\"";
    ok(rt_up_hash_key(uc, hdr, NULL, "/", 1, NULL, &k1) && k1 == img_hash("q", 1, 0), "cookie key: a quoted value");
    char sc[256], sc2[256];
    uint64_t k3 = 0;
    uc->cookie_ttl_s = 60;
    uc->cookie_path = "/app";
    size_t n = rt_up_cookie_make(uc, "10.0.0.9:4321", "10.0.0.1:80", &k1, sc, sizeof sc);
    size_t n2 = rt_up_cookie_make(uc, "10.0.0.9:4321", "10.0.0.1:80", &k2, sc2, sizeof sc2);
    rt_up_cookie_make(uc, "10.0.0.9:4322", "10.0.0.1:80", &k3, sc2, sizeof sc2);
    ok(n == 59 && !memcmp(sc, "session=\"", 9) && !strcmp(sc + 25, "\"; Max-Age=60; Path=/app; HttpOnly"),
       "generated cookie: name=\"16 hex\"; Max-Age; Path; HttpOnly (%s)", sc);
    hdrs_cookie = sc;
    ok(n2 == n && k1 == k2 && k1 != k3 && rt_up_hash_key(uc, hdr, NULL, "/", 1, NULL, &k2) && k2 == k1,
       "the generated cookie, sent back, hashes as it did; another client connection gets another");
    ok(rt_up_cookie_make(uc, "a", "b", &k1, sc, 20) == 0, "a cookie that does not fit is not made");
    uc->hash_kind = IMG_HASH_QUERY;
    uc->hash_name = "u";
    uc->hash_name_len = 1;
    const char *p = "/x?uu=1&u=bob&u=carol#frag";
    ok(rt_up_hash_key(uc, NULL, NULL, p, strlen(p), NULL, &k1) && k1 == img_hash("bob", 3, 0), "query key: the parameter's first value");
    p = "/x?uu=1";
    ok(!rt_up_hash_key(uc, NULL, NULL, p, strlen(p), NULL, &k1), "query key: absent parameter, no key");
    p = "/x?a=1&u";
    ok(rt_up_hash_key(uc, NULL, NULL, p, strlen(p), NULL, &k1) && k1 == img_hash("", 0, 0), "query key: a parameter without value");
    uc->hash_kind = IMG_HASH_SOURCE_IP;
    ok(rt_up_hash_key(uc, NULL, NULL, "/", 1, "10.1.2.3", &k1) && k1 == img_hash("10.1.2.3", 8, 0), "source IP key");
    uc->hash_kind = IMG_HASH_NONE;
    ok(!rt_up_hash_key(uc, hdr, NULL, "/", 1, "10.1.2.3", &k1), "no hash policy: no key");
    /* with a key, a hashing cluster always answers the same host */
    uc = cluster(IMG_LB_RING_HASH, 3, NULL);
    uint32_t first = idx(rt_up_pick_key(&W, uc, NULL, true, 12345)), same = 1;
    for (int i = 0; i < 100; i++) same = same && idx(rt_up_pick_key(&W, uc, &H[first], true, 12345)) == first;
    ok(same, "a key keeps its host, retries included");
}

/* ------------------------------------------------------------ outlier detection */

static void test_outlier(void)
{
    rt_ucluster *uc = cluster(IMG_LB_ROUND_ROBIN, 4, NULL);
    uc->outlier = true;
    uc->consecutive_5xx = 3;
    uc->enforcing_5xx = 100;
    uc->consecutive_gateway = 5;
    uc->enforcing_gateway = 0;
    uc->interval_ms = 10000;
    uc->base_ejection_ms = 30000;
    uc->max_ejection_percent = 20;
    rt_up_outlier(&W, uc, &H[0], 500);
    rt_up_outlier(&W, uc, &H[0], 500);
    rt_up_outlier(&W, uc, &H[0], 200);
    rt_up_outlier(&W, uc, &H[0], 500);
    rt_up_outlier(&W, uc, &H[0], 500);
    ok(!H[0].ejected, "a success resets the consecutive 5xx count");
    rt_up_outlier(&W, uc, &H[0], 503);
    ok(H[0].ejected && uc->nejected == 1 && rt_ctr_get(&uc->od_enforced_5xx) == 1, "three consecutive 5xx eject the host");
    uint32_t c[NH];
    counts(uc, 300, c);
    ok(c[0] == 0 && c[1] == 100 && c[2] == 100 && c[3] == 100, "an ejected host is skipped (%u %u %u %u)", c[0], c[1], c[2], c[3]);
    for (int i = 0; i < 3; i++) rt_up_outlier(&W, uc, &H[1], 502);
    ok(!H[1].ejected && rt_ctr_get(&uc->od_ejections_overflow) == 1, "maxEjectionPercent 20 of 4 hosts: a second ejection (25%%) overflows");
    for (int i = 0; i < 5; i++) rt_up_outlier(&W, uc, &H[2], 504);
    ok(rt_ctr_get(&uc->od_detected_gateway) == 1 && rt_ctr_get(&uc->od_enforced_gateway) == 0,
       "gateway errors detected, not enforced with enforcing 0");
    uc->max_ejection_percent = 100;
    for (int i = 0; i < 3; i++) rt_up_outlier(&W, uc, &H[1], 500);
    for (int i = 0; i < 3; i++) rt_up_outlier(&W, uc, &H[2], 500);
    for (int i = 0; i < 3; i++) rt_up_outlier(&W, uc, &H[3], 500);
    ok(uc->nejected == 4 && rt_up_pick(&W, uc, NULL) == NULL, "every host ejected, panic threshold 0: no host");
    uc->min_health_percent = 50;
    ok(rt_up_pick(&W, uc, NULL) != NULL, "minHealthPercent 50: panic mode uses every host");
    rt_timer_stop(W.loop, &uc->od_timer);
}

int main(void)
{
    char err[RT_ERR_LEN];
    rt_rng_seed_with(&W.rng, 42);
    W.loop = rt_loop_new(64, err);
    if (!W.loop) return 1;
    test_round_robin();
    test_random();
    test_least_request();
    test_rings(false);
    test_rings(true);
    test_keys();
    test_outlier();
    rt_up_pick(&W, cluster(IMG_LB_RANDOM, 1, NULL), NULL);
    rt_loop_free(W.loop);
    printf("1..%d\n", t_n);
    return t_failed != 0;
}
