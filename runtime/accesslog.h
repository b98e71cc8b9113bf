/*
** accesslog.h -- Envoy access-log formats compiled once into an op list
** and rendered from a plain record, plus a non-blocking line writer for
** the event loop.
**
** Formats (rt_alog_new):
**   "istio"      Istio's current text format (telemetry_logging.go
**                EnvoyTextLogFormat, with %UPSTREAM_CLUSTER_RAW%)
**   "istio-1.0"  the 1.0-era text format the seed's log lines use
**   "json"       Istio's JSON keys (EnvoyJSONLogFormatIstio), typed as
**                Envoy's json_format renders them: numbers as numbers,
**                unset as null, keys in Istio's declaration order
**   otherwise    an Envoy format string; a '\n' is appended when missing
**                (as Istio does for meshConfig.accessLogFormat)
**
** Operators: %START_TIME% and %START_TIME(FMT)% (FMT: strftime in UTC
** plus Envoy's %s, %f / %1f..%9f fractional seconds and %E1S..%E9S /
** %E*S seconds with decimals; default "%Y-%m-%dT%H:%M:%E3SZ"),
** %REQ(X?Y)%, %RESP(X?Y)%, %REQ_WITHOUT_QUERY(X?Y)% (header X, else Y;
** :METHOD :PATH :AUTHORITY :SCHEME are the request pseudo-headers),
** %RESPONSE_CODE%, %RESPONSE_FLAGS%, %RESPONSE_CODE_DETAILS%,
** %CONNECTION_TERMINATION_DETAILS%, %UPSTREAM_TRANSPORT_FAILURE_REASON%,
** %BYTES_RECEIVED%, %BYTES_SENT%, %DURATION%, %REQUEST_DURATION%,
** %RESPONSE_DURATION%, %RESPONSE_TX_DURATION%, %PROTOCOL%,
** %UPSTREAM_HOST%, %UPSTREAM_REMOTE_ADDRESS%, %UPSTREAM_CLUSTER%,
** %UPSTREAM_CLUSTER_RAW%, %UPSTREAM_LOCAL_ADDRESS%,
** %DOWNSTREAM_LOCAL_ADDRESS[_WITHOUT_PORT]%,
** %DOWNSTREAM_REMOTE_ADDRESS[_WITHOUT_PORT]%,
** %DOWNSTREAM_DIRECT_REMOTE_ADDRESS[_WITHOUT_PORT]%,
** %REQUESTED_SERVER_NAME%, %ROUTE_NAME%, %UPSTREAM_REQUEST_ATTEMPT_COUNT%,
** %CONNECTION_ID%, %HOSTNAME%. Any operator takes ":N" to keep at most N
** bytes of its value. An unknown operator or a stray '%' is a compile
** error naming the position (Envoy refuses such formats too).
**
** Rendering rules (Envoy's): an unset or empty value prints "-" in text
** and null in JSON; RESPONSE_CODE prints 0 when no response was sent (TCP);
** RESPONSE_FLAGS prints "-" when none, else the short names joined by ','
** in Envoy's flag order; UPSTREAM_CLUSTER and _RAW both print the cluster
** name (we have no alt_stat_name). Bytes 0x00-0x1F and 0x7F are written
** as \xHH in text (one record = one line; Envoy's codec never lets them
** into headers, so Envoy-producible values print identically); JSON
** strings use JSON escapes, with bytes that are not UTF-8 as \u00XX.
*/
#ifndef RT_ACCESSLOG_H
#define RT_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "loop.h"

/* A value: p == NULL means unset. Not NUL-terminated. */
typedef struct rt_str {
    const char *p;
    size_t n;
} rt_str;

#define RT_STR_LIT(s) ((rt_str){ (s), sizeof(s) - 1 })
rt_str rt_str_c(const char *s);          /* from a C string; NULL stays unset */

/* Envoy's response flags, in the order Envoy prints them. */
#define RT_RESPONSE_FLAGS(X)                                         \
    X(LH) X(UH) X(UT) X(LR) X(UR) X(UF) X(UC) X(UO) X(NR) X(DI) X(FI) \
    X(RL) X(UAEX) X(RLSE) X(DC) X(URX) X(SI) X(IH) X(DPE) X(UMSDR)   \
    X(RFCF) X(NFCF) X(DT) X(UPE) X(NC) X(OM) X(DF) X(DO) X(DR)

enum {
#define X(f) RT_RF_BIT_##f,
    RT_RESPONSE_FLAGS(X)
#undef X
    RT_RF_COUNT
};
#define RT_RF(f) (1u << RT_RF_BIT_##f)   /* RT_RF(UF) | RT_RF(URX) */

/* Flag bit from its short name ("UF"), or 0 if unknown. */
uint32_t rt_rf_from_name(const char *s, size_t n);

/* One request (HTTP) or connection (TCP) to log. Start from
** rt_log_rec_init() (durations unset, rest zero), then fill what is
** known; NULL strings and unset durations print as unset. */
typedef struct rt_log_rec {
    int64_t start_ns;                   /* CLOCK_REALTIME at the first byte, ns */
    int64_t duration_ms;                /* start to last byte out; -1 unset */
    int64_t request_duration_ms;        /* last request byte received; -1 unset */
    int64_t response_duration_ms;       /* first response byte sent; -1 unset */
    int64_t response_tx_duration_ms;    /* first to last response byte; -1 unset */
    rt_str protocol;                    /* "HTTP/1.1"; unset for TCP */
    rt_str method, path, authority, scheme;     /* pseudo-headers */
    const rt_h1_header *req;            /* request fields as received */
    size_t nreq;
    const rt_h1_header *req_set;        /* set by the proxy (x-request-id, XFF...);
                                           win over req; value NULL = removed */
    size_t nreq_set;
    const rt_h1_header *resp, *resp_set;
    size_t nresp, nresp_set;
    uint32_t response_code;             /* 0: none sent */
    uint32_t flags;                     /* RT_RF(...) bits */
    rt_str code_details, termination_details, upstream_failure;
    uint64_t bytes_received, bytes_sent;
    rt_str upstream_host, upstream_cluster, upstream_local;
    rt_str downstream_local, downstream_remote;  /* "ip:port" / "[v6]:port" */
    rt_str sni, route_name, hostname;
    uint32_t attempt_count;             /* 0: unset */
    uint64_t connection_id;
} rt_log_rec;

void rt_log_rec_init(rt_log_rec *r);

typedef struct rt_alog rt_alog;

/* Compile a preset name or an Envoy format string. NULL with err set
** ("unknown operator %FOO% at column 12"). */
rt_alog *rt_alog_new(const char *spec, char err[RT_ERR_LEN]);
void rt_alog_free(rt_alog *f);
bool rt_alog_is_json(const rt_alog *f);

/* Render r into buf (at most cap bytes written; no NUL added). Returns
** the full length of the line: if it exceeds cap, the line was cut and
** should be rendered again into a bigger buffer (or dropped). */
size_t rt_alog_render(const rt_alog *f, const rt_log_rec *r, char *buf, size_t cap);

/* ---- non-blocking line writer ----
** One writer per loop. Lines go into a bounded buffer and are written
** from the loop: immediately when RT_LOGW_HIGH bytes are pending, else
** from a timer every flush_ms, and on writability when the descriptor
** (pipe, tty, socket) would block. The descriptor is a private open of
** the path (or of /proc/self/fd/1 for "-"), made O_NONBLOCK without
** touching the shell's stdout. A full buffer drops the line and counts
** it. Writes end on line boundaries; to a pipe they are at most PIPE_BUF
** bytes so lines of several workers never interleave. A regular file on
** a slow disk can still stall a write(): that is Envoy's trade-off too. */
#define RT_LOGW_HIGH (64 * 1024)

typedef struct rt_logw rt_logw;

/* path "-" = standard output. cap = buffer bytes (e.g. 1 MiB). */
rt_logw *rt_logw_open(rt_loop *l, const char *path, size_t cap, unsigned flush_ms,
                      char err[RT_ERR_LEN]);
/* Room for one line of at most max bytes, or NULL (and a drop is
** counted) when the buffer cannot take it. Render into it, then commit
** the real length (0 to abandon). */
char *rt_logw_reserve(rt_logw *w, size_t max);
void rt_logw_commit(rt_logw *w, size_t len);
/* Copying variant of reserve+commit. */
bool rt_logw_write(rt_logw *w, const char *line, size_t len);
/* Render r with f straight into the buffer (drops if it cannot fit). */
bool rt_logw_log(rt_logw *w, const rt_alog *f, const rt_log_rec *r);
/* Write what the descriptor takes now; 0, or -1 on a hard write error
** (the buffer is then discarded and counted as dropped). */
int rt_logw_flush(rt_logw *w);
/* Blocking: write everything, waiting at most timeout_ms (shutdown). */
int rt_logw_drain(rt_logw *w, int timeout_ms);
uint64_t rt_logw_dropped(const rt_logw *w);
size_t rt_logw_pending(const rt_logw *w);
/* Flush what can be flushed without waiting, then close. */
void rt_logw_close(rt_logw *w);

#endif
