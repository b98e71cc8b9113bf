/*
** reqlog.h -- the access log of `meshrt run`: one line per HTTP request
** or TCP connection, rendered with accesslog.h's formats and written by
** each worker's non-blocking writer.
**
** The engine describes a request in an rt_logdata (plain pointers and
** lengths; a NULL pointer is "unset", printed "-"); reqlog.c is the only
** file that includes accesslog.h (see fwd.h on the rt_str clash).
*/
#ifndef RT_REQLOG_H
#define RT_REQLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "fwd.h"

typedef struct rt_lfield { const char *p; uint32_t n; } rt_lfield;
#define RT_LF(s, len) ((rt_lfield){ (s), (uint32_t)(len) })
#define RT_LFZ(s) ((rt_lfield){ (s), (s) ? (uint32_t)strlen(s) : 0 })

typedef struct rt_logdata {
    int64_t start_ns;                   /* CLOCK_REALTIME at the first byte */
    int64_t duration_ms;                /* -1 unset */
    int64_t request_duration_ms, response_duration_ms, response_tx_duration_ms;
    bool http;
    rt_lfield method, path, authority, scheme;
    const rt_h1_header *req, *req_set;  /* as received; set by the proxy (value NULL: removed) */
    uint32_t nreq, nreq_set;
    const rt_h1_header *resp, *resp_set;
    uint32_t nresp, nresp_set;
    uint32_t code;                      /* 0: none sent */
    uint32_t flags;                     /* RT_FL(...) */
    rt_lfield details, termination, upstream_failure;
    uint64_t bytes_received, bytes_sent;
    rt_lfield upstream_host, upstream_cluster, upstream_local;
    rt_lfield downstream_local, downstream_remote, sni, route_name;
    uint32_t attempts;
    uint64_t conn_id;
} rt_logdata;

/* Start from "all unset". */
void rt_logdata_init(rt_logdata *d);

/* Compile srv->o.access_log_format into srv->alog (no-op without
** --access-log). false with err on a bad format. */
bool rt_reqlog_compile(rt_server *srv, char err[RT_ERR_LEN]);
void rt_reqlog_free(rt_server *srv);
/* The worker's writer (its loop), when logging. */
bool rt_reqlog_open(rt_worker *w, char err[RT_ERR_LEN]);
/* Write everything pending (waiting at most timeout_ms) and close. */
void rt_reqlog_close(rt_worker *w, int timeout_ms);
/* Log one line (no-op when not logging). */
void rt_reqlog_write(rt_worker *w, const rt_logdata *d);
/* Lines dropped because the writer's buffer was full. */
uint64_t rt_reqlog_dropped(rt_worker *w);

#endif
