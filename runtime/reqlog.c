/*
** reqlog.c -- rt_logdata to accesslog.h's record, and the per-worker
** writers (reqlog.h).
*/
#include "reqlog.h"

#include "accesslog.h"

#include <string.h>

#define LOG_BUF (1024 * 1024)   /* per worker writer */
#define LOG_FLUSH_MS 100

void rt_logdata_init(rt_logdata *d)
{
    memset(d, 0, sizeof *d);
    d->duration_ms = d->request_duration_ms = d->response_duration_ms = d->response_tx_duration_ms = -1;
}

bool rt_reqlog_compile(rt_server *srv, char err[RT_ERR_LEN])
{
    if (!srv->o.access_log) return true;
    srv->alog = rt_alog_new(srv->o.access_log_format ? srv->o.access_log_format : "istio", err);
    return srv->alog != NULL;
}

void rt_reqlog_free(rt_server *srv)
{
    rt_alog_free(srv->alog);
    srv->alog = NULL;
}

bool rt_reqlog_open(rt_worker *w, char err[RT_ERR_LEN])
{
    if (!w->srv->alog) return true;
    w->logw = rt_logw_open(w->loop, w->srv->o.access_log, LOG_BUF, LOG_FLUSH_MS, err);
    return w->logw != NULL;
}

void rt_reqlog_close(rt_worker *w, int timeout_ms)
{
    if (!w->logw) return;
    rt_logw_drain(w->logw, timeout_ms);
    rt_logw_close(w->logw);
    w->logw = NULL;
}

uint64_t rt_reqlog_dropped(rt_worker *w) { return w->logw ? rt_logw_dropped(w->logw) : 0; }

static rt_str S(rt_lfield f) { return (rt_str){ f.p, f.n }; }

/* our flag bits -> accesslog.h's, by name (built once; the table is
** read-only afterwards, so every worker may use it) */
static uint32_t map_flags(uint32_t flags)
{
    static uint32_t bits[RT_FL_COUNT];
    static _Atomic int ready;
    if (!atomic_load_explicit(&ready, memory_order_acquire)) {
        for (int i = 0; i < RT_FL_COUNT; i++) {
            const char *n = rt_flag_name(i);
            bits[i] = rt_rf_from_name(n, strlen(n));
        }
        atomic_store_explicit(&ready, 1, memory_order_release);
    }
    uint32_t out = 0;
    for (int i = 0; i < RT_FL_COUNT; i++)
        if (flags & (1u << i)) out |= bits[i];
    return out;
}

void rt_reqlog_write(rt_worker *w, const rt_logdata *d)
{
    if (!w->logw) return;
    rt_log_rec r;
    rt_log_rec_init(&r);
    r.start_ns = d->start_ns;
    r.duration_ms = d->duration_ms;
    r.request_duration_ms = d->request_duration_ms;
    r.response_duration_ms = d->response_duration_ms;
    r.response_tx_duration_ms = d->response_tx_duration_ms;
    if (d->http) r.protocol = RT_STR_LIT("HTTP/1.1");
    r.method = S(d->method);
    r.path = S(d->path);
    r.authority = S(d->authority);
    r.scheme = S(d->scheme);
    r.req = d->req;
    r.nreq = d->nreq;
    r.req_set = d->req_set;
    r.nreq_set = d->nreq_set;
    r.resp = d->resp;
    r.nresp = d->nresp;
    r.resp_set = d->resp_set;
    r.nresp_set = d->nresp_set;
    r.response_code = d->code;
    r.flags = map_flags(d->flags);
    r.code_details = S(d->details);
    r.termination_details = S(d->termination);
    r.upstream_failure = S(d->upstream_failure);
    r.bytes_received = d->bytes_received;
    r.bytes_sent = d->bytes_sent;
    r.upstream_host = S(d->upstream_host);
    r.upstream_cluster = S(d->upstream_cluster);
    r.upstream_local = S(d->upstream_local);
    r.downstream_local = S(d->downstream_local);
    r.downstream_remote = S(d->downstream_remote);
    r.sni = S(d->sni);
    r.route_name = S(d->route_name);
    r.hostname = (rt_str){ w->srv->hostname, strlen(w->srv->hostname) };
    r.attempt_count = d->attempts;
    r.connection_id = d->conn_id;
    rt_logw_log(w->logw, w->srv->alog, &r);
}
