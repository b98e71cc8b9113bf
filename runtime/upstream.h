/*
** upstream.h -- the image's clusters as one worker sees them: hosts,
** load balancing, pools of idle HTTP connections, counters.
**
** A cluster's state is built on first use in each worker (the image may
** hold tens of thousands of clusters; a worker touches few). Its hosts
** come from the image's endpoints:
**   IP endpoint        that address (STATIC, EDS)
**   DNS endpoint       every address of the name's latest answer
**                      (STRICT_DNS), or the first one (LOGICAL_DNS)
**   --resolve H:P=A    replaces the addresses of endpoint H:P ("*" = any
**                      DNS name on port P); several for one H:P add up
**   unix endpoint      not served (no host)
** When a DNS answer changes (a version bump, dns.h), the host list is
** rebuilt on the next use; hosts that stay keep their counters and
** connections. Host lists change under the worker's lock (fwd.h).
**
** Load balancing per the cluster's policy (Istio's default is
** LEAST_REQUEST): LEAST_REQUEST is Envoy's power of two choices on
** active requests (scaled by weight when weights differ); ROUND_ROBIN is
** smooth weighted round robin; RANDOM picks at random by weight;
** RING_HASH (a ring of at least minimumRingSize points, hosts' shares by
** weight) and MAGLEV (a 65537-entry lookup table) map the request's hash
** key (rt_up_hash_key) to a host, so equal keys reach the same host while
** the host set holds; without a key they pick at random, as Envoy does.
** Per worker, as Envoy's per-worker load balancers. Hosts ejected by
** outlier detection are skipped; when the healthy share falls below
** minHealthPercent (Envoy's panic threshold; 0, Istio's default with
** outlierDetection, disables panic) every host is used again.
**
** Circuit breakers (connectionPool): connections a cluster opened
** (connecting ones included) against max_connections, active requests
** against max_requests, requests waiting for a connection against
** max_pending_requests. A request that finds no idle connection and no
** room for a new one waits in the cluster's pending list; beyond the
** pending limit (or the request limit) it is answered 503 UO. Limits
** count per worker (each worker is one Envoy-like proxy), so with
** --workers N a cluster may hold up to N x max_connections.
**
** Outlier detection (outlierDetection): every upstream result is
** reported per host (rt_up_outlier): consecutive 5xx (5xx responses, and
** connect failures as 503, timeouts as 504, resets as 503, as Envoy does
** without splitExternalLocalOriginErrors) and consecutive gateway errors
** (502, 503, 504) eject the host at once when the count is reached, if
** fewer than maxEjectionPercent of the hosts are ejected already; a timer
** every `interval` returns hosts ejected for baseEjectionTime x times
** ejected (at most 300 s). Times ejected decay by one per healthy
** interval.
**
** Pools: idle HTTP/1.1 connections are kept per (address, connection
** settings), so clusters that send to the same address with the same
** idle timeout and requests-per-connection limit share connections (HAProxy's per-server idle
** connections, Envoy's per-host pools); each connection is counted on the
** host that uses it.
*/
#ifndef RT_UPSTREAM_H
#define RT_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "fwd.h"

#include <netinet/in.h>

struct rt_dnsname;

/* A host's address, compactly: rt_addr carries a whole sockaddr_storage,
** and a worker may hold tens of thousands of hosts. */
typedef struct rt_haddr {
    union { struct sockaddr sa; struct sockaddr_in v4; struct sockaddr_in6 v6; } u;
    uint32_t len;
} rt_haddr;

typedef struct rt_host {
    rt_haddr addr;
    char addr_str[RT_ADDR_STRLEN];      /* %UPSTREAM_HOST% */
    uint8_t addr_len;
    bool removed;                       /* dropped from the cluster, kept alive by refs */
    uint32_t weight;
    int64_t cw;                         /* smooth weighted round robin */
    uint32_t active_rq;
    uint32_t refs;                      /* the cluster's list + users */
    const char *hostname;               /* DNS name (into the image) or NULL */
    struct rt_pool *pool;
    rt_ctr cx_total, cx_active, cx_connect_fail;
    rt_ctr rq_total, rq_active, rq_success, rq_error, rq_timeout;
    /* outlier detection (the owning worker writes; admin reads `ejected`) */
    _Atomic bool ejected;
    uint32_t cons_5xx, cons_gw;
    uint32_t num_ejections;
    uint64_t ejected_ms, healthy_since_ms;
} rt_host;

#define RT_UP_CODES 4
#define RT_MAGLEV_SIZE 65537            /* Envoy's default Maglev table size (a prime) */

/* A consistent-hash ring or Maglev table over a list of hosts (exposed
** for tests): rt_ring_lookup gives the index of the key's host in that
** list, UINT32_MAX for an empty one. */
typedef struct rt_ring rt_ring;
struct rt_host;
rt_ring *rt_ring_build(struct rt_host *const *hs, uint32_t n, bool maglev, uint32_t size);
uint32_t rt_ring_lookup(const rt_ring *r, uint64_t key);
void rt_ring_free(rt_ring *r);

typedef struct rt_ucluster {
    uint32_t idx;                       /* CLUSTERS index */
    uint32_t kind, lb, protocol;        /* IMG_CLUSTER_*, IMG_LB_*, IMG_PROTO_* */
    const char *name;                   /* into the image */
    uint32_t name_len;
    const char *svc_host;               /* the service host (istio destination_service) */
    uint32_t connect_timeout_ms;
    uint32_t max_requests_per_connection;   /* 0 unlimited */
    uint32_t idle_timeout_ms;           /* upstream idle connections */
    uint32_t max_duration_ms;           /* maxConnectionDuration: connections close once this old (0 none) */
    uint32_t policy;                    /* connection settings signature (pool key) */
    rt_host **hosts;
    uint32_t nhosts, hosts_cap;
    uint32_t rr;
    bool equal_weights;
    /* hosts not ejected (== hosts when none is) */
    rt_host **healthy;
    uint32_t nhealthy, nejected;
    bool healthy_equal_weights;
    /* consistent hashing: key source and the ring or table (built on use) */
    uint32_t hash_kind;                 /* IMG_HASH_* */
    const char *hash_name;              /* header, cookie or query parameter name */
    uint32_t hash_name_len;
    uint32_t ring_size;                 /* RING_HASH minimum ring size */
    bool cookie_gen;                    /* httpCookie with a ttl: make a missing cookie */
    const char *cookie_path;
    uint32_t cookie_ttl_s;
    rt_ring *ring;                      /* NULL: to build */
    /* TLS origination (tls.mode SIMPLE / MUTUAL) */
    bool tls;
    struct rt_utls_ctx *tls_ctx;        /* NULL with tls: tls_err says why */
    const char *sni;                    /* policy sni, else the service host (used when the
                                           request gives no usable authority) */
    bool sni_auto;                      /* no policy sni: the request's authority (proxy.c) */
    uint32_t sni_len;
    char *tls_err;
    /* circuit breakers */
    uint32_t max_connections, max_pending, max_requests;
    uint32_t cx_open;                   /* connections counted against max_connections */
    rt_link pending;                    /* streams waiting for a connection (proxy.c) */
    rt_link kick;                       /* in the worker's list of clusters to serve pending from */
    /* outlier detection */
    bool outlier;
    uint32_t consecutive_5xx, enforcing_5xx, consecutive_gateway, enforcing_gateway;
    uint32_t interval_ms, base_ejection_ms, max_ejection_percent, min_health_percent;
    rt_timer od_timer;
    bool unresolved;                    /* a DNS endpoint has no answer yet */
    /* DNS endpoints this cluster follows */
    struct rt_dnsname **dns;
    uint32_t *dns_ver;
    uint32_t ndns;
    /* Envoy cluster counters */
    rt_ctr rq_total, rq_xx[6], rq_active, rq_completed, rq_timeout, rq_retry, rq_retry_success;
    rt_ctr rq_retry_limit_exceeded;
    rt_ctr cx_total, cx_active, cx_connect_fail, cx_connect_timeout, cx_destroy_local, cx_destroy_remote;
    rt_ctr cx_rx_bytes, cx_tx_bytes, cx_none_healthy;
    rt_ctr cx_overflow, rq_pending_overflow, rq_pending_total;
    rt_ctr od_ejections_active, od_ejections_overflow, od_ejections_enforced_total;
    rt_ctr od_enforced_5xx, od_enforced_gateway, od_detected_5xx, od_detected_gateway;
    struct { _Atomic uint32_t code; rt_ctr n; } codes[RT_UP_CODES];  /* upstream_rq_<code>, the first codes seen */
} rt_ucluster;

/* Idle connections to one address (intrusive list of rt_pooled). */
typedef struct rt_pooled { struct rt_pooled *next, *prev; } rt_pooled;
typedef struct rt_pool {
    rt_addr addr;
    uint32_t policy;
    rt_pooled idle;                     /* list head; most recently used first */
    uint32_t nidle;
    struct rt_pool *next;               /* hash chain */
} rt_pool;

/* Allocate the worker's pool table (once); the cluster tables belong to
** the generations (fwd.h). */
bool rt_up_init(rt_worker *w);
void rt_up_free(rt_worker *w);
/* Free the cluster states of one table (the owning worker's thread, or
** any once that thread is gone): hosts, rings, TLS contexts, timers. */
void rt_up_clusters_free(rt_worker *w, struct rt_ucluster **t, uint32_t n);

/* The worker's state for cluster idx, built on first use and refreshed
** when a DNS answer changed. NULL when out of memory or the index is out
** of range. */
rt_ucluster *rt_up_cluster(rt_worker *w, uint32_t idx);
/* The worker's state if it exists, in the main thread's current
** generation (admin, main thread only). */
rt_ucluster *rt_up_cluster_peek(rt_worker *w, uint32_t idx);

/* Choose a host; with avoid set and another host available, not that one
** (Envoy's previous_hosts retry predicate, up to 5 tries). NULL: none
** (no hosts, or every host ejected and panic mode disabled). */
rt_host *rt_up_pick(rt_worker *w, rt_ucluster *uc, const rt_host *avoid);
/* The same with a consistent-hash key (has_key false: none, as rt_up_pick). */
rt_host *rt_up_pick_key(rt_worker *w, rt_ucluster *uc, const rt_host *avoid, bool has_key, uint64_t key);

/* The request's hash key for the cluster's consistentHash policy: the
** header's value (several joined with ","), the cookie's value, the
** client's IP, or the query parameter's first value. False when the
** cluster does not hash or the request lacks the value (Envoy then picks
** at random). hdr returns a header by lowercase name (NULL: absent). */
typedef const char *(*rt_up_hdr_fn)(void *ud, const char *name, size_t name_len, size_t *value_len);
bool rt_up_hash_key(const rt_ucluster *uc, rt_up_hdr_fn hdr, void *ud, const char *path, size_t path_len,
                    const char *peer_ip, uint64_t *key);

/* httpCookie with a ttl and no cookie in the request: Envoy's generated
** cookie, 16 hex digits of a hash of the client's and our address (so a
** client's connection keeps one value). Writes the Set-Cookie value
** (name="value"; Max-Age=ttl; Path=path; HttpOnly) to out, the value's
** hash key to key; returns the length, 0 when it does not fit. */
size_t rt_up_cookie_make(const rt_ucluster *uc, const char *peer, const char *local, uint64_t *key, char *out, size_t cap);

/* Report an upstream result of host h for outlier detection: an HTTP
** status, or 503 for a connect failure or reset, 504 for a timeout. */
void rt_up_outlier(rt_worker *w, rt_ucluster *uc, rt_host *h, uint32_t code);

/* Circuit breakers: may a request be active (max_requests, counting it)?
** May one more wait for a connection (max_pending_requests)? */
bool rt_up_rq_room(rt_ucluster *uc);
bool rt_up_pending_room(rt_ucluster *uc);
/* A host of the cluster with an idle pooled connection (prefer h), or NULL. */
rt_host *rt_up_idle_host(rt_ucluster *uc, rt_host *h);

static inline void rt_host_ref(rt_host *h) { h->refs++; }
/* The host's address as net.h takes it. */
void rt_host_addr(const rt_host *h, rt_addr *out);
void rt_host_unref(rt_host *h);

/* Count a response code on the cluster (upstream_rq_<code> and <class>xx). */
void rt_up_count_code(rt_ucluster *uc, uint32_t code);

/* The pool for (addr, policy); created on first use. NULL on OOM. */
rt_pool *rt_pool_of(rt_worker *w, const rt_addr *a, uint32_t policy);
/* Take the most recently used idle connection, or NULL. */
rt_pooled *rt_pool_take(rt_pool *p);
void rt_pool_put(rt_pool *p, rt_pooled *c);
void rt_pool_remove(rt_pool *p, rt_pooled *c);

/* The --resolve override for an endpoint, if any: the addresses (with the
** override's port) are appended to out; returns how many matched. */
uint32_t rt_up_overrides(const rt_server *srv, const char *host, uint32_t port, bool dns_name, rt_addr *out, uint32_t cap);

#endif
