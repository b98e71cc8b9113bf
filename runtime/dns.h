/*
** dns.h -- the DNS names of the image's endpoints, resolved
** asynchronously in the main thread's loop with c-ares and kept fresh.
**
** Names are registered before the workers start (rt_dns_add) and by a
** reload; the table is guarded by a mutex, so any thread may look a name
** up (rt_dns_find, when a cluster is built: off the per-request path).
** Names are never removed (a reload that drops one keeps refreshing it). An answer replaces the addresses of a name under the
** name's mutex and bumps its version; workers compare versions on the hot
** path (one relaxed load) and copy the addresses only when it changed.
**
** Refresh: after the answer's TTL (the smallest of its records, at least
** 1 s), or refresh_ms when it carries none, as Envoy's STRICT_DNS clusters
** with respect_dns_ttl. A failed lookup keeps the previous addresses and
** is retried after min(refresh_ms, 5 s). The first answer (or failure)
** always bumps the version, so requests waiting for it go on.
** IPv4 answers only (Istio's V4_ONLY for an IPv4 proxy); /etc/hosts is
** read first, as c-ares does by default.
*/
#ifndef RT_DNS_H
#define RT_DNS_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "net.h"

typedef struct rt_dns rt_dns;
typedef struct rt_dnsname rt_dnsname;

/* A resolver for loop l (main thread). servers: "ADDR:PORT,..." or NULL
** for /etc/resolv.conf. NULL with err on failure. */
rt_dns *rt_dns_new(rt_loop *l, const char *servers, uint32_t refresh_ms, char err[RT_ERR_LEN]);
void rt_dns_free(rt_dns *d);

/* Main thread: the entry for name (created once, lowercase); a name
** added after rt_dns_start (a reload) is resolved right away. */
rt_dnsname *rt_dns_add(rt_dns *d, const char *name, size_t n);
/* Any thread after start: the entry, or NULL if never added. */
rt_dnsname *rt_dns_find(const rt_dns *d, const char *name, size_t n);

/* Resolve every name now, then keep them fresh; on_change(ud) runs in the
** main thread after any version bump. */
void rt_dns_start(rt_dns *d, void (*on_change)(void *ud), void *ud);

/* 0 until the first answer or failure. */
uint32_t rt_dns_version(const rt_dnsname *e);
/* Copy up to cap addresses (port 0) and the version they belong to;
** returns how many the name has. */
uint32_t rt_dns_get(rt_dnsname *e, rt_addr *out, uint32_t cap, uint32_t *version);
const char *rt_dns_name(const rt_dnsname *e);

/* Counters for /stats. */
typedef struct rt_dns_stats { uint64_t queries, answers, failures, changes; uint32_t names; } rt_dns_stats;
void rt_dns_stats_get(const rt_dns *d, rt_dns_stats *out);

#endif
