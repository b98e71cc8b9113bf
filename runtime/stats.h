/*
** stats.h -- Istio's standard metrics (per worker, summed when read) and
** the text of the admin endpoints /stats and /stats/prometheus.
**
** Each worker counts into its own table, keyed by (cluster, response
** code, response flags) for HTTP and (cluster, flags) for TCP: the labels
** that vary per request. The labels that do not (reporter, source_*,
** destination_service*) come from the proxy's view and the cluster when
** the text is rendered. A table holds RT_METRICS_CAP keys; more distinct
** keys are counted under a last, catch-all key (cluster "unknown").
** Entries are published with a release store and never removed, so the
** admin thread reads them without a lock.
**
** /stats prints Envoy's counter names (cluster.<name>.upstream_rq_total,
** http.<prefix>.downstream_rq_2xx, listener.<addr>.downstream_cx_total,
** server.*) as "name: value" lines, sorted; /stats/prometheus prints the
** same counters as envoy_* families with Istio's tag extraction
** (cluster_name, http_conn_manager_prefix, response_code[_class],
** listener_address), then istio_requests_total,
** istio_request_duration_milliseconds (histogram), and the istio_tcp_*
** families. Only clusters a worker has used appear.
*/
#ifndef RT_STATS_H
#define RT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fwd.h"

#define RT_METRICS_CAP 2048
#define RT_NBUCKETS 19          /* Istio's duration buckets, ms: 0.5 .. 3600000 */

/* A growable text buffer for admin responses. */
typedef struct rt_sbuf { char *p; size_t n, cap; bool oom; } rt_sbuf;
__attribute__((format(printf, 2, 3)))
void rt_sbuf_printf(rt_sbuf *b, const char *fmt, ...);
void rt_sbuf_add(rt_sbuf *b, const char *s, size_t n);
void rt_sbuf_free(rt_sbuf *b);

struct rt_mtable *rt_metrics_new(void);
void rt_metrics_free(struct rt_mtable *t);

/* One HTTP request, at its end. cluster IMG_NONE when none was chosen. */
void rt_metrics_http(rt_worker *w, uint32_t cluster, uint32_t code, uint32_t flags, uint64_t duration_us);
/* A TCP connection opened to, and closed from, a cluster. */
void rt_metrics_tcp_open(rt_worker *w, uint32_t cluster, uint32_t flags);
void rt_metrics_tcp_close(rt_worker *w, uint32_t cluster, uint32_t flags, uint64_t rx, uint64_t tx);

void rt_stats_text(rt_server *srv, rt_sbuf *out);
void rt_stats_prometheus(rt_server *srv, rt_sbuf *out);

#endif
