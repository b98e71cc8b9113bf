/*
** proxy.c -- HTTP/1.1 forwarding, as an Istio ingress gateway's Envoy
** forwards (../shared/reference/istio-semantics.md sections 7 and 8).
**
** Objects (all per worker, recycled through free lists):
**   dconn   a downstream (client) connection: input/output buffers, one
**           stream at a time; pipelined requests wait in its input buffer
**           and are answered in order
**   stream  one request/response exchange: the parsed request head
**           (pinned at the start of the dconn's input buffer until the
**           stream ends, so header values stay valid for routing and the
**           access log), routing decision, body framing state both ways
**   uconn   an upstream connection; idle ones sit in a pool (upstream.h)
**
** Data path: bodies are never buffered whole. Body bytes are written from
** the input buffer of one side straight to the other side's socket with
** writev (the other side's output buffer holds only heads and chunk
** framing), and consumed only once written; a full input buffer stops
** reading that side (backpressure). Chunked bodies are decoded and
** re-framed (chunk extensions and trailers dropped, as Envoy does).
**
** Every close is deferred: a closed object is marked dead, leaves the
** loop and its lists, and is freed by rt_proxy_reap() before the loop
** sleeps, so no callback in the same iteration can touch freed memory.
*/
#include "fwd.h"
#include "reqlog.h"
#include "stats.h"
#include "table.h"
#include "upstream.h"
#include "utls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define LINGER_MS 2000          /* reading and dropping input after a final response, before close */
#define MAX_RETRY_BACKOFF_MS 250
#define RETRY_BASE_MS 25

enum { D_HEAD, D_STREAM, D_LINGER };
enum { S_ROUTE, S_WAIT_DNS, S_CONNECTING, S_BACKOFF, S_UPSTREAM, S_LOCAL, S_PENDING };
enum { U_CONNECTING, U_IDLE, U_ACTIVE };

/* retry_on bits */
enum {
    RO_CONNECT_FAILURE = 1u << 0, RO_RESET = 1u << 1, RO_5XX = 1u << 2, RO_GATEWAY = 1u << 3,
    RO_4XX = 1u << 4, RO_CODES = 1u << 5
};

typedef struct rt_dconn rt_dconn;
typedef struct rt_uconn rt_uconn;
typedef struct rt_stream rt_stream;


struct rt_stream {
    rt_dconn *dc;
    rt_uconn *uc;
    rt_stream *next_free;
    rt_link wait;                  /* in pstate.dns_wait while S_WAIT_DNS, in the cluster's
                                      pending list while S_PENDING */
    uint8_t state;
    bool local;                 /* the response is a local reply */
    bool done;
    /* time */
    int64_t start_ns;           /* wall clock at the first request byte */
    uint64_t start_ms, req_end_ms, resp_start_ms, up_req_ms;
    /* request */
    rt_h1_request req;
    uint32_t head_len;
    bool head_request, expect100, want_close;
    uint8_t req_body;           /* rt_h1_body */
    uint64_t req_left;
    rt_h1_chunked req_ck;
    uint32_t req_span;          /* body bytes at dc->in.r scheduled for the upstream */
    bool req_crlf;              /* a chunk's CRLF is owed before the next framing */
    bool req_in_done;           /* the whole request body was read */
    bool req_out_done;          /* ... and written upstream */
    bool req_head_sent;         /* bytes of the request reached an upstream: no replay */
    uint64_t req_bytes;
    /* routing */
    uint32_t cluster, route, action_rec, wcluster, target;
    const char *route_name;
    uint32_t route_name_len;
    rt_ucluster *ucl;
    rt_host *host;              /* the host of the current (or last) attempt, referenced */
    uint32_t timeout_ms, per_try_ms, retries_left, retry_on, backoff_ms;
    uint32_t nreq_ops, nresp_ops;       /* the route's header operations */
    bool ucl_counted;                   /* counted in the cluster's upstream_rq_active */
    uint32_t retry_codes[8], nretry_codes;
    uint32_t num_retries;
    uint32_t attempts;
    bool retried;
    rt_timer timer;             /* DNS wait, backoff, route / per-try timeout */
    uint64_t deadline_ms, try_deadline_ms, backoff_until;
    uint32_t resp_last_len;
    bool host_active;
    /* strings of this request */
    rt_buf aux;
    uint32_t path_off, path_len;        /* normalized :path (logged) */
    uint32_t upath_off, upath_len;      /* what goes upstream */
    uint32_t auth_off, auth_len;        /* :authority sent (and logged) */
    uint32_t xff_off, xff_len;
    uint32_t cookie_off, cookie_len;    /* a generated hash cookie's Set-Cookie value (0: none) */
    char reqid[RT_UUID_LEN + 1];
    char peer_ip[48];
    bool path_set, rewrote_path, rewrote_auth;
    rt_h1_header set[8];                /* request fields the proxy set (access log) */
    uint32_t nset;
    /* response */
    rt_h1_response resp;
    bool resp_parsed;           /* final head parsed */
    bool resp_started;          /* head written (or queued) downstream */
    uint8_t resp_body;
    uint64_t resp_left;
    rt_h1_chunked resp_ck;
    bool resp_chunk_out;        /* downstream framing is chunked */
    uint32_t resp_span;
    bool resp_crlf, resp_in_done, resp_out_done;
    uint64_t resp_bytes;
    uint32_t code;
    uint32_t flags;
    char details[192];
    char ufail[128];
    char svc_time[24];
    rt_h1_header rset[1];
    uint32_t nrset;
    /* route actions around the router (see "route actions" below) */
    rt_decision dec;            /* the decision, kept across a fault delay */
    bool fault_delayed;
    uint32_t xf_off, xf_len;    /* response fields the actions add ("name: value\r\n"...) */
    uint8_t xf_replace;         /* XF_*: upstream fields of those names are dropped */
    struct rt_shadow *sw[4];    /* mirror copies waiting for body bytes */
    uint8_t nsw;
    char *rbody;                /* the body bytes sent so far, for retries (RETRY_BODY_MAX) */
    uint32_t rbody_n;
    /* the parsers' field arrays (not cleared between uses) */
    rt_h1_header hdrs[RT_H1_MAX_HEADERS];
    rt_h1_header rhdrs[RT_H1_MAX_HEADERS];
};

struct rt_dconn {
    rt_worker *w;
    rt_wlisten *wl;
    rt_link all;
    rt_dconn *next_free;
    int fd;
    uint8_t state;
    bool dead, eof, close_after, wblocked;
    rt_buf in, out;
    rt_timer timer;
    uint64_t last_ms;
    uint64_t head_start_ms;
    int64_t head_start_ns;
    uint64_t linger_until;
    uint64_t conn_id;
    uint32_t nreq;
    rt_stream *s;               /* the current exchange */
    rt_stream *hs;              /* a head being received */
    uint32_t hs_last;           /* its parser's last_len */
    rt_addr peer;
    char peer_str[RT_ADDR_STRLEN], peer_ip[48], local_str[RT_ADDR_STRLEN];
    uint8_t peer_len, peer_ip_len, local_len;
    bool peer_loopback;
};

struct rt_uconn {
    rt_worker *w;
    rt_link all;
    rt_uconn *next_free;
    rt_pooled pl;
    int fd;
    uint8_t state;
    bool dead, eof, wblocked, in_pool, write_dead;
    rt_buf in, out;
    rt_pool *pool;
    rt_host *host;
    rt_ucluster *ucl;
    rt_ucluster *cb;            /* the cluster whose max_connections counts this connection */
    rt_utls *tls;               /* TLS origination (DestinationRule tls), NULL: plain text */
    char sni[256];              /* its SNI when taken from the request (auto SNI), else "" */
    rt_stream *s;
    rt_timer timer;
    uint64_t idle_since;
    uint32_t idle_timeout_ms;
    uint64_t expires_ms;        /* maxConnectionDuration: not reused after this (0 never) */
    uint32_t nreq;
    uint32_t max_req;
    char local_str[RT_ADDR_STRLEN];
    uint8_t local_len;
};

typedef struct rt_pstate {
    rt_link dconns, uconns;
    rt_link dns_wait;
    rt_link kicks;              /* clusters whose pending requests may go on (upstream.h) */
    rt_dconn *free_dconns, *reap_dconns;
    rt_uconn *free_uconns, *reap_uconns;
    rt_stream *free_streams, *reap_streams;
    uint32_t nfree_dconns, nfree_uconns, nfree_streams;
    rt_link shadows;            /* mirrored requests in flight */
    uint32_t nshadows;
    uint64_t next_conn_id;
} rt_pstate;

#define FREE_MAX 256            /* objects kept for reuse */


static void dc_close(rt_dconn *dc);
static void dc_run(rt_dconn *dc);
static void dc_interest(rt_dconn *dc);
static void uc_close(rt_uconn *uc, bool remote);
static void uc_interest(rt_uconn *uc);
static void s_pump_req(rt_stream *s);
static void s_pump_resp(rt_stream *s);
static void s_connect(rt_stream *s);
static void s_resp_run(rt_stream *s);
static void s_abort(rt_stream *s, uint32_t flag, const char *details);
static void s_finish(rt_stream *s);
static void on_uconn(rt_loop *l, int fd, void *ud, int mask);
static void s_connect_failed(rt_stream *s, bool timeout);
static void s_retry(rt_stream *s);
/* route actions (fault, CORS, mirrors) */
static void route_decided(rt_stream *s, const rt_decision *dp);
static bool actions_decode(rt_stream *s, const rt_decision *d);
static void mirror_request(rt_stream *s, const rt_decision *d, uint32_t n);
static bool put_action_fields(rt_stream *s, rt_buf *b);
static bool action_replaces(const rt_stream *s, const rt_h1_header *h);
static bool compose_request(rt_stream *s, rt_buf *b);
static void shadows_close_all(rt_worker *w);
static void body_sent(rt_stream *s, const char *p, uint32_t n);
static void actions_stream_free(rt_stream *s);
static void retry_body_init(rt_stream *s);
static bool retry_body_ok(const rt_stream *s);
static bool retry_body_resend(rt_stream *s, rt_buf *b);

/* ------------------------------------------------------------ Envoy's texts */

/* CodeUtility::toString: the reason phrase Envoy writes (not the upstream's). */
static const char *reason(uint32_t c)
{
    switch (c) {
    case 100: return "Continue";
    case 200: return "OK"; case 201: return "Created"; case 202: return "Accepted";
    case 203: return "Non-Authoritative Information"; case 204: return "No Content";
    case 205: return "Reset Content"; case 206: return "Partial Content"; case 207: return "Multi-Status";
    case 208: return "Already Reported"; case 226: return "IM Used";
    case 300: return "Multiple Choices"; case 301: return "Moved Permanently"; case 302: return "Found";
    case 303: return "See Other"; case 304: return "Not Modified"; case 305: return "Use Proxy";
    case 307: return "Temporary Redirect"; case 308: return "Permanent Redirect";
    case 400: return "Bad Request"; case 401: return "Unauthorized"; case 402: return "Payment Required";
    case 403: return "Forbidden"; case 404: return "Not Found"; case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable"; case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout"; case 409: return "Conflict"; case 410: return "Gone";
    case 411: return "Length Required"; case 412: return "Precondition Failed"; case 413: return "Payload Too Large";
    case 414: return "URI Too Long"; case 415: return "Unsupported Media Type"; case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed"; case 421: return "Misdirected Request"; case 422: return "Unprocessable Entity";
    case 423: return "Locked"; case 424: return "Failed Dependency"; case 426: return "Upgrade Required";
    case 428: return "Precondition Required"; case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error"; case 501: return "Not Implemented"; case 502: return "Bad Gateway";
    case 503: return "Service Unavailable"; case 504: return "Gateway Timeout"; case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates"; case 507: return "Insufficient Storage"; case 508: return "Loop Detected";
    case 510: return "Not Extended"; case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

/* ------------------------------------------------------------ small helpers */

static rt_pstate *PS(rt_worker *w) { return w->proxy; }
static uint64_t now_ms(rt_worker *w) { return rt_loop_now_ms(w->loop); }

static bool ieq(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && strncasecmp(a, b, an) == 0;
}

/* append to a buffer; false on OOM */
static bool put(rt_worker *w, rt_buf *b, const char *p, size_t n) { return rt_buf_append(&w->pool, b, p, n); }


/* "name: value\r\n" with the name lowercased, as Envoy's HTTP/1 codec writes it */
static bool put_field(rt_worker *w, rt_buf *b, const char *name, size_t nn, const char *value, size_t vn)
{
    if (rt_buf_room(b) < nn + vn + 4 || !b->p) {
        if (!b->p && !rt_buf_get(&w->pool, b)) return false;
        if (rt_buf_room(b) < nn + vn + 4) {
            rt_buf_compact(b);
            if (rt_buf_room(b) < nn + vn + 4 && !rt_buf_grow(&w->pool, b, b->w + (uint32_t)(nn + vn + 4) > RT_BUF_LARGE ? b->w + (uint32_t)(nn + vn + 4) : RT_BUF_LARGE))
                return false;
        }
    }
    char *o = b->p + b->w;
    for (size_t i = 0; i < nn; i++) {
        char c = name[i];
        o[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    o += nn;
    *o++ = ':';
    *o++ = ' ';
    memcpy(o, value, vn);
    o += vn;
    *o++ = '\r';
    *o++ = '\n';
    b->w += (uint32_t)(nn + vn + 4);
    return true;
}

/* a parsed field, unfolded if it used obs-fold */
static bool put_hdr(rt_worker *w, rt_buf *b, const rt_h1_header *h)
{
    if (!(h->flags & RT_H1_HF_FOLDED)) return put_field(w, b, h->name, h->name_len, h->value, h->value_len);
    char tmp[RT_H1_MAX_HEADER_BYTES];
    size_t n = rt_h1_unfold(h, tmp, sizeof tmp);
    return put_field(w, b, h->name, h->name_len, tmp, n);
}

static size_t u64dec(char *o, uint64_t v)
{
    char t[24];
    size_t n = 0;
    do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) o[i] = t[n - 1 - i];
    return n;
}

/* One send of two spans (head or framing, then body bytes); sendmsg
** rather than writev skips the VFS layer, MSG_NOSIGNAL any SIGPIPE. A single
** span (the usual request or response head with its small body) goes by
** send(), which spares the kernel copying and checking a msghdr and iovec. */
static ssize_t writev2(int fd, const char *a, size_t an, const char *b, size_t bn)
{
    if (!an || !bn) {
        const char *p = an ? a : b;
        size_t len = an ? an : bn;
        if (!len) return 0;
        ssize_t r;
        do r = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT); while (r < 0 && errno == EINTR);
        return r;
    }
    struct iovec iov[2];
    struct msghdr m;
    memset(&m, 0, sizeof m);
    int n = 0;
    if (an) { iov[n].iov_base = (void *)(uintptr_t)a; iov[n].iov_len = an; n++; }
    if (bn) { iov[n].iov_base = (void *)(uintptr_t)b; iov[n].iov_len = bn; n++; }
    if (!n) return 0;
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)n;
    ssize_t r;
    do r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT); while (r < 0 && errno == EINTR);
    return r;
}

/* ------------------------------------------------------------ objects */

static rt_stream *stream_new(rt_dconn *dc)
{
    rt_pstate *ps = PS(dc->w);
    rt_stream *s = ps->free_streams;
    if (s) {
        ps->free_streams = s->next_free;
        ps->nfree_streams--;
    } else {
        s = malloc(sizeof *s);
        if (!s) return NULL;
    }
    /* everything up to the field arrays is state; the parsers fill the arrays */
    memset(s, 0, offsetof(rt_stream, hdrs));
    s->dc = dc;
    rt_link_init(&s->wait);
    rt_timer_init(&s->timer, NULL, s);
    s->cluster = s->route = s->action_rec = s->wcluster = s->target = IMG_NONE;
    rt_h1_request_init(&s->req, s->hdrs, RT_H1_MAX_HEADERS);
    return s;
}

static void stream_free(rt_stream *s)
{
    rt_worker *w = s->dc->w;
    rt_pstate *ps = PS(w);
    rt_timer_stop(w->loop, &s->timer);
    rt_link_del(&s->wait);
    if (s->nsw || s->rbody) actions_stream_free(s);
    if (s->host) {
        rt_host_unref(s->host);
        s->host = NULL;
    }
    rt_buf_put(&w->pool, &s->aux);
    s->next_free = ps->reap_streams;
    ps->reap_streams = s;
}

static const char *aux_str(const rt_stream *s, uint32_t off) { return s->aux.p + off; }

/* copy into the stream's string space; returns the offset, or UINT32_MAX */
static uint32_t aux_put(rt_stream *s, const char *p, size_t n)
{
    uint32_t off = s->aux.w;
    if (!put(s->dc->w, &s->aux, p, n)) return UINT32_MAX;
    return off;
}

static void set_field(rt_stream *s, const char *name, const char *value, size_t vn)
{
    if (s->nset >= sizeof s->set / sizeof s->set[0]) return;
    rt_h1_header *h = &s->set[s->nset++];
    memset(h, 0, sizeof *h);
    h->name = name;
    h->name_len = (uint32_t)strlen(name);
    h->value = value;
    h->value_len = (uint32_t)vn;
}

/* ------------------------------------------------------------ dconn I/O */

static void dc_local_addr(rt_dconn *dc)
{
    if (dc->local_len) return;
    if (!dc->wl->ls->any) {
        dc->local_len = (uint8_t)snprintf(dc->local_str, sizeof dc->local_str, "%s", dc->wl->ls->addr_str);
        return;
    }
    rt_addr a;
    if (rt_net_local_addr(dc->fd, &a, NULL) == 0) dc->local_len = (uint8_t)rt_addr_format(&a, dc->local_str, sizeof dc->local_str);
}

/* read once; false when the connection died */
static bool dc_read(rt_dconn *dc)
{
    rt_worker *w = dc->w;
    if (!dc->in.p && !rt_buf_get(&w->pool, &dc->in)) {
        dc_close(dc);
        return false;
    }
    if (!rt_buf_room(&dc->in)) {
        if (dc->in.r > dc->in.base) rt_buf_compact(&dc->in);
        if (!rt_buf_room(&dc->in)) return true;
    }
    ssize_t n;
    do n = recv(dc->fd, dc->in.p + dc->in.w, rt_buf_room(&dc->in), MSG_DONTWAIT); while (n < 0 && errno == EINTR);
    if (n > 0) {
        if (!dc->s && dc->state == D_HEAD && rt_buf_len(&dc->in) == 0) {
            dc->head_start_ms = now_ms(w);
            dc->head_start_ns = rt_now_real_ns();
        }
        dc->in.w += (uint32_t)n;
        dc->last_ms = now_ms(w);
        return true;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) dc->eof = true;
    return true;
}

static void on_dconn(rt_loop *l, int fd, void *ud, int mask);

static uint64_t dc_deadline(rt_dconn *dc)
{
    const rt_opts *o = &dc->w->srv->o;
    if (dc->state == D_LINGER) return dc->linger_until;
    if (dc->s) return 0;
    if (rt_buf_len(&dc->in) && o->request_headers_timeout_ms) return dc->head_start_ms + o->request_headers_timeout_ms;
    if (o->idle_timeout_ms) return dc->last_ms + o->idle_timeout_ms;
    return 0;
}

static void on_dc_timer(rt_loop *l, rt_timer *t, void *ud);

static void dc_arm(rt_dconn *dc)
{
    uint64_t d = dc_deadline(dc);
    if (!d) return;
    uint64_t now = now_ms(dc->w);
    if (rt_timer_active(&dc->timer) && dc->timer.deadline <= d) return;
    rt_timer_start(dc->w->loop, &dc->timer, d > now ? d - now : 0, on_dc_timer, dc);
}

static void local_reply(rt_stream *s, uint32_t code, uint32_t flag, const char *details, const char *body, size_t blen,
                        bool close, const char *location, size_t loclen);

static void on_dc_timer(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    rt_dconn *dc = ud;
    if (dc->dead) return;
    uint64_t d = dc_deadline(dc), now = now_ms(dc->w);
    if (!d) return;
    if (now < d) {
        rt_timer_start(dc->w->loop, &dc->timer, d - now, on_dc_timer, dc);
        return;
    }
    if (dc->state == D_LINGER || !rt_buf_len(&dc->in)) {
        dc_close(dc);
        return;
    }
    /* request headers too slow: Envoy's request_headers_timeout */
    rt_stream *s = stream_new(dc);
    if (!s) {
        dc_close(dc);
        return;
    }
    dc->s = s;
    dc->state = D_STREAM;
    s->start_ms = dc->head_start_ms;
    s->start_ns = dc->head_start_ns;
    rt_ctr_inc(&dc->wl->rq_total);
    rt_ctr_inc(&dc->wl->rq_active);
    local_reply(s, 408, 0, "request_header_timeout", "request header timeout", 22, true, NULL, 0);
    dc_interest(dc);
}

static void dc_interest(rt_dconn *dc)
{
    if (dc->dead) return;
    int mask = 0;
    if (!dc->eof) {
        bool room = !dc->in.p || rt_buf_room(&dc->in) || dc->in.r > dc->in.base;
        if (dc->state == D_LINGER) mask |= RT_READABLE;
        else if (room) mask |= RT_READABLE;
    }
    if (dc->wblocked) mask |= RT_WRITABLE;
    rt_file_mod(dc->w->loop, dc->fd, mask);
}

void rt_proxy_accept(rt_loop *l, int lfd, void *ud, int mask)
{
    (void)mask;
    rt_wlisten *wl = ud;
    rt_worker *w = wl->w;
    rt_pstate *ps = PS(w);
    for (int i = 0; i < 64 && !w->stopping; i++) {
        rt_addr peer;
        int fd = rt_net_accept(lfd, &peer, NULL);
        if (fd < 0) return;
        rt_dconn *dc = ps->free_dconns;
        if (dc) {
            ps->free_dconns = dc->next_free;
            ps->nfree_dconns--;
        } else if (!(dc = malloc(sizeof *dc))) {
            close(fd);
            continue;
        }
        memset(dc, 0, sizeof *dc);
        dc->w = w;
        dc->wl = wl;
        dc->fd = fd;
        dc->peer = peer;
        dc->conn_id = ++ps->next_conn_id;
        dc->last_ms = now_ms(w);
        rt_timer_init(&dc->timer, on_dc_timer, dc);
        if (rt_file_add(l, fd, RT_READABLE, on_dconn, dc) < 0) {
            close(fd);
            free(dc);
            continue;
        }
        rt_net_nodelay(fd, true, NULL);
        dc->peer_len = (uint8_t)rt_addr_format(&peer, dc->peer_str, sizeof dc->peer_str);
        dc->peer_ip_len = (uint8_t)rt_addr_format_ip(&peer, dc->peer_ip, sizeof dc->peer_ip);
        if (peer.ss.ss_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)&peer.ss;
            dc->peer_loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
        } else {
            dc->peer_loopback = strcmp(dc->peer_ip, "::1") == 0;
        }
        rt_link_add(&ps->dconns, &dc->all);
        rt_wgen_hold(wl->wg);
        rt_ctr_inc(&wl->cx_total);
        rt_ctr_inc(&wl->cx_active);
        rt_ctr_inc(&w->conns_live);
        dc_arm(dc);
    }
}

static void dc_close(rt_dconn *dc)
{
    if (dc->dead) return;
    rt_worker *w = dc->w;
    dc->dead = true;
    if (dc->s) {
        rt_stream *s = dc->s;
        if (!s->done) {
            /* the client went away (or we gave up) before the response was done */
            if (!s->local && !s->resp_out_done) s->flags |= RT_FL(DC);
            if (!s->details[0]) snprintf(s->details, sizeof s->details, "downstream_remote_disconnect");
            s_finish(s);
        }
    }
    rt_timer_stop(w->loop, &dc->timer);
    rt_file_del(w->loop, dc->fd);
    close(dc->fd);
    rt_link_del(&dc->all);
    rt_buf_put(&w->pool, &dc->in);
    rt_buf_put(&w->pool, &dc->out);
    rt_ctr_dec(&dc->wl->cx_active);
    rt_ctr_dec(&w->conns_live);
    rt_pstate *ps = PS(w);
    dc->next_free = ps->reap_dconns;
    ps->reap_dconns = dc;
}

/* Close gracefully after the final response: stop sending, read and
** drop what the client still sends for a while, so that the response is
** not destroyed by a reset. */
static void dc_linger(rt_dconn *dc)
{
    if (dc->dead) return;
    if (dc->eof) {
        dc_close(dc);
        return;
    }
    shutdown(dc->fd, SHUT_WR);
    dc->state = D_LINGER;
    dc->linger_until = now_ms(dc->w) + LINGER_MS;
    dc->in.base = 0;
    dc->in.r = dc->in.w = 0;
    rt_timer_stop(dc->w->loop, &dc->timer);
    dc_arm(dc);
    dc_interest(dc);
}

/* ------------------------------------------------------------ uconn */

static rt_uconn *uc_new(rt_worker *w)
{
    rt_pstate *ps = PS(w);
    rt_uconn *uc = ps->free_uconns;
    if (uc) {
        ps->free_uconns = uc->next_free;
        ps->nfree_uconns--;
    } else if (!(uc = malloc(sizeof *uc))) {
        return NULL;
    }
    memset(uc, 0, sizeof *uc);
    uc->w = w;
    uc->fd = -1;
    uc->pl.next = uc->pl.prev = &uc->pl;
    return uc;
}

static void uc_set_host(rt_uconn *uc, rt_host *h, rt_ucluster *ucl)
{
    if (uc->host == h) {
        uc->ucl = ucl;
        return;
    }
    if (uc->host) {
        rt_ctr_dec(&uc->host->cx_active);
        rt_host_unref(uc->host);
    }
    uc->host = h;
    uc->ucl = ucl;
    rt_host_ref(h);
    rt_ctr_inc(&h->cx_active);
}

/* A connection of a cluster with waiting requests became free: serve
** them before the loop sleeps (rt_proxy_reap), never from inside the
** caller's stack. */
static void cb_kick(rt_worker *w, rt_ucluster *ucl)
{
    if (!rt_link_empty(&ucl->pending) && rt_link_empty(&ucl->kick)) rt_link_add(&PS(w)->kicks, &ucl->kick);
}

static void uc_close(rt_uconn *uc, bool remote)
{
    if (uc->dead) return;
    rt_worker *w = uc->w;
    uc->dead = true;
    if (uc->in_pool) {
        rt_pool_remove(uc->pool, &uc->pl);
        uc->in_pool = false;
    }
    rt_timer_stop(w->loop, &uc->timer);
    if (uc->tls) {
        rt_utls_free(uc->tls);
        uc->tls = NULL;
    }
    if (uc->fd >= 0) {
        rt_file_del(w->loop, uc->fd);
        close(uc->fd);
        rt_ctr_dec(&w->conns_live);
    }
    if (uc->ucl && uc->state != U_CONNECTING) {
        rt_ctr_dec(&uc->ucl->cx_active);
        rt_ctr_inc(remote ? &uc->ucl->cx_destroy_remote : &uc->ucl->cx_destroy_local);
    }
    if (uc->host) {
        rt_ctr_dec(&uc->host->cx_active);
        rt_host_unref(uc->host);
        uc->host = NULL;
    }
    if (uc->cb) {
        uc->cb->cx_open--;
        cb_kick(w, uc->cb);
        uc->cb = NULL;
    }
    if (uc->s && uc->s->uc == uc) uc->s->uc = NULL;
    uc->s = NULL;
    rt_link_del(&uc->all);
    rt_buf_put(&w->pool, &uc->in);
    rt_buf_put(&w->pool, &uc->out);
    rt_pstate *ps = PS(w);
    uc->next_free = ps->reap_uconns;
    ps->reap_uconns = uc;
}

static uint64_t uc_deadline(rt_uconn *uc)
{
    if (uc->state != U_IDLE) return 0;
    uint64_t d = uc->idle_timeout_ms ? uc->idle_since + uc->idle_timeout_ms : 0;
    if (uc->expires_ms && (!d || uc->expires_ms < d)) d = uc->expires_ms;
    return d;
}

static void on_uc_timer(rt_loop *l, rt_timer *t, void *ud)
{
    (void)t;
    rt_uconn *uc = ud;
    if (uc->dead) return;
    if (uc->state == U_ACTIVE && uc->tls) {
        /* decrypted bytes wait inside OpenSSL (uc_interest) */
        on_uconn(l, uc->fd, uc, RT_READABLE);
        return;
    }
    if (uc->state == U_CONNECTING) {
        /* connect timeout */
        rt_stream *s = uc->s;
        if (uc->ucl) rt_ctr_inc(&uc->ucl->cx_connect_timeout);
        if (uc->host) rt_ctr_inc(&uc->host->cx_connect_fail);
        uc_close(uc, false);
        if (s) {
            snprintf(s->details, sizeof s->details, "connection timeout");
            s->ufail[0] = '\0';
            s_connect_failed(s, true);
        }
        return;
    }
    uint64_t d = uc_deadline(uc), now = now_ms(uc->w);
    if (!d) return;
    if (now >= d) {
        uc_close(uc, false);
        return;
    }
    rt_timer_start(uc->w->loop, &uc->timer, d - now, on_uc_timer, uc);
}

static void uc_interest(rt_uconn *uc)
{
    if (uc->dead) return;
    int mask = 0;
    if (uc->state == U_CONNECTING) mask = uc->tls ? rt_utls_want(uc->tls) : RT_WRITABLE;
    else {
        bool room = !uc->in.p || rt_buf_room(&uc->in) || uc->in.r > uc->in.base;
        if (!uc->eof && (room || uc->state == U_IDLE)) mask |= RT_READABLE;
        if (uc->wblocked) mask |= uc->tls ? rt_utls_want(uc->tls) : RT_WRITABLE;
        /* bytes OpenSSL decrypted already never make the socket readable */
        if (uc->tls && uc->state == U_ACTIVE && room && !uc->eof && rt_utls_pending(uc->tls))
            rt_timer_start(uc->w->loop, &uc->timer, 0, on_uc_timer, uc);
    }
    rt_file_mod(uc->w->loop, uc->fd, mask);
}

/* Put a finished connection back in its pool. */
static void uc_release(rt_uconn *uc)
{
    rt_worker *w = uc->w;
    uc->s = NULL;
    uc->state = U_IDLE;
    uc->wblocked = false;
    uc->in.base = 0;
    uc->in.r = uc->in.w = 0;
    rt_buf_put(&w->pool, &uc->in);
    rt_buf_put(&w->pool, &uc->out);
    if (w->stopping || !uc->pool || (uc->expires_ms && now_ms(w) >= uc->expires_ms)) {
        uc_close(uc, false);
        return;
    }
    uc->idle_since = now_ms(w);
    rt_pool_put(uc->pool, &uc->pl);
    uc->in_pool = true;
    if (uc->cb) cb_kick(w, uc->cb);
    uc_interest(uc);
    uint64_t d = uc_deadline(uc);
    if (d && (!rt_timer_active(&uc->timer) || uc->timer.deadline > d))
        rt_timer_start(w->loop, &uc->timer, d - uc->idle_since, on_uc_timer, uc);
}

/* ------------------------------------------------------------ routing */

/* header lookup for table.c: several fields of one name joined with "," */
typedef struct hdr_ctx { rt_stream *s; int turn; } hdr_ctx;

static const char *hdr_lookup(void *ud, const char *name, size_t nn, size_t *vn)
{
    hdr_ctx *c = ud;
    rt_stream *s = c->s;
    rt_worker *w = s->dc->w;
    int first = -1, count = 0;
    size_t total = 0;
    for (uint32_t i = 0; i < s->req.num_headers; i++) {
        if (!ieq(s->hdrs[i].name, s->hdrs[i].name_len, name, nn)) continue;
        if (first < 0) first = (int)i;
        count++;
        total += s->hdrs[i].value_len + 1;
    }
    if (first < 0) return NULL;
    const rt_h1_header *h = &s->hdrs[first];
    if (count == 1 && !(h->flags & RT_H1_HF_FOLDED)) {
        *vn = h->value_len;
        return h->value;
    }
    /* join into one of two halves of the scratch space (the matcher uses
    ** one value at a time) */
    size_t half = w->scratch_cap / 2;
    if (total > half) total = half;
    char *o = w->scratch + (c->turn++ & 1) * half;
    size_t n = 0;
    for (uint32_t i = (uint32_t)first; i < s->req.num_headers; i++) {
        const rt_h1_header *x = &s->hdrs[i];
        if (!ieq(x->name, x->name_len, name, nn)) continue;
        if (n && n < half) o[n++] = ',';
        n += rt_h1_unfold(x, o + n, half - n);
    }
    *vn = n;
    return o;
}

static void fill_rt_request(rt_stream *s, rt_request *r, hdr_ctx *ctx, bool use_rewritten)
{
    (void)use_rewritten;
    memset(r, 0, sizeof *r);
    r->method = s->req.method;
    r->method_len = s->req.method_len;
    r->authority = s->req.authority;
    r->authority_len = s->req.authority ? s->req.authority_len : 0;
    r->path = aux_str(s, s->path_off);
    r->path_len = s->path_len;
    r->scheme = "http";
    r->scheme_len = 4;
    ctx->s = s;
    ctx->turn = 0;
    r->header = hdr_lookup;
    r->header_ud = ctx;
}

/* retry_on string -> bits */
static uint32_t parse_retry_on(const char *p, size_t n)
{
    uint32_t bits = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != ',') j++;
        size_t a = i, b = j;
        while (a < b && (p[a] == ' ' || p[a] == '\t')) a++;
        while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t')) b--;
        const char *t = p + a;
        size_t tn = b - a;
        if (ieq(t, tn, "connect-failure", 15)) bits |= RO_CONNECT_FAILURE;
        else if (ieq(t, tn, "reset", 5)) bits |= RO_RESET;
        else if (ieq(t, tn, "5xx", 3)) bits |= RO_5XX;
        else if (ieq(t, tn, "gateway-error", 13)) bits |= RO_GATEWAY;
        else if (ieq(t, tn, "retriable-4xx", 13)) bits |= RO_4XX;
        else if (ieq(t, tn, "retriable-status-codes", 22)) bits |= RO_CODES;
        i = j + 1;
    }
    return bits;
}

/* ------------------------------------------------------------ local replies */

/* Finish the request side of a stream that will not reach an upstream:
** either the rest of its body is already here (skip it) or the
** connection closes after the reply. */
static bool skip_request_body(rt_stream *s)
{
    rt_dconn *dc = s->dc;
    if (s->req_in_done || s->req_body == RT_H1_BODY_NONE) {
        s->req_in_done = true;
        return true;
    }
    if (s->req_body == RT_H1_BODY_LENGTH) {
        s->req_span = 0;        /* req_left still counts the span's bytes */
        uint32_t avail = rt_buf_len(&dc->in);
        if (avail >= s->req_left) {
            rt_buf_consume(&dc->in, (uint32_t)s->req_left);
            s->req_bytes += s->req_left;
            s->req_left = 0;
            s->req_in_done = true;
            return true;
        }
        return false;
    }
    /* chunk data the decoder already counted sits first in the buffer */
    if (s->req_span) {
        rt_buf_consume(&dc->in, s->req_span);
        s->req_bytes += s->req_span;
        s->req_span = 0;
    }
    for (;;) {
        const char *data;
        size_t dn;
        ssize_t k = rt_h1_chunked_decode(&s->req_ck, rt_buf_data(&dc->in), rt_buf_len(&dc->in), &data, &dn);
        if (k < 0) return false;
        rt_buf_consume(&dc->in, (uint32_t)k);
        s->req_bytes += dn;
        if (rt_h1_chunked_done(&s->req_ck)) {
            s->req_in_done = true;
            return true;
        }
        if (k == 0 || !rt_buf_len(&dc->in)) return false;
    }
}

static void set_details(rt_stream *s, const char *d)
{
    snprintf(s->details, sizeof s->details, "%s", d ? d : "");
}

/* Append the route's response header operations (set/add), skipping
** nothing: used for local replies of matched routes. */
static void put_resp_ops(rt_stream *s, rt_buf *b)
{
    if (s->action_rec == IMG_NONE) return;
    const rt_image *img = rt_wl_image(s->dc->wl);
    rt_decision d;
    memset(&d, 0, sizeof d);
    d.action_rec = s->action_rec;
    d.wcluster = s->wcluster;
    rt_policy p;
    rt_policy_get(img, &d, &p);
    for (uint32_t i = 0; i < p.nresp_headers; i++) {
        rt_header_op op = rt_resp_header_op(img, &d, i);
        if (op.op != IMG_HOP_REMOVE) put_field(s->dc->w, b, op.name.p, op.name.n, op.value.p, op.value.n);
    }
}

/* Answer the request ourselves, as Envoy's sendLocalReply does. */
static void local_reply(rt_stream *s, uint32_t code, uint32_t flag, const char *details, const char *body, size_t blen,
                        bool close, const char *location, size_t loclen)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    if (s->resp_started) {
        s_abort(s, flag, details);
        return;
    }
    if (s->uc) {
        rt_uconn *uc = s->uc;
        s->uc = NULL;
        uc->s = NULL;
        uc_close(uc, false);
    }
    rt_timer_stop(w->loop, &s->timer);
    rt_link_del(&s->wait);
    s->state = S_LOCAL;
    s->local = true;
    s->code = code;
    s->flags |= flag;
    set_details(s, details);
    if (!skip_request_body(s)) close = true;
    if (s->want_close || dc->eof) close = true;
    if (close) dc->close_after = true;
    rt_buf *b = &dc->out;
    char line[64];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %u %s\r\n", code, reason(code));
    bool ok = put(w, b, line, (size_t)n);
    if (location) ok = ok && put_field(w, b, "location", 8, location, loclen);
    if (blen) {
        char cl[24];
        size_t k = u64dec(cl, blen);
        ok = ok && put_field(w, b, "content-length", 14, cl, k) && put_field(w, b, "content-type", 12, "text/plain", 10);
    }
    put_resp_ops(s, b);
    ok = ok && put_action_fields(s, b);
    const char *date = rt_worker_date(w);
    ok = ok && put_field(w, b, "date", 4, date, strlen(date)) && put_field(w, b, "server", 6, "istio-envoy", 11);
    if (close) ok = ok && put_field(w, b, "connection", 10, "close", 5);
    if (!blen && code >= 200 && code != 204 && code != 304 && !s->head_request) ok = ok && put_field(w, b, "content-length", 14, "0", 1);
    ok = ok && put(w, b, "\r\n", 2);
    if (blen && !s->head_request) {
        ok = ok && put(w, b, body, blen);
        s->resp_bytes = blen;
    }
    if (!ok) {
        dc_close(dc);
        return;
    }
    s->resp_started = true;
    s->resp_parsed = true;
    s->resp_in_done = true;
    s->resp_start_ms = now_ms(w);
    s_pump_resp(s);
}

/* The body of Envoy's "upstream connect error or disconnect/reset before
** headers" replies, and the matching details and failure reason. */
static void upstream_reset_reply(rt_stream *s, uint32_t flag, const char *reset_reason, const char *tfr)
{
    char body[320], det[192];
    int n = snprintf(body, sizeof body, "upstream connect error or disconnect/reset before headers. %sreset reason: %s%s%s",
                     s->retried ? "retried and the latest " : "", reset_reason, tfr && *tfr ? ", transport failure reason: " : "",
                     tfr && *tfr ? tfr : "");
    snprintf(det, sizeof det, "upstream_reset_before_response_started{%s%s%s}", reset_reason, tfr && *tfr ? "|" : "", tfr && *tfr ? tfr : "");
    for (char *p = det; *p; p++)
        if (*p == ' ') *p = '_';
    if (tfr && *tfr) {
        snprintf(s->ufail, sizeof s->ufail, "%s", tfr);
        for (char *p = s->ufail; *p; p++)
            if (*p == ' ') *p = '_';
    }
    local_reply(s, 503, flag, det, body, (size_t)n, false, NULL, 0);
}

/* ------------------------------------------------------------ stream start */

static void route_stream(rt_stream *s);

/* A parse failure: Envoy's codec error reply (status, flag, details,
** the reason phrase as body), then the connection closes. */
static void codec_error(rt_stream *s, rt_h1_err e)
{
    int st = rt_h1_err_status(e);
    uint32_t fl = rt_flag_from_name(rt_h1_err_flag(e));
    if (st == 0) {
        s->flags |= fl;
        set_details(s, rt_h1_err_details(e));
        s->dc->close_after = true;
        s->done = false;
        s->local = true;
        s->resp_in_done = s->resp_out_done = true;
        s->req_in_done = true;
        s_finish(s);
        return;
    }
    if (e == RT_H1_E_CONNECT) {
        local_reply(s, 404, RT_FL(NR), "route_not_found", NULL, 0, true, NULL, 0);
        return;
    }
    const char *r = reason((uint32_t)st);
    local_reply(s, (uint32_t)st, fl, rt_h1_err_details(e), r, strlen(r), true, NULL, 0);
}

/* The head of dc->in parsed (rc > 0) or rejected (rc == -1). */
static void stream_begin(rt_dconn *dc, rt_stream *s, int rc)
{
    rt_worker *w = dc->w;
    s->start_ms = dc->head_start_ms;
    s->start_ns = dc->head_start_ns;
    dc->nreq++;
    rt_ctr_inc(&dc->wl->rq_total);
    rt_ctr_inc(&dc->wl->rq_active);
    s->head_request = s->req.method_id == RT_H1_M_HEAD;
    if (rc < 0) {
        s->req_in_done = true;
        s->req_end_ms = now_ms(w);
        if (s->req.path) {
            s->path_off = aux_put(s, s->req.path, s->req.path_len);
            if (s->path_off != UINT32_MAX) {
                s->path_len = s->req.path_len;
                s->path_set = true;
            }
        }
        codec_error(s, (rt_h1_err)s->req.err);
        return;
    }
    /* pin the head: values point into [0, head_len) of dc->in */
    s->head_len = (uint32_t)rc;
    dc->in.base = (uint32_t)rc;
    dc->in.r = (uint32_t)rc;
    if (dc->in.r == dc->in.w) dc->in.r = dc->in.w = dc->in.base;
    s->req_body = s->req.body;
    s->req_left = s->req.body == RT_H1_BODY_LENGTH ? s->req.content_length : 0;
    if (s->req.body == RT_H1_BODY_CHUNKED) rt_h1_chunked_init(&s->req_ck);
    if (s->req.body == RT_H1_BODY_NONE) {
        s->req_in_done = true;
        s->req_end_ms = now_ms(w);
    }
    s->expect100 = (s->req.flags & RT_H1_F_EXPECT_100) != 0;
    s->want_close = (s->req.flags & RT_H1_F_CLOSE) != 0;
    /* path normalization (Istio's pathNormalization) */
    const char *p = s->req.path;
    size_t pn = s->req.path_len;
    if (s->req.form == RT_H1_FORM_ASTERISK) {
        s->path_off = aux_put(s, p, pn);
        s->path_len = (uint32_t)pn;
    } else {
        if (w->scratch_cap < RT_PATH_CAP(pn)) {
            local_reply(s, 431, RT_FL(DPE), "http1.headers_too_large", reason(431), strlen(reason(431)), true, NULL, 0);
            return;
        }
        ssize_t k = rt_path_normalize(w->srv->o.path_mode, p, pn, w->scratch, w->scratch_cap);
        if (k == RT_PATH_REJECT || k < 0) {
            s->path_off = aux_put(s, p, pn);
            s->path_len = (uint32_t)pn;
            s->path_set = s->path_off != UINT32_MAX;
            local_reply(s, 400, 0, "path_normalization_failed", NULL, 0, false, NULL, 0);
            return;
        }
        s->path_off = aux_put(s, w->scratch, (size_t)k);
        s->path_len = (uint32_t)k;
    }
    if (s->path_off == UINT32_MAX) {
        dc_close(dc);
        return;
    }
    s->path_set = true;
    s->upath_off = s->path_off;
    s->upath_len = s->path_len;
    /* the request id and the client address for x-forwarded-for */
    rt_uuid4(&w->rng, s->reqid);
    route_stream(s);
}

static void route_stream_in(rt_stream *s);

/* Route with the image of the connection's generation (fwd.h). */
static void route_stream(rt_stream *s)
{
    rt_worker *w = s->dc->w;
    rt_wgen *prev = rt_worker_use(w, s->dc->wl->wg);
    route_stream_in(s);
    rt_worker_use(w, prev);
}

static void route_stream_in(rt_stream *s)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    const rt_image *img = rt_wl_image(dc->wl);
    const rt_chain *chain = dc->wl->ls->chain;
    if (!chain) {
        local_reply(s, 404, RT_FL(NR), "route_not_found", NULL, 0, false, NULL, 0);
        return;
    }
    rt_request rq;
    hdr_ctx ctx;
    fill_rt_request(s, &rq, &ctx, false);
    rq.random = rt_rng_next(&w->rng);
    rt_decision d;
    rt_route_http(img, chain, &rq, &d);
    s->route = d.route;
    s->action_rec = d.action_rec;
    s->wcluster = d.wcluster;
    s->target = d.target;
    s->cluster = d.cluster;
    s->route_name = d.route_name.n ? d.route_name.p : NULL;
    s->route_name_len = d.route_name.n;
    /* the fault and CORS filters run before the router */
    if (d.action_rec != IMG_NONE && actions_decode(s, &d)) return;
    route_decided(s, &d);
}

/* The router's part: local replies of the decision, rewrites, policies,
** then the upstream. */
static void route_decided_in(rt_stream *s, const rt_decision *dp);

/* After the fault filter's delay too: in the connection's generation. */
static void route_decided(rt_stream *s, const rt_decision *dp)
{
    rt_worker *w = s->dc->w;
    rt_wgen *prev = rt_worker_use(w, s->dc->wl->wg);
    route_decided_in(s, dp);
    rt_worker_use(w, prev);
}

static void route_decided_in(rt_stream *s, const rt_decision *dp)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    const rt_image *img = rt_wl_image(dc->wl);
    rt_decision d = *dp;
    rt_request rq;
    hdr_ctx ctx;
    fill_rt_request(s, &rq, &ctx, false);
    switch (d.action) {
    case RT_ACT_NO_ROUTE:
    case RT_ACT_CLOSE:
        local_reply(s, 404, RT_FL(NR), "route_not_found", NULL, 0, false, NULL, 0);
        return;
    case RT_ACT_REDIRECT: {
        char loc[8192];
        int n = rt_redirect_location(img, &d, &rq, loc, sizeof loc);
        if (n < 0) n = 0;
        local_reply(s, d.status, 0, d.details, NULL, 0, false, loc, (size_t)n);
        return;
    }
    case RT_ACT_DIRECT_RESPONSE: {
        rt_str b = rt_direct_body(img, &d);
        local_reply(s, d.status, 0, d.details, b.p, b.n, false, NULL, 0);
        return;
    }
    case RT_ACT_ROUTE:
        break;
    }
    if (d.status) {
        /* cluster not found (NC) or without endpoints (UH) */
        if (d.flags & RT_FLAG_NC) local_reply(s, 503, RT_FL(NC), "cluster_not_found", NULL, 0, false, NULL, 0);
        else {
            rt_ucluster *ucl = rt_up_cluster(w, d.cluster);
            if (ucl) rt_ctr_inc(&ucl->cx_none_healthy);
            s->ucl = ucl;
            local_reply(s, 503, RT_FL(UH), "no_healthy_upstream", "no healthy upstream", 19, false, NULL, 0);
        }
        return;
    }
    /* rewrites */
    char tmp[8192];
    int n = rt_rewrite_path(img, &d, &rq, tmp, sizeof tmp);
    if (n >= 0 && ((size_t)n != s->path_len || memcmp(tmp, aux_str(s, s->path_off), (size_t)n) != 0)) {
        uint32_t off = aux_put(s, tmp, (size_t)n);
        if (off != UINT32_MAX) {
            s->upath_off = off;
            s->upath_len = (uint32_t)n;
            s->rewrote_path = true;
        }
    }
    n = rt_rewrite_authority(img, &d, &rq, tmp, sizeof tmp);
    if (n >= 0 && (!rq.authority || (size_t)n != rq.authority_len || memcmp(tmp, rq.authority, (size_t)n) != 0)) {
        uint32_t off = aux_put(s, tmp, (size_t)n);
        if (off != UINT32_MAX) {
            s->auth_off = off;
            s->auth_len = (uint32_t)n;
            s->rewrote_auth = true;
        }
    }
    /* timeout and retry policy */
    rt_policy pol;
    rt_policy_get(img, &d, &pol);
    s->timeout_ms = pol.timeout_ms;
    s->nreq_ops = pol.nreq_headers;
    s->nresp_ops = pol.nresp_headers;
    if (pol.retry.enabled) {
        s->num_retries = s->retries_left = pol.retry.num_retries;
        s->retry_on = parse_retry_on(pol.retry.retry_on.p, pol.retry.retry_on.n);
        s->per_try_ms = pol.retry.per_try_timeout_ms;
        s->backoff_ms = pol.retry.backoff_ms ? pol.retry.backoff_ms : RETRY_BASE_MS;
        for (uint32_t i = 0; i < pol.retry.ncodes && s->nretry_codes < 8; i++) s->retry_codes[s->nretry_codes++] = rt_retry_code(img, &d, i);
        retry_body_init(s);
    }
    if (s->timeout_ms && s->req_in_done) s->deadline_ms = (s->fault_delayed ? now_ms(w) : s->req_end_ms) + s->timeout_ms;
    s->ucl = rt_up_cluster(w, d.cluster);
    if (!s->ucl) {
        local_reply(s, 503, RT_FL(UH), "no_healthy_upstream", "no healthy upstream", 19, false, NULL, 0);
        return;
    }
    rt_ctr_inc(&s->ucl->rq_total);
    rt_ctr_inc(&s->ucl->rq_active);
    s->ucl_counted = true;
    if (pol.nmirrors) mirror_request(s, &d, pol.nmirrors);
    s_connect(s);
}

/* ------------------------------------------------------------ upstream selection */

static void on_s_timer(rt_loop *l, rt_timer *t, void *ud);

static void s_arm_timeouts(rt_stream *s)
{
    rt_worker *w = s->dc->w;
    uint64_t d = 0;
    if (s->deadline_ms && !s->local) d = s->deadline_ms;
    if (s->try_deadline_ms && (!d || s->try_deadline_ms < d)) d = s->try_deadline_ms;
    if (s->state == S_BACKOFF && (!d || s->backoff_until < d)) d = s->backoff_until;
    if (!d) {
        rt_timer_stop(w->loop, &s->timer);
        return;
    }
    uint64_t now = now_ms(w);
    rt_timer_start(w->loop, &s->timer, d > now ? d - now : 0, on_s_timer, s);
}

/* Attach a ready connection and start sending. */
static void s_attach(rt_stream *s, rt_uconn *uc);

static void s_connect_in(rt_stream *s);

static void s_connect(rt_stream *s)
{
    rt_worker *w = s->dc->w;
    rt_wgen *prev = rt_worker_use(w, s->dc->wl->wg);
    s_connect_in(s);
    rt_worker_use(w, prev);
}

static void s_connect_in(rt_stream *s)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    rt_ucluster *ucl = s->ucl;
    /* a DNS answer may have changed the hosts */
    ucl = s->ucl = rt_up_cluster(w, ucl->idx);
    if (!ucl->nhosts) {
        if (ucl->unresolved) {
            if (s->state != S_WAIT_DNS) {
                s->state = S_WAIT_DNS;
                rt_link_add(&PS(w)->dns_wait, &s->wait);
                s->try_deadline_ms = now_ms(w) + ucl->connect_timeout_ms;
                s_arm_timeouts(s);
            }
            return;
        }
        rt_ctr_inc(&ucl->cx_none_healthy);
        local_reply(s, 503, RT_FL(UH), "no_healthy_upstream", "no healthy upstream", 19, false, NULL, 0);
        return;
    }
    if (s->state == S_WAIT_DNS) {
        rt_link_del(&s->wait);
        s->try_deadline_ms = 0;
        s_arm_timeouts(s);
    }
    if (!s->attempts && !rt_up_rq_room(ucl)) {
        /* circuit breaker: max_requests */
        rt_ctr_inc(&ucl->rq_pending_overflow);
        upstream_reset_reply(s, RT_FL(UO), "overflow", NULL);
        return;
    }
    uint64_t key = 0;
    bool has_key = false;
    if (ucl->hash_kind) {
        hdr_ctx ctx = { s, 0 };
        has_key = rt_up_hash_key(ucl, hdr_lookup, &ctx, aux_str(s, s->path_off), s->path_len, dc->peer_ip, &key);
        if (!has_key && ucl->cookie_gen) {
            /* httpCookie with a ttl: the missing cookie is made and set (retries make the same) */
            char sc[512];
            dc_local_addr(dc);
            size_t n = rt_up_cookie_make(ucl, dc->peer_str, dc->local_str, &key, sc, sizeof sc);
            has_key = n > 0;
            if (n && !s->cookie_len && (s->cookie_off = aux_put(s, sc, n)) != UINT32_MAX) s->cookie_len = (uint32_t)n;
        }
    }
    rt_host *h = rt_up_pick_key(w, ucl, s->host, has_key, key);
    if (!h) {
        /* every host ejected, panic mode off */
        rt_ctr_inc(&ucl->cx_none_healthy);
        local_reply(s, 503, RT_FL(UH), "no_healthy_upstream", "no healthy upstream", 19, false, NULL, 0);
        return;
    }
    /* TLS without a configured sni: Envoy's auto SNI, the authority sent
    ** without its port; connections are pooled per SNI */
    char sni[256];
    uint32_t sni_pol = 0;
    sni[0] = '\0';
    if (ucl->tls && ucl->sni_auto) {
        const char *a = s->rewrote_auth ? aux_str(s, s->auth_off) : s->req.authority;
        size_t an = s->rewrote_auth ? s->auth_len : (s->req.authority ? s->req.authority_len : 0);
        const char *colon = a ? memrchr(a, ':', an) : NULL;
        if (colon && a[0] != '[') an = (size_t)(colon - a);
        if (an && an < sizeof sni && a[0] != '[') {
            memcpy(sni, a, an);
            sni[an] = '\0';
            sni_pol = (uint32_t)img_hash(sni, an, 9) | 1u;
        }
    }
    rt_addr ha;
    rt_pool *pool = NULL;
    for (int turn = 0;; turn++) {
        if (s->host) rt_host_unref(s->host);
        s->host = h;
        rt_host_ref(h);
        rt_host_addr(h, &ha);
        if (sni_pol) pool = rt_pool_of(w, &ha, ucl->policy ^ sni_pol);
        else pool = h->pool ? h->pool : (h->pool = rt_pool_of(w, &ha, ucl->policy));
        /* a pooled connection, if one is still alive */
        if (pool) {
            rt_pooled *pl;
            while ((pl = rt_pool_take(pool))) {
                rt_uconn *uc = RT_CONTAINER(pl, rt_uconn, pl);
                uc->in_pool = false;
                if (uc->dead || uc->eof) {
                    uc_close(uc, true);
                    continue;
                }
                s->attempts++;
                uc_set_host(uc, h, ucl);
                s_attach(s, uc);
                return;
            }
        }
        if (ucl->cx_open < ucl->max_connections) break;
        /* circuit breaker: max_connections. An idle connection to another
        ** host, else wait for one (max_pending_requests), else overflow. */
        if (!turn) rt_ctr_inc(&ucl->cx_overflow);
        rt_host *ih = turn < 8 ? rt_up_idle_host(ucl, NULL) : NULL;
        if (ih) {
            h = ih;
            continue;
        }
        if (!rt_up_pending_room(ucl)) {
            rt_ctr_inc(&ucl->rq_pending_overflow);
            upstream_reset_reply(s, RT_FL(UO), "overflow", NULL);
            return;
        }
        rt_ctr_inc(&ucl->rq_pending_total);
        s->state = S_PENDING;
        rt_link_add(&ucl->pending, &s->wait);
        return;
    }
    s->attempts++;
    rt_uconn *uc = uc_new(w);
    char err[RT_ERR_LEN];
    int fd = uc ? rt_net_connect(&ha, NULL, err) : -1;
    rt_ctr_inc(&h->cx_total);
    rt_ctr_inc(&ucl->cx_total);
    if (fd < 0) {
        int e = errno;
        if (uc) free(uc);
        rt_ctr_inc(&h->cx_connect_fail);
        rt_ctr_inc(&ucl->cx_connect_fail);
        snprintf(s->details, sizeof s->details, "remote connection failure");
        snprintf(s->ufail, sizeof s->ufail, "immediate connect error: %s", strerror(e));
        s_connect_failed(s, false);
        return;
    }
    uc->fd = fd;
    uc->state = U_CONNECTING;
    uc->pool = pool;
    memcpy(uc->sni, sni, sizeof sni);
    uc->cb = ucl;
    ucl->cx_open++;
    uc->s = s;
    uc->max_req = ucl->max_requests_per_connection;
    uc->idle_timeout_ms = ucl->idle_timeout_ms;
    uc->expires_ms = ucl->max_duration_ms ? now_ms(w) + ucl->max_duration_ms : 0;
    rt_timer_init(&uc->timer, on_uc_timer, uc);
    uc_set_host(uc, h, ucl);
    rt_ctr_inc(&w->conns_live);
    rt_link_add(&PS(w)->uconns, &uc->all);
    s->uc = uc;
    s->state = S_CONNECTING;
    if (rt_file_add(w->loop, fd, RT_WRITABLE, on_uconn, uc) < 0) {
        uc_close(uc, false);
        s->uc = NULL;
        local_reply(s, 503, RT_FL(UF), "upstream_reset_before_response_started{local_reset}", NULL, 0, false, NULL, 0);
        return;
    }
    rt_timer_start(w->loop, &uc->timer, ucl->connect_timeout_ms, on_uc_timer, uc);
}

/* Try again after Envoy's jittered exponential back-off: uniform in
** [0, (2^n - 1) * base], at most 10 x base. */
static void s_retry(rt_stream *s)
{
    rt_worker *w = s->dc->w;
    s->retries_left--;
    s->retried = true;
    rt_ctr_inc(&s->ucl->rq_retry);
    uint32_t n = s->num_retries - s->retries_left;
    uint64_t cap = ((1ull << (n < 10 ? n : 10)) - 1) * s->backoff_ms;
    uint64_t maxb = (uint64_t)s->backoff_ms * 10;
    if (cap > maxb) cap = maxb;
    uint64_t ms = cap ? rt_rng_below(&w->rng, cap + 1) : 0;
    s->state = S_BACKOFF;
    s->try_deadline_ms = 0;
    s->backoff_until = now_ms(w) + ms;
    s_arm_timeouts(s);
}

/* A connection attempt failed (s->ufail holds the transport failure):
** retry per the route's policy, else 503 UF. */
static void s_connect_failed(rt_stream *s, bool timeout)
{
    s->uc = NULL;
    rt_up_outlier(s->dc->w, s->ucl, s->host, 503);
    char rr[64], tfr[128];
    snprintf(rr, sizeof rr, "%s", timeout ? "connection timeout" : "remote connection failure");
    snprintf(tfr, sizeof tfr, "%s", timeout ? "" : s->ufail);
    bool can = s->retry_on & (RO_CONNECT_FAILURE | RO_RESET | RO_5XX | RO_GATEWAY);
    if (can && s->retries_left > 0) {
        s_retry(s);
        return;
    }
    if (can && s->num_retries) {
        s->flags |= RT_FL(URX);
        rt_ctr_inc(&s->ucl->rq_retry_limit_exceeded);
    }
    upstream_reset_reply(s, RT_FL(UF), rr, tfr);
}


static void dc_kick(rt_dconn *dc)
{
    if (dc->dead) return;
    dc_run(dc);
    dc_interest(dc);
}

static void s_close_upstream(rt_stream *s)
{
    if (!s->uc) return;
    rt_uconn *uc = s->uc;
    s->uc = NULL;
    uc->s = NULL;
    if (s->host_active && s->host) {
        s->host->active_rq--;
        rt_ctr_dec(&s->host->rq_active);
        s->host_active = false;
    }
    uc_close(uc, false);
}

static void on_s_timer(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    rt_stream *s = ud;
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    if (s->done || s->local) return;
    uint64_t now = now_ms(w);
    if (s->deadline_ms && now >= s->deadline_ms) {
        /* the route's timeout: Envoy's upstream_response_timeout */
        rt_ctr_inc(&s->ucl->rq_timeout);
        if (!s->resp_started && s->state == S_UPSTREAM) rt_up_outlier(w, s->ucl, s->host, 504);
        if (s->host) rt_ctr_inc(&s->host->rq_timeout);
        rt_link_del(&s->wait);
        if (s->resp_started) s_abort(s, RT_FL(UT), "upstream_response_timeout");
        else local_reply(s, 504, RT_FL(UT), "upstream_response_timeout", "upstream request timeout", 24, false, NULL, 0);
        dc_kick(dc);
        return;
    }
    if (s->state == S_BACKOFF && now >= s->backoff_until) {
        s->state = S_ROUTE;
        s_connect(s);
        dc_kick(dc);
        return;
    }
    if (s->state == S_WAIT_DNS && s->try_deadline_ms && now >= s->try_deadline_ms) {
        rt_link_del(&s->wait);
        s->try_deadline_ms = 0;
        rt_ctr_inc(&s->ucl->cx_none_healthy);
        local_reply(s, 503, RT_FL(UH), "no_healthy_upstream", "no healthy upstream", 19, false, NULL, 0);
        dc_kick(dc);
        return;
    }
    if (s->state == S_UPSTREAM && s->try_deadline_ms && now >= s->try_deadline_ms && !s->resp_started) {
        /* per-try timeout: retried as a 504 by 5xx and gateway-error */
        rt_ctr_inc(&s->ucl->rq_timeout);
        rt_up_outlier(w, s->ucl, s->host, 504);
        if (s->host) rt_ctr_inc(&s->host->rq_timeout);
        s->try_deadline_ms = 0;
        bool can = (s->retry_on & (RO_5XX | RO_GATEWAY | RO_RESET)) && retry_body_ok(s);
        s_close_upstream(s);
        if (can && s->retries_left > 0) {
            s_retry(s);
            dc_kick(dc);
            return;
        }
        if (can && s->num_retries) s->flags |= RT_FL(URX);
        local_reply(s, 504, RT_FL(UT), "upstream_per_try_timeout", "upstream request timeout", 24, false, NULL, 0);
        dc_kick(dc);
        return;
    }
    s_arm_timeouts(s);
}

/* ------------------------------------------------------------ request to the upstream */

/* Request fields an edge Envoy drops (hop-by-hop ones aside):
** cleanInternalHeaders for an external request, x-envoy-internal,
** x-forwarded-client-cert (SANITIZE_SET without mTLS). */
static bool internal_header(const char *n, size_t l)
{
    static const char *const names[] = {
        "x-envoy-decorator-operation", "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node",
        "x-envoy-retriable-status-codes", "x-envoy-retriable-header-names", "x-envoy-retry-on", "x-envoy-retry-grpc-on",
        "x-envoy-max-retries", "x-envoy-upstream-alt-stat-name", "x-envoy-upstream-rq-timeout-ms",
        "x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-upstream-rq-timeout-alt-response",
        "x-envoy-expected-rq-timeout-ms", "x-envoy-force-trace", "x-envoy-ip-tags", "x-envoy-original-url",
        "x-envoy-hedge-on-per-try-timeout", "x-envoy-internal", "x-forwarded-client-cert",
        "x-envoy-external-address", "x-envoy-attempt-count",
    };
    if (l < 10 || (n[0] != 'x' && n[0] != 'X')) return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ieq(n, l, names[i], strlen(names[i]))) return true;
    return false;
}

typedef struct hops { rt_header_op op[32]; uint32_t n; } hops;

/* The route's (and the picked destination's) header operations. */
static void gather_ops(rt_stream *s, bool response, hops *o)
{
    o->n = 0;
    uint32_t n = response ? s->nresp_ops : s->nreq_ops;
    if (s->action_rec == IMG_NONE || (!n && s->wcluster == IMG_NONE)) return;
    const rt_image *img = rt_wl_image(s->dc->wl);
    rt_decision d;
    memset(&d, 0, sizeof d);
    d.action_rec = s->action_rec;
    d.wcluster = s->wcluster;
    for (uint32_t i = 0; i < n && o->n < 32; i++)
        o->op[o->n++] = response ? rt_resp_header_op(img, &d, i) : rt_req_header_op(img, &d, i);
    if (s->wcluster != IMG_NONE && s->target != IMG_NONE) {
        /* the picked destination's own operations (weighted splits only);
        ** table.h gives their counts per split entry, found by cluster */
        uint32_t m = 0;
        for (uint32_t i = 0; i < rt_target_count(img, s->target); i++) {
            rt_weighted wt = rt_target_at(img, s->target, i);
            if (wt.cluster == s->cluster) {
                m = response ? wt.nresp_headers : wt.nreq_headers;
                break;
            }
        }
        for (uint32_t i = 0; i < m && o->n < 32; i++)
            o->op[o->n++] = response ? rt_wcluster_resp_header_op(img, s->wcluster, i) : rt_wcluster_req_header_op(img, s->wcluster, i);
    }
}

/* Is field name set or removed by an operation (so the original goes)? */
static bool op_replaces(const hops *o, const char *n, size_t l)
{
    for (uint32_t i = 0; i < o->n; i++)
        if (o->op[i].op != IMG_HOP_ADD && ieq(n, l, o->op[i].name.p, o->op[i].name.n)) return true;
    return false;
}

static bool put_ops(rt_worker *w, rt_buf *b, const hops *o)
{
    for (uint32_t i = 0; i < o->n; i++)
        if (o->op[i].op != IMG_HOP_REMOVE && !put_field(w, b, o->op[i].name.p, o->op[i].name.n, o->op[i].value.p, o->op[i].value.n))
            return false;
    return true;
}

static bool bodiless_method(const rt_stream *s)
{
    switch (s->req.method_id) {
    case RT_H1_M_GET: case RT_H1_M_HEAD: case RT_H1_M_DELETE: case RT_H1_M_TRACE: case RT_H1_M_CONNECT: return true;
    default: return false;
    }
}

/* The upstream request head, as Envoy's router and HTTP/1 codec write it:
** request line with the normalized (or rewritten) path, host first, the
** client's fields lowercased minus hop-by-hop and internal ones, then
** x-forwarded-for, x-forwarded-proto, x-envoy-external-address,
** x-request-id, x-envoy-expected-rq-timeout-ms, x-envoy-attempt-count,
** x-envoy-original-path, the route's operations, and the framing. */
static bool compose_request(rt_stream *s, rt_buf *b)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    const rt_h1_request *r = &s->req;
    bool ok = put(w, b, r->method, r->method_len) && put(w, b, " ", 1) &&
              put(w, b, aux_str(s, s->upath_off), s->upath_len) && put(w, b, " HTTP/1.1\r\n", 11);
    const char *auth = s->rewrote_auth ? aux_str(s, s->auth_off) : r->authority;
    size_t authn = s->rewrote_auth ? s->auth_len : (r->authority ? r->authority_len : 0);
    if (auth) ok = ok && put_field(w, b, "host", 4, auth, authn);
    hops ops;
    gather_ops(s, false, &ops);
    uint8_t drop[RT_H1_MAX_HEADERS];
    rt_h1_hop_by_hop(s->hdrs, r->num_headers, false, drop);
    /* x-forwarded-for: the client's list and the peer (Envoy appends its
    ** own address for loopback peers) */
    const char *peer = dc->peer_loopback ? w->srv->local_ip : dc->peer_ip;
    bool xff_done = false, xfp_done = false, rid_done = false;
    s->nset = 0;
    s->xff_len = 0;
    for (uint32_t i = 0; i < r->num_headers && ok; i++) {
        const rt_h1_header *h = &s->hdrs[i];
        if (drop[i] == 1) continue;
        if (drop[i] == 2) {
            ok = put_field(w, b, "te", 2, "trailers", 8);
            continue;
        }
        switch (h->id) {
        case RT_H1_HDR_HOST:
            continue;
        case RT_H1_HDR_X_FORWARDED_FOR:
            if (xff_done) break;
            {
                char val[RT_H1_MAX_HEADER_BYTES];
                size_t vn = rt_h1_unfold(h, val, sizeof val - 64);
                int k = snprintf(val + vn, 64, "%s%s", vn ? "," : "", peer);
                uint32_t off = aux_put(s, val, vn + (size_t)k);
                if (off == UINT32_MAX) return false;
                s->xff_off = off;
                s->xff_len = (uint32_t)(vn + (size_t)k);
                ok = put_field(w, b, "x-forwarded-for", 15, aux_str(s, off), s->xff_len);
                xff_done = true;
                continue;
            }
        case RT_H1_HDR_X_FORWARDED_PROTO:
            if (!xfp_done) ok = put_field(w, b, "x-forwarded-proto", 17, "http", 4);
            xfp_done = true;
            continue;
        case RT_H1_HDR_X_REQUEST_ID:
            if (!rid_done) ok = put_field(w, b, "x-request-id", 12, s->reqid, RT_UUID_LEN);
            rid_done = true;
            continue;
        case RT_H1_HDR_X_ENVOY_ORIGINAL_PATH:
            if (s->rewrote_path) continue;
            break;
        default:
            break;
        }
        if (internal_header(h->name, h->name_len)) continue;
        if (ops.n && op_replaces(&ops, h->name, h->name_len)) continue;
        ok = ok && put_hdr(w, b, h);
    }
    if (!xff_done) {
        uint32_t off = aux_put(s, peer, strlen(peer));
        if (off == UINT32_MAX) return false;
        s->xff_off = off;
        s->xff_len = (uint32_t)strlen(peer);
        ok = ok && put_field(w, b, "x-forwarded-for", 15, peer, s->xff_len);
    }
    if (!xfp_done) ok = ok && put_field(w, b, "x-forwarded-proto", 17, "http", 4);
    ok = ok && put_field(w, b, "x-envoy-external-address", 24, dc->peer_ip, dc->peer_ip_len);
    if (!rid_done) ok = ok && put_field(w, b, "x-request-id", 12, s->reqid, RT_UUID_LEN);
    char num[24];
    if (s->timeout_ms || s->per_try_ms) {
        uint32_t t = s->per_try_ms && (!s->timeout_ms || s->per_try_ms < s->timeout_ms) ? s->per_try_ms : s->timeout_ms;
        ok = ok && put_field(w, b, "x-envoy-expected-rq-timeout-ms", 30, num, u64dec(num, t));
    }
    ok = ok && put_field(w, b, "x-envoy-attempt-count", 21, num, u64dec(num, s->attempts));
    if (s->rewrote_path) ok = ok && put_field(w, b, "x-envoy-original-path", 21, aux_str(s, s->path_off), s->path_len);
    ok = ok && put_ops(w, b, &ops);
    if (s->req_body == RT_H1_BODY_CHUNKED) ok = ok && put_field(w, b, "transfer-encoding", 17, "chunked", 7);
    else if (s->req_body == RT_H1_BODY_NONE && !(r->flags & RT_H1_F_HAS_CL) && !bodiless_method(s))
        ok = ok && put_field(w, b, "content-length", 14, "0", 1);
    ok = ok && put(w, b, "\r\n", 2);
    /* what the access log's %REQ()% sees */
    set_field(s, "x-forwarded-for", aux_str(s, s->xff_off), s->xff_len);
    set_field(s, "x-forwarded-proto", "http", 4);
    set_field(s, "x-request-id", s->reqid, RT_UUID_LEN);
    set_field(s, "x-envoy-external-address", dc->peer_ip, dc->peer_ip_len);
    if (s->rewrote_path) set_field(s, "x-envoy-original-path", aux_str(s, s->path_off), s->path_len);
    return ok;
}

static void s_attach(rt_stream *s, rt_uconn *uc)
{
    rt_worker *w = s->dc->w;
    uc->s = s;
    s->uc = uc;
    uc->state = U_ACTIVE;
    uc->nreq++;
    s->state = S_UPSTREAM;
    s->req_out_done = false;    /* a retry sends the request again (its body from the copy, retry_body_resend) */
    s->resp_parsed = s->resp_started = false;
    s->resp_last_len = 0;
    rt_h1_response_init(&s->resp, s->rhdrs, RT_H1_MAX_HEADERS);
    rt_ctr_inc(&s->host->rq_total);
    rt_ctr_inc(&s->host->rq_active);
    s->host->active_rq++;
    s->host_active = true;
    uc->out.r = uc->out.w = uc->out.base = 0;
    if (!compose_request(s, &uc->out) || !retry_body_resend(s, &uc->out)) {
        local_reply(s, 431, RT_FL(DPE), "http1.headers_too_large", reason(431), strlen(reason(431)), true, NULL, 0);
        return;
    }
    s->up_req_ms = now_ms(w);
    s->try_deadline_ms = s->per_try_ms ? s->up_req_ms + s->per_try_ms : 0;
    s_arm_timeouts(s);
    s_pump_req(s);
    uc_interest(uc);
}

static bool put_chunk_head(rt_worker *w, rt_buf *b, bool *crlf, uint64_t n)
{
    char t[32];
    size_t k = 0;
    if (*crlf) {
        t[k++] = '\r';
        t[k++] = '\n';
    }
    char hex[17];
    int hn = snprintf(hex, sizeof hex, "%llx", (unsigned long long)n);
    memcpy(t + k, hex, (size_t)hn);
    k += (size_t)hn;
    t[k++] = '\r';
    t[k++] = '\n';
    *crlf = true;
    return put(w, b, t, k);
}

static bool put_last_chunk(rt_worker *w, rt_buf *b, bool *crlf)
{
    bool ok = *crlf ? put(w, b, "\r\n0\r\n\r\n", 7) : put(w, b, "0\r\n\r\n", 5);
    *crlf = false;
    return ok;
}

static void req_done_now(rt_stream *s)
{
    s->req_in_done = true;
    s->req_end_ms = now_ms(s->dc->w);
    if (s->timeout_ms && !s->deadline_ms) {
        s->deadline_ms = s->req_end_ms + s->timeout_ms;
        s_arm_timeouts(s);
    }
}

/* Send the request head and body bytes that are ready; leaves the
** upstream's interest (WRITABLE while blocked) up to date. */
static void pump_req(rt_stream *s);
static void s_pump_req(rt_stream *s)
{
    rt_uconn *uc = s->uc;
    pump_req(s);
    if (uc && !uc->dead) uc_interest(uc);
}

static void pump_req(rt_stream *s)
{
    rt_uconn *uc = s->uc;
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    if (!uc || uc->state != U_ACTIVE || uc->write_dead || s->req_out_done || s->done) return;
    for (;;) {
        if (!s->req_span && !s->req_in_done && rt_buf_len(&dc->in)) {
            uint32_t avail = rt_buf_len(&dc->in);
            if (s->req_body == RT_H1_BODY_LENGTH) {
                s->req_span = avail < s->req_left ? avail : (uint32_t)s->req_left;
            } else {
                const char *data;
                size_t dn;
                ssize_t k = rt_h1_chunked_decode(&s->req_ck, rt_buf_data(&dc->in), avail, &data, &dn);
                if (k < 0) {
                    rt_h1_err e = (rt_h1_err)s->req_ck.err;
                    const char *rs = reason((uint32_t)rt_h1_err_status(e));
                    local_reply(s, (uint32_t)rt_h1_err_status(e), RT_FL(DPE), rt_h1_err_details(e), rs, strlen(rs), true, NULL, 0);
                    return;
                }
                rt_buf_consume(&dc->in, (uint32_t)((size_t)k - dn));
                if (dn) {
                    if (!put_chunk_head(w, &uc->out, &s->req_crlf, dn)) goto oom;
                    s->req_span = (uint32_t)dn;
                }
                if (rt_h1_chunked_done(&s->req_ck)) {
                    if (!put_last_chunk(w, &uc->out, &s->req_crlf)) goto oom;
                    req_done_now(s);
                }
            }
        }
        uint32_t on = rt_buf_len(&uc->out), sn = s->req_span;
        if (!on && !sn) break;
        ssize_t n = uc->tls ? rt_utls_write2(uc->tls, uc->out.p ? rt_buf_data(&uc->out) : NULL, on, rt_buf_data(&dc->in), sn)
                            : writev2(uc->fd, uc->out.p ? rt_buf_data(&uc->out) : NULL, on, rt_buf_data(&dc->in), sn);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                uc->wblocked = true;
                return;
            }
            /* the upstream is gone; its response (if any) is read next */
            uc->write_dead = true;
            return;
        }
        s->req_head_sent = true;
        rt_ctr_add(&s->ucl->cx_tx_bytes, (uint64_t)n);
        uint32_t fromout = (uint32_t)n < on ? (uint32_t)n : on;
        if (fromout) rt_buf_consume(&uc->out, fromout);
        uint32_t k = (uint32_t)n - fromout;
        if (k) {
            if (s->nsw || s->rbody) body_sent(s, rt_buf_data(&dc->in), k);
            rt_buf_consume(&dc->in, k);
            s->req_span -= k;
            s->req_bytes += k;
            if (s->req_body == RT_H1_BODY_LENGTH) {
                s->req_left -= k;
                if (!s->req_left) req_done_now(s);
            }
        }
        if ((uint32_t)n < on + sn) {
            uc->wblocked = true;
            return;
        }
    }
    uc->wblocked = false;
    if (s->req_in_done && !s->req_span && !rt_buf_len(&uc->out)) {
        s->req_out_done = true;
        rt_buf_put(&w->pool, &uc->out);
    }
    return;
oom:
    s_abort(s, RT_FL(LR), "local_reset");
}

/* ------------------------------------------------------------ response */

static void uc_read(rt_uconn *uc)
{
    rt_worker *w = uc->w;
    if (!uc->in.p && !rt_buf_get(&w->pool, &uc->in)) {
        uc->eof = true;
        return;
    }
    if (!rt_buf_room(&uc->in)) {
        if (uc->in.r > uc->in.base) rt_buf_compact(&uc->in);
        if (!rt_buf_room(&uc->in)) return;
    }
    ssize_t n;
    if (uc->tls) n = rt_utls_read(uc->tls, uc->in.p + uc->in.w, rt_buf_room(&uc->in));
    else do n = recv(uc->fd, uc->in.p + uc->in.w, rt_buf_room(&uc->in), MSG_DONTWAIT); while (n < 0 && errno == EINTR);
    if (n > 0) {
        uc->in.w += (uint32_t)n;
        if (uc->ucl) rt_ctr_add(&uc->ucl->cx_rx_bytes, (uint64_t)n);
        return;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) uc->eof = true;
}

static bool retry_on_code(rt_stream *s, uint32_t code)
{
    bool want = false;
    if ((s->retry_on & RO_5XX) && code >= 500) want = true;
    if ((s->retry_on & RO_GATEWAY) && (code == 502 || code == 503 || code == 504)) want = true;
    if ((s->retry_on & RO_4XX) && code == 409) want = true;
    if (s->retry_on & RO_CODES)
        for (uint32_t i = 0; i < s->nretry_codes; i++)
            if (s->retry_codes[i] == code) want = true;
    if (!want || !retry_body_ok(s)) return false;
    if (s->retries_left > 0) return true;
    if (s->num_retries) s->flags |= RT_FL(URX);
    return false;
}

/* The downstream response head: Envoy's status line (its own reason
** phrase), the upstream's fields lowercased minus hop-by-hop ones,
** server overwritten, the route's operations, x-envoy-upstream-service-time,
** date if absent, then connection: close and the framing. */
static bool compose_response(rt_stream *s, rt_buf *b)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    const rt_h1_response *r = &s->resp;
    char line[64];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", r->status, reason((uint32_t)r->status));
    bool ok = put(w, b, line, (size_t)n);
    hops ops;
    gather_ops(s, true, &ops);
    uint8_t drop[RT_H1_MAX_HEADERS];
    rt_h1_hop_by_hop(s->rhdrs, r->num_headers, false, drop);
    bool server = false, date = false, svc = false;
    uint64_t base = s->req_end_ms && !s->fault_delayed ? s->req_end_ms : s->up_req_ms;
    uint64_t now = now_ms(w);
    size_t sl = u64dec(s->svc_time, now > base ? now - base : 0);
    s->svc_time[sl] = '\0';
    for (uint32_t i = 0; i < r->num_headers && ok; i++) {
        const rt_h1_header *h = &s->rhdrs[i];
        if (drop[i]) continue;
        if (h->id == RT_H1_HDR_SERVER) {
            if (!server) ok = put_field(w, b, "server", 6, "istio-envoy", 11);
            server = true;
            continue;
        }
        if (h->id == RT_H1_HDR_X_ENVOY_UPSTREAM_SERVICE_TIME) {
            if (!svc) ok = put_field(w, b, "x-envoy-upstream-service-time", 29, s->svc_time, sl);
            svc = true;
            continue;
        }
        if (ops.n && op_replaces(&ops, h->name, h->name_len)) continue;
        if (s->xf_replace && action_replaces(s, h)) continue;
        if (h->id == RT_H1_HDR_DATE) date = true;
        ok = ok && put_hdr(w, b, h);
    }
    if (s->cookie_len) ok = ok && put_field(w, b, "set-cookie", 10, aux_str(s, s->cookie_off), s->cookie_len);
    ok = ok && put_ops(w, b, &ops);
    ok = ok && put_action_fields(s, b);
    if (!svc) ok = ok && put_field(w, b, "x-envoy-upstream-service-time", 29, s->svc_time, sl);
    if (!date) {
        const char *d = rt_worker_date(w);
        ok = ok && put_field(w, b, "date", 4, d, strlen(d));
    }
    if (!server) ok = ok && put_field(w, b, "server", 6, "istio-envoy", 11);
    if (dc->close_after || s->want_close || dc->eof || rt_wgen_draining(w, dc->wl->wg)) {
        dc->close_after = true;
        ok = ok && put_field(w, b, "connection", 10, "close", 5);
    }
    if (s->resp_chunk_out) ok = ok && put_field(w, b, "transfer-encoding", 17, "chunked", 7);
    ok = ok && put(w, b, "\r\n", 2);
    s->rset[0].name = "x-envoy-upstream-service-time";
    s->rset[0].name_len = 29;
    s->rset[0].value = s->svc_time;
    s->rset[0].value_len = (uint32_t)sl;
    s->rset[0].id = RT_H1_HDR_X_ENVOY_UPSTREAM_SERVICE_TIME;
    s->rset[0].flags = 0;
    s->nrset = 1;
    return ok;
}

/* Parse what the upstream sent; start the downstream response. */
static void s_resp_run(rt_stream *s)
{
    rt_uconn *uc = s->uc;
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    while (!s->resp_parsed) {
        uint32_t len = rt_buf_len(&uc->in);
        if (len) {
            if (uc->in.r) rt_buf_compact(&uc->in);
            int rc = rt_h1_parse_response(&s->resp, uc->in.p, len, s->resp_last_len, RT_H1_MAX_RESP_BYTES, s->head_request);
            if (rc == -2) {
                s->resp_last_len = len;
                if (!rt_buf_room(&uc->in) && (uc->in.cap >= RT_BUF_LARGE || !rt_buf_grow(&w->pool, &uc->in, RT_BUF_LARGE))) rc = -1;
                else if (!uc->eof) return;
            }
            if (rc == -1) {
                s_close_upstream(s);
                upstream_reset_reply(s, RT_FL(UPE), "protocol error", NULL);
                return;
            }
            if (rc > 0) {
                s->resp_last_len = 0;
                int st = s->resp.status;
                if (st < 200) {
                    /* interim: only 100 Continue is relayed, and only to a client that asked */
                    if (st == 100 && s->expect100 && !s->resp_started) {
                        if (!put(w, &dc->out, "HTTP/1.1 100 Continue\r\n\r\n", 25)) {
                            s_abort(s, RT_FL(LR), "local_reset");
                            return;
                        }
                        s->expect100 = false;
                        s_pump_resp(s);
                        if (s->done || dc->dead) return;
                    }
                    rt_buf_consume(&uc->in, (uint32_t)rc);
                    rt_h1_response_init(&s->resp, s->rhdrs, RT_H1_MAX_HEADERS);
                    if (st == 101) {
                        s_close_upstream(s);
                        upstream_reset_reply(s, RT_FL(UPE), "protocol error", NULL);
                        return;
                    }
                    continue;
                }
                if (retry_on_code(s, (uint32_t)st)) {
                    rt_up_count_code(s->ucl, (uint32_t)st);
                    rt_up_outlier(w, s->ucl, s->host, (uint32_t)st);
                    s_close_upstream(s);
                    s_retry(s);
                    return;
                }
                /* the final head: pin it for the access log */
                uc->in.base = (uint32_t)rc;
                uc->in.r = (uint32_t)rc;
                if (uc->in.r == uc->in.w) uc->in.r = uc->in.w = uc->in.base;
                s->resp_parsed = true;
                s->code = (uint32_t)st;
                s->try_deadline_ms = 0;
                s->resp_body = s->resp.body;
                s->resp_left = s->resp.body == RT_H1_BODY_LENGTH ? s->resp.content_length : 0;
                if (s->resp_body == RT_H1_BODY_CHUNKED) rt_h1_chunked_init(&s->resp_ck);
                s->resp_chunk_out = s->resp_body == RT_H1_BODY_CHUNKED || s->resp_body == RT_H1_BODY_CLOSE;
                if (s->resp_body == RT_H1_BODY_NONE) s->resp_in_done = true;
                if (!compose_response(s, &dc->out)) {
                    s_abort(s, RT_FL(LR), "local_reset");
                    return;
                }
                s->resp_started = true;
                s->resp_start_ms = now_ms(w);
                set_details(s, "via_upstream");
                break;
            }
        }
        if (uc->eof || uc->write_dead) {
            /* the upstream closed before a response */
            rt_up_outlier(w, s->ucl, s->host, 503);
            bool can = (s->retry_on & (RO_RESET | RO_5XX | RO_GATEWAY)) && retry_body_ok(s);
            s_close_upstream(s);
            if (can && s->retries_left > 0) {
                s_retry(s);
                return;
            }
            if (can && s->num_retries) s->flags |= RT_FL(URX);
            upstream_reset_reply(s, RT_FL(UC), "connection termination", NULL);
            return;
        }
        return;
    }
    s_pump_resp(s);
}

/* Write the response head and body bytes that are ready; leaves the
** client's interest up to date. */
static void pump_resp(rt_stream *s);
static void s_pump_resp(rt_stream *s)
{
    rt_dconn *dc = s->dc;
    pump_resp(s);
    if (!dc->dead) dc_interest(dc);
}

static void pump_resp(rt_stream *s)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    if (s->done || dc->dead) return;
    for (;;) {
        rt_uconn *uc = s->uc;
        if (!s->resp_span && !s->resp_in_done && s->resp_parsed && uc) {
            uint32_t avail = rt_buf_len(&uc->in);
            if (s->resp_body == RT_H1_BODY_LENGTH) {
                s->resp_span = avail < s->resp_left ? avail : (uint32_t)s->resp_left;
            } else if (s->resp_body == RT_H1_BODY_CLOSE) {
                s->resp_span = avail;
                if (!avail && uc->eof) {
                    if (!put_last_chunk(w, &dc->out, &s->resp_crlf)) goto oom;
                    s->resp_in_done = true;
                }
            } else if (avail) {
                const char *data;
                size_t dn;
                ssize_t k = rt_h1_chunked_decode(&s->resp_ck, rt_buf_data(&uc->in), avail, &data, &dn);
                if (k < 0) {
                    s_abort(s, RT_FL(UPE), "upstream_reset_after_response_started{protocol_error}");
                    return;
                }
                rt_buf_consume(&uc->in, (uint32_t)((size_t)k - dn));
                if (dn) s->resp_span = (uint32_t)dn;
                if (rt_h1_chunked_done(&s->resp_ck)) {
                    if (!put_last_chunk(w, &dc->out, &s->resp_crlf)) goto oom;
                    s->resp_in_done = true;
                }
            }
            if (s->resp_span && s->resp_chunk_out && !put_chunk_head(w, &dc->out, &s->resp_crlf, s->resp_span)) goto oom;
            if (!s->resp_span && !s->resp_in_done && !rt_buf_len(&uc->in) && uc->eof) {
                s_abort(s, RT_FL(UC), "upstream_reset_after_response_started{connection_termination}");
                return;
            }
        }
        uint32_t on = rt_buf_len(&dc->out), sn = s->resp_span;
        if (!on && !sn) break;
        ssize_t n = writev2(dc->fd, dc->out.p ? rt_buf_data(&dc->out) : NULL, on, sn ? rt_buf_data(&uc->in) : NULL, sn);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                dc->wblocked = true;
                return;
            }
            s_abort(s, RT_FL(DC), "downstream_remote_disconnect");
            return;
        }
        uint32_t fromout = (uint32_t)n < on ? (uint32_t)n : on;
        if (fromout) rt_buf_consume(&dc->out, fromout);
        uint32_t k = (uint32_t)n - fromout;
        if (k) {
            rt_buf_consume(&uc->in, k);
            s->resp_span -= k;
            s->resp_bytes += k;
            if (s->resp_body == RT_H1_BODY_LENGTH) {
                s->resp_left -= k;
                if (!s->resp_left) s->resp_in_done = true;
            }
        }
        if ((uint32_t)n < on + sn) {
            dc->wblocked = true;
            return;
        }
    }
    dc->wblocked = false;
    if (s->resp_in_done && !s->resp_span && !rt_buf_len(&dc->out) && s->resp_started) {
        s->resp_out_done = true;
        if (!s->local && !s->req_out_done) {
            /* the response ended before the request: the upstream cannot be
            ** reused and the rest of the request cannot be framed */
            dc->close_after = true;
        }
        s_finish(s);
    }
    return;
oom:
    s_abort(s, RT_FL(LR), "local_reset");
}

/* ------------------------------------------------------------ route actions
** What Istio puts around the router (../shared/reference/istio-semantics.md
** section 6), in Envoy's filter order: the fault filter (delay, then
** abort), the CORS filter (preflights answered here, response fields for
** allowed origins), then the router, which also fires the mirrors. */

#define SHADOW_MAX 512              /* mirrored requests in flight per worker */
#define SHADOW_BODY_MAX (64u * 1024) /* larger (or chunked) bodies are not mirrored */
#define SHADOW_TIMEOUT_MS 60000     /* when the route has no timeout */

/* response fields the actions write, for dropping the upstream's */
enum { XF_ALLOW_ORIGIN = 1u << 0, XF_ALLOW_CREDENTIALS = 1u << 1, XF_EXPOSE_HEADERS = 1u << 2 };

/* Envoy's runtime fraction check: random % 1000000 < numerator */
static bool roll(rt_worker *w, uint32_t per_million)
{
    if (!per_million) return false;
    return per_million >= 1000000 || rt_rng_below(&w->rng, 1000000) < per_million;
}

static bool put_action_fields(rt_stream *s, rt_buf *b)
{
    return !s->xf_len || put(s->dc->w, b, aux_str(s, s->xf_off), s->xf_len);
}

static bool action_replaces(const rt_stream *s, const rt_h1_header *h)
{
    return ((s->xf_replace & XF_ALLOW_ORIGIN) && ieq(h->name, h->name_len, "access-control-allow-origin", 27)) ||
           ((s->xf_replace & XF_ALLOW_CREDENTIALS) && ieq(h->name, h->name_len, "access-control-allow-credentials", 32)) ||
           ((s->xf_replace & XF_EXPOSE_HEADERS) && ieq(h->name, h->name_len, "access-control-expose-headers", 29));
}

/* "name: value\r\n" into a bounded line buffer; false when it is full */
static bool xf_add(char *buf, size_t cap, size_t *n, const char *name, const char *v, size_t vn)
{
    size_t nn = strlen(name);
    if (*n + nn + vn + 4 > cap) return false;
    memcpy(buf + *n, name, nn);
    memcpy(buf + *n + nn, ": ", 2);
    memcpy(buf + *n + nn + 2, v, vn);
    memcpy(buf + *n + nn + 2 + vn, "\r\n", 2);
    *n += nn + vn + 4;
    return true;
}

static void xf_keep(rt_stream *s, const char *buf, size_t n)
{
    if (!n) return;
    uint32_t off = aux_put(s, buf, n);
    if (off == UINT32_MAX) return;
    s->xf_off = off;
    s->xf_len = (uint32_t)n;
}

/* The fault filter's abort: Envoy's local reply "fault filter abort",
** flag FI. A gRPC status answers 200 with grpc-status (gRPC's
** trailers-only form; HTTP/1 clients see it as fields). */
static void fault_abort(rt_stream *s, const rt_fault *f)
{
    if (f->grpc) {
        char buf[160], num[16];
        size_t n = 0;
        xf_add(buf, sizeof buf, &n, "content-type", "application/grpc", 16);
        xf_add(buf, sizeof buf, &n, "grpc-status", num, u64dec(num, f->abort_status));
        xf_add(buf, sizeof buf, &n, "grpc-message", "fault filter abort", 18);
        xf_keep(s, buf, n);
        local_reply(s, 200, RT_FL(FI), "fault_filter_abort", NULL, 0, false, NULL, 0);
        return;
    }
    local_reply(s, f->abort_status, RT_FL(FI), "fault_filter_abort", "fault filter abort", 18, false, NULL, 0);
}

/* The CORS filter's decodeHeaders. True when it answered (a preflight). */
static bool cors_decode(rt_stream *s, const rt_decision *d, const rt_cors *c)
{
    const rt_image *img = rt_wl_image(s->dc->wl);
    hdr_ctx ctx = { s, 0 };
    size_t on = 0;
    const char *o = hdr_lookup(&ctx, "origin", 6, &on);
    if (!o || !on) return false;
    bool allowed = rt_cors_origin_allowed(img, d, "*", 1) || rt_cors_origin_allowed(img, d, o, on);
    char origin[1024];                  /* kept to be echoed; a longer one is not */
    if (on > sizeof origin) {
        allowed = false;
        on = 0;
    }
    memcpy(origin, o, on);
    char buf[4096];
    size_t n = 0;
    size_t mn = 0;
    const char *m = s->req.method_id == RT_H1_M_OPTIONS ? hdr_lookup(&ctx, "access-control-request-method", 29, &mn) : NULL;
    if (!m || !mn) {
        /* a simple (or actual) request: fields on whatever answers it */
        if (!allowed) return false;
        xf_add(buf, sizeof buf, &n, "access-control-allow-origin", origin, on);
        s->xf_replace = XF_ALLOW_ORIGIN;
        if (c->credentials == 1 && xf_add(buf, sizeof buf, &n, "access-control-allow-credentials", "true", 4))
            s->xf_replace |= XF_ALLOW_CREDENTIALS;
        if (c->expose.n && xf_add(buf, sizeof buf, &n, "access-control-expose-headers", c->expose.p, c->expose.n))
            s->xf_replace |= XF_EXPOSE_HEADERS;
        xf_keep(s, buf, n);
        return false;
    }
    /* a preflight: OPTIONS, Origin, Access-Control-Request-Method */
    if (!allowed && c->forward_unmatched) return false;
    char method[256];
    size_t methn = mn < sizeof method ? mn : sizeof method;
    memcpy(method, m, methn);
    if (allowed) xf_add(buf, sizeof buf, &n, "access-control-allow-origin", origin, on);
    if (c->credentials == 1) xf_add(buf, sizeof buf, &n, "access-control-allow-credentials", "true", 4);
    if (c->methods.n == 1 && c->methods.p[0] == '*') xf_add(buf, sizeof buf, &n, "access-control-allow-methods", method, methn);
    else if (c->methods.n) xf_add(buf, sizeof buf, &n, "access-control-allow-methods", c->methods.p, c->methods.n);
    if (c->headers.n == 1 && c->headers.p[0] == '*') {
        size_t hn = 0;
        const char *h = hdr_lookup(&ctx, "access-control-request-headers", 30, &hn);
        xf_add(buf, sizeof buf, &n, "access-control-allow-headers", h ? h : "", h ? hn : 0);
    } else if (c->headers.n) {
        xf_add(buf, sizeof buf, &n, "access-control-allow-headers", c->headers.p, c->headers.n);
    }
    if (c->max_age_set) {
        char num[16];
        xf_add(buf, sizeof buf, &n, "access-control-max-age", num, u64dec(num, c->max_age));
    }
    xf_keep(s, buf, n);
    local_reply(s, 200, 0, "cors_response", NULL, 0, false, NULL, 0);
    return true;
}

/* After the fault delay (or none): abort, CORS, then the router. */
static bool actions_after_delay(rt_stream *s, const rt_decision *d, const rt_policy *p)
{
    if (p->fault.abort && roll(s->dc->w, p->fault.abort_per_million)) {
        fault_abort(s, &p->fault);
        return true;
    }
    /* Envoy's CORS filter needs a route entry: redirects and direct
    ** responses have none */
    return p->cors.present && d->action == RT_ACT_ROUTE && cors_decode(s, d, &p->cors);
}

static void on_fault_delay(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    rt_stream *s = ud;
    rt_dconn *dc = s->dc;
    if (s->done || s->local || dc->dead) return;
    rt_policy p;
    rt_policy_get(rt_wl_image(dc->wl), &s->dec, &p);
    if (!actions_after_delay(s, &s->dec, &p)) route_decided(s, &s->dec);
    dc_kick(dc);
}

/* The fault and CORS filters on a matched route. True when they took the
** request (a delay armed, an abort or a preflight answered). */
static bool actions_decode(rt_stream *s, const rt_decision *d)
{
    rt_worker *w = s->dc->w;
    /* most routes have neither: one look at the action record */
    const rt_image *img = rt_wl_image(s->dc->wl);
    const img_action *a = (const img_action *)rt_section(img, IMG_S_ACTIONS, NULL) + d->action_rec;
    if (a->fault == IMG_NONE && a->cors == IMG_NONE) return false;
    rt_policy p;
    rt_policy_get(img, d, &p);
    if (p.fault.delay && roll(w, p.fault.delay_per_million)) {
        s->flags |= RT_FL(DI);
        s->fault_delayed = true;
        s->dec = *d;
        rt_timer_start(w->loop, &s->timer, p.fault.delay_ms, on_fault_delay, s);
        return true;
    }
    return actions_after_delay(s, d, &p);
}

/* ---- mirrors: a copy of the request to another cluster, fire and forget.
** Each copy has its own connection (connection: close), its bytes
** composed up front: the request as the router sends it, host with
** Envoy's "-shadow" suffix, and the body when it is already here and at
** most SHADOW_BODY_MAX. The answer is read and dropped (its status
** counted); nothing of it reaches the client or delays it. */

typedef struct rt_shadow {
    rt_worker *w;
    rt_link all;
    int fd;
    bool connecting, counted;
    char *out;
    uint32_t n, sent;
    uint32_t need;              /* body bytes still to come from the request */
    rt_stream *feeder;          /* ... which has this copy in its sw[] */
    rt_ucluster *ucl;
    rt_wgen *wg;                /* holds the generation ucl belongs to (fwd.h) */
    rt_host *host;
    rt_timer timer;
    char st[12];                /* the first bytes of the answer: its status */
    uint32_t stn;
} rt_shadow;

static void shadow_unfeed(rt_shadow *sh)
{
    rt_stream *s = sh->feeder;
    if (!s) return;
    for (uint32_t i = 0; i < s->nsw; i++)
        if (s->sw[i] == sh) {
            s->sw[i] = s->sw[--s->nsw];
            break;
        }
    sh->feeder = NULL;
}

static void shadow_close(rt_shadow *sh)
{
    rt_worker *w = sh->w;
    shadow_unfeed(sh);
    rt_timer_stop(w->loop, &sh->timer);
    if (sh->fd >= 0) {
        rt_file_del(w->loop, sh->fd);
        close(sh->fd);
        rt_ctr_dec(&w->conns_live);
    }
    if (sh->stn >= 12 && !sh->counted) {
        uint32_t code = (uint32_t)atoi(sh->st + 9);
        if (code >= 100 && code < 600) rt_up_count_code(sh->ucl, code);
    }
    if (sh->host) rt_host_unref(sh->host);
    rt_link_del(&sh->all);
    PS(w)->nshadows--;
    rt_wgen *wg = sh->wg;
    free(sh->out);
    free(sh);
    rt_wgen_drop(w, wg);
}

static void shadows_close_all(rt_worker *w)
{
    rt_pstate *ps = PS(w);
    while (!rt_link_empty(&ps->shadows)) shadow_close(RT_CONTAINER(ps->shadows.next, rt_shadow, all));
}

static void on_shadow_timer(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    rt_shadow *sh = ud;
    rt_ctr_inc(&sh->ucl->rq_timeout);
    shadow_close(sh);
}

static void on_shadow(rt_loop *l, int fd, void *ud, int mask)
{
    rt_shadow *sh = ud;
    char err[RT_ERR_LEN];
    if (sh->connecting) {
        if (rt_net_connect_result(fd, err) < 0) {
            rt_ctr_inc(&sh->ucl->cx_connect_fail);
            rt_ctr_inc(&sh->host->cx_connect_fail);
            shadow_close(sh);
            return;
        }
        sh->connecting = false;
    }
    if ((mask & RT_WRITABLE) && sh->sent < sh->n) {
        ssize_t k;
        do k = send(fd, sh->out + sh->sent, sh->n - sh->sent, MSG_NOSIGNAL | MSG_DONTWAIT); while (k < 0 && errno == EINTR);
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            shadow_close(sh);
            return;
        }
        if (k > 0) {
            sh->sent += (uint32_t)k;
            rt_ctr_add(&sh->ucl->cx_tx_bytes, (uint64_t)k);
        }
        /* all sent: read the answer, or wait for the rest of the body */
        if (sh->sent == sh->n) rt_file_mod(l, fd, sh->need ? RT_NONE : RT_READABLE);
    }
    if (mask & RT_READABLE) {
        char b[4096];
        for (;;) {
            ssize_t k;
            do k = recv(fd, b, sizeof b, MSG_DONTWAIT); while (k < 0 && errno == EINTR);
            if (k > 0) {
                rt_ctr_add(&sh->ucl->cx_rx_bytes, (uint64_t)k);
                for (ssize_t i = 0; i < k && sh->stn < sizeof sh->st; i++) sh->st[sh->stn++] = b[i];
                continue;
            }
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            shadow_close(sh);      /* the answer is complete (connection: close) or broken */
            return;
        }
    }
}

/* Body bytes of the request on their way upstream: the waiting copies
** take theirs (the buffer was sized for the whole body up front). */
static void shadow_feed(rt_stream *s, const char *p, uint32_t n)
{
    for (uint32_t i = 0; i < s->nsw;) {
        rt_shadow *sh = s->sw[i];
        uint32_t k = n < sh->need ? n : sh->need;
        memcpy(sh->out + sh->n, p, k);
        sh->n += k;
        sh->need -= k;
        if (sh->fd >= 0 && !sh->connecting) rt_file_mod(sh->w->loop, sh->fd, RT_WRITABLE);
        if (!sh->need) shadow_unfeed(sh);
        else i++;
    }
}

/* ---- request bodies kept for retries. Envoy buffers a request body
** so that it can be retried; meshrt streams bodies, so it keeps a copy of
** content-length bodies up to RETRY_BODY_MAX, on routes whose policy
** retries after bytes went up (a connect failure needs no copy). Other
** requests with a body are retried only before any byte left. */

#define RETRY_BODY_MAX (64u * 1024)

static void retry_body_init(rt_stream *s)
{
    if (s->req_body != RT_H1_BODY_LENGTH || !s->num_retries || !s->req_left || s->req_left > RETRY_BODY_MAX) return;
    if (!(s->retry_on & (RO_RESET | RO_5XX | RO_GATEWAY | RO_4XX)) && !((s->retry_on & RO_CODES) && s->nretry_codes)) return;
    s->rbody = malloc((size_t)s->req_left);
    s->rbody_n = 0;
}

static bool retry_body_ok(const rt_stream *s)
{
    return s->req_body == RT_H1_BODY_NONE || s->rbody != NULL;
}

/* a retry's request: the body bytes the earlier attempt sent, after the
** head; pump_req goes on with the rest */
static bool retry_body_resend(rt_stream *s, rt_buf *b)
{
    return !s->rbody || !s->rbody_n || put(s->dc->w, b, s->rbody, s->rbody_n);
}

/* Body bytes of the request just written upstream. */
static void body_sent(rt_stream *s, const char *p, uint32_t n)
{
    if (s->rbody) {
        memcpy(s->rbody + s->rbody_n, p, n);    /* at most the content-length */
        s->rbody_n += n;
    }
    if (s->nsw) shadow_feed(s, p, n);
}

/* The stream ends: a body copy goes; mirror copies still waiting for body
** bytes cannot complete. */
static void actions_stream_free(rt_stream *s)
{
    while (s->nsw) shadow_close(s->sw[0]);
    free(s->rbody);
    s->rbody = NULL;
}

/* The copy's head: compose_request's, host "-shadow"-suffixed (before a
** port, as Envoy), connection: close; then the body. */
static bool shadow_compose(rt_stream *s, rt_buf *b, const char *body, uint32_t bn)
{
    rt_worker *w = s->dc->w;
    rt_buf head = { 0 };
    uint32_t attempts = s->attempts;
    if (!s->attempts) s->attempts = 1;
    bool ok = compose_request(s, &head);
    s->attempts = attempts;
    const char *p = head.p, *end = head.p ? head.p + head.w : NULL;
    const char *eol = ok && p ? memmem(p, (size_t)(end - p), "\r\n", 2) : NULL;
    if (!eol || end - p < 4) {
        rt_buf_put(&w->pool, &head);
        return false;
    }
    ok = put(w, b, p, (size_t)(eol - p + 2));
    p = eol + 2;
    if ((size_t)(end - p) > 6 && memcmp(p, "host: ", 6) == 0) {
        const char *he = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *hv = p + 6;
        const char *colon = memrchr(hv, ':', (size_t)(he - hv));
        if (colon && memchr(colon, ']', (size_t)(he - colon))) colon = NULL;    /* [v6] without a port */
        const char *cut = colon ? colon : he;
        ok = ok && put(w, b, p, (size_t)(cut - p)) && put(w, b, "-shadow", 7) && put(w, b, cut, (size_t)(he - cut + 2));
        p = he + 2;
    }
    /* the rest of the head minus its blank line, then connection: close */
    ok = ok && put(w, b, p, (size_t)(end - p - 2)) && put_field(w, b, "connection", 10, "close", 5) && put(w, b, "\r\n", 2);
    if (bn) ok = ok && put(w, b, body, bn);
    rt_buf_put(&w->pool, &head);
    return ok;
}

static void shadow_start(rt_stream *s, uint32_t cluster, const char *body, uint32_t bn, uint32_t need)
{
    rt_worker *w = s->dc->w;
    rt_pstate *ps = PS(w);
    rt_ucluster *ucl = rt_up_cluster(w, cluster);
    if (!ucl || ps->nshadows >= SHADOW_MAX) return;     /* too many copies in flight: this one is dropped */
    if (!ucl->nhosts) {
        rt_ctr_inc(&ucl->cx_none_healthy);
        return;
    }
    rt_buf b = { 0 };
    if (!shadow_compose(s, &b, body, bn)) {
        rt_buf_put(&w->pool, &b);
        return;
    }
    if (need && s->nsw >= sizeof s->sw / sizeof s->sw[0]) {
        rt_buf_put(&w->pool, &b);
        return;
    }
    rt_shadow *sh = calloc(1, sizeof *sh);
    char *out = malloc((size_t)b.w + need);
    if (!sh || !out) {
        free(sh);
        free(out);
        rt_buf_put(&w->pool, &b);
        return;
    }
    memcpy(out, b.p, b.w);
    sh->out = out;
    sh->n = b.w;
    rt_buf_put(&w->pool, &b);
    sh->w = w;
    sh->fd = -1;
    sh->ucl = ucl;
    sh->wg = s->dc->wl->wg;
    rt_wgen_hold(sh->wg);
    if (need) {
        sh->need = need;
        sh->feeder = s;
        s->sw[s->nsw++] = sh;
    }
    rt_link_init(&sh->all);
    rt_link_add(&ps->shadows, &sh->all);
    ps->nshadows++;
    rt_timer_init(&sh->timer, on_shadow_timer, sh);
    sh->host = rt_up_pick(w, ucl, NULL);
    rt_host_ref(sh->host);
    rt_addr ha;
    rt_host_addr(sh->host, &ha);
    char err[RT_ERR_LEN];
    rt_ctr_inc(&ucl->rq_total);
    rt_ctr_inc(&ucl->cx_total);
    rt_ctr_inc(&sh->host->cx_total);
    int fd = rt_net_connect(&ha, NULL, err);
    if (fd < 0) {
        rt_ctr_inc(&ucl->cx_connect_fail);
        shadow_close(sh);
        return;
    }
    rt_ctr_inc(&w->conns_live);
    sh->fd = fd;
    sh->connecting = true;
    if (rt_file_add(w->loop, fd, RT_WRITABLE, on_shadow, sh) < 0) {
        shadow_close(sh);
        return;
    }
    rt_timer_start(w->loop, &sh->timer, s->timeout_ms ? s->timeout_ms : SHADOW_TIMEOUT_MS, on_shadow_timer, sh);
}

/* The router's mirror policies, each by its own fraction. */
static void mirror_request(rt_stream *s, const rt_decision *d, uint32_t n)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    const char *body = NULL;
    uint32_t bn = 0, need = 0;
    if (s->req_body == RT_H1_BODY_CHUNKED) return;
    if (s->req_body == RT_H1_BODY_LENGTH) {
        if (s->req_left > SHADOW_BODY_MAX) return;
        if (rt_buf_len(&dc->in) >= s->req_left) {
            body = rt_buf_data(&dc->in);
            bn = (uint32_t)s->req_left;
        } else {
            need = (uint32_t)s->req_left;       /* fed as it goes upstream */
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        rt_mirror m = rt_mirror_get(rt_wl_image(s->dc->wl), d, i);
        if (m.cluster != IMG_NONE && roll(w, m.per_million)) shadow_start(s, m.cluster, body, bn, need);
    }
}

/* ------------------------------------------------------------ stream end */

static void s_log(rt_stream *s, uint64_t now)
{
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    rt_logdata d;
    rt_logdata_init(&d);
    d.http = true;
    d.start_ns = s->start_ns;
    d.duration_ms = (int64_t)(now - s->start_ms);
    if (s->req_in_done && s->req_end_ms) d.request_duration_ms = (int64_t)(s->req_end_ms - s->start_ms);
    if (s->resp_started && s->resp_start_ms) {
        d.response_duration_ms = (int64_t)(s->resp_start_ms - s->start_ms);
        d.response_tx_duration_ms = (int64_t)(now - s->resp_start_ms);
    }
    if (s->req.method) d.method = RT_LF(s->req.method, s->req.method_len);
    if (s->path_set) d.path = RT_LF(aux_str(s, s->path_off), s->path_len);
    if (s->rewrote_auth) d.authority = RT_LF(aux_str(s, s->auth_off), s->auth_len);
    else if (s->req.authority) d.authority = RT_LF(s->req.authority, s->req.authority_len);
    d.scheme = RT_LF("http", 4);
    d.req = s->hdrs;
    d.nreq = s->req.method ? s->req.num_headers : 0;
    d.req_set = s->set;
    d.nreq_set = s->nset;
    if (!s->local && s->resp_parsed) {
        d.resp = s->rhdrs;
        d.nresp = s->resp.num_headers;
        d.resp_set = s->rset;
        d.nresp_set = s->nrset;
    }
    d.code = s->resp_started ? s->code : 0;
    d.flags = s->flags;
    if (s->details[0]) d.details = RT_LF(s->details, strlen(s->details));
    if (s->ufail[0]) d.upstream_failure = RT_LF(s->ufail, strlen(s->ufail));
    d.bytes_received = s->req_bytes;
    d.bytes_sent = s->resp_bytes;
    if (s->host) d.upstream_host = RT_LF(s->host->addr_str, s->host->addr_len);
    if (s->cluster != IMG_NONE && s->ucl) d.upstream_cluster = RT_LF(s->ucl->name, s->ucl->name_len);
    else if (s->cluster != IMG_NONE) {
        rt_cluster_info ci;
        rt_cluster_get(rt_wl_image(dc->wl), s->cluster, &ci);
        d.upstream_cluster = RT_LF(ci.name.p, ci.name.n);
    }
    if (s->uc && !s->uc->local_len && s->uc->state == U_ACTIVE) {
        rt_addr la;      /* asked for only when a line is logged */
        if (rt_net_local_addr(s->uc->fd, &la, NULL) == 0) s->uc->local_len = (uint8_t)rt_addr_format(&la, s->uc->local_str, sizeof s->uc->local_str);
    }
    if (s->uc && s->uc->local_len) d.upstream_local = RT_LF(s->uc->local_str, s->uc->local_len);
    dc_local_addr(dc);
    if (dc->local_len) d.downstream_local = RT_LF(dc->local_str, dc->local_len);
    d.downstream_remote = RT_LF(dc->peer_str, dc->peer_len);
    if (s->route_name) d.route_name = RT_LF(s->route_name, s->route_name_len);
    d.attempts = s->attempts;
    d.conn_id = dc->conn_id;
    rt_reqlog_write(w, &d);
}

static void s_finish(rt_stream *s)
{
    if (s->done) return;
    s->done = true;
    rt_dconn *dc = s->dc;
    rt_worker *w = dc->w;
    rt_timer_stop(w->loop, &s->timer);
    rt_link_del(&s->wait);
    uint64_t now = now_ms(w);
    uint32_t code = s->resp_started ? s->code : 0;
    uint32_t cls = code / 100;
    rt_ctr_inc(&dc->wl->rq_xx[cls < 6 ? cls : 0]);
    rt_ctr_dec(&dc->wl->rq_active);
    if (s->ucl_counted) {
        if (!s->local && s->resp_started) {
            rt_up_count_code(s->ucl, code);
            rt_up_outlier(w, s->ucl, s->host, code);
        }
        rt_ctr_inc(&s->ucl->rq_completed);
        rt_ctr_dec(&s->ucl->rq_active);
    }
    if (s->host && !s->local && s->resp_started) {
        if (code >= 500) rt_ctr_inc(&s->host->rq_error);
        else rt_ctr_inc(&s->host->rq_success);
    }
    rt_wgen *prev = rt_worker_use(w, dc->wl->wg);
    rt_metrics_http(w, s->cluster, code, s->flags, (now - s->start_ms) * 1000);
    rt_worker_use(w, prev);
    if (w->logw) s_log(s, now);
    if (s->uc) {
        rt_uconn *uc = s->uc;
        bool reusable = !s->local && s->resp_out_done && s->req_out_done && s->resp_body != RT_H1_BODY_CLOSE &&
                        !(s->resp.flags & RT_H1_F_CLOSE) && !uc->eof && !uc->write_dead &&
                        rt_buf_len(&uc->in) == 0 && (!uc->max_req || uc->nreq < uc->max_req);
        if (s->host_active && s->host) {
            s->host->active_rq--;
            rt_ctr_dec(&s->host->rq_active);
            s->host_active = false;
        }
        s->uc = NULL;
        uc->s = NULL;
        if (reusable) uc_release(uc);
        else uc_close(uc, false);
    }
    dc->s = NULL;
    /* deferred free: the memory stays valid until the loop sleeps */
    stream_free(s);
    if (dc->dead) return;
    dc->in.base = 0;
    rt_buf_compact(&dc->in);
    dc->state = D_HEAD;
    dc->last_ms = now;
    if (rt_buf_len(&dc->in)) {
        dc->head_start_ms = now;
        dc->head_start_ns = rt_now_real_ns();
    }
    if (dc->close_after) {
        dc_linger(dc);
        return;
    }
    rt_buf_trim(&w->pool, &dc->in);
    rt_buf_trim(&w->pool, &dc->out);
    dc_arm(dc);
}

/* The exchange cannot complete: log it, close both sides. */
static void s_abort(rt_stream *s, uint32_t flag, const char *details)
{
    rt_dconn *dc = s->dc;
    if (s->done) return;
    s->flags |= flag;
    if (details) set_details(s, details);
    s_close_upstream(s);
    dc->close_after = true;
    s_finish(s);
    dc_close(dc);
}

/* ------------------------------------------------------------ the connection loop */

static void dc_run(rt_dconn *dc)
{
    rt_worker *w = dc->w;
    while (!dc->dead) {
        if (dc->state == D_LINGER) {
            dc->in.r = dc->in.w = 0;
            if (dc->eof) dc_close(dc);
            return;
        }
        if (dc->state == D_STREAM) {
            rt_stream *s = dc->s;
            if (s->state == S_UPSTREAM) s_pump_req(s);
            if (dc->dead) return;
            if (dc->s != s) continue;
            if (dc->eof) {
                /* the client closed: Envoy resets the stream (HTTP/1 has no half-close) */
                s_abort(s, RT_FL(DC), "downstream_remote_disconnect");
                return;
            }
            return;
        }
        /* D_HEAD: parse the next request */
        uint32_t len = rt_buf_len(&dc->in);
        if (!len) {
            if (dc->eof) dc_close(dc);
            else rt_buf_trim(&w->pool, &dc->in);
            return;
        }
        if (dc->in.r) {
            rt_buf_compact(&dc->in);
            dc->hs_last = 0;
        }
        rt_stream *s = dc->hs;
        if (!s && !(s = dc->hs = stream_new(dc))) {
            dc_close(dc);
            return;
        }
        int rc = rt_h1_parse_request(&s->req, dc->in.p, len, dc->hs_last, RT_H1_MAX_HEADER_BYTES);
        if (rc == -2) {
            dc->hs_last = len;
            if (!rt_buf_room(&dc->in) && !rt_buf_grow(&w->pool, &dc->in, RT_BUF_LARGE)) {
                dc_close(dc);
                return;
            }
            if (dc->eof) {
                dc_close(dc);
                return;
            }
            dc_arm(dc);
            return;
        }
        dc->hs = NULL;
        dc->hs_last = 0;
        dc->s = s;
        dc->state = D_STREAM;
        stream_begin(dc, s, rc);
    }
}

static void on_dconn(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)fd;
    rt_dconn *dc = ud;
    if (dc->dead) return;
    if ((mask & RT_WRITABLE) && dc->s) {
        dc->wblocked = false;
        s_pump_resp(dc->s);
        if (dc->dead) return;
    }
    if (mask & RT_READABLE) dc_read(dc);
    dc_kick(dc);
}

/* Start or continue the TLS handshake of a connected socket: 1 done, 0
** waiting, -1 failed (err: Envoy's transport failure reason). */
static int uc_handshake(rt_uconn *uc, char *err, size_t errlen)
{
    rt_ucluster *ucl = uc->ucl;
    if (!uc->tls) {
        if (!ucl->tls_ctx) {
            snprintf(err, errlen, "TLS_error:|%s:TLS_error_end", ucl->tls_err ? ucl->tls_err : "no TLS context");
            return -1;
        }
        const char *sni = uc->sni[0] ? uc->sni : ucl->sni;
        if (!(uc->tls = rt_utls_new(ucl->tls_ctx, uc->fd, sni, uc->sni[0] ? strlen(uc->sni) : ucl->sni_len))) {
            snprintf(err, errlen, "TLS_error:|cannot start a TLS session:TLS_error_end");
            return -1;
        }
    }
    return rt_utls_handshake(uc->tls, err, errlen);
}

static void on_uconn(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l;
    rt_uconn *uc = ud;
    if (uc->dead) return;
    rt_worker *w = uc->w;
    if (uc->state == U_CONNECTING) {
        char err[RT_ERR_LEN];
        rt_stream *s = uc->s;
        if (uc->tls || (uc->ucl && uc->ucl->tls && rt_net_connect_result(fd, err) == 0)) {
            /* TLS origination: connected once the handshake is done, as Envoy */
            int rc = uc_handshake(uc, err, sizeof err);
            if (rc == 0) {
                uc_interest(uc);
                return;
            }
            if (rc < 0) {
                if (uc->host) rt_ctr_inc(&uc->host->cx_connect_fail);
                if (uc->ucl) rt_ctr_inc(&uc->ucl->cx_connect_fail);
                uc_close(uc, false);
                if (s) {
                    size_t k = strnlen(err, sizeof s->ufail - 1);
                    memcpy(s->ufail, err, k);
                    s->ufail[k] = '\0';
                    s_connect_failed(s, false);
                    dc_kick(s->dc);
                }
                return;
            }
        } else if (rt_net_connect_result(fd, err) < 0) {
            int e = errno;
            if (uc->host) rt_ctr_inc(&uc->host->cx_connect_fail);
            if (uc->ucl) rt_ctr_inc(&uc->ucl->cx_connect_fail);
            uc_close(uc, false);
            if (s) {
                snprintf(s->ufail, sizeof s->ufail, "delayed connect error: %s", strerror(e));
                s_connect_failed(s, false);
                dc_kick(s->dc);
            }
            return;
        }
        rt_timer_stop(w->loop, &uc->timer);
        rt_net_nodelay(fd, true, NULL);
        uc->state = U_ACTIVE;
        if (uc->ucl) rt_ctr_inc(&uc->ucl->cx_active);
        if (!s) {
            uc_release(uc);
            return;
        }
        s_attach(s, uc);
        if (!uc->dead) uc_interest(uc);
        dc_kick(s->dc);
        return;
    }
    if (uc->state == U_IDLE) {
        /* an idle connection speaks: it closed, or sent something unasked
        ** (TLS: records without data, such as session tickets, are fine) */
        char b[64];
        ssize_t n = uc->tls ? rt_utls_read(uc->tls, b, sizeof b) : recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        uc_close(uc, n == 0);
        return;
    }
    rt_stream *s = uc->s;
    if (!s) {
        uc_close(uc, false);
        return;
    }
    rt_dconn *dc = s->dc;
    if (mask & RT_WRITABLE) {
        uc->wblocked = false;
        s_pump_req(s);
    }
    if ((mask & RT_READABLE) && !uc->dead && !s->done) {
        uc_read(uc);
        s_resp_run(s);
    }
    if (!uc->dead) uc_interest(uc);
    dc_kick(dc);
}

/* ------------------------------------------------------------ module */

bool rt_proxy_init(rt_worker *w)
{
    rt_pstate *ps = calloc(1, sizeof *ps);
    if (!ps) return false;
    rt_link_init(&ps->dconns);
    rt_link_init(&ps->uconns);
    rt_link_init(&ps->dns_wait);
    rt_link_init(&ps->shadows);
    rt_link_init(&ps->kicks);
    w->proxy = ps;
    return true;
}

void rt_proxy_dns_ready(rt_worker *w)
{
    rt_pstate *ps = PS(w);
    if (!ps) return;
    /* take the list: s_connect may put streams back */
    rt_link l;
    rt_link_take(&ps->dns_wait, &l);
    while (!rt_link_empty(&l)) {
        rt_stream *s = RT_CONTAINER(l.next, rt_stream, wait);
        rt_link_del(&s->wait);
        if (s->done || s->state != S_WAIT_DNS) continue;
        s->state = S_ROUTE;
        s->try_deadline_ms = 0;
        s_connect(s);
        dc_kick(s->dc);
    }
}

/* Requests waiting for a connection (S_PENDING), oldest first, while their
** cluster has an idle connection or room for a new one. */
static void serve_pending(rt_worker *w)
{
    rt_pstate *ps = PS(w);
    rt_link l;
    rt_link_take(&ps->kicks, &l);
    while (!rt_link_empty(&l)) {
        rt_ucluster *ucl = RT_CONTAINER(l.next, rt_ucluster, kick);
        rt_link_del(&ucl->kick);
        while (!rt_link_empty(&ucl->pending) && !w->stopping) {
            if (ucl->cx_open >= ucl->max_connections && !rt_up_idle_host(ucl, NULL)) break;
            rt_stream *s = RT_CONTAINER(ucl->pending.prev, rt_stream, wait);
            rt_link_del(&s->wait);
            s->state = S_ROUTE;
            s_connect(s);
            dc_kick(s->dc);
            if (s->state == S_PENDING) break;
        }
    }
}

void rt_proxy_reap(rt_worker *w)
{
    rt_pstate *ps = PS(w);
    if (!ps) return;
    if (!rt_link_empty(&ps->kicks)) serve_pending(w);
    while (ps->reap_dconns) {
        rt_dconn *dc = ps->reap_dconns;
        ps->reap_dconns = dc->next_free;
        rt_wgen_drop(w, dc->wl->wg);
        if (dc->hs) {
            rt_stream *s = dc->hs;
            dc->hs = NULL;
            stream_free(s);
        }
        if (ps->nfree_dconns < FREE_MAX) {
            dc->next_free = ps->free_dconns;
            ps->free_dconns = dc;
            ps->nfree_dconns++;
        } else {
            free(dc);
        }
    }
    while (ps->reap_uconns) {
        rt_uconn *uc = ps->reap_uconns;
        ps->reap_uconns = uc->next_free;
        if (ps->nfree_uconns < FREE_MAX) {
            uc->next_free = ps->free_uconns;
            ps->free_uconns = uc;
            ps->nfree_uconns++;
        } else {
            free(uc);
        }
    }
    while (ps->reap_streams) {
        rt_stream *s = ps->reap_streams;
        ps->reap_streams = s->next_free;
        if (ps->nfree_streams < FREE_MAX) {
            s->next_free = ps->free_streams;
            ps->free_streams = s;
            ps->nfree_streams++;
        } else {
            free(s);
        }
    }
}

uint32_t rt_proxy_drain(rt_worker *w, const rt_wgen *wg)
{
    rt_pstate *ps = PS(w);
    if (!ps) return 0;
    uint32_t left = 0;
    for (rt_link *l = ps->dconns.next, *next; l != &ps->dconns; l = next) {
        next = l->next;
        rt_dconn *dc = RT_CONTAINER(l, rt_dconn, all);
        if (dc->dead || (wg && dc->wl->wg != wg)) continue;
        if (!dc->s && !dc->hs && dc->state == D_HEAD && rt_buf_len(&dc->in) == 0) {
            dc_close(dc);
            continue;
        }
        left++;
    }
    return left;
}

void rt_proxy_forget(rt_worker *w, const rt_wgen *wg)
{
    rt_pstate *ps = PS(w);
    if (!ps) return;
    for (rt_link *l = ps->uconns.next; l != &ps->uconns; l = l->next) {
        rt_uconn *uc = RT_CONTAINER(l, rt_uconn, all);
        rt_ucluster *u = uc->ucl, *cb = uc->cb;
        if (u && u->idx < wg->nclusters && wg->clusters[u->idx] == u) uc->ucl = NULL;
        if (cb && cb->idx < wg->nclusters && wg->clusters[cb->idx] == cb) uc->cb = NULL;
    }
}

void rt_proxy_shutdown(rt_worker *w)
{
    rt_pstate *ps = PS(w);
    if (!ps) return;
    while (ps->dconns.next != &ps->dconns) dc_close(RT_CONTAINER(ps->dconns.next, rt_dconn, all));
    while (ps->uconns.next != &ps->uconns) uc_close(RT_CONTAINER(ps->uconns.next, rt_uconn, all), false);
    shadows_close_all(w);
    rt_proxy_reap(w);
    while (ps->free_dconns) {
        rt_dconn *dc = ps->free_dconns;
        ps->free_dconns = dc->next_free;
        free(dc);
    }
    while (ps->free_uconns) {
        rt_uconn *uc = ps->free_uconns;
        ps->free_uconns = uc->next_free;
        free(uc);
    }
    while (ps->free_streams) {
        rt_stream *s = ps->free_streams;
        ps->free_streams = s->next_free;
        free(s);
    }
    free(ps);
    w->proxy = NULL;
}
