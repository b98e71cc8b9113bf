/*
** dns.c -- c-ares in the main loop: names, answers, refresh (dns.h).
*/
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_INFLIGHT 64         /* lookups at once; the rest wait their turn */
#define FAIL_RETRY_MS 5000u

struct rt_dnsname {
    char *name;
    size_t len;
    pthread_mutex_t mu;
    rt_addr *addrs;             /* port 0 */
    uint32_t naddrs;
    _Atomic uint32_t version;
    /* main thread only */
    rt_dns *d;
    rt_timer refresh;
    bool queued, in_flight;
    struct rt_dnsname *next;    /* hash chain */
    struct rt_dnsname *qnext;   /* run queue */
};

struct rt_dns {
    rt_loop *l;
    ares_channel ch;
    bool ch_ok;
    rt_timer tmo;
    pthread_mutex_t tab_mu;     /* slots: names are added at a reload while workers look up */
    rt_dnsname **slots;
    uint32_t nslots;
    rt_dnsname **all;
    uint32_t n, cap;
    uint32_t refresh_ms;
    uint32_t inflight;
    rt_dnsname *qhead, *qtail;
    void (*on_change)(void *ud);
    void *ud;
    bool started, closing;
    _Atomic uint64_t queries, answers, failures, changes;
};

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        h = (h ^ c) * 1099511628211ull;
    }
    return h;
}

static void rearm_timeout(rt_dns *d);

/* ------------------------------------------------------------ c-ares glue */

static void on_fd(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l;
    rt_dns *d = ud;
    ares_process_fd(d->ch, mask & RT_READABLE ? fd : ARES_SOCKET_BAD, mask & RT_WRITABLE ? fd : ARES_SOCKET_BAD);
    rearm_timeout(d);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    rt_dns *d = data;
    if (d->closing) return;
    int mask = (readable ? RT_READABLE : 0) | (writable ? RT_WRITABLE : 0);
    if (!mask) {
        rt_file_del(d->l, fd);
        return;
    }
    if (rt_file_mask(d->l, fd) >= 0) rt_file_mod(d->l, fd, mask);
    else rt_file_add(d->l, fd, mask, on_fd, d);
}

static void on_timeout(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    rt_dns *d = ud;
    ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm_timeout(d);
}

static void rearm_timeout(rt_dns *d)
{
    struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);
    if (!tvp) {
        rt_timer_stop(d->l, &d->tmo);
        return;
    }
    uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)tvp->tv_usec / 1000 + 1;
    rt_timer_start(d->l, &d->tmo, ms, on_timeout, d);
}

/* ------------------------------------------------------------ lookups */

static void pump(rt_dns *d);

static int addr_cmp(const void *a, const void *b)
{
    const rt_addr *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(&x->ss, &y->ss, x->len);
}

static void schedule(rt_dnsname *e, uint64_t ms);

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    rt_dnsname *e = arg;
    rt_dns *d = e->d;
    e->in_flight = false;
    d->inflight--;
    if (status == ARES_EDESTRUCTION || d->closing) {
        if (res) ares_freeaddrinfo(res);
        return;
    }
    uint64_t next = d->refresh_ms;
    bool changed = false;
    if (status == ARES_SUCCESS && res) {
        atomic_fetch_add(&d->answers, 1);
        uint32_t n = 0;
        int ttl = -1;
        for (struct ares_addrinfo_node *nd = res->nodes; nd; nd = nd->ai_next)
            if (nd->ai_family == AF_INET) n++;
        rt_addr *v = n ? calloc(n, sizeof *v) : NULL;
        uint32_t k = 0;
        for (struct ares_addrinfo_node *nd = res->nodes; nd && (v || !n); nd = nd->ai_next) {
            if (nd->ai_family != AF_INET || nd->ai_addrlen > sizeof v[k].ss) continue;
            memcpy(&v[k].ss, nd->ai_addr, nd->ai_addrlen);
            v[k].len = nd->ai_addrlen;
            ((struct sockaddr_in *)&v[k].ss)->sin_port = 0;
            if (nd->ai_ttl > 0 && (ttl < 0 || nd->ai_ttl < ttl)) ttl = nd->ai_ttl;
            k++;
        }
        if (k > 1) qsort(v, k, sizeof *v, addr_cmp);
        /* drop duplicates */
        uint32_t m = 0;
        for (uint32_t i = 0; i < k; i++)
            if (m == 0 || addr_cmp(&v[m - 1], &v[i]) != 0) v[m++] = v[i];
        if (ttl > 0) next = ttl < 1 ? 1000 : (uint64_t)ttl * 1000;
        pthread_mutex_lock(&e->mu);
        changed = m != e->naddrs || (m && memcmp(v, e->addrs, m * sizeof *v) != 0) ||
                  atomic_load(&e->version) == 0;
        if (changed) {
            free(e->addrs);
            e->addrs = v;
            e->naddrs = m;
            v = NULL;
            atomic_fetch_add(&e->version, 1);
        }
        pthread_mutex_unlock(&e->mu);
        free(v);
    } else {
        atomic_fetch_add(&d->failures, 1);
        /* keep what we had; the first failure still releases waiters */
        if (atomic_load(&e->version) == 0) {
            atomic_fetch_add(&e->version, 1);
            changed = true;
        }
        if (next > FAIL_RETRY_MS) next = FAIL_RETRY_MS;
    }
    if (res) ares_freeaddrinfo(res);
    schedule(e, next);
    if (changed) {
        atomic_fetch_add(&d->changes, 1);
        if (d->on_change) d->on_change(d->ud);
    }
    pump(d);
}

static void pump(rt_dns *d)
{
    while (d->qhead && d->inflight < MAX_INFLIGHT) {
        rt_dnsname *e = d->qhead;
        d->qhead = e->qnext;
        if (!d->qhead) d->qtail = NULL;
        e->queued = false;
        e->in_flight = true;
        d->inflight++;
        atomic_fetch_add(&d->queries, 1);
        struct ares_addrinfo_hints h;
        memset(&h, 0, sizeof h);
        h.ai_family = AF_INET;
        h.ai_flags = ARES_AI_NOSORT;
        ares_getaddrinfo(d->ch, e->name, NULL, &h, on_answer, e);
    }
    rearm_timeout(d);
}

static void enqueue(rt_dnsname *e)
{
    rt_dns *d = e->d;
    if (e->queued || e->in_flight) return;
    e->queued = true;
    e->qnext = NULL;
    if (d->qtail) d->qtail->qnext = e;
    else d->qhead = e;
    d->qtail = e;
}

static void on_refresh(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    rt_dnsname *e = ud;
    enqueue(e);
    pump(e->d);
}

static void schedule(rt_dnsname *e, uint64_t ms)
{
    rt_timer_start(e->d->l, &e->refresh, ms, on_refresh, e);
}

/* ------------------------------------------------------------ API */

rt_dns *rt_dns_new(rt_loop *l, const char *servers, uint32_t refresh_ms, char err[RT_ERR_LEN])
{
    static int lib_ok = -1;
    if (lib_ok < 0) lib_ok = ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS;
    if (!lib_ok) {
        snprintf(err, RT_ERR_LEN, "c-ares: library initialization failed");
        return NULL;
    }
    rt_dns *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, RT_ERR_LEN, "out of memory");
        return NULL;
    }
    d->l = l;
    d->refresh_ms = refresh_ms ? refresh_ms : 60000;
    d->nslots = 1024;
    d->slots = calloc(d->nslots, sizeof *d->slots);
    struct ares_options o;
    memset(&o, 0, sizeof o);
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = d;
    o.timeout = 2000;
    o.tries = 3;
    int rc = ares_init_options(&d->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS || !d->slots) {
        snprintf(err, RT_ERR_LEN, "c-ares: %s", rc != ARES_SUCCESS ? ares_strerror(rc) : "out of memory");
        free(d->slots);
        free(d);
        return NULL;
    }
    d->ch_ok = true;
    if (servers && *servers) {
        rc = ares_set_servers_ports_csv(d->ch, servers);
        if (rc != ARES_SUCCESS) {
            snprintf(err, RT_ERR_LEN, "DNS resolvers '%s': %s", servers, ares_strerror(rc));
            rt_dns_free(d);
            return NULL;
        }
    }
    rt_timer_init(&d->tmo, on_timeout, d);
    pthread_mutex_init(&d->tab_mu, NULL);
    return d;
}

static void grow_slots(rt_dns *d)
{
    uint32_t ns = d->nslots * 2;
    rt_dnsname **s = calloc(ns, sizeof *s);
    if (!s) return;
    for (uint32_t i = 0; i < d->nslots; i++) {
        rt_dnsname *e = d->slots[i];
        while (e) {
            rt_dnsname *next = e->next;
            uint64_t h = hash_name(e->name, e->len) & (ns - 1);
            e->next = s[h];
            s[h] = e;
            e = next;
        }
    }
    free(d->slots);
    d->slots = s;
    d->nslots = ns;
}

static rt_dnsname *find_locked(const rt_dns *d, const char *name, size_t n)
{
    for (rt_dnsname *e = d->slots[hash_name(name, n) & (d->nslots - 1)]; e; e = e->next)
        if (e->len == n && strncasecmp(e->name, name, n) == 0) return e;
    return NULL;
}

rt_dnsname *rt_dns_find(const rt_dns *d, const char *name, size_t n)
{
    if (!d) return NULL;
    pthread_mutex_t *mu = (pthread_mutex_t *)(uintptr_t)&d->tab_mu;
    pthread_mutex_lock(mu);
    rt_dnsname *e = find_locked(d, name, n);
    pthread_mutex_unlock(mu);
    return e;
}

static rt_dnsname *add_locked(rt_dns *d, const char *name, size_t n);

rt_dnsname *rt_dns_add(rt_dns *d, const char *name, size_t n)
{
    pthread_mutex_lock(&d->tab_mu);
    rt_dnsname *e = add_locked(d, name, n);
    pthread_mutex_unlock(&d->tab_mu);
    if (e && d->started && !e->in_flight && !rt_timer_active(&e->refresh) && !rt_dns_version(e)) {
        /* added by a reload: resolve it now */
        enqueue(e);
        pump(d);
    }
    return e;
}

static rt_dnsname *add_locked(rt_dns *d, const char *name, size_t n)
{
    rt_dnsname *e = find_locked(d, name, n);
    if (e) return e;
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 64;
        rt_dnsname **a = realloc(d->all, cap * sizeof *a);
        if (!a) return NULL;
        d->all = a;
        d->cap = cap;
    }
    if (d->n >= d->nslots) grow_slots(d);
    e = calloc(1, sizeof *e);
    if (!e || !(e->name = malloc(n + 1))) {
        free(e);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) e->name[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    e->name[n] = '\0';
    e->len = n;
    e->d = d;
    pthread_mutex_init(&e->mu, NULL);
    atomic_init(&e->version, 0);
    rt_timer_init(&e->refresh, on_refresh, e);
    uint64_t h = hash_name(name, n) & (d->nslots - 1);
    e->next = d->slots[h];
    d->slots[h] = e;
    d->all[d->n++] = e;
    return e;
}

void rt_dns_start(rt_dns *d, void (*on_change)(void *ud), void *ud)
{
    d->on_change = on_change;
    d->ud = ud;
    d->started = true;
    for (uint32_t i = 0; i < d->n; i++) enqueue(d->all[i]);
    pump(d);
}

uint32_t rt_dns_version(const rt_dnsname *e) { return atomic_load_explicit(&e->version, memory_order_acquire); }

uint32_t rt_dns_get(rt_dnsname *e, rt_addr *out, uint32_t cap, uint32_t *version)
{
    pthread_mutex_lock(&e->mu);
    uint32_t n = e->naddrs;
    for (uint32_t i = 0; i < n && i < cap; i++) out[i] = e->addrs[i];
    if (version) *version = atomic_load(&e->version);
    pthread_mutex_unlock(&e->mu);
    return n;
}

const char *rt_dns_name(const rt_dnsname *e) { return e->name; }

void rt_dns_stats_get(const rt_dns *d, rt_dns_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!d) return;
    out->queries = atomic_load(&d->queries);
    out->answers = atomic_load(&d->answers);
    out->failures = atomic_load(&d->failures);
    out->changes = atomic_load(&d->changes);
    out->names = d->n;
}

void rt_dns_free(rt_dns *d)
{
    if (!d) return;
    if (d->ch_ok) {
        /* callbacks run with ARES_EDESTRUCTION; sockets close without us */
        ares_destroy(d->ch);
    }
    d->closing = true;
    rt_timer_stop(d->l, &d->tmo);
    for (uint32_t i = 0; i < d->n; i++) {
        rt_dnsname *e = d->all[i];
        rt_timer_stop(d->l, &e->refresh);
        pthread_mutex_destroy(&e->mu);
        free(e->addrs);
        free(e->name);
        free(e);
    }
    free(d->all);
    free(d->slots);
    pthread_mutex_destroy(&d->tab_mu);
    free(d);
}
