/*
** tcp.c -- TLS passthrough and plain TCP: Envoy's TLS inspector and
** tcp_proxy as Istio configures them on a gateway
** (../shared/reference/istio-semantics.md section 2).
**
** A TLS listener reads the client's first bytes and looks at them with
** rt_sni_peek() (sni.h) until a whole ClientHello is there (across TCP
** segments and TLS records, up to RT_SNI_MAX_HELLO bytes, within
** --client-hello-timeout); the filter chain is picked by the server name
** (no name, or bytes that are not TLS: the chain without server names).
** No chain: the connection is closed and logged with NR
** (filter_chain_not_found). The bytes read are not consumed: they are the
** first bytes sent upstream, so the TLS session is between the client and
** the upstream. A TCP listener has one chain and routes at once.
**
** Then bytes are relayed both ways, with half-close (a FIN from one side
** is passed on after what it sent), through a bounded buffer per
** direction; once a direction has moved 64 KiB, and unless --no-splice,
** the kernel moves its bytes through a pipe instead (splice(2)), never
** into user space. One access-log line when both
** sides are done, Envoy's tcp_proxy fields ("- - -", bytes each way,
** duration, upstream host and local address, SNI).
*/
#include "fwd.h"
#include "reqlog.h"
#include "sni.h"
#include "stats.h"
#include "table.h"
#include "upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { T_PEEK, T_WAIT_DNS, T_CONNECTING, T_RELAY };

/* one direction of the relay */
typedef struct pipe_dir {
    rt_buf buf;
    int pfd[2];                 /* splice pipe, -1 without */
    uint32_t inpipe;            /* bytes in the pipe */
    uint64_t moved;             /* bytes relayed so far */
    bool eof;                   /* the source sent FIN (or failed) */
    bool shut;                  /* FIN passed on to the destination */
    bool wblocked;
} pipe_dir;

typedef struct rt_tconn {
    rt_worker *w;
    rt_wlisten *wl;
    rt_link all, wait;
    struct rt_tconn *next_free;
    int cfd, ufd;
    uint8_t state;
    bool dead, connected, nolog, counted;
    pipe_dir up, down;          /* client -> upstream, upstream -> client */
    rt_timer timer;
    uint64_t start_ms, last_ms, deadline_ms;
    int64_t start_ns;
    uint32_t cluster;
    rt_ucluster *ucl;
    rt_host *host;
    uint32_t flags;
    uint64_t rx, tx;
    char sni[RT_SNI_HOST_MAX + 1];
    uint16_t sni_len;
    const char *details;
    char ufail[128];
    rt_addr peer;
    char peer_str[RT_ADDR_STRLEN], local_str[RT_ADDR_STRLEN], ulocal[RT_ADDR_STRLEN];
    uint8_t peer_len, local_len, ulocal_len;
} rt_tconn;

typedef struct rt_tstate {
    rt_link conns, dns_wait;
    rt_tconn *free, *reap;
    uint32_t nfree;
} rt_tstate;

#define TC_OF(p, field) RT_CONTAINER(p, rt_tconn, field)

static rt_tstate *TS(rt_worker *w) { return w->tcp; }
static uint64_t now_ms(rt_worker *w) { return rt_loop_now_ms(w->loop); }

static void t_close(rt_tconn *t);
static void on_client(rt_loop *l, int fd, void *ud, int mask);
static void on_upstream(rt_loop *l, int fd, void *ud, int mask);
static void t_arm(rt_tconn *t);

/* ------------------------------------------------------------ log and close */

static void t_log(rt_tconn *t)
{
    rt_worker *w = t->w;
    uint64_t now = now_ms(w);
    if (t->connected) {
        rt_wgen *prev = rt_worker_use(w, t->wl->wg);
        rt_metrics_tcp_close(w, t->cluster, t->flags, t->rx, t->tx);
        rt_worker_use(w, prev);
    }
    if (!w->logw || t->nolog) return;
    rt_logdata d;
    rt_logdata_init(&d);
    d.start_ns = t->start_ns;
    d.duration_ms = (int64_t)(now - t->start_ms);
    d.flags = t->flags;
    if (t->details) d.details = RT_LF(t->details, strlen(t->details));
    if (t->ufail[0]) d.upstream_failure = RT_LF(t->ufail, strlen(t->ufail));
    d.bytes_received = t->rx;
    d.bytes_sent = t->tx;
    if (t->host) d.upstream_host = RT_LF(t->host->addr_str, t->host->addr_len);
    if (t->ucl) d.upstream_cluster = RT_LF(t->ucl->name, t->ucl->name_len);
    if (t->connected && !t->ulocal_len) {
        rt_addr la;
        if (rt_net_local_addr(t->ufd, &la, NULL) == 0) t->ulocal_len = (uint8_t)rt_addr_format(&la, t->ulocal, sizeof t->ulocal);
    }
    if (t->ulocal_len) d.upstream_local = RT_LF(t->ulocal, t->ulocal_len);
    if (!t->local_len) {
        rt_addr a;
        if (!t->wl->ls->any) t->local_len = (uint8_t)snprintf(t->local_str, sizeof t->local_str, "%s", t->wl->ls->addr_str);
        else if (rt_net_local_addr(t->cfd, &a, NULL) == 0) t->local_len = (uint8_t)rt_addr_format(&a, t->local_str, sizeof t->local_str);
    }
    if (t->local_len) d.downstream_local = RT_LF(t->local_str, t->local_len);
    d.downstream_remote = RT_LF(t->peer_str, t->peer_len);
    if (t->sni_len) d.sni = RT_LF(t->sni, t->sni_len);
    rt_reqlog_write(w, &d);
}

static void dir_free(rt_worker *w, pipe_dir *d)
{
    rt_buf_put(&w->pool, &d->buf);
    if (d->pfd[0] >= 0) {
        close(d->pfd[0]);
        close(d->pfd[1]);
        d->pfd[0] = d->pfd[1] = -1;
    }
}

static void t_close(rt_tconn *t)
{
    if (t->dead) return;
    rt_worker *w = t->w;
    t->dead = true;
    t_log(t);
    rt_timer_stop(w->loop, &t->timer);
    rt_link_del(&t->wait);
    rt_link_del(&t->all);
    rt_file_del(w->loop, t->cfd);
    close(t->cfd);
    rt_ctr_dec(&w->conns_live);
    if (t->ufd >= 0) {
        rt_file_del(w->loop, t->ufd);
        close(t->ufd);
        rt_ctr_dec(&w->conns_live);
        if (t->ucl && t->connected) rt_ctr_dec(&t->ucl->cx_active);
        if (t->host && t->connected) rt_ctr_dec(&t->host->cx_active);
    }
    if (t->ucl && t->counted) rt_ctr_dec(&t->ucl->rq_active);
    if (t->host) {
        rt_host_unref(t->host);
        t->host = NULL;
    }
    dir_free(w, &t->up);
    dir_free(w, &t->down);
    rt_ctr_dec(&t->wl->cx_active);
    rt_tstate *ts = TS(w);
    t->next_free = ts->reap;
    ts->reap = t;
}

/* Close the connection now, without a chain or an upstream. */
static void t_refuse(rt_tconn *t, uint32_t flag, const char *details)
{
    t->flags |= flag;
    t->details = details;
    t_close(t);
}

/* ------------------------------------------------------------ accept */

static rt_tconn *t_new(rt_worker *w)
{
    rt_tstate *ts = TS(w);
    rt_tconn *t = ts->free;
    if (t) {
        ts->free = t->next_free;
        ts->nfree--;
    } else if (!(t = malloc(sizeof *t))) {
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->w = w;
    t->cfd = t->ufd = -1;
    t->up.pfd[0] = t->up.pfd[1] = t->down.pfd[0] = t->down.pfd[1] = -1;
    t->cluster = IMG_NONE;
    rt_link_init(&t->all);
    rt_link_init(&t->wait);
    return t;
}

static void t_route(rt_tconn *t, const rt_chain *c);

void rt_tcp_accept(rt_loop *l, int lfd, void *ud, int mask)
{
    (void)mask;
    rt_wlisten *wl = ud;
    rt_worker *w = wl->w;
    for (int i = 0; i < 64 && !w->stopping; i++) {
        rt_addr peer;
        int fd = rt_net_accept(lfd, &peer, NULL);
        if (fd < 0) return;
        rt_tconn *t = t_new(w);
        if (!t) {
            close(fd);
            continue;
        }
        t->wl = wl;
        t->cfd = fd;
        t->peer = peer;
        t->start_ms = t->last_ms = now_ms(w);
        t->start_ns = rt_now_real_ns();
        if (rt_file_add(l, fd, RT_READABLE, on_client, t) < 0) {
            close(fd);
            free(t);
            continue;
        }
        rt_net_nodelay(fd, true, NULL);
        t->peer_len = (uint8_t)rt_addr_format(&peer, t->peer_str, sizeof t->peer_str);
        rt_link_add(&TS(w)->conns, &t->all);
        rt_wgen_hold(wl->wg);
        rt_ctr_inc(&wl->cx_total);
        rt_ctr_inc(&wl->cx_active);
        rt_ctr_inc(&w->conns_live);
        rt_timer_init(&t->timer, NULL, t);
        if (wl->ls->kind == IMG_LISTENER_TLS) {
            t->state = T_PEEK;
            t->deadline_ms = w->srv->o.client_hello_timeout_ms ? t->start_ms + w->srv->o.client_hello_timeout_ms : 0;
            t_arm(t);
        } else {
            t->state = T_PEEK;
            t_route(t, wl->ls->chain);
        }
    }
}

/* ------------------------------------------------------------ timers */

static uint64_t t_deadline(rt_tconn *t)
{
    uint32_t idle = t->w->srv->o.idle_timeout_ms;
    if (t->state == T_PEEK || t->state == T_WAIT_DNS || t->state == T_CONNECTING) return t->deadline_ms;
    return idle ? t->last_ms + idle : 0;
}

static void on_timer(rt_loop *l, rt_timer *tm, void *ud)
{
    (void)l; (void)tm;
    rt_tconn *t = ud;
    if (t->dead) return;
    uint64_t d = t_deadline(t), now = now_ms(t->w);
    if (!d) return;
    if (now < d) {
        rt_timer_start(t->w->loop, &t->timer, d - now, on_timer, t);
        return;
    }
    switch (t->state) {
    case T_PEEK:
        /* no ClientHello in time: the TLS inspector gives up, no log line */
        t->nolog = true;
        t_close(t);
        return;
    case T_WAIT_DNS:
        t_refuse(t, RT_FL(UH), NULL);
        return;
    case T_CONNECTING:
        if (t->ucl) rt_ctr_inc(&t->ucl->cx_connect_timeout);
        if (t->host) rt_ctr_inc(&t->host->cx_connect_fail);
        rt_up_outlier(t->w, t->ucl, t->host, 504);      /* outlier detection: a timeout */
        snprintf(t->ufail, sizeof t->ufail, "connection_timeout");
        t_refuse(t, RT_FL(UF), NULL);
        return;
    default:
        t_close(t);
    }
}

static void t_arm(rt_tconn *t)
{
    uint64_t d = t_deadline(t);
    if (!d) return;
    if (rt_timer_active(&t->timer) && t->timer.deadline <= d) return;
    uint64_t now = now_ms(t->w);
    rt_timer_start(t->w->loop, &t->timer, d > now ? d - now : 0, on_timer, t);
}

/* ------------------------------------------------------------ routing and connecting */

static void t_connect(rt_tconn *t);

static void t_route_in(rt_tconn *t, const rt_chain *c);
static void t_connect_in(rt_tconn *t);

/* Route and connect in the context of the connection's generation. */
static void t_route(rt_tconn *t, const rt_chain *c)
{
    rt_wgen *prev = rt_worker_use(t->w, t->wl->wg);
    t_route_in(t, c);
    rt_worker_use(t->w, prev);
}

static void t_connect(rt_tconn *t)
{
    rt_wgen *prev = rt_worker_use(t->w, t->wl->wg);
    t_connect_in(t);
    rt_worker_use(t->w, prev);
}

static void t_route_in(rt_tconn *t, const rt_chain *c)
{
    rt_worker *w = t->w;
    if (!c) {
        rt_ctr_inc(&t->wl->no_chain);
        t_refuse(t, RT_FL(NR), "filter_chain_not_found");
        return;
    }
    rt_decision d;
    rt_route_tcp(rt_wl_image(t->wl), c, rt_rng_next(&w->rng), &d);
    if (d.action != RT_ACT_ROUTE) {
        rt_ctr_inc(&t->wl->no_chain);
        t_refuse(t, RT_FL(NR), "filter_chain_not_found");
        return;
    }
    t->cluster = d.cluster;
    if (d.flags & RT_FLAG_NC) {
        t_refuse(t, RT_FL(NC), NULL);
        return;
    }
    t->ucl = rt_up_cluster(w, d.cluster);
    if (!t->ucl) {
        t_refuse(t, RT_FL(UH), NULL);
        return;
    }
    rt_ctr_inc(&t->ucl->rq_total);
    rt_ctr_inc(&t->ucl->rq_active);
    t->counted = true;
    t->state = T_CONNECTING;
    t_connect_in(t);
}

static void t_connect_in(rt_tconn *t)
{
    rt_worker *w = t->w;
    rt_ucluster *ucl = t->ucl = rt_up_cluster(w, t->ucl->idx);
    if (!ucl->nhosts) {
        if (ucl->unresolved) {
            if (t->state != T_WAIT_DNS) {
                t->state = T_WAIT_DNS;
                rt_link_add(&TS(w)->dns_wait, &t->wait);
                t->deadline_ms = now_ms(w) + ucl->connect_timeout_ms;
                t_arm(t);
            }
            return;
        }
        rt_ctr_inc(&ucl->cx_none_healthy);
        t_refuse(t, RT_FL(UH), NULL);
        return;
    }
    rt_link_del(&t->wait);
    t->state = T_CONNECTING;
    rt_host *h = rt_up_pick(w, ucl, NULL);
    if (!h) {
        /* every host ejected by outlier detection */
        rt_ctr_inc(&ucl->cx_none_healthy);
        t_refuse(t, RT_FL(UH), NULL);
        return;
    }
    t->host = h;
    rt_host_ref(h);
    rt_ctr_inc(&h->cx_total);
    rt_ctr_inc(&ucl->cx_total);
    char err[RT_ERR_LEN];
    rt_addr ha;
    rt_host_addr(h, &ha);
    int fd = rt_net_connect(&ha, NULL, err);
    if (fd < 0) {
        int e = errno;
        rt_ctr_inc(&h->cx_connect_fail);
        rt_ctr_inc(&ucl->cx_connect_fail);
        rt_up_outlier(w, ucl, h, 503);                  /* outlier detection: a connect failure */
        snprintf(t->ufail, sizeof t->ufail, "immediate_connect_error:_%s", strerror(e));
        for (char *p = t->ufail; *p; p++)
            if (*p == ' ') *p = '_';
        t_refuse(t, RT_FL(UF), NULL);
        return;
    }
    t->ufd = fd;
    rt_ctr_inc(&w->conns_live);
    if (rt_file_add(w->loop, fd, RT_WRITABLE, on_upstream, t) < 0) {
        t_refuse(t, RT_FL(UF), NULL);
        return;
    }
    t->deadline_ms = now_ms(w) + ucl->connect_timeout_ms;
    rt_timer_stop(w->loop, &t->timer);
    t_arm(t);
    /* the client stays watched: what it sends meanwhile joins the
    ** ClientHello in the buffer (on_client) */
}

/* ------------------------------------------------------------ relay */

/* Splice a direction once it has moved this much: short exchanges (a
** handshake, a request) cost less through the buffer than two pipes. */
#define SPLICE_AFTER (64u * 1024)

static void maybe_splice(rt_tconn *t, pipe_dir *d)
{
    if (d->pfd[0] >= 0 || !t->w->srv->o.splice || d->moved < SPLICE_AFTER || rt_buf_len(&d->buf)) return;
    if (pipe2(d->pfd, O_NONBLOCK | O_CLOEXEC) < 0) d->pfd[0] = d->pfd[1] = -1;
}

static void t_interest(rt_tconn *t)
{
    if (t->dead) return;
    rt_worker *w = t->w;
    if (t->state == T_PEEK) {
        rt_file_mod(w->loop, t->cfd, RT_READABLE);
        return;
    }
    if (t->state != T_RELAY) return;
    int cm = 0, um = 0;
    bool uproom = t->up.pfd[0] >= 0 ? true : (!t->up.buf.p || rt_buf_room(&t->up.buf) || t->up.buf.r > 0);
    bool downroom = t->down.pfd[0] >= 0 ? true : (!t->down.buf.p || rt_buf_room(&t->down.buf) || t->down.buf.r > 0);
    /* with splice, read again only when the pipe has drained */
    if (t->up.pfd[0] >= 0) uproom = t->up.inpipe == 0;
    if (t->down.pfd[0] >= 0) downroom = t->down.inpipe == 0;
    if (!t->up.eof && uproom) cm |= RT_READABLE;
    if (!t->down.eof && downroom) um |= RT_READABLE;
    if (t->up.wblocked) um |= RT_WRITABLE;
    if (t->down.wblocked) cm |= RT_WRITABLE;
    rt_file_mod(w->loop, t->cfd, cm);
    rt_file_mod(w->loop, t->ufd, um);
}

/* Move bytes src -> dst through d; returns false when the connection is done for. */
static bool relay(rt_tconn *t, pipe_dir *d, int src, int dst, bool src_ready, uint64_t *count)
{
    rt_worker *w = t->w;
    if (d->pfd[0] >= 0) {
        if (src_ready && !d->eof && d->inpipe == 0) {
            ssize_t n = splice(src, NULL, d->pfd[1], NULL, 1 << 16, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) d->inpipe += (uint32_t)n;
            else if (n == 0) d->eof = true;
            else if (errno != EAGAIN && errno != EINTR) return false;
        }
        while (d->inpipe) {
            ssize_t n = splice(d->pfd[0], NULL, dst, NULL, d->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d->inpipe -= (uint32_t)n;
                *count += (uint64_t)n;
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                d->wblocked = true;
                return true;
            }
            return false;
        }
        d->wblocked = false;
    } else {
        if (src_ready && !d->eof) {
            if (!d->buf.p && !rt_buf_get(&w->pool, &d->buf)) return false;
            if (!rt_buf_room(&d->buf) && d->buf.r) rt_buf_compact(&d->buf);
            if (rt_buf_room(&d->buf)) {
                ssize_t n;
                do n = recv(src, d->buf.p + d->buf.w, rt_buf_room(&d->buf), MSG_DONTWAIT); while (n < 0 && errno == EINTR);
                if (n > 0) d->buf.w += (uint32_t)n;
                else if (n == 0) d->eof = true;
                else if (errno != EAGAIN) return false;
            }
        }
        while (rt_buf_len(&d->buf)) {
            ssize_t n;
            do n = send(dst, rt_buf_data(&d->buf), rt_buf_len(&d->buf), MSG_DONTWAIT | MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
            if (n > 0) {
                rt_buf_consume(&d->buf, (uint32_t)n);
                *count += (uint64_t)n;
                d->moved += (uint64_t)n;
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                d->wblocked = true;
                return true;
            }
            return false;
        }
        d->wblocked = false;
        rt_buf_trim(&w->pool, &d->buf);
        maybe_splice(t, d);
    }
    if (d->eof && !d->shut && !d->inpipe && !rt_buf_len(&d->buf)) {
        /* pass the FIN on, unless the other way is done too: then the
        ** close that follows sends it */
        pipe_dir *other = d == &t->up ? &t->down : &t->up;
        if (!other->shut) shutdown(dst, SHUT_WR);
        d->shut = true;
    }
    return true;
}

static void t_relay(rt_tconn *t, int cmask, int umask)
{
    uint64_t up_bytes = 0;
    bool ok = relay(t, &t->up, t->cfd, t->ufd, cmask & RT_READABLE, &up_bytes);
    t->rx += up_bytes;
    uint64_t cnt = 0;
    ok = ok && relay(t, &t->down, t->ufd, t->cfd, umask & RT_READABLE, &cnt);
    t->tx += cnt;
    if (up_bytes || cnt) {
        t->last_ms = now_ms(t->w);
        if (t->ucl) {
            rt_ctr_add(&t->ucl->cx_tx_bytes, up_bytes);
            rt_ctr_add(&t->ucl->cx_rx_bytes, cnt);
        }
    }
    if (!ok || (t->up.shut && t->down.shut)) {
        t_close(t);
        return;
    }
    t_interest(t);
}

/* ------------------------------------------------------------ events */

static void on_upstream(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l;
    rt_tconn *t = ud;
    if (t->dead) return;
    rt_worker *w = t->w;
    if (t->state == T_CONNECTING) {
        /* with bytes to send, their write tells whether the connection
        ** was made (one system call less); else ask the socket */
        pipe_dir *d0 = &t->up;
        ssize_t first = 0;
        int e = 0;
        if (rt_buf_len(&d0->buf)) {
            do first = send(fd, rt_buf_data(&d0->buf), rt_buf_len(&d0->buf), MSG_DONTWAIT | MSG_NOSIGNAL); while (first < 0 && errno == EINTR);
            if (first < 0 && errno != EAGAIN) e = errno;
            if (first < 0) first = 0;
        } else {
            char err[RT_ERR_LEN];
            if (rt_net_connect_result(fd, err) < 0) e = errno;
        }
        if (e) {
            if (t->host) rt_ctr_inc(&t->host->cx_connect_fail);
            if (t->ucl) rt_ctr_inc(&t->ucl->cx_connect_fail);
            rt_up_outlier(w, t->ucl, t->host, 503);
            snprintf(t->ufail, sizeof t->ufail, "delayed_connect_error:_%s", strerror(e));
            for (char *p = t->ufail; *p; p++)
                if (*p == ' ') *p = '_';
            t_refuse(t, RT_FL(UF), NULL);
            return;
        }
        rt_net_nodelay(fd, true, NULL);
        t->connected = true;
        rt_up_outlier(w, t->ucl, t->host, 200);         /* a connection is a TCP success */
        rt_ctr_inc(&t->ucl->cx_active);
        rt_ctr_inc(&t->host->cx_active);
        rt_wgen *prev = rt_worker_use(w, t->wl->wg);
        rt_metrics_tcp_open(w, t->cluster, 0);
        rt_worker_use(w, prev);
        t->state = T_RELAY;
        t->last_ms = now_ms(w);
        rt_timer_stop(w->loop, &t->timer);
        t_arm(t);
        /* what the client sent so far (the ClientHello) goes first */
        pipe_dir *d = &t->up;
        rt_buf_consume(&d->buf, (uint32_t)first);
        uint64_t n0 = (uint64_t)first;
        while (rt_buf_len(&d->buf)) {
            ssize_t n = send(t->ufd, rt_buf_data(&d->buf), rt_buf_len(&d->buf), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                rt_buf_consume(&d->buf, (uint32_t)n);
                n0 += (uint64_t)n;
                continue;
            }
            if (n < 0 && errno == EAGAIN) break;
            t->rx += n0;
            t_close(t);
            return;
        }
        t->rx += n0;
        if (rt_buf_len(&d->buf)) d->wblocked = true;     /* rare: a window smaller than the ClientHello */
        else rt_buf_trim(&w->pool, &d->buf);
        t_relay(t, 0, 0);
        return;
    }
    t_relay(t, 0, mask);
}

static void t_peek(rt_tconn *t)
{
    rt_worker *w = t->w;
    pipe_dir *d = &t->up;
    if (!d->buf.p && !rt_buf_get(&w->pool, &d->buf)) {
        t_close(t);
        return;
    }
    if (!rt_buf_room(&d->buf) && !rt_buf_grow(&w->pool, &d->buf, RT_BUF_LARGE)) {
        t_close(t);
        return;
    }
    ssize_t n;
    do n = read(t->cfd, d->buf.p + d->buf.w, rt_buf_room(&d->buf)); while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        /* gone before a ClientHello: the inspector never matched a chain */
        t_close(t);
        return;
    }
    if (n < 0) return;
    d->buf.w += (uint32_t)n;
    rt_sni_info info;
    int rc = rt_sni_peek((const uint8_t *)rt_buf_data(&d->buf), rt_buf_len(&d->buf), &info);
    if (rc == -2) return;
    const rt_chain *c;
    const rt_image *img = rt_wl_image(t->wl);
    if (rc == 1) {
        memcpy(t->sni, info.host, info.host_len);
        t->sni[info.host_len] = '\0';
        t->sni_len = info.host_len;
        c = rt_listener_chain(img, t->wl->ls->il, t->sni, t->sni_len);
    } else {
        c = rt_listener_chain(img, t->wl->ls->il, NULL, 0);
    }
    rt_timer_stop(w->loop, &t->timer);
    t_route(t, c);
}

/* While the upstream connection is being made: keep what the client
** sends after its ClientHello, behind it in the buffer. */
static void t_early(rt_tconn *t)
{
    pipe_dir *d = &t->up;
    if (!d->buf.p || !rt_buf_room(&d->buf)) {
        rt_file_mod(t->w->loop, t->cfd, RT_NONE);      /* full: wait for the relay */
        return;
    }
    ssize_t n;
    do n = read(t->cfd, d->buf.p + d->buf.w, rt_buf_room(&d->buf)); while (n < 0 && errno == EINTR);
    if (n > 0) d->buf.w += (uint32_t)n;
    else if (n == 0 || errno != EAGAIN) {
        d->eof = true;
        rt_file_mod(t->w->loop, t->cfd, RT_NONE);
    }
}

static void on_client(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)fd;
    rt_tconn *t = ud;
    if (t->dead) return;
    if (t->state == T_PEEK) {
        t_peek(t);
        return;
    }
    if (t->state == T_RELAY) t_relay(t, mask, 0);
    else t_early(t);
}

/* ------------------------------------------------------------ module */

bool rt_tcp_init(rt_worker *w)
{
    rt_tstate *ts = calloc(1, sizeof *ts);
    if (!ts) return false;
    rt_link_init(&ts->conns);
    rt_link_init(&ts->dns_wait);
    w->tcp = ts;
    return true;
}

void rt_tcp_dns_ready(rt_worker *w)
{
    rt_tstate *ts = TS(w);
    if (!ts) return;
    rt_link l;
    rt_link_take(&ts->dns_wait, &l);
    while (!rt_link_empty(&l)) {
        rt_tconn *t = TC_OF(l.next, wait);
        rt_link_del(&t->wait);
        if (t->dead || t->state != T_WAIT_DNS) continue;
        t_connect(t);
    }
}

void rt_tcp_reap(rt_worker *w)
{
    rt_tstate *ts = TS(w);
    if (!ts) return;
    while (ts->reap) {
        rt_tconn *t = ts->reap;
        ts->reap = t->next_free;
        rt_wgen_drop(w, t->wl->wg);
        if (ts->nfree < 256) {
            t->next_free = ts->free;
            ts->free = t;
            ts->nfree++;
        } else {
            free(t);
        }
    }
}

uint32_t rt_tcp_count(rt_worker *w, const rt_wgen *wg)
{
    rt_tstate *ts = TS(w);
    uint32_t n = 0;
    if (!ts) return 0;
    for (rt_link *l = ts->conns.next; l != &ts->conns; l = l->next)
        if (!wg || TC_OF(l, all)->wl->wg == wg) n++;
    return n;
}

void rt_tcp_shutdown(rt_worker *w)
{
    rt_tstate *ts = TS(w);
    if (!ts) return;
    while (ts->conns.next != &ts->conns) t_close(TC_OF(ts->conns.next, all));
    rt_tcp_reap(w);
    while (ts->free) {
        rt_tconn *t = ts->free;
        ts->free = t->next_free;
        free(t);
    }
    free(ts);
    w->tcp = NULL;
}
