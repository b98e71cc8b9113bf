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
** smooth weighted round robin; RANDOM, and RING_HASH / MAGLEV (no hash
** policy reaches the image, so Envoy hashes a random value), pick at
** random by weight. Per worker, as Envoy's per-worker load balancers.
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
} rt_host;

#define RT_UP_CODES 4

typedef struct rt_ucluster {
    uint32_t idx;                       /* CLUSTERS index */
    uint32_t kind, lb, protocol;        /* IMG_CLUSTER_*, IMG_LB_*, IMG_PROTO_* */
    const char *name;                   /* into the image */
    uint32_t name_len;
    const char *svc_host;               /* the service host (istio destination_service) */
    uint32_t connect_timeout_ms;
    uint32_t max_requests_per_connection;   /* 0 unlimited */
    uint32_t idle_timeout_ms;           /* upstream idle connections */
    uint32_t policy;                    /* connection settings signature (pool key) */
    rt_host **hosts;
    uint32_t nhosts, hosts_cap;
    uint32_t rr;
    bool equal_weights;
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
/* Free the cluster states of one table (the owning worker's thread). */
void rt_up_clusters_free(struct rt_ucluster **t, uint32_t n);

/* The worker's state for cluster idx, built on first use and refreshed
** when a DNS answer changed. NULL when out of memory or the index is out
** of range. */
rt_ucluster *rt_up_cluster(rt_worker *w, uint32_t idx);
/* The worker's state if it exists, in the main thread's current
** generation (admin, main thread only). */
rt_ucluster *rt_up_cluster_peek(rt_worker *w, uint32_t idx);

/* Choose a host; with avoid set and another host available, not that one
** (Envoy's previous_hosts retry predicate, up to 5 tries). NULL: none. */
rt_host *rt_up_pick(rt_worker *w, rt_ucluster *uc, const rt_host *avoid);

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
