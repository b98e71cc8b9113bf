/*
** run.c -- `meshrt run IMG`: serve the image as an Istio ingress gateway.
**
** Start-up, in this order (a failure at any step exits 2 with a message
** before anything is served):
**   options -> image (mmap + verify) -> view -> listeners of the view
**   -> access-log format -> DNS names to resolve -> workers (loop, module
**   state, access-log writer, one SO_REUSEPORT socket per port) -> admin
**   -> ready (the --ready-file is written, /ready answers LIVE) -> threads.
** The main thread then runs its own loop: admin, DNS, signals (SIGINT /
** SIGTERM stop; SIGHUP is reserved for reloading the image, issue 6).
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
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_LABELS 32
#define LOOP_SETSIZE_MAX 65536

static const char run_usage[] =
    "usage: meshrt run IMG [--labels k=v,... [--namespace NS] | --gateway NS/NAME | --mesh]\n"
    "                      [--listen PORT=ADDR:PORT]... [--admin ADDR:PORT|none]\n"
    "                      [--access-log PATH|-] [--access-log-format istio|istio-1.0|json|FORMAT]\n"
    "                      [--resolve HOST:PORT=ADDR:PORT]... [--workers N]\n"
    "                      [--path-normalization NONE|BASE|MERGE_SLASHES|DECODE_AND_MERGE_SLASHES]\n"
    "                      [--ready-file PATH] [--dns-resolvers ADDR:PORT,...] [--dns-refresh DUR]\n"
    "                      [--request-headers-timeout DUR] [--client-hello-timeout DUR] [--idle-timeout DUR]\n"
    "                      [--splice | --no-splice]\n";

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

static bool parse_labels(char *spec, rt_label *labels, uint32_t *n)
{
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || *n == MAX_LABELS) return false;
        *eq = '\0';
        labels[*n].key = tok;
        labels[*n].value = eq + 1;
        (*n)++;
    }
    return *n > 0;
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

static bool build_listeners(rt_server *srv, char err[RT_ERR_LEN])
{
    const rt_image *img = srv->img;
    rt_view_info vi;
    rt_view_info_get(img, srv->view, &vi);
    if (!vi.nlisteners) {
        snprintf(err, RT_ERR_LEN, "view %.*s has no listeners: nothing to serve", (int)vi.name.n, vi.name.p);
        return false;
    }
    srv->ls = calloc(vi.nlisteners, sizeof *srv->ls);
    if (!srv->ls) return false;
    bool *mapped = calloc(srv->o.nlisten ? srv->o.nlisten : 1, sizeof *mapped);
    for (uint32_t i = 0; i < vi.nlisteners; i++) {
        const rt_listener *l = rt_view_listener(img, srv->view, i);
        rt_listener_info li;
        rt_listener_info_get(img, l, &li);
        rt_lspec *sp = &srv->ls[srv->nls];
        sp->idx = srv->nls;
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
        char ip[64];
        rt_addr_format_ip(&sp->addr, ip, sizeof ip);
        sp->any = !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::");
        snprintf(sp->stat_prefix, sizeof sp->stat_prefix, "outbound_%s_%u", li.bind.n ? li.bind.p : "0.0.0.0", li.port);
        srv->nls++;
    }
    for (uint32_t k = 0; k < srv->o.nlisten; k++)
        if (!mapped[k]) {
            char ports[256] = "";
            size_t n = 0;
            for (uint32_t i = 0; i < srv->nls && n + 8 < sizeof ports; i++)
                n += (size_t)snprintf(ports + n, sizeof ports - n, "%s%u", i ? ", " : "", srv->ls[i].port);
            snprintf(err, RT_ERR_LEN, "--listen %u=...: the view has no listener on port %u (ports: %.150s)", srv->o.listen[k].port,
                     srv->o.listen[k].port, ports);
            free(mapped);
            return false;
        }
    free(mapped);
    return true;
}

/* Bind every worker's socket for every listener (SO_REUSEPORT); the
** first bind of a port 0 decides the port for the others. */
static bool bind_all(rt_server *srv, char err[RT_ERR_LEN])
{
    for (uint32_t i = 0; i < srv->nls; i++) {
        rt_lspec *sp = &srv->ls[i];
        for (uint32_t k = 0; k < srv->nworkers; k++) {
            char e2[RT_ERR_LEN];
            int fd = rt_net_listen(&sp->addr, 1024, RT_LISTEN_REUSEPORT, e2);
            if (fd < 0) {
                snprintf(err, RT_ERR_LEN, "listener for port %u: %.200s", sp->port, e2);
                return false;
            }
            srv->workers[k].wl[i].fd = fd;
            if (k == 0) {
                rt_addr bound;
                if (rt_net_local_addr(fd, &bound, e2) == 0) sp->addr = bound;
                rt_addr_format(&sp->addr, sp->addr_str, sizeof sp->addr_str);
            }
        }
    }
    return true;
}

/* ------------------------------------------------------------ workers */

static void on_worker_notify(rt_loop *l, void *ud, uint32_t bits)
{
    rt_worker *w = ud;
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
    w->loop = rt_loop_new(loop_setsize(), err);
    if (!w->loop) return false;
    w->wl = calloc(srv->nls ? srv->nls : 1, sizeof *w->wl);
    w->scratch_cap = RT_PATH_CAP(RT_H1_MAX_HEADER_BYTES);
    w->scratch = malloc(w->scratch_cap);
    w->metrics = rt_metrics_new();
    if (!w->wl || !w->scratch || !w->metrics || !rt_up_init(w) || !rt_proxy_init(w) || !rt_tcp_init(w)) {
        snprintf(err, RT_ERR_LEN, "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < srv->nls; i++) {
        w->wl[i].w = w;
        w->wl[i].ls = &srv->ls[i];
        w->wl[i].fd = -1;
    }
    if (!rt_reqlog_open(w, err)) return false;
    rt_loop_set_notify(w->loop, on_worker_notify, w);
    rt_loop_set_before_sleep(w->loop, before_sleep, w);
    return true;
}

static bool worker_listen(rt_worker *w, char err[RT_ERR_LEN])
{
    for (uint32_t i = 0; i < w->srv->nls; i++) {
        rt_wlisten *wl = &w->wl[i];
        rt_file_fn *fn = wl->ls->kind == IMG_LISTENER_HTTP ? rt_proxy_accept : rt_tcp_accept;
        if (rt_file_add(w->loop, wl->fd, RT_READABLE, fn, wl) < 0) {
            snprintf(err, RT_ERR_LEN, "cannot watch the listener for port %u: %s", wl->ls->port, strerror(errno));
            return false;
        }
    }
    return true;
}

static void *worker_main(void *arg)
{
    rt_worker *w = arg;
    if (rt_loop_run(w->loop) < 0) fprintf(stderr, "meshrt: worker %u: %s\n", w->id, rt_loop_error(w->loop));
    w->stopping = true;
    for (uint32_t i = 0; i < w->srv->nls; i++) {
        if (w->wl[i].fd < 0) continue;
        rt_file_del(w->loop, w->wl[i].fd);
        close(w->wl[i].fd);
        w->wl[i].fd = -1;
    }
    rt_proxy_shutdown(w);
    rt_tcp_shutdown(w);
    rt_reqlog_close(w, 2000);
    return NULL;
}

static void worker_free(rt_worker *w)
{
    if (!w->srv) return;
    if (w->wl)
        for (uint32_t i = 0; i < w->srv->nls; i++)
            if (w->wl[i].fd >= 0) close(w->wl[i].fd);
    if (w->proxy) rt_proxy_shutdown(w);
    if (w->tcp) rt_tcp_shutdown(w);
    rt_reqlog_close(w, 0);
    rt_up_free(w);
    rt_metrics_free(w->metrics);
    rt_bufpool_free(&w->pool);
    free(w->scratch);
    free(w->wl);
    if (w->loop) rt_loop_free(w->loop);
    pthread_mutex_destroy(&w->lock);
}

/* ------------------------------------------------------------ DNS names */

static void dns_changed(void *ud)
{
    rt_server *srv = ud;
    for (uint32_t i = 0; i < srv->nworkers; i++) rt_loop_notify(srv->workers[i].loop, RT_WBIT_DNS);
}

/* Register every DNS endpoint that --resolve does not cover. */
static uint32_t register_names(rt_server *srv)
{
    const rt_image *img = srv->img;
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

typedef struct mainctx { rt_server *srv; int sigfd; bool stop; } mainctx;

static void on_signal(rt_loop *l, int fd, void *ud, int mask)
{
    (void)mask;
    mainctx *m = ud;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            fprintf(stderr, "meshrt: SIGHUP: reloading the image is not supported yet; still serving %s\n", m->srv->o.image_path);
            continue;
        }
        m->stop = true;
        rt_loop_stop(l);
    }
}

static bool write_ready_file(const char *path, const rt_server *srv, const char *admin)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return false;
    for (uint32_t i = 0; i < srv->nls; i++) fprintf(f, "listener %u %s\n", srv->ls[i].port, srv->ls[i].addr_str);
    if (admin) fprintf(f, "admin %s\n", admin);
    bool ok = fclose(f) == 0;
    return ok && rename(tmp, path) == 0;
}

/* ------------------------------------------------------------ the command */

int rt_cmd_run(int argc, char **argv)
{
    enum { O_LABELS = 256, O_NS, O_GW, O_MESH, O_LISTEN, O_ADMIN, O_LOG, O_LOGFMT, O_RESOLVE, O_WORKERS, O_PATHNORM,
           O_READY, O_DNS, O_DNSREF, O_RHT, O_CHT, O_IDLE, O_SPLICE, O_NOSPLICE };
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
    o->splice = true;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = nproc > 0 ? (uint32_t)nproc : 1;
    char *labels_spec = NULL;
    int rc = 2, c;
    char err[RT_ERR_LEN] = "";
    mainctx mc = { srv, -1, false };
    rt_loop *mainloop = NULL;
    rt_admin *admin = NULL;
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
        case O_DNSREF:
        case O_RHT:
        case O_CHT:
        case O_IDLE:
            if (!parse_duration(optarg, &v)) {
                snprintf(err, sizeof err, "bad duration '%s' (e.g. 60s, 500ms, 2m, 1h; 0 disables)", optarg);
                goto usage_err;
            }
            if (c == O_DNSREF) o->dns_refresh_ms = v ? v : 60000;
            else if (c == O_RHT) o->request_headers_timeout_ms = v;
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
    /* the image and the view */
    srv->img = rt_image_open(o->image_path, err, sizeof err);
    if (!srv->img) {
        fprintf(stderr, "meshrt: %s: %s\n", o->image_path, err);
        goto out;
    }
    {
        /* verifying touched every page; keep resident only what lookups
        ** touch (a read-only file mapping: pages come back from the page
        ** cache on use) */
        rt_image_info ii;
        rt_image_info_get(srv->img, &ii);
        madvise((void *)(uintptr_t)rt_image_base(srv->img), (size_t)ii.size, MADV_DONTNEED);
    }
    {
        rt_label labels[MAX_LABELS];
        uint32_t nl = 0;
        char deflabels[] = "istio=ingressgateway";
        if (labels_spec && !parse_labels(labels_spec, labels, &nl)) {
            snprintf(err, sizeof err, "bad --labels (want k=v,k2=v2)");
            goto usage_err;
        }
        if (!labels_spec) parse_labels(deflabels, labels, &nl);
        if (o->mesh) srv->view = rt_view_mesh(srv->img);
        else if (o->gateway) srv->view = rt_view_gateway(srv->img, o->gateway);
        else srv->view = rt_view_workload(srv->img, o->ns ? o->ns : "istio-system", labels, nl);
        if (!srv->view) {
            char views[1024] = "";
            size_t n = 0;
            for (uint32_t i = 0; i < rt_view_count(srv->img) && n + 2 < sizeof views; i++) {
                rt_view_info vi;
                rt_view_info_get(srv->img, rt_view_at(srv->img, i), &vi);
                n += (size_t)snprintf(views + n, sizeof views - n, "%s%s %.*s", i ? "; " : "", img_enum_name(IMG_E_VIEW, vi.kind),
                                      (int)vi.name.n, vi.name.p);
            }
            fprintf(stderr, "meshrt: run: no such view in %s (it has: %s)\n", o->image_path, views);
            goto out;
        }
    }
    if (!build_listeners(srv, err)) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    if (!rt_reqlog_compile(srv, err)) {
        fprintf(stderr, "meshrt: run: --access-log-format: %s\n", err);
        goto out;
    }
    find_local_ip(srv->local_ip, sizeof srv->local_ip);
    if (gethostname(srv->hostname, sizeof srv->hostname) < 0) snprintf(srv->hostname, sizeof srv->hostname, "meshrt");
    identity(srv);
    /* the main loop: signals, DNS, admin */
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
    mc.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (mc.sigfd < 0 || rt_file_add(mainloop, mc.sigfd, RT_READABLE, on_signal, &mc) < 0) {
        fprintf(stderr, "meshrt: run: signalfd: %s\n", strerror(errno));
        goto out;
    }
    srv->dns = rt_dns_new(mainloop, o->dns_resolvers, o->dns_refresh_ms, err);
    if (!srv->dns) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    uint32_t nnames = register_names(srv);
    /* workers */
    srv->nworkers = o->workers;
    srv->workers = calloc(srv->nworkers, sizeof *srv->workers);
    if (!srv->workers) goto out;
    for (uint32_t i = 0; i < srv->nworkers; i++)
        if (!worker_init(srv, &srv->workers[i], i, err)) {
            fprintf(stderr, "meshrt: run: worker %u: %s\n", i, err);
            goto out;
        }
    if (!bind_all(srv, err)) {
        fprintf(stderr, "meshrt: run: %s\n", err);
        goto out;
    }
    for (uint32_t i = 0; i < srv->nworkers; i++)
        if (!worker_listen(&srv->workers[i], err)) {
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
        fprintf(stderr, "meshrt: serving %s (view %s %.*s) with %u worker%s%s\n", o->image_path, img_enum_name(IMG_E_VIEW, vi.kind),
                (int)vi.name.n, vi.name.p, srv->nworkers, srv->nworkers == 1 ? "" : "s", nnames ? "" : "");
        for (uint32_t i = 0; i < srv->nls; i++)
            fprintf(stderr, "meshrt: listener %u %s %s\n", srv->ls[i].port, img_enum_name(IMG_E_LISTENER, srv->ls[i].kind), srv->ls[i].addr_str);
        if (admin) fprintf(stderr, "meshrt: admin %s\n", rt_admin_addr(admin));
        if (nnames) fprintf(stderr, "meshrt: resolving %u DNS name%s\n", nnames, nnames == 1 ? "" : "s");
    }
    if (o->ready_file && !write_ready_file(o->ready_file, srv, admin ? rt_admin_addr(admin) : NULL))
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
    free(srv->workers);
    rt_dns_free(srv->dns);
    if (mc.sigfd >= 0) {
        if (mainloop) rt_file_del(mainloop, mc.sigfd);
        close(mc.sigfd);
    }
    if (mainloop) rt_loop_free(mainloop);
    rt_reqlog_free(srv);
    free(srv->ls);
    for (uint32_t i = 0; i < o->nresolve; i++) free(o->resolve[i].host);
    free(o->resolve);
    free(o->listen);
    free(labels_spec);
    if (srv->img) rt_image_close(srv->img);
    return rc;
}
