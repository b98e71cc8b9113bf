/*
** run.c -- `meshrt run IMG`: serve the image as an Istio ingress gateway.
**
** Start-up, in this order (a failure at any step exits 2 with a message
** before anything is served):
**   options -> image (mmap + verify) -> view -> listeners of the view
**   -> access-log format -> DNS names to resolve -> workers (loop, module
**   state, access-log writer, one SO_REUSEPORT socket per port) -> admin
**   -> ready (the --ready-file is written, /ready answers LIVE) -> threads.
** (--user: the user is checked first and taken after binding.)
** The main thread then runs its own loop: admin, DNS, signals, --watch.
**
** Reload (SIGHUP, --watch): the image is opened and verified again and
** becomes a new generation (fwd.h): listener sockets whose address stays
** are handed on, new ones bound, gone ones closed by each worker as it
** switches; DNS names it adds are resolved. Any failure (bad image, no
** view, a port that cannot be bound) refuses the reload with one log
** line and nothing changes. Connections stay on the generation they were
** accepted on: their requests finish there, a keep-alive connection gets
** "connection: close" with its next response, and idle ones are closed
** after --drain-timeout. A generation is unmapped when its last user is
** gone.
**
** Drain (SIGTERM, SIGINT): listeners closed at once, /ready answers 503,
** idle connections closed, busy ones close after their response; exit 0
** when none is left or after --drain-timeout (5 s, Istio's
** terminationDrainDuration), whichever comes first. A second signal
** stops at once.
** At exit every worker closes its connections, flushes its log and frees
** everything, so a leak checker sees nothing.
*/
#include "admin.h"
#include "cmd.h"
#include "dns.h"
#include "fwd.h"
#include "reqlog.h"
#include "stats.h"
#include "table.h"
#include "upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pwd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_SETSIZE_MAX 65536

static const char run_usage[] =
    "usage: meshrt run IMG [--labels k=v,... [--namespace NS] | --gateway NS/NAME | --mesh]\n"
    "                      [--listen PORT=ADDR:PORT]... [--admin ADDR:PORT|none]\n"
    "                      [--access-log PATH|-] [--access-log-format istio|istio-1.0|json|FORMAT]\n"
    "                      [--resolve HOST:PORT=ADDR:PORT]... [--workers N]\n"
    "                      [--path-normalization NONE|BASE|MERGE_SLASHES|DECODE_AND_MERGE_SLASHES]\n"
    "                      [--ready-file PATH] [--dns-resolvers ADDR:PORT,...] [--dns-refresh DUR]\n"
    "                      [--request-headers-timeout DUR] [--client-hello-timeout DUR] [--idle-timeout DUR]\n"
    "                      [--splice | --no-splice] [--watch] [--drain-timeout DUR] [--user NAME]\n";

/* ------------------------------------------------------------ option values */

/* "60s", "1500ms", "2m", "1h", "30" (seconds); 0 disables. */
static bool parse_duration(const char *s, uint32_t *ms)
{
    char *end;
    if (!*s || *s == '-') return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return false;
    unsigned long long mul = 1000;
    if (!strcmp(end, "ms")) mul = 1;
    else if (!strcmp(end, "s") || !*end) mul = 1000;
    else if (!strcmp(end, "m")) mul = 60000;
    else if (!strcmp(end, "h")) mul = 3600000;
    else return false;
    if (v > UINT32_MAX / mul) return false;
    *ms = (uint32_t)(v * mul);
    return true;
}

static bool parse_port(const char *s, size_t n, uint32_t *port)
{
    if (!n || n > 5) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535) return false;
    *port = v;
    return true;
}

/* PORT=ADDR:PORT */
static bool parse_listen(const char *s, rt_listen_map *m, char err[RT_ERR_LEN])
{
    const char *eq = strchr(s, '=');
    if (!eq || !parse_port(s, (size_t)(eq - s), &m->port) || !m->port) {
        snprintf(err, RT_ERR_LEN, "bad --listen '%s' (want PORT=ADDR:PORT, e.g. 80=127.0.0.1:8080)", s);
        return false;
    }
    char e2[RT_ERR_LEN];
    if (rt_addr_parse(eq + 1, &m->addr, e2) < 0) {
        snprintf(err, RT_ERR_LEN, "bad --listen '%.80s': %.120s", s, e2);
        return false;
    }
    return true;
}

/* HOST:PORT=ADDR:PORT */
static bool parse_resolve(const char *s, rt_resolve *r, char err[RT_ERR_LEN])
{
    const char *eq = strchr(s, '=');
    const char *colon = NULL;
    for (const char *p = s; eq && p < eq; p++)
        if (*p == ':') colon = p;
    if (!eq || !colon || colon == s || !parse_port(colon + 1, (size_t)(eq - colon - 1), &r->port)) {
        snprintf(err, RT_ERR_LEN, "bad --resolve '%s' (want HOST:PORT=ADDR:PORT, e.g. httpbin.org:80=127.0.0.1:8080)", s);
        return false;
    }
    char e2[RT_ERR_LEN];
    if (rt_addr_parse(eq + 1, &r->addr, e2) < 0) {
        snprintf(err, RT_ERR_LEN, "bad --resolve '%.80s': %.120s", s, e2);
        return false;
    }
    r->host = strndup(s, (size_t)(colon - s));
    return r->host != NULL;
}

/* ------------------------------------------------------------ environment */

/* Envoy's local address: the first non-loopback IPv4 address of an
** interface that is up (what x-forwarded-for gets for loopback peers). */
static void find_local_ip(char *out, size_t cap)
{
    snprintf(out, cap, "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0) return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, out, (socklen_t)cap);
        break;
    }
    freeifaddrs(ifs);
}


static const char *label_of(const rt_image *img, const rt_view *v, const char *key)
{
    rt_view_info vi;
    rt_view_info_get(img, v, &vi);
    for (uint32_t i = 0; i < vi.nlabels; i++) {
        rt_label l = rt_view_label(img, v, i);
        if (!strcmp(l.key, key)) return l.value;
    }
    return NULL;
}

/* Istio's source_* metric labels from the proxy's labels. */
static void identity(rt_server *srv)
{
    const rt_image *img = srv->img;
    rt_view_info vi;
    rt_view_info_get(img, srv->view, &vi);
    const char *app = label_of(img, srv->view, "app");
    const char *istio = label_of(img, srv->view, "istio");
    const char *canon = label_of(img, srv->view, "service.istio.io/canonical-name");
    const char *rev = label_of(img, srv->view, "service.istio.io/canonical-revision");
    if (app) snprintf(srv->workload, sizeof srv->workload, "%s", app);
    else if (istio) snprintf(srv->workload, sizeof srv->workload, "istio-%s", istio);
    else if (vi.kind == IMG_VIEW_GATEWAY) snprintf(srv->workload, sizeof srv->workload, "%.*s", (int)vi.name.n, vi.name.p);
    else snprintf(srv->workload, sizeof srv->workload, "unknown");
    snprintf(srv->app, sizeof srv->app, "%s", canon ? canon : app ? app : srv->workload);
    snprintf(srv->canonical_rev, sizeof srv->canonical_rev, "%s", rev ? rev : "latest");
    snprintf(srv->workload_ns, sizeof srv->workload_ns, "%.*s", (int)vi.ns.n, vi.ns.p);
}

/* ------------------------------------------------------------ listeners */

static bool build_listeners(const rt_server *srv, rt_gen *g, char err[RT_ERR_LEN])
{
    const rt_image *img = g->img;
    rt_view_info vi;
    rt_view_info_get(img, g->view, &vi);
    if (!vi.nlisteners) {
        snprintf(err, RT_ERR_LEN, "view %.*s has no listeners: nothing to serve", (int)vi.name.n, vi.name.p);
        return false;
    }
    g->ls = calloc(vi.nlisteners, sizeof *g->ls);
    bool *mapped = calloc(srv->o.nlisten ? srv->o.nlisten : 1, sizeof *mapped);
    if (!g->ls || !mapped) {
        free(mapped);
        snprintf(err, RT_ERR_LEN, "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < vi.nlisteners; i++) {
        const rt_listener *l = rt_view_listener(img, g->view, i);
        rt_listener_info li;
        rt_listener_info_get(img, l, &li);
        rt_lspec *sp = &g->ls[g->nls];
        sp->idx = g->nls;
        sp->port = li.port;
        sp->kind = li.kind;
        sp->il = l;
        sp->chain = li.kind == IMG_LISTENER_TLS ? NULL : rt_listener_chain(img, l, NULL, 0);
        bool found = false;
        for (uint32_t k = 0; k < srv->o.nlisten; k++)
            if (srv->o.listen[k].port == li.port) {
                sp->addr = srv->o.listen[k].addr;
                mapped[k] = found = true;
            }
        if (!found) {
            char e2[RT_ERR_LEN];
            const char *bind = li.bind.n ? li.bind.p : "0.0.0.0";
            if (rt_addr_from_ip(bind, (uint16_t)li.port, &sp->addr, e2) < 0) {
                snprintf(err, RT_ERR_LEN, "listener on port %u: bind address '%.60s': %.150s", li.port, bind, e2);
                free(mapped);
                return false;
            }
        }
        sp->want = sp->addr;
        char ip[64];
        rt_addr_format_ip(&sp->addr, ip, sizeof ip);
        sp->any = !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::");
        rt_addr_format(&sp->addr, sp->addr_str, sizeof sp->addr_str);
        snprintf(sp->stat_prefix, sizeof sp->stat_prefix, "outbound_%s_%u", li.bind.n ? li.bind.p : "0.0.0.0", li.port);
        g->nls++;
    }
    /* at start a --listen for a port the view lacks is a mistake; at a
    ** reload the port may just be gone for now */
    for (uint32_t k = 0; k < srv->o.nlisten && !srv->gen; k++)
        if (!mapped[k]) {
            char ports[256] = "";
            size_t n = 0;
            for (uint32_t i = 0; i < g->nls && n + 8 < sizeof ports; i++)
                n += (size_t)snprintf(ports + n, sizeof ports - n, "%s%u", i ? ", " : "", g->ls[i].port);
            snprintf(err, RT_ERR_LEN, "--listen %u=...: the view has no listener on port %u (ports: %.150s)", srv->o.listen[k].port,
                     srv->o.listen[k].port, ports);
            free(mapped);
            return false;
        }
    free(mapped);
    return true;
}

/* The listener of the previous generation for the same server port,
** bound where sp wants to be (with --listen P=ADDR:0 several ports want
** the same address: the port tells them apart). */
static const rt_lspec *same_socket(const rt_gen *old, const rt_lspec *sp, uint32_t *at)
{
    for (uint32_t j = 0; old && j < old->nls; j++)
        if (old->ls[j].port == sp->port && rt_addr_equal(&old->ls[j].want, &sp->want)) {
            *at = j;
            return &old->ls[j];
        }
    return NULL;
}

/* Give every listener of g one socket per worker (SO_REUSEPORT): the
** sockets of old that stay where they are are handed on (no connection
** is refused while a reload swaps); the others are bound, the first bind
** of a port 0 deciding the port for the others. All or nothing: on
** failure nothing of old is touched. */
static bool bind_gen(rt_server *srv, rt_gen *g, rt_gen *old, char err[RT_ERR_LEN])
{
    for (uint32_t i = 0; i < g->nls; i++) {
        rt_lspec *sp = &g->ls[i];
        uint32_t j;
        if (same_socket(old, sp, &j)) continue;
        for (uint32_t k = 0; k < srv->nworkers; k++) {
            char e2[RT_ERR_LEN];
            int fd = rt_net_listen(&sp->addr, 1024, RT_LISTEN_REUSEPORT, e2);
            if (fd < 0) {
                snprintf(err, RT_ERR_LEN, "listener for port %u: %.200s", sp->port, e2);
                for (uint32_t a = 0; a <= i; a++)
                    for (uint32_t b = 0; b < srv->nworkers; b++) {
                        rt_wlisten *wl = &g->wg[b].wl[a];
                        if (wl->fd >= 0) close(wl->fd);
                        wl->fd = -1;
                    }
                return false;
            }
            g->wg[k].wl[i].fd = fd;
            if (k == 0) {
                rt_addr bound;
                if (rt_net_local_addr(fd, &bound, e2) == 0) sp->addr = bound;
                rt_addr_format(&sp->addr, sp->addr_str, sizeof sp->addr_str);
            }
        }
    }
    for (uint32_t i = 0; i < g->nls; i++) {
        rt_lspec *sp = &g->ls[i];
        uint32_t j;
        const rt_lspec *o = same_socket(old, sp, &j);
        if (!o) continue;
        sp->addr = o->addr;
        memcpy(sp->addr_str, o->addr_str, sizeof sp->addr_str);
        for (uint32_t k = 0; k < srv->nworkers; k++) {
            g->wg[k].wl[i].fd = old->wg[k].wl[j].fd;
            old->wg[k].wl[j].fd = -1;   /* handed on: the worker must not close it */
        }
    }
    return true;
}

/* ------------------------------------------------------------ generations */

/* Open and verify an image, pick the view, lay out its listeners and the
** per-worker tables. NULL with err on any problem (nothing is bound). */
static rt_gen *gen_open(rt_server *srv, const rt_label *labels, uint32_t nl, char err[RT_ERR_LEN])
{
    const rt_opts *o = &srv->o;
    rt_gen *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, RT_ERR_LEN, "out of memory");
        return NULL;
    }
    char e2[RT_ERR_LEN];
    g->img = rt_image_read(o->image_path, e2, sizeof e2);    /* a private copy (table.h) */
    if (!g->img) {
        snprintf(err, RT_ERR_LEN, "%.100s: %.150s", o->image_path, e2);
        free(g);
        return NULL;
    }
    g->view = rt_view_select(g->img, o->mesh, o->gateway, o->ns, labels, nl);
    if (!g->view) {
        char views[1024];
        rt_view_list(g->img, views, sizeof views);
        snprintf(err, RT_ERR_LEN, "no such view in %s (it has: %.180s)", o->image_path, views);
        goto fail;
    }
    if (!build_listeners(srv, g, err)) goto fail;
    g->id = ++srv->ngen;
    g->wg = calloc(srv->nworkers, sizeof *g->wg);
    if (!g->wg) goto oom;
    uint32_t ncl = rt_cluster_count(g->img);
    for (uint32_t k = 0; k < srv->nworkers; k++) {
        rt_wgen *wg = &g->wg[k];
        wg->gen = g;
        wg->nclusters = ncl;
        wg->clusters = calloc(ncl ? ncl : 1, sizeof *wg->clusters);
        wg->wl = calloc(g->nls, sizeof *wg->wl);
        wg->metrics = rt_metrics_new();
        if (!wg->clusters || !wg->wl || !wg->metrics) goto oom;
        for (uint32_t i = 0; i < g->nls; i++) {
            wg->wl[i].w = &srv->workers[k];
            wg->wl[i].ls = &g->ls[i];
            wg->wl[i].wg = wg;
            wg->wl[i].fd = -1;
        }
    }
    atomic_init(&g->refs, srv->nworkers + 1);
    return g;
oom:
    snprintf(err, RT_ERR_LEN, "out of memory");
fail:
    if (g->wg)
        for (uint32_t k = 0; k < srv->nworkers; k++) {
            free(g->wg[k].clusters);
            free(g->wg[k].wl);
            rt_metrics_free(g->wg[k].metrics);
        }
    free(g->wg);
    free(g->ls);
    rt_image_close(g->img);
    free(g);
    return NULL;
}

/* Main thread, once every worker has released g (or never started). */
static void gen_free(rt_server *srv, rt_gen *g)
{
    for (uint32_t k = 0; g->wg && k < srv->nworkers; k++) {
        rt_wgen *wg = &g->wg[k];
        for (uint32_t i = 0; wg->wl && i < g->nls; i++)
            if (wg->wl[i].fd >= 0) close(wg->wl[i].fd);
        rt_up_clusters_free(&srv->workers[k], wg->clusters, wg->nclusters);   /* workers that never ran */
        free(wg->clusters);
        free(wg->wl);
        rt_metrics_free(wg->metrics);
    }
    free(g->wg);
    free(g->ls);
    rt_image_close(g->img);
    free(g);
}

/* Unmap the generations every worker is done with. */
static void gen_collect(rt_server *srv)
{
    for (rt_gen **p = &srv->retired; *p;) {
        rt_gen *g = *p;
        if (atomic_load(&g->refs) == 0) {
            *p = g->next;
            gen_free(srv, g);
        } else {
            p = &g->next;
        }
    }
}

/* The main thread's mirrors of the current generation (admin, stats). */
static void gen_mirror(rt_server *srv, rt_gen *g)
{
    srv->gen = g;
    srv->img = g->img;
    srv->view = g->view;
    srv->ls = g->ls;
    srv->nls = g->nls;
}

/* ------------------------------------------------------------ workers */

static void listen_on(rt_worker *w, rt_wgen *wg)
{
    for (uint32_t i = 0; i < wg->gen->nls; i++) {
        rt_wlisten *wl = &wg->wl[i];
        if (wl->fd < 0) continue;
        rt_file_fn *fn = wl->ls->kind == IMG_LISTENER_HTTP ? rt_proxy_accept : rt_tcp_accept;
        rt_file_del(w->loop, wl->fd);   /* a socket handed on is still registered for the old one */
        if (rt_file_add(w->loop, wl->fd, RT_READABLE, fn, wl) < 0)
            fprintf(stderr, "meshrt: worker %u: cannot watch the listener for port %u: %s\n", w->id, wl->ls->port, strerror(errno));
    }
}

/* Close the listening sockets of wg that were not handed on. */
static void close_listeners(rt_worker *w, rt_wgen *wg)
{
    for (uint32_t i = 0; i < wg->gen->nls; i++) {
        rt_wlisten *wl = &wg->wl[i];
        if (wl->fd < 0) continue;
        rt_file_del(w->loop, wl->fd);
        close(wl->fd);
        wl->fd = -1;
    }
}

/* The worker is done with wg: free its cluster states (hosts are this
** thread's), and let the main thread unmap the image once every worker
** is. */
static void wgen_release(rt_worker *w, rt_wgen *wg)
{
    if (wg->released) return;
    wg->released = true;
    for (rt_wgen **p = &w->old; *p; p = &(*p)->next_old)
        if (*p == wg) {
            *p = wg->next_old;
            break;
        }
    rt_proxy_forget(w, wg);
    rt_up_clusters_free(w, wg->clusters, wg->nclusters);
    if (atomic_fetch_sub(&wg->gen->refs, 1) == 1) rt_loop_notify(w->srv->mainloop, RT_MBIT_GC);
}

void rt_wgen_hold(rt_wgen *wg) { wg->users++; }

void rt_wgen_drop(rt_worker *w, rt_wgen *wg)
{
    if (--wg->users == 0 && wg->retired) wgen_release(w, wg);
}

static void on_drain_timer(rt_loop *l, rt_timer *t, void *ud);

static void arm_drain_timer(rt_worker *w, uint64_t ms)
{
    if (!rt_timer_active(&w->drain_timer) || w->drain_timer.deadline > rt_loop_now_ms(w->loop) + ms)
        rt_timer_start(w->loop, &w->drain_timer, ms, on_drain_timer, w);
}

/* Switch to the next generation: listen on its sockets, close the ones
** it did not take over, keep the old one for its connections. */
static void worker_step(rt_worker *w, rt_gen *g)
{
    rt_wgen *old = w->cur, *wg = &g->wg[w->id];
    if (!atomic_load(&w->srv->draining)) listen_on(w, wg);
    close_listeners(w, old);
    w->cur = wg;
    rt_worker_use(w, wg);
    old->retired = true;
    old->retired_ms = rt_loop_now_ms(w->loop);
    old->next_old = w->old;
    w->old = old;
    if (!old->users) wgen_release(w, old);
    else {
        /* busy connections get connection: close with their response
        ** (rt_wgen_draining); idle ones are closed after the drain time */
        arm_drain_timer(w, w->srv->o.drain_timeout_ms);
    }
}

/* Catch up with the published generation, one generation at a time (a
** worker that was busy while several reloads happened still takes over
** and closes each one's sockets, and releases each one). */
static void worker_switch(rt_worker *w)
{
    rt_gen *g = atomic_load(&w->srv->gen_pub);
    while (g && w->cur->gen != g && w->cur->gen->succ && !w->stopping) worker_step(w, w->cur->gen->succ);
}

/* Connections left on old generations past the drain time, or all of
** them once the server drains: close the idle ones. A draining worker
** whose last connection is gone reports to the main thread. */
static void on_drain_timer(rt_loop *l, rt_timer *t, void *ud)
{
    (void)t;
    rt_worker *w = ud;
    uint64_t now = rt_loop_now_ms(l);
    uint64_t next = 0;
    for (rt_wgen *wg = w->old, *nx; wg; wg = nx) {
        nx = wg->next_old;
        uint64_t due = wg->retired_ms + w->srv->o.drain_timeout_ms;
        if (now >= due) rt_proxy_drain(w, wg);
        else if (!next || due - now < next) next = due - now;
    }
    if (atomic_load(&w->srv->draining) && !w->drained) {
        if (rt_proxy_drain(w, NULL) + rt_tcp_count(w, NULL) == 0) {
            w->drained = true;
            atomic_fetch_add(&w->srv->workers_done, 1);
            rt_loop_notify(w->srv->mainloop, RT_MBIT_DONE);
        } else {
            next = 50;
        }
    }
    if (next) rt_timer_start(l, &w->drain_timer, next, on_drain_timer, w);
}

static void worker_drain(rt_worker *w)
{
    close_listeners(w, w->cur);
    arm_drain_timer(w, 0);
}

static void on_worker_notify(rt_loop *l, void *ud, uint32_t bits)
{
    rt_worker *w = ud;
    if (bits & RT_WBIT_RELOAD) worker_switch(w);
    if (bits & RT_WBIT_DRAIN) worker_drain(w);
    if (bits & RT_WBIT_DNS) {
        rt_proxy_dns_ready(w);
        rt_tcp_dns_ready(w);
    }
    if (bits & RT_WBIT_STOP) {
        w->stopping = true;
        rt_loop_stop(l);
    }
}

static void before_sleep(rt_loop *l, void *ud)
{
    (void)l;
    rt_worker *w = ud;
    rt_proxy_reap(w);
    rt_tcp_reap(w);
}

static int loop_setsize(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max > LOOP_SETSIZE_MAX ? LOOP_SETSIZE_MAX : rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < LOOP_SETSIZE_MAX) return (int)rl.rlim_cur;
    }
    return LOOP_SETSIZE_MAX;
}

static bool worker_init(rt_server *srv, rt_worker *w, uint32_t id, char err[RT_ERR_LEN])
{
    w->id = id;
    w->srv = srv;
    pthread_mutex_init(&w->lock, NULL);
    rt_rng_seed(&w->rng);
    w->pool.max_free = 256;
    rt_timer_init(&w->drain_timer, on_drain_timer, w);
    w->loop = rt_loop_new(loop_setsize(), err);
    if (!w->loop) return false;
    w->scratch_cap = RT_PATH_CAP(RT_H1_MAX_HEADER_BYTES);
    w->scratch = malloc(w->scratch_cap);
    if (!w->scratch || !rt_up_init(w) || !rt_proxy_init(w) || !rt_tcp_init(w)) {
        snprintf(err, RT_ERR_LEN, "out of memory");
        return false;
    }
    if (!rt_reqlog_open(w, err)) return false;
    rt_loop_set_notify(w->loop, on_worker_notify, w);
    rt_loop_set_before_sleep(w->loop, before_sleep, w);
    return true;
}

/* Point a worker at its first generation (before its thread runs). */
static void worker_start_gen(rt_worker *w, rt_gen *g)
{
    w->cur = &g->wg[w->id];
    rt_worker_use(w, w->cur);
}

static void *worker_main(void *arg)
{
    rt_worker *w = arg;
    listen_on(w, w->cur);
    if (rt_loop_run(w->loop) < 0) fprintf(stderr, "meshrt: worker %u: %s\n", w->id, rt_loop_error(w->loop));
    w->stopping = true;
    close_listeners(w, w->cur);
    rt_timer_stop(w->loop, &w->drain_timer);
    rt_proxy_shutdown(w);
    rt_tcp_shutdown(w);
    /* every connection is gone: old generations were released by the
    ** reaps; the current one's cluster states go now */
    while (w->old) wgen_release(w, w->old);
    rt_proxy_forget(w, w->cur);
    rt_up_clusters_free(w, w->cur->clusters, w->cur->nclusters);
    rt_reqlog_close(w, 2000);
    return NULL;
}

static void worker_free(rt_worker *w)
{
    if (!w->srv) return;
    if (w->proxy) rt_proxy_shutdown(w);
    if (w->tcp) rt_tcp_shutdown(w);
    rt_reqlog_close(w, 0);
    rt_up_free(w);
    rt_bufpool_free(&w->pool);
    free(w->scratch);
    if (w->loop) rt_loop_free(w->loop);
    w->loop = NULL;
    pthread_mutex_destroy(&w->lock);
}

/* ------------------------------------------------------------ DNS names */

static void dns_changed(void *ud)
{
    rt_server *srv = ud;
    for (uint32_t i = 0; i < srv->nworkers; i++) rt_loop_notify(srv->workers[i].loop, RT_WBIT_DNS);
}

/* Register every DNS endpoint of img that --resolve does not cover. */
static uint32_t register_names(rt_server *srv, const rt_image *img)
{
    uint32_t n = 0;
    for (uint32_t c = 0; c < rt_cluster_count(img); c++) {
        rt_cluster_info ci;
        rt_cluster_get(img, c, &ci);
        for (uint32_t i = 0; i < ci.nendpoints; i++) {
            rt_endpoint_info e;
            rt_endpoint_get(img, c, i, &e);
            if (e.kind != IMG_EP_DNS) continue;
            rt_addr tmp[1];
            if (rt_up_overrides(srv, e.address.p, e.port, true, tmp, 1)) continue;
            if (!rt_dns_find(srv->dns, e.address.p, e.address.n)) {
                rt_dns_add(srv->dns, e.address.p, e.address.n);
                n++;
            }
        }
    }
    return n;
}

/* ------------------------------------------------------------ main loop */

typedef struct mainctx {
    rt_server *srv;
    int sigfd, infd;
    const char *admin_addr;
    rt_label labels[RT_MAX_LABELS];
    uint32_t nlabels;
    rt_timer drain_tmo, watch_tmo;
    char watch_name[4096];
} mainctx;

static bool write_ready_file(const char *path, const rt_server *srv, const char *admin)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return false;
    for (uint32_t i = 0; i < srv->nls; i++) fprintf(f, "listener %u %s\n", srv->ls[i].port, srv->ls[i].addr_str);
    if (admin) fprintf(f, "admin %s\n", admin);
    fprintf(f, "generation %u\n", srv->gen->id);
    bool ok = fclose(f) == 0;
    return ok && rename(tmp, path) == 0;
}

/* Load the image file again and swap it in; a bad one is refused and the
** current generation keeps serving. */
static void reload(mainctx *m, const char *why)
{
    rt_server *srv = m->srv;
    if (atomic_load(&srv->draining)) return;
    char err[RT_ERR_LEN];
    rt_gen *old = srv->gen;
    rt_gen *g = gen_open(srv, m->labels, m->nlabels, err);
    if (!g) {
        fprintf(stderr, "meshrt: reload (%s) refused: %s; still serving generation %u\n", why, err, old->id);
        return;
    }
    if (!bind_gen(srv, g, old, err)) {
        fprintf(stderr, "meshrt: reload (%s) refused: %s; still serving generation %u\n", why, err, old->id);
        atomic_store(&g->refs, 0);
        gen_free(srv, g);
        return;
    }
    uint32_t nnames = register_names(srv, g->img);
    gen_mirror(srv, g);
    identity(srv);
    old->next = srv->retired;
    srv->retired = old;
    old->succ = g;
    atomic_fetch_sub(&old->refs, 1);
    atomic_store(&srv->gen_pub, g);
    for (uint32_t i = 0; i < srv->nworkers; i++) rt_loop_notify(srv->workers[i].loop, RT_WBIT_RELOAD);
    fprintf(stderr, "meshrt: reloaded %s (%s): generation %u, %u listener%s, %u cluster%s%s\n", srv->o.image_path, why, g->id, g->nls,
            g->nls == 1 ? "" : "s", rt_cluster_count(g->img), rt_cluster_count(g->img) == 1 ? "" : "s",
            nnames ? ", resolving new DNS names" : "");
    for (uint32_t i = 0; i < g->nls; i++)
        fprintf(stderr, "meshrt: listener %u %s %s\n", g->ls[i].port, img_enum_name(IMG_E_LISTENER, g->ls[i].kind), g->ls[i].addr_str);
    if (srv->o.ready_file && !write_ready_file(srv->o.ready_file, srv, m->admin_addr))
        fprintf(stderr, "meshrt: cannot write --ready-file %s: %s\n", srv->o.ready_file, strerror(errno));
}

static void on_drain_timeout(rt_loop *l, rt_timer *t, void *ud)
{
    (void)t;
    mainctx *m = ud;
    uint64_t left = 0;
    for (uint32_t i = 0; i < m->srv->nworkers; i++) left += rt_ctr_get(&m->srv->workers[i].conns_live);
    fprintf(stderr, "meshrt: drain timeout (%u ms): closing what is left (%llu sockets)\n", m->srv->o.drain_timeout_ms,
            (unsigned long long)left);
    rt_loop_stop(l);
}

/* SIGTERM: stop accepting, let in-flight requests finish, then exit. */
static void drain(mainctx *m, rt_loop *l, const char *sig)
{
    rt_server *srv = m->srv;
    if (atomic_load(&srv->draining)) {
        fprintf(stderr, "meshrt: %s again: stopping now\n", sig);
        rt_loop_stop(l);
        return;
    }
    atomic_store(&srv->draining, true);
    atomic_store(&srv->ready, false);
    fprintf(stderr, "meshrt: %s: draining (listeners closed, up to %u ms for requests in flight)\n", sig, srv->o.drain_timeout_ms);
    for (uint32_t i = 0; i < srv->nworkers; i++) rt_loop_notify(srv->workers[i].loop, RT_WBIT_DRAIN);
    if (srv->o.drain_timeout_ms) rt_timer_start(l, &m->drain_tmo, srv->o.drain_timeout_ms, on_drain_timeout, m);
    else rt_loop_stop(l);
}

static void on_signal(rt_loop *l, int fd, void *ud, int mask)
{
    (void)mask;
    mainctx *m = ud;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) reload(m, "SIGHUP");
        else drain(m, l, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
    }
}

static void on_main_notify(rt_loop *l, void *ud, uint32_t bits)
{
    mainctx *m = ud;
    if (bits & RT_MBIT_GC) gen_collect(m->srv);
    if ((bits & RT_MBIT_DONE) && atomic_load(&m->srv->workers_done) == m->srv->nworkers) {
        fprintf(stderr, "meshrt: drained\n");
        rt_loop_stop(l);
    }
}

/* --watch: the image's directory is watched, so that a file replaced by
** rename (meshc build -o writes a temporary file and renames it) is seen
** as well as one rewritten in place; changes are taken 200 ms after the
** last event. */
static void on_watch_tmo(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    reload(ud, "--watch");
}

static void on_inotify(rt_loop *l, int fd, void *ud, int mask)
{
    (void)mask;
    mainctx *m = ud;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            if (ev->len && !strcmp(ev->name, m->watch_name)) rt_timer_start(l, &m->watch_tmo, 200, on_watch_tmo, m);
            p += sizeof *ev + ev->len;
        }
    }
}

static bool watch_start(mainctx *m, rt_loop *l, const char *path, char err[RT_ERR_LEN])
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    snprintf(m->watch_name, sizeof m->watch_name, "%s", base);
    m->infd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m->infd < 0 || inotify_add_watch(m->infd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0 ||
        rt_file_add(l, m->infd, RT_READABLE, on_inotify, m) < 0) {
        snprintf(err, RT_ERR_LEN, "--watch: cannot watch %.200s: %s", dir, strerror(errno));
        return false;
    }
    return true;
}

/* --user: look the user up before binding anything (a clear refusal),
** drop to it after binding. */
static bool user_check(const char *name, struct passwd *out, char *sbuf, size_t cap, char err[RT_ERR_LEN])
{
    if (geteuid() != 0) {
        snprintf(err, RT_ERR_LEN, "--user %s: only root can change user (running as uid %u)", name, (unsigned)geteuid());
        return false;
    }
    struct passwd *pw = NULL;
    int e = getpwnam_r(name, out, sbuf, cap, &pw);
    if (!pw) {
        snprintf(err, RT_ERR_LEN, "--user %s: %s", name, e ? strerror(e) : "no such user");
        return false;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, RT_ERR_LEN, "--user %s: that is root (uid 0); name an unprivileged user", name);
        return false;
    }
    return true;
}

static bool user_drop(const struct passwd *pw, char err[RT_ERR_LEN])
{
    gid_t gid = pw->pw_gid;
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(err, RT_ERR_LEN, "--user %s: cannot switch to uid %u gid %u: %s", pw->pw_name, (unsigned)pw->pw_uid, (unsigned)gid,
                 strerror(errno));
        return false;
    }
    if (setuid(0) == 0) {
        snprintf(err, RT_ERR_LEN, "--user %s: root privileges could be regained; refusing to run", pw->pw_name);
        return false;
    }
#if defined(__SANITIZE_ADDRESS__)
    /* LeakSanitizer inspects the process with ptrace at exit, which a
    ** process that changed user may not allow (sanitizer builds only) */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
    return true;
}

/* ------------------------------------------------------------ the command */

int rt_cmd_run(int argc, char **argv)
{
    enum { O_LABELS = 256, O_NS, O_GW, O_MESH, O_LISTEN, O_ADMIN, O_LOG, O_LOGFMT, O_RESOLVE, O_WORKERS, O_PATHNORM,
           O_READY, O_DNS, O_DNSREF, O_RHT, O_CHT, O_IDLE, O_SPLICE, O_NOSPLICE, O_WATCH, O_USER, O_DRAIN };
    static const struct option lo[] = {
        { "labels", required_argument, NULL, O_LABELS }, { "namespace", required_argument, NULL, O_NS },
        { "gateway", required_argument, NULL, O_GW }, { "mesh", no_argument, NULL, O_MESH },
        { "listen", required_argument, NULL, O_LISTEN }, { "admin", required_argument, NULL, O_ADMIN },
        { "access-log", required_argument, NULL, O_LOG }, { "access-log-format", required_argument, NULL, O_LOGFMT },
        { "resolve", required_argument, NULL, O_RESOLVE }, { "workers", required_argument, NULL, O_WORKERS },
        { "path-normalization", required_argument, NULL, O_PATHNORM }, { "ready-file", required_argument, NULL, O_READY },
        { "dns-resolvers", required_argument, NULL, O_DNS }, { "dns-refresh", required_argument, NULL, O_DNSREF },
        { "request-headers-timeout", required_argument, NULL, O_RHT },
        { "client-hello-timeout", required_argument, NULL, O_CHT }, { "idle-timeout", required_argument, NULL, O_IDLE },
        { "splice", no_argument, NULL, O_SPLICE }, { "no-splice", no_argument, NULL, O_NOSPLICE },
        { "watch", no_argument, NULL, O_WATCH }, { "user", required_argument, NULL, O_USER },
        { "drain-timeout", required_argument, NULL, O_DRAIN },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    static rt_server S;
    rt_server *srv = &S;
    memset(srv, 0, sizeof *srv);
    rt_opts *o = &srv->o;
    o->admin = "127.0.0.1:15000";
    o->access_log_format = "istio";
    o->path_mode = RT_PATH_BASE;
    o->request_headers_timeout_ms = 60000;
    o->client_hello_timeout_ms = 15000;
    o->idle_timeout_ms = 3600000;
    o->dns_refresh_ms = 60000;
    o->drain_timeout_ms = 5000;     /* Istio's terminationDrainDuration */
    o->splice = true;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = nproc > 0 ? (uint32_t)nproc : 1;
    char *labels_spec = NULL;
    int rc = 2, c;
    char err[RT_ERR_LEN] = "";
    static mainctx mc;
    memset(&mc, 0, sizeof mc);
    mc.srv = srv;
    mc.sigfd = mc.infd = -1;
    rt_loop *mainloop = NULL;
    struct passwd pw;
    char pwbuf[4096];
    rt_admin *admin = NULL;
    rt_gen *gen = NULL;
    bool threads_started = false;
    size_t cl = 0;
    for (int i = 0; i < argc && cl + 2 < sizeof srv->cmdline; i++)
        cl += (size_t)snprintf(srv->cmdline + cl, sizeof srv->cmdline - cl, "%s%s", i ? " " : "meshrt ", argv[i]);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        uint32_t v;
        switch (c) {
        case O_LABELS: free(labels_spec); labels_spec = strdup(optarg); break;
        case O_NS: o->ns = optarg; break;
        case O_GW: o->gateway = optarg; break;
        case O_MESH: o->mesh = true; break;
        case O_LISTEN: {
            rt_listen_map *m = realloc(o->listen, (o->nlisten + 1) * sizeof *m);
            if (!m) goto out;
            o->listen = m;
            if (!parse_listen(optarg, &o->listen[o->nlisten], err)) goto usage_err;
            o->nlisten++;
            break;
        }
        case O_ADMIN: o->admin = optarg; break;
        case O_LOG: o->access_log = optarg; break;
        case O_LOGFMT: o->access_log_format = optarg; break;
        case O_RESOLVE: {
            rt_resolve *r = realloc(o->resolve, (o->nresolve + 1) * sizeof *r);
            if (!r) goto out;
            o->resolve = r;
            if (!parse_resolve(optarg, &o->resolve[o->nresolve], err)) goto usage_err;
            o->nresolve++;
            break;
        }
        case O_WORKERS: {
            char *end;
            unsigned long n = strtoul(optarg, &end, 10);
            if (*end || !*optarg || n < 1 || n > 256) {
                snprintf(err, sizeof err, "bad --workers '%s' (1..256)", optarg);
                goto usage_err;
            }
            o->workers = (uint32_t)n;
            break;
        }
        case O_PATHNORM: {
            int m = rt_path_mode_parse(optarg);
            if (m < 0) {
                snprintf(err, sizeof err, "bad --path-normalization '%s' (NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES)", optarg);
                goto usage_err;
            }
            o->path_mode = (rt_path_mode)m;
            break;
        }
        case O_READY: o->ready_file = optarg; break;
        case O_DNS: o->dns_resolvers = optarg; break;
        case O_WATCH: o->watch = true; break;
        case O_USER: o->user = optarg; break;
        case O_DNSREF:
        case O_DRAIN:
        case O_RHT:
        case O_CHT:
        case O_IDLE:
            if (!parse_duration(optarg, &v)) {
                snprintf(err, sizeof err, "bad duration '%s' (e.g. 60s, 500ms, 2m, 1h; 0 disables)", optarg);
                goto usage_err;
            }
            if (c == O_DNSREF) o->dns_refresh_ms = v ? v : 60000;
            else if (c == O_RHT) o->request_headers_timeout_ms = v;
            else if (c == O_DRAIN) o->drain_timeout_ms = v;
            else if (c == O_CHT) o->client_hello_timeout_ms = v;
            else o->idle_timeout_ms = v;
            break;
        case O_SPLICE: o->splice = true; break;
        case O_NOSPLICE: o->splice = false; break;
        case 'h': fputs(run_usage, stdout); rc = 0; goto out;
        default: fputs(run_usage, stderr); goto out;
        }
    }
    if (optind + 1 != argc) {
        fputs(run_usage, stderr);
        goto out;
    }
    if ((o->gateway && o->mesh) || ((o->gateway || o->mesh) && (labels_spec || o->ns))) {
        snprintf(err, sizeof err, "--labels/--namespace, --gateway and --mesh choose the view: give one of them");
        goto usage_err;
    }
    o->image_path = argv[optind];
    if (o->user && !user_check(o->user, &pw, pwbuf, sizeof pwbuf, err)) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    {
        static char deflabels[] = "istio=ingressgateway";     /* mc.labels point into it for reloads */
        if (labels_spec && !rt_labels_parse(labels_spec, mc.labels, &mc.nlabels)) {
            snprintf(err, sizeof err, "bad --labels (want k=v,k2=v2)");
            goto usage_err;
        }
        if (!labels_spec) rt_labels_parse(deflabels, mc.labels, &mc.nlabels);
    }
    /* workers first (the generation has a table per worker), then the image */
    srv->nworkers = o->workers;
    srv->workers = calloc(srv->nworkers, sizeof *srv->workers);
    if (!srv->workers) goto out;
    gen = gen_open(srv, mc.labels, mc.nlabels, err);
    if (!gen) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    gen_mirror(srv, gen);
    atomic_store(&srv->gen_pub, gen);
    if (!rt_reqlog_compile(srv, err)) {
        fprintf(stderr, "meshrt: run: --access-log-format: %s\n", err);
        goto out;
    }
    find_local_ip(srv->local_ip, sizeof srv->local_ip);
    if (gethostname(srv->hostname, sizeof srv->hostname) < 0) snprintf(srv->hostname, sizeof srv->hostname, "meshrt");
    identity(srv);
    /* the main loop: signals, DNS, admin, --watch */
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    mainloop = rt_loop_new(1024, err);
    if (!mainloop) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    srv->mainloop = mainloop;
    rt_loop_set_notify(mainloop, on_main_notify, &mc);
    rt_timer_init(&mc.drain_tmo, on_drain_timeout, &mc);
    rt_timer_init(&mc.watch_tmo, on_watch_tmo, &mc);
    mc.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (mc.sigfd < 0 || rt_file_add(mainloop, mc.sigfd, RT_READABLE, on_signal, &mc) < 0) {
        fprintf(stderr, "meshrt: run: signalfd: %s\n", strerror(errno));
        goto out;
    }
    if (o->watch && !watch_start(&mc, mainloop, o->image_path, err)) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    srv->dns = rt_dns_new(mainloop, o->dns_resolvers, o->dns_refresh_ms, err);
    if (!srv->dns) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    uint32_t nnames = register_names(srv, gen->img);
    /* workers */
    for (uint32_t i = 0; i < srv->nworkers; i++) {
        if (!worker_init(srv, &srv->workers[i], i, err)) {
            fprintf(stderr, "meshrt: run: worker %u: %s\n", i, err);
            goto out;
        }
        worker_start_gen(&srv->workers[i], gen);
    }
    if (!bind_gen(srv, gen, NULL, err)) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    if (strcmp(o->admin, "none") != 0) {
        rt_addr aa;
        if (rt_addr_parse(o->admin, &aa, err) < 0) {
            fprintf(stderr, "meshrt: run: bad --admin '%s': %s\n", o->admin, err);
            goto out;
        }
        admin = rt_admin_start(srv, mainloop, &aa, err);
        if (!admin) {
            fprintf(stderr, "meshrt: run: %s (choose another with --admin ADDR:PORT, or --admin none)\n", err);
            goto out;
        }
        mc.admin_addr = rt_admin_addr(admin);
    }
    if (o->user) {
        if (!user_drop(&pw, err)) {
            fprintf(stderr, "meshrt: run: %s\n", err);
            goto out;
        }
        fprintf(stderr, "meshrt: running as %s (uid %u, gid %u)\n", pw.pw_name, (unsigned)pw.pw_uid, (unsigned)pw.pw_gid);
    }
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        srv->start_mono_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        srv->start_real_ns = rt_now_real_ns();
    }
    for (uint32_t i = 0; i < srv->nworkers; i++) {
        if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0) {
            fprintf(stderr, "meshrt: run: cannot start worker %u\n", i);
            for (uint32_t k = 0; k < i; k++) {
                rt_loop_notify(srv->workers[k].loop, RT_WBIT_STOP);
                pthread_join(srv->workers[k].thread, NULL);
            }
            goto out;
        }
    }
    threads_started = true;
    rt_dns_start(srv->dns, dns_changed, srv);
    atomic_store(&srv->ready, true);
    {
        rt_view_info vi;
        rt_view_info_get(srv->img, srv->view, &vi);
        fprintf(stderr, "meshrt: serving %s (view %s %.*s) with %u worker%s\n", o->image_path, img_enum_name(IMG_E_VIEW, vi.kind),
                (int)vi.name.n, vi.name.p, srv->nworkers, srv->nworkers == 1 ? "" : "s");
        for (uint32_t i = 0; i < srv->nls; i++)
            fprintf(stderr, "meshrt: listener %u %s %s\n", srv->ls[i].port, img_enum_name(IMG_E_LISTENER, srv->ls[i].kind), srv->ls[i].addr_str);
        if (admin) fprintf(stderr, "meshrt: admin %s\n", rt_admin_addr(admin));
        if (nnames) fprintf(stderr, "meshrt: resolving %u DNS name%s\n", nnames, nnames == 1 ? "" : "s");
        if (o->watch) fprintf(stderr, "meshrt: watching %s for changes\n", o->image_path);
    }
    if (o->ready_file && !write_ready_file(o->ready_file, srv, mc.admin_addr))
        fprintf(stderr, "meshrt: run: cannot write --ready-file %s: %s\n", o->ready_file, strerror(errno));
    if (rt_loop_run(mainloop) < 0) fprintf(stderr, "meshrt: run: %s\n", rt_loop_error(mainloop));
    rc = 0;
    goto out;
usage_err:
    fprintf(stderr, "meshrt: run: %s\n", err);
    fputs(run_usage, stderr);
    rc = 2;
out:
    if (threads_started) {
        for (uint32_t i = 0; i < srv->nworkers; i++) rt_loop_notify(srv->workers[i].loop, RT_WBIT_STOP);
        for (uint32_t i = 0; i < srv->nworkers; i++) pthread_join(srv->workers[i].thread, NULL);
    }
    if (o->ready_file && threads_started) unlink(o->ready_file);
    rt_admin_free(admin);
    for (uint32_t i = 0; srv->workers && i < srv->nworkers; i++) worker_free(&srv->workers[i]);
    while (srv->retired) {
        rt_gen *g = srv->retired;
        srv->retired = g->next;
        gen_free(srv, g);
    }
    if (srv->gen) gen_free(srv, srv->gen);
    free(srv->workers);
    rt_dns_free(srv->dns);
    if (mc.sigfd >= 0) {
        if (mainloop) rt_file_del(mainloop, mc.sigfd);
        close(mc.sigfd);
    }
    if (mc.infd >= 0) {
        if (mainloop) rt_file_del(mainloop, mc.infd);
        close(mc.infd);
    }
    if (mainloop) rt_loop_free(mainloop);
    rt_reqlog_free(srv);
    for (uint32_t i = 0; i < o->nresolve; i++) free(o->resolve[i].host);
    free(o->resolve);
    free(o->listen);
    free(labels_spec);
    return rc;
}
