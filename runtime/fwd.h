/*
** fwd.h -- the forwarding engine's shared types (`meshrt run`): the
** server (options, the image, the listeners of the chosen view), one
** worker per thread (its loop, buffers, upstream state, counters), and
** the byte buffers every connection reads into.
**
** Threads
**   The main thread owns the admin listener, DNS (c-ares) and signals in
**   its own loop. Each worker owns a loop, an SO_REUSEPORT listener per
**   port, and every connection it accepted or opened: nothing of a worker
**   is touched by another thread except
**     - counters (rt_ctr): written by the owner only, read by the admin
**       thread with relaxed atomics (no lock, no lock prefix);
**     - per-cluster host lists, replaced under the worker's `lock` and read
**       under it by the admin thread (/clusters);
**     - rt_loop_notify() bits (RT_WBIT_*) sent by the main thread.
**   The image is read-only and shared.
**
** Generations (hot reload)
**   Everything that comes from one image is a generation (rt_gen): the
**   image, the view, its listeners, and per worker an rt_wgen (listener
**   sockets and counters, cluster states, Istio metrics). The main thread
**   builds a generation, publishes it and notifies the workers; each
**   worker switches to it in its own loop. A connection belongs for its
**   whole life to the generation of the listener that accepted it (its
**   wl->wg): its requests are routed with that image, to those clusters,
**   and counted there, so in-flight work never sees a half-swapped state.
**   A worker releases an old generation when its last connection on it is
**   gone (the worker frees its cluster states: hosts are worker-only);
**   the main thread unmaps the image when every worker has released it.
**   srv->img, view, ls, nls mirror the current generation for the main
**   thread (admin); workers read w->gen.
**   rt_up_* and rt_metrics_* work on the worker's context (w->gen,
**   w->clusters, w->metrics); code acting for a connection of another
**   generation switches with rt_worker_use() around the call.
**
** This header must not include table.h or accesslog.h: both define a type
** named rt_str (differently), so a file can include only one of them.
** proxy.c, tcp.c, upstream.c, admin.c and run.c use table.h; reqlog.c is
** the only user of accesslog.h.
*/
#ifndef RT_FWD_H
#define RT_FWD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "image.h"
#include "loop.h"
#include "net.h"
#include "path.h"
#include "reqid.h"

struct rt_image;
struct rt_alog;
struct rt_logw;
struct rt_dns;
struct rt_ucluster;
struct rt_pool;
struct rt_mtable;
struct rt_pstate;
struct rt_tstate;
struct rt_gen;
struct rt_wgen;

/* ------------------------------------------------------------ counters
** Single writer (the worker that owns it), any reader: relaxed atomics
** compile to plain loads and stores on x86-64 and ARM64. */
typedef _Atomic uint64_t rt_ctr;
static inline void rt_ctr_add(rt_ctr *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline void rt_ctr_inc(rt_ctr *c) { rt_ctr_add(c, 1); }
static inline void rt_ctr_dec(rt_ctr *c) { rt_ctr_add(c, (uint64_t)-1); }
static inline uint64_t rt_ctr_get(const rt_ctr *c) { return atomic_load_explicit(c, memory_order_relaxed); }

/* ------------------------------------------------------------ lists
** Intrusive doubly linked lists (a head is an rt_link too; empty when it
** points at itself). */
typedef struct rt_link { struct rt_link *next, *prev; } rt_link;
static inline void rt_link_init(rt_link *l) { l->next = l->prev = l; }
static inline bool rt_link_empty(const rt_link *h) { return h->next == h; }
static inline void rt_link_add(rt_link *h, rt_link *l)
{
    l->next = h->next;
    l->prev = h;
    h->next->prev = l;
    h->next = l;
}
static inline void rt_link_del(rt_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = l;
}
/* Move every element of from onto the empty list to. */
static inline void rt_link_take(rt_link *from, rt_link *to)
{
    rt_link_init(to);
    if (rt_link_empty(from)) return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    rt_link_init(from);
}
#define RT_CONTAINER(p, type, field) ((type *)(void *)((char *)(p) - offsetof(type, field)))

/* ------------------------------------------------------------ buffers
** A connection's input or output bytes. Unread bytes are [r, w). Bytes
** [0, base) are pinned: a parsed message head that the current request
** still points into (header values for routing and the access log); the
** body streams through [base, cap). Storage comes from the worker's pool
** and goes back when the connection is idle, so an idle keep-alive
** connection holds no buffer. */
#define RT_BUF_SMALL  (16u * 1024)
#define RT_BUF_LARGE  (96u * 1024)  /* a 60 KiB request head or an 80 KiB response head, and room */

typedef struct rt_buf {
    char *p;                    /* NULL: no storage */
    uint32_t cap;
    uint32_t base;
    uint32_t r, w;
} rt_buf;

typedef struct rt_bufpool {
    void *free_small;           /* intrusive list of RT_BUF_SMALL blocks */
    uint32_t nfree, max_free;
    rt_ctr allocated;           /* blocks handed out and not returned */
} rt_bufpool;

static inline uint32_t rt_buf_len(const rt_buf *b) { return b->w - b->r; }
static inline uint32_t rt_buf_room(const rt_buf *b) { return b->cap - b->w; }
static inline char *rt_buf_data(const rt_buf *b) { return b->p + b->r; }

/* Storage for an empty buffer (a small block); false when out of memory. */
bool rt_buf_get(rt_bufpool *bp, rt_buf *b);
/* Make the buffer at least cap bytes, keeping its content and offsets. */
bool rt_buf_grow(rt_bufpool *bp, rt_buf *b, uint32_t cap);
/* Give the storage back (content dropped). */
void rt_buf_put(rt_bufpool *bp, rt_buf *b);
/* Release the storage if nothing unread and nothing pinned. */
void rt_buf_trim(rt_bufpool *bp, rt_buf *b);
/* r += n; an emptied buffer restarts at base. */
void rt_buf_consume(rt_buf *b, uint32_t n);
/* Move the unread bytes down to base. */
void rt_buf_compact(rt_buf *b);
/* Append bytes, growing small -> large -> exact size; false on OOM. */
bool rt_buf_append(rt_bufpool *bp, rt_buf *b, const void *p, size_t n);
void rt_bufpool_free(rt_bufpool *bp);

/* ------------------------------------------------------------ flags
** The response flags the engine sets, as bits in Envoy's canonical order
** (the order accesslog.h prints them in; reqlog.c maps them by name). */
#define RT_FWD_FLAGS(X) \
    X(UH) X(UT) X(LR) X(UR) X(UF) X(UC) X(UO) X(NR) X(DI) X(FI) X(DC) X(URX) X(SI) X(DPE) X(UPE) X(NC)
enum {
#define X(f) RT_FLB_##f,
    RT_FWD_FLAGS(X)
#undef X
    RT_FL_COUNT
};
#define RT_FL(f) (1u << RT_FLB_##f)
/* Flag bit of a short name ("DPE"), 0 if not one of ours. */
uint32_t rt_flag_from_name(const char *s);
const char *rt_flag_name(int bit);
/* "UF,URX" or "-" (cap >= 64); returns the length. */
size_t rt_flags_format(uint32_t flags, char *buf, size_t cap);

/* ------------------------------------------------------------ options */

typedef struct rt_listen_map { uint32_t port; rt_addr addr; } rt_listen_map;
typedef struct rt_resolve { char *host; uint32_t port; rt_addr addr; } rt_resolve;   /* host "*": any name */

typedef struct rt_opts {
    const char *image_path;
    const char *labels, *ns, *gateway;  /* view selection */
    bool mesh;
    rt_listen_map *listen; uint32_t nlisten;
    rt_resolve *resolve; uint32_t nresolve;
    const char *admin;                  /* "ADDR:PORT", "none" */
    const char *access_log;             /* path, "-", NULL none */
    const char *access_log_format;      /* istio, istio-1.0, json, or a format */
    const char *ready_file;
    const char *dns_resolvers;          /* "ADDR:PORT,..." for c-ares, NULL: /etc/resolv.conf */
    uint32_t workers;
    bool splice;                        /* TCP relay through splice(2) pipes */
    rt_path_mode path_mode;
    uint32_t request_headers_timeout_ms;    /* 60 s */
    uint32_t client_hello_timeout_ms;       /* 15 s */
    uint32_t idle_timeout_ms;               /* 1 h, downstream and upstream HTTP, TCP */
    uint32_t dns_refresh_ms;                /* 60 s when the answer has no TTL */
    uint32_t drain_timeout_ms;              /* SIGTERM and reload drain, 5 s */
    const char *user;                       /* --user: drop to it after binding */
    bool watch;                             /* --watch: reload when the image file changes */
} rt_opts;

/* ------------------------------------------------------------ listeners */

/* One port of the view, as bound (the same address in every worker). */
typedef struct rt_lspec {
    uint32_t idx;
    uint32_t port;                      /* the Gateway server port */
    uint32_t kind;                      /* IMG_LISTENER_* */
    const struct img_listener *il;
    const struct img_chain *chain;      /* HTTP and TCP listeners: their only chain */
    rt_addr want;                       /* where it is to be bound (port 0: any) */
    rt_addr addr;                       /* where it is bound */
    char addr_str[RT_ADDR_STRLEN];
    bool any;                           /* bound to a wildcard address: ask the socket */
    char stat_prefix[64];               /* Envoy's "outbound_0.0.0.0_80" */
} rt_lspec;

typedef struct rt_worker rt_worker;

typedef struct rt_wlisten {
    rt_worker *w;
    const rt_lspec *ls;
    struct rt_wgen *wg;                 /* the generation it belongs to */
    int fd;                             /* -1: none, or handed on to the next generation */
    rt_ctr cx_total, cx_active;         /* downstream connections */
    rt_ctr rq_total, rq_xx[6];          /* HTTP requests, by class 1xx..5xx ([0]: none) */
    rt_ctr rq_active;
    rt_ctr no_chain;                    /* connections closed for want of a filter chain */
} rt_wlisten;

/* ------------------------------------------------------------ generations */

/* One worker's state of a generation (that worker's thread only, except
** what the admin reads of the current generation: counters, published
** cluster states). */
typedef struct rt_wgen {
    struct rt_gen *gen;
    rt_wlisten *wl;                     /* one per gen->ls */
    struct rt_ucluster **clusters;      /* by CLUSTERS index, built on first use */
    uint32_t nclusters;
    struct rt_mtable *metrics;          /* Istio metrics (stats.c) */
    uint32_t users;                     /* connections on it (worker thread) */
    uint64_t retired_ms;                /* worker clock when it stopped being current */
    bool retired, released;
    struct rt_wgen *next_old;           /* the worker's retired generations */
} rt_wgen;

typedef struct rt_gen {
    uint32_t id;                        /* 1, 2, ... in load order */
    struct rt_image *img;
    const struct img_view *view;
    rt_lspec *ls; uint32_t nls;
    rt_wgen *wg;                        /* [nworkers] */
    _Atomic uint32_t refs;              /* workers not done with it, + 1 while current */
    struct rt_gen *next;                /* main thread: retired generations */
    struct rt_gen *succ;                /* the one loaded after it (set before that is published) */
} rt_gen;

/* ------------------------------------------------------------ server */

typedef struct rt_server {
    rt_opts o;
    struct rt_image *img;
    const struct img_view *view;
    rt_lspec *ls; uint32_t nls;
    rt_worker *workers; uint32_t nworkers;
    struct rt_alog *alog;               /* NULL: no access log */
    struct rt_dns *dns;
    char local_ip[48];                  /* what XFF gets for loopback peers (Envoy's local address) */
    char hostname[64];
    /* metric identity of this proxy (Istio's source_* labels) */
    char workload[128], workload_ns[128], app[128], canonical_rev[64];
    atomic_bool ready;
    int64_t start_real_ns;
    uint64_t start_mono_ms;
    char cmdline[512];
    rt_gen *gen;                        /* current generation (main thread) */
    _Atomic(rt_gen *) gen_pub;          /* the one workers switch to */
    rt_gen *retired;                    /* older ones still in use (main thread) */
    uint32_t ngen;
    atomic_bool draining;               /* SIGTERM: listeners closed, finishing */
    _Atomic uint32_t workers_done;      /* workers whose drain is over */
    rt_loop *mainloop;
} rt_server;

/* Bits rt_loop_notify() sends to workers. */
#define RT_WBIT_STOP   1u
#define RT_WBIT_DNS    2u
#define RT_WBIT_RELOAD 4u               /* switch to srv->gen_pub */
#define RT_WBIT_DRAIN  8u               /* close the listeners, finish, stop */
/* Bits workers send to the main loop. */
#define RT_MBIT_GC     1u               /* a generation may have no users left */
#define RT_MBIT_DONE   2u               /* a worker finished draining */

struct rt_worker {
    uint32_t id;
    rt_server *srv;
    rt_loop *loop;
    pthread_t thread;
    rt_rng rng;
    struct rt_logw *logw;               /* NULL: no access log */
    rt_bufpool pool;
    pthread_mutex_t lock;               /* structure the admin thread reads (see top) */
    /* upstream state, created on first use (upstream.c) */
    struct rt_ucluster **clusters;      /* context: w->wg's (see Generations) */
    uint32_t nclusters;
    struct rt_pool **pools;             /* idle HTTP connections by (address, policy) */
    uint32_t npools_slots, npools;
    /* Istio metrics (stats.c): context, w->wg's */
    struct rt_mtable *metrics;
    /* generations: the context in use, the current one, retired ones */
    rt_gen *gen;
    rt_wgen *wg, *cur;
    rt_wgen *old;
    rt_timer drain_timer;
    bool drained;
    /* module state: connections, free lists, requests waiting for DNS */
    struct rt_pstate *proxy;            /* proxy.c */
    struct rt_tstate *tcp;              /* tcp.c */
    rt_ctr conns_live;                  /* downstream + upstream sockets open */
    /* scratch space for one request at a time (path normalization, joins) */
    char *scratch;
    size_t scratch_cap;
    /* Date header, cached per second */
    char date[40];
    int64_t date_sec;
    bool stopping;
};

/* Make wg the worker's context (w->gen, w->clusters, w->metrics, which
** rt_up_* and rt_metrics_* use) and return the previous one, to restore. */
static inline rt_wgen *rt_worker_use(rt_worker *w, rt_wgen *wg)
{
    rt_wgen *prev = w->wg;
    w->wg = wg;
    w->gen = wg->gen;
    w->clusters = wg->clusters;
    w->nclusters = wg->nclusters;
    w->metrics = wg->metrics;
    return prev;
}
/* The image a connection of listener wl routes with. */
static inline const struct rt_image *rt_wl_image(const rt_wlisten *wl) { return wl->wg->gen->img; }
/* A connection starts and ends on its listener's generation (run.c):
** the generation stays mapped while it has users. */
void rt_wgen_hold(rt_wgen *wg);
void rt_wgen_drop(rt_worker *w, rt_wgen *wg);
/* Whether a connection of that generation should close after the
** current response (an older generation, or the server is draining). */
static inline bool rt_wgen_draining(const rt_worker *w, const rt_wgen *wg)
{
    return wg != w->cur || atomic_load_explicit(&w->srv->draining, memory_order_relaxed);
}

/* The current "date:" value (IMF-fixdate), refreshed once a second. */
const char *rt_worker_date(rt_worker *w);
/* Wall clock in nanoseconds (CLOCK_REALTIME). */
int64_t rt_now_real_ns(void);

/* The protocol modules, per worker, in its thread:
**   init     allocate the module state (before the loop runs)
**   accept   listener callback (ud: the rt_wlisten)
**   dns      names were answered: requests waiting for one look again
**   reap     free what was closed during this loop iteration (before sleep)
**   shutdown close every connection, free everything */
bool rt_proxy_init(rt_worker *w);
void rt_proxy_accept(rt_loop *l, int fd, void *ud, int mask);  /* HTTP listeners */
void rt_proxy_dns_ready(rt_worker *w);
void rt_proxy_reap(rt_worker *w);
void rt_proxy_shutdown(rt_worker *w);
bool rt_tcp_init(rt_worker *w);
void rt_tcp_accept(rt_loop *l, int fd, void *ud, int mask);    /* TLS (SNI) and TCP listeners */
void rt_tcp_dns_ready(rt_worker *w);
void rt_tcp_reap(rt_worker *w);
void rt_tcp_shutdown(rt_worker *w);
/* Drain: connections of generation wg (NULL: every one) that are idle
** (no request in progress) are closed now; the others close after their
** current response. Returns how many connections are left on it. */
uint32_t rt_proxy_drain(rt_worker *w, const rt_wgen *wg);
uint32_t rt_tcp_count(rt_worker *w, const rt_wgen *wg);
/* Before the worker frees wg's cluster states: idle upstream connections
** forget a cluster of wg they were last used for. */
void rt_proxy_forget(rt_worker *w, const rt_wgen *wg);

#endif
