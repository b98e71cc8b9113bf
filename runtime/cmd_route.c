/*
** cmd_route.c -- `meshrt verify`, `meshrt route` and `meshrt test`: the
** image and its lookups without any network. Both route and test go
** through table.h exactly as the forwarder does (view -> listener ->
** filter chain by SNI -> rt_route_http / rt_route_tcp), so what they print
** is what the data plane does.
*/
#include "cmd.h"
#include "table.h"

#include "arena.h"
#include "diag.h"
#include "parse.h"
#include "source.h"
#include "tree.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ verify */

int rt_cmd_verify(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fputs("usage: meshrt verify IMG\n", stderr);
        return 2;
    }
    char err[RT_ERR_LEN];
    rt_image *img = rt_image_open(argv[1], err, sizeof err);
    if (!img) {
        bool io = strncmp(err, "cannot ", 7) == 0 || strncmp(err, "not a regular", 13) == 0;
        fprintf(stderr, "meshrt: %s: %s%s\n", argv[1], io ? "" : "bad route image: ", err);
        return io ? 2 : 1;
    }
    rt_image_info in;
    rt_image_info_get(img, &in);
    printf("%s: ok: route image format %u.%u, %llu bytes, build %s, %u views, %u listeners, %u virtual hosts, %u routes, %u clusters\n",
           argv[1], in.major, in.minor, (unsigned long long)in.size, in.build_id, in.counts[IMG_S_VIEWS], in.counts[IMG_S_LISTENERS],
           in.counts[IMG_S_VHOSTS], in.counts[IMG_S_ROUTES], in.counts[IMG_S_CLUSTERS]);
    rt_image_close(img);
    return 0;
}

/* ------------------------------------------------------------ one query */

#define MAX_HEADERS 64

typedef struct hdr { char *name, *value; } hdr;

typedef struct query {
    /* view */
    const char *gateway;            /* ns/name */
    bool mesh;
    rt_label labels[RT_MAX_LABELS];
    uint32_t nlabels;
    const char *ns;
    /* connection and request */
    uint32_t port;
    const char *bind;
    const char *sni;
    const char *host, *path, *method, *scheme;
    hdr headers[MAX_HEADERS];       /* lowercase names, values joined with "," */
    uint32_t nheaders;
    uint64_t random;
} query;

typedef struct answer {
    const rt_view *view;
    const rt_listener *listener;
    const rt_chain *chain;
    bool http;                      /* decided by rt_route_http */
    rt_decision d;
    rt_request req;
    char path[8192], authority[1024], location[8192], label[512];
} answer;

static const char *hdr_lookup(void *ud, const char *name, size_t n, size_t *vn)
{
    const query *q = ud;
    for (uint32_t i = 0; i < q->nheaders; i++)
        if (strlen(q->headers[i].name) == n && strncasecmp(q->headers[i].name, name, n) == 0) {
            *vn = strlen(q->headers[i].value);
            return q->headers[i].value;
        }
    return NULL;
}

/* "k: v" (or k=v): adds or joins with "," as a header map would */
static bool add_header(query *q, const char *name, size_t nn, const char *value)
{
    while (nn && (name[nn - 1] == ' ' || name[nn - 1] == '\t')) nn--;
    while (*value == ' ' || *value == '\t') value++;
    if (nn == 0) return false;
    for (uint32_t i = 0; i < q->nheaders; i++)
        if (strlen(q->headers[i].name) == nn && strncasecmp(q->headers[i].name, name, nn) == 0) {
            char *j = mc_xmalloc(strlen(q->headers[i].value) + strlen(value) + 2);
            sprintf(j, "%s,%s", q->headers[i].value, value);
            free(q->headers[i].value);
            q->headers[i].value = j;
            return true;
        }
    if (q->nheaders == MAX_HEADERS) return false;
    char *nm = mc_xmalloc(nn + 1);
    for (size_t i = 0; i < nn; i++) nm[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    nm[nn] = '\0';
    q->headers[q->nheaders].name = nm;
    q->headers[q->nheaders].value = mc_xstrdup(value);
    q->nheaders++;
    return true;
}

static void query_free(query *q)
{
    for (uint32_t i = 0; i < q->nheaders; i++) {
        free(q->headers[i].name);
        free(q->headers[i].value);
    }
    q->nheaders = 0;
}

static void view_name(const rt_image *img, const rt_view *v, char *buf, size_t cap)
{
    rt_view_info vi;
    rt_view_info_get(img, v, &vi);
    snprintf(buf, cap, "%s %s", img_enum_name(IMG_E_VIEW, vi.kind), vi.name.p);
}

/* The whole lookup. Returns NULL on success, else a message (exit 2). */
static const char *run_query(const rt_image *img, query *q, answer *a, char *msg, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->view = rt_view_select(img, q->mesh, q->gateway, q->ns, q->labels, q->nlabels);
    if (!a->view) {
        char views[1024];
        rt_view_list(img, views, sizeof views);
        snprintf(msg, cap, "no such view in the image (it has: %s)", views);
        return msg;
    }
    a->listener = rt_listener_find(img, a->view, q->port, q->bind);
    if (!a->listener) {
        rt_view_info vi;
        rt_view_info_get(img, a->view, &vi);
        char ports[512] = "";
        size_t n = 0;
        for (uint32_t i = 0; i < vi.nlisteners && n + 8 < sizeof ports; i++) {
            rt_listener_info li;
            rt_listener_info_get(img, rt_view_listener(img, a->view, i), &li);
            n += (size_t)snprintf(ports + n, sizeof ports - n, "%s%u", i ? ", " : "", li.port);
        }
        snprintf(msg, cap, "no listener on port %u in view %s (ports: %s)", q->port, vi.name.p, n ? ports : "none");
        return msg;
    }
    rt_listener_info li;
    rt_listener_info_get(img, a->listener, &li);
    const char *sni = q->sni;
    char hostbuf[1024];
    if (!sni && li.kind == IMG_LISTENER_TLS && q->host) {
        /* a TLS client sends the host it connects to as SNI */
        snprintf(hostbuf, sizeof hostbuf, "%s", q->host);
        char *colon = strrchr(hostbuf, ':');
        if (colon && !strchr(colon, ']')) *colon = '\0';
        sni = hostbuf;
    }
    a->chain = rt_listener_chain(img, a->listener, sni, sni ? strlen(sni) : 0);
    if (!a->chain) {
        /* no filter chain: the connection is closed (listener NR) */
        a->d.action = RT_ACT_CLOSE;
        a->d.flags = RT_FLAG_NR;
        a->d.details = "filter_chain_not_found";
        a->d.cluster = a->d.target = a->d.route = a->d.vhost = a->d.action_rec = a->d.wcluster = IMG_NONE;
        a->d.src = NULL;
        a->d.vs = IMG_NONE;
        a->d.route_name = (rt_str){ "", 0 };
        return NULL;
    }
    rt_chain_info ci;
    rt_chain_info_get(img, a->chain, &ci);
    if (ci.kind == IMG_CHAIN_TCP) {
        rt_route_tcp(img, a->chain, q->random, &a->d);
    } else {
        if (!q->path || !q->host) {
            snprintf(msg, cap, "port %u serves HTTP%s: give --host and --path", q->port, ci.tls != IMG_TLS_NONE ? " (TLS terminated)" : "");
            return msg;
        }
        rt_request *r = &a->req;
        r->method = q->method ? q->method : "GET";
        r->method_len = strlen(r->method);
        r->authority = q->host;
        r->authority_len = strlen(q->host);
        r->path = q->path;
        r->path_len = strlen(q->path);
        r->scheme = q->scheme ? q->scheme : ci.tls != IMG_TLS_NONE ? "https" : "http";
        r->scheme_len = strlen(r->scheme);
        r->header = hdr_lookup;
        r->header_ud = q;
        r->random = q->random;
        a->http = true;
        rt_route_http(img, a->chain, r, &a->d);
        if (a->d.action == RT_ACT_ROUTE) {
            if (rt_rewrite_path(img, &a->d, r, a->path, sizeof a->path) < 0) snprintf(a->path, sizeof a->path, "(too long)");
            if (rt_rewrite_authority(img, &a->d, r, a->authority, sizeof a->authority) < 0)
                snprintf(a->authority, sizeof a->authority, "(too long)");
        }
        if (a->d.action == RT_ACT_REDIRECT && rt_redirect_location(img, &a->d, r, a->location, sizeof a->location) < 0)
            snprintf(a->location, sizeof a->location, "(too long)");
    }
    if (rt_route_label(img, &a->d, a->label, sizeof a->label) < 0) a->label[0] = '\0';
    return NULL;
}

static const char *cluster_name(const rt_image *img, uint32_t c)
{
    rt_cluster_info ci;
    rt_cluster_get(img, c, &ci);
    return ci.name.p;
}

static bool split(const rt_image *img, const rt_decision *d)
{
    return d->target != IMG_NONE && rt_target_count(img, d->target) > 1;
}

static void print_json(const rt_image *img, const answer *a)
{
    const rt_decision *d = &a->d;
    json_t *o = json_object();
    json_object_set_new(o, "action", json_string(rt_action_name(d->action)));
    if (d->status) json_object_set_new(o, "status", json_integer(d->status));
    if (d->flags) {
        char f[32];
        rt_flags_string(d->flags, f, sizeof f);
        json_object_set_new(o, "flags", json_string(f));
    }
    if (d->action == RT_ACT_ROUTE) {
        if (split(img, d)) {
            json_t *arr = json_array();
            for (uint32_t i = 0; i < rt_target_count(img, d->target); i++) {
                rt_weighted w = rt_target_at(img, d->target, i);
                json_t *c = json_object();
                json_object_set_new(c, "name", json_string(cluster_name(img, w.cluster)));
                json_object_set_new(c, "weight", json_integer(w.weight));
                json_array_append_new(arr, c);
            }
            json_object_set_new(o, "clusters", arr);
        } else if (d->cluster != IMG_NONE) {
            json_object_set_new(o, "cluster", json_string(cluster_name(img, d->cluster)));
        }
        if (a->http) {
            json_object_set_new(o, "path", json_string(a->path));
            json_object_set_new(o, "authority", json_string(a->authority));
        }
    }
    if (d->action == RT_ACT_REDIRECT) json_object_set_new(o, "location", json_string(a->location));
    if (a->label[0]) json_object_set_new(o, "route", json_string(a->label));
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(o);
}

static void print_text(const rt_image *img, const answer *a)
{
    const rt_decision *d = &a->d;
    char f[32], vn[300];
    rt_flags_string(d->flags, f, sizeof f);
    fputs(rt_action_name(d->action), stdout);
    if (d->action == RT_ACT_ROUTE) {
        if (split(img, d)) {
            for (uint32_t i = 0; i < rt_target_count(img, d->target); i++) {
                rt_weighted w = rt_target_at(img, d->target, i);
                printf("%s %s weight %u", i ? "," : "", cluster_name(img, w.cluster), w.weight);
            }
            printf("  (this request: %s)", cluster_name(img, d->cluster));
        } else if (d->cluster != IMG_NONE) {
            printf(" %s", cluster_name(img, d->cluster));
        }
    }
    if (d->status) printf(" %u", d->status);
    if (d->flags) printf(" %s", f);
    if (d->details) printf(" (%s)", d->details);
    putchar('\n');
    view_name(img, a->view, vn, sizeof vn);
    printf("  view       %s\n", vn);
    if (a->listener) {
        rt_listener_info li;
        rt_listener_info_get(img, a->listener, &li);
        printf("  listener   %u %s\n", li.port, img_enum_name(IMG_E_LISTENER, li.kind));
    }
    if (a->chain) {
        rt_chain_info ci;
        rt_chain_info_get(img, a->chain, &ci);
        printf("  chain      %s", img_enum_name(IMG_E_CHAIN, ci.kind));
        if (ci.tls != IMG_TLS_NONE) printf(" tls %s", img_enum_name(IMG_E_TLS, ci.tls));
        if (ci.route_table.n) printf(" routes %s", ci.route_table.p);
        if (ci.server.n) printf(" (%s)", ci.server.p);
        putchar('\n');
    }
    if (d->vhost != IMG_NONE) {
        uint32_t port;
        rt_str dom = rt_vhost_domain(img, d->vhost, &port);
        printf("  vhost      %s:%u\n", dom.p, port);
    }
    if (a->label[0]) printf("  route      %s\n", a->label);
    rt_origin_info oi;
    if (rt_origin_get(img, d, &oi) && oi.delegate_name.n) printf("  delegate   %s/%s\n", oi.delegate_ns.p, oi.delegate_name.p);
    if (d->action == RT_ACT_ROUTE && a->http) {
        printf("  path       %s\n  authority  %s\n", a->path, a->authority);
        rt_policy p;
        rt_policy_get(img, d, &p);
        if (p.timeout_ms) printf("  timeout    %ums\n", p.timeout_ms);
        else fputs("  timeout    none\n", stdout);
        if (p.retry.enabled) printf("  retries    %u on %s\n", p.retry.num_retries, p.retry.retry_on.p);
        else fputs("  retries    none\n", stdout);
        for (uint32_t i = 0; i < p.nmirrors; i++) {
            rt_mirror m = rt_mirror_get(img, d, i);
            printf("  mirror     %s (%u per million)\n", cluster_name(img, m.cluster), m.per_million);
        }
        if (p.fault.delay) printf("  fault      delay %ums (%u per million)\n", p.fault.delay_ms, p.fault.delay_per_million);
        if (p.fault.abort) printf("  fault      abort %u (%u per million)\n", p.fault.abort_status, p.fault.abort_per_million);
    }
    if (d->action == RT_ACT_REDIRECT) printf("  location   %s\n", a->location);
    if (d->action == RT_ACT_DIRECT_RESPONSE) {
        rt_str b = rt_direct_body(img, d);
        printf("  body       %u bytes\n", b.n);
    }
    if (d->action == RT_ACT_ROUTE && d->cluster != IMG_NONE) {
        rt_cluster_info ci;
        rt_cluster_get(img, d->cluster, &ci);
        printf("  cluster    %s, %u endpoint%s", img_enum_name(IMG_E_CLUSTER, ci.kind), ci.nendpoints, ci.nendpoints == 1 ? "" : "s");
        for (uint32_t i = 0; i < ci.nendpoints && i < 4; i++) {
            rt_endpoint_info e;
            rt_endpoint_get(img, d->cluster, i, &e);
            printf("%s %s:%u", i ? "," : ":", e.address.p, e.port);
        }
        putchar('\n');
    }
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > max) return false;
    *out = v;
    return true;
}

static const char route_usage[] =
    "usage: meshrt route IMG [-o text|json] [--labels k=v,... [--namespace NS] | --gateway NS/NAME | --mesh]\n"
    "                    --port N (--host H --path P [--method M] [--header 'k: v']... [--scheme http|https]\n"
    "                    | --sni NAME) [--random N] [--bind ADDR]\n";

int rt_cmd_route(int argc, char **argv)
{
    enum { O_LABELS = 256, O_NS, O_GW, O_MESH, O_PORT, O_HOST, O_PATH, O_METHOD, O_HEADER, O_SCHEME, O_SNI, O_RANDOM, O_BIND };
    static const struct option lo[] = {
        { "output", required_argument, NULL, 'o' }, { "labels", required_argument, NULL, O_LABELS },
        { "namespace", required_argument, NULL, O_NS }, { "gateway", required_argument, NULL, O_GW },
        { "mesh", no_argument, NULL, O_MESH }, { "port", required_argument, NULL, O_PORT },
        { "host", required_argument, NULL, O_HOST }, { "authority", required_argument, NULL, O_HOST },
        { "path", required_argument, NULL, O_PATH }, { "method", required_argument, NULL, O_METHOD },
        { "header", required_argument, NULL, O_HEADER }, { "scheme", required_argument, NULL, O_SCHEME },
        { "sni", required_argument, NULL, O_SNI }, { "random", required_argument, NULL, O_RANDOM },
        { "random-value", required_argument, NULL, O_RANDOM }, { "bind", required_argument, NULL, O_BIND },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    query q;
    memset(&q, 0, sizeof q);
    bool json = false, port_set = false;
    int c, rc = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'o':
            if (strcmp(optarg, "json") == 0) json = true;
            else if (strcmp(optarg, "text") == 0) json = false;
            else { fprintf(stderr, "meshrt: route: unknown output format '%s' (text, json)\n", optarg); goto out; }
            break;
        case O_LABELS:
            if (!rt_labels_parse(optarg, q.labels, &q.nlabels)) { fprintf(stderr, "meshrt: route: bad --labels (want k=v,k2=v2)\n"); goto out; }
            break;
        case O_NS: q.ns = optarg; break;
        case O_GW: q.gateway = optarg; break;
        case O_MESH: q.mesh = true; break;
        case O_PORT:
            if (!parse_u64(optarg, 65535, &v) || !v) { fprintf(stderr, "meshrt: route: bad --port '%s'\n", optarg); goto out; }
            q.port = (uint32_t)v;
            port_set = true;
            break;
        case O_HOST: q.host = optarg; break;
        case O_PATH: q.path = optarg; break;
        case O_METHOD: q.method = optarg; break;
        case O_HEADER: {
            const char *colon = strchr(optarg, ':');
            if (!colon || colon == optarg) colon = strchr(optarg, '=');
            if (!colon || !add_header(&q, optarg, (size_t)(colon - optarg), colon + 1)) {
                fprintf(stderr, "meshrt: route: bad --header '%s' (want 'name: value')\n", optarg);
                goto out;
            }
            break;
        }
        case O_SCHEME:
            if (strcmp(optarg, "http") != 0 && strcmp(optarg, "https") != 0) {
                fprintf(stderr, "meshrt: route: bad --scheme '%s' (http, https)\n", optarg);
                goto out;
            }
            q.scheme = optarg;
            break;
        case O_SNI: q.sni = optarg; break;
        case O_RANDOM:
            if (!parse_u64(optarg, UINT64_MAX, &v)) { fprintf(stderr, "meshrt: route: bad --random '%s'\n", optarg); goto out; }
            q.random = v;
            break;
        case O_BIND: q.bind = optarg; break;
        case 'h': fputs(route_usage, stdout); rc = 0; goto out;
        default: fputs(route_usage, stderr); goto out;
        }
    }
    if (optind + 1 != argc || !port_set || (q.gateway && q.mesh) || ((q.gateway || q.mesh) && (q.nlabels || q.ns))) {
        fputs(route_usage, stderr);
        goto out;
    }
    if (!q.nlabels) {
        static char defl[] = "istio=ingressgateway";
        rt_labels_parse(defl, q.labels, &q.nlabels);
    }
    if (q.path && q.path[0] != '/' && q.path[0] != '*') {
        fprintf(stderr, "meshrt: route: --path must start with '/'\n");
        goto out;
    }
    char err[RT_ERR_LEN];
    rt_image *img = rt_image_open(argv[optind], err, sizeof err);
    if (!img) {
        fprintf(stderr, "meshrt: %s: %s\n", argv[optind], err);
        goto out;
    }
    answer *a = mc_xcalloc(1, sizeof *a);
    char msg[2048];
    const char *e = run_query(img, &q, a, msg, sizeof msg);
    if (e) {
        fprintf(stderr, "meshrt: route: %s\n", e);
    } else {
        if (json) print_json(img, a);
        else print_text(img, a);
        rc = a->d.action == RT_ACT_NO_ROUTE || a->d.action == RT_ACT_CLOSE ? 1 : 0;
    }
    free(a);
    rt_image_close(img);
out:
    query_free(&q);
    return rc;
}

/* ------------------------------------------------------------ test */

typedef struct tctx {
    const rt_image *img;
    mc_arena arena;
    mc_node **docs;
    uint32_t ndocs, cap;
} tctx;

static void on_doc(void *ud, mc_node *root)
{
    tctx *t = ud;
    if (t->ndocs == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4;
        t->docs = mc_xrealloc(t->docs, t->cap * sizeof *t->docs);
    }
    t->docs[t->ndocs++] = root;
}

static const char *text_of(const mc_node *n) { return mc_text(n); }

typedef struct tresult { int failures; bool printed_name; } tresult;

static void failure(const char *name, bool details, tresult *r, const char *type, const char *want, const char *got)
{
    (void)details;
    if (!r->printed_name) printf("%s\n", name);
    r->printed_name = true;
    printf("expected: [%s], actual: [%s], test type: %s\n", want, got, type);
    r->failures++;
}

static bool check_str_field(const char *name, bool details, tresult *r, const mc_node *validate, const char *key,
                            const char *actual)
{
    const mc_node *n = mc_get(validate, key);
    if (!n) return false;
    const char *want = n->type == MC_NULL ? "" : text_of(n);
    if (!want) want = "";
    if (strcmp(want, actual) != 0) failure(name, details, r, key, want, actual);
    return true;
}

/* Build the query of one test's input; false with msg on a malformed input. */
static bool test_query(const mc_node *in, query *q, char *msg, size_t cap)
{
    memset(q, 0, sizeof *q);
    if (!in || in->type != MC_MAP) {
        snprintf(msg, cap, "input must be a mapping");
        return false;
    }
    q->gateway = mc_str(mc_get(in, "gateway"));
    q->mesh = mc_bool(mc_get(in, "mesh"), false) || (q->gateway && strcmp(q->gateway, "mesh") == 0);
    if (q->mesh) q->gateway = NULL;
    q->ns = mc_str(mc_get(in, "namespace"));
    const mc_node *labels = mc_get(in, "labels");
    MC_MAP_EACH(labels, i) {
        if (q->nlabels == RT_MAX_LABELS) break;
        q->labels[q->nlabels].key = mc_key(labels, i)->u.s;
        q->labels[q->nlabels].value = text_of(mc_val(labels, i)) ? text_of(mc_val(labels, i)) : "";
        q->nlabels++;
    }
    if (!q->nlabels) {
        q->labels[0].key = "istio";
        q->labels[0].value = "ingressgateway";
        q->nlabels = 1;
    }
    int64_t port = 0;
    if (!mc_int(mc_get(in, "port"), &port) || port <= 0 || port > 65535) {
        snprintf(msg, cap, "input.port must be a port number");
        return false;
    }
    q->port = (uint32_t)port;
    q->host = text_of(mc_get(in, "authority"));
    if (!q->host) q->host = text_of(mc_get(in, "host"));
    q->path = text_of(mc_get(in, "path"));
    q->method = text_of(mc_get(in, "method"));
    q->scheme = text_of(mc_get(in, "scheme"));
    if (!q->scheme && mc_get(in, "ssl")) q->scheme = mc_bool(mc_get(in, "ssl"), false) ? "https" : "http";
    q->sni = text_of(mc_get(in, "sni"));
    int64_t rv = 0;
    if (mc_int(mc_get(in, "random_value"), &rv) && rv >= 0) q->random = (uint64_t)rv;
    const char *hk[] = { "headers", "additional_request_headers" };
    for (int k = 0; k < 2; k++) {
        const mc_node *hs = mc_get(in, hk[k]);
        MC_SEQ_EACH(hs, i) {
            const mc_node *h = mc_item(hs, i);
            const char *name = text_of(mc_get(h, "key")), *value = text_of(mc_get(h, "value"));
            if (!name) name = text_of(mc_get(h, "name"));
            if (!name || !add_header(q, name, strlen(name), value ? value : "")) {
                snprintf(msg, cap, "input.%s[%u] needs key and value", hk[k], i);
                return false;
            }
        }
        MC_MAP_EACH(hs, i) {
            const char *value = text_of(mc_val(hs, i));
            add_header(q, mc_key(hs, i)->u.s, strlen(mc_key(hs, i)->u.s), value ? value : "");
        }
    }
    return true;
}

/* One-line renderings of a route's action records, compared by meshrt
** test's validate keys (see man/meshrt-test.5). */
static void policy_text(const rt_image *img, const rt_decision *d, const rt_policy *p, const char *what, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
#define APPEND(...) do { int k_ = snprintf(buf + n, cap - n, __VA_ARGS__); if (k_ > 0) n += (size_t)k_; if (n >= cap) n = cap - 1; } while (0)
    if (d->action_rec == IMG_NONE) return;
    if (strcmp(what, "timeout") == 0) {
        if (p->action != IMG_ACTION_ROUTE) return;
        if (p->timeout_ms) APPEND("%ums", p->timeout_ms);
        else APPEND("none");
    } else if (strcmp(what, "retries") == 0) {
        if (p->action != IMG_ACTION_ROUTE) return;
        if (!p->retry.enabled) { APPEND("none"); return; }
        APPEND("%u on %s", p->retry.num_retries, p->retry.retry_on.p);
        for (uint32_t i = 0; i < p->retry.ncodes; i++) APPEND("%s%u", i ? "," : " codes ", rt_retry_code(img, d, i));
        if (p->retry.per_try_timeout_ms) APPEND(" per-try %ums", p->retry.per_try_timeout_ms);
        if (!p->retry.previous_hosts) APPEND(" no-previous-hosts");
    } else if (strcmp(what, "mirrors") == 0) {
        for (uint32_t i = 0; i < p->nmirrors; i++) {
            rt_mirror m = rt_mirror_get(img, d, i);
            APPEND("%s%s@%u", i ? "," : "", cluster_name(img, m.cluster), m.per_million);
        }
    } else if (strcmp(what, "fault") == 0) {
        if (p->fault.delay) APPEND("delay %ums@%u", p->fault.delay_ms, p->fault.delay_per_million);
        if (p->fault.abort) APPEND("%sabort %s%u@%u", p->fault.delay ? "; " : "", p->fault.grpc ? "grpc " : "", p->fault.abort_status,
                                   p->fault.abort_per_million);
    } else {
        bool req = strcmp(what, "request_headers") == 0;
        uint32_t cnt = req ? p->nreq_headers : p->nresp_headers;
        for (uint32_t i = 0; i < cnt; i++) {
            rt_header_op op = req ? rt_req_header_op(img, d, i) : rt_resp_header_op(img, d, i);
            if (op.op == IMG_HOP_REMOVE) APPEND("%s%s %s", i ? "; " : "", img_enum_name(IMG_E_HOP, op.op), op.name.p);
            else APPEND("%s%s %s=%s", i ? "; " : "", img_enum_name(IMG_E_HOP, op.op), op.name.p, op.value.p);
        }
    }
#undef APPEND
}

static void run_test(const rt_image *img, const mc_node *t, uint32_t idx, bool details, bool only_failures,
                     uint8_t *covered, int *passed, int *failed)
{
    const char *name = mc_str(mc_get(t, "test_name"));
    char namebuf[64];
    if (!name) {
        snprintf(namebuf, sizeof namebuf, "tests[%u]", idx);
        name = namebuf;
    }
    tresult r = { 0, false };
    if (details && !only_failures) {
        printf("%s\n", name);
        r.printed_name = true;
    }
    query q;
    char msg[2048];
    const mc_node *validate = mc_get(t, "validate");
    if (!test_query(mc_get(t, "input"), &q, msg, sizeof msg) || !validate || validate->type != MC_MAP) {
        if (!r.printed_name) printf("%s\n", name);
        printf("invalid test: %s\n", validate && validate->type == MC_MAP ? msg : "validate must be a mapping");
        (*failed)++;
        query_free(&q);
        return;
    }
    if (details && only_failures) r.printed_name = false;
    answer *a = mc_xcalloc(1, sizeof *a);
    const char *e = run_query(img, &q, a, msg, sizeof msg);
    if (e) {
        failure(name, details, &r, "input", "a view and listener", e);
    } else {
        const rt_decision *d = &a->d;
        if (d->route != IMG_NONE) covered[d->route] = 1;
        char buf[64];
        check_str_field(name, details, &r, validate, "action", rt_action_name(d->action));
        check_str_field(name, details, &r, validate, "cluster_name",
                        d->action == RT_ACT_ROUTE && d->cluster != IMG_NONE ? cluster_name(img, d->cluster) : "");
        snprintf(buf, sizeof buf, "%u", d->status);
        check_str_field(name, details, &r, validate, "status", d->status ? buf : "");
        rt_flags_string(d->flags, buf, sizeof buf);
        check_str_field(name, details, &r, validate, "flags", d->flags ? buf : "");
        check_str_field(name, details, &r, validate, "path_rewrite", d->action == RT_ACT_ROUTE && a->http ? a->path : "");
        check_str_field(name, details, &r, validate, "host_rewrite", d->action == RT_ACT_ROUTE && a->http ? a->authority : "");
        check_str_field(name, details, &r, validate, "path_redirect", d->action == RT_ACT_REDIRECT ? a->location : "");
        snprintf(buf, sizeof buf, "%u", d->action == RT_ACT_REDIRECT ? d->status : 0);
        check_str_field(name, details, &r, validate, "code_redirect", d->action == RT_ACT_REDIRECT ? buf : "");
        check_str_field(name, details, &r, validate, "route_name", a->label);
        char vh[600] = "";
        if (d->vhost != IMG_NONE) {
            uint32_t port;
            rt_str dom = rt_vhost_domain(img, d->vhost, &port);
            snprintf(vh, sizeof vh, "%s:%u", dom.p, port);
        }
        check_str_field(name, details, &r, validate, "virtual_host_name", vh);
        rt_str body = rt_direct_body(img, d);
        check_str_field(name, details, &r, validate, "body", body.p);
        const mc_node *cls = mc_get(validate, "clusters");
        if (cls && cls->type == MC_SEQ) {
            char want[2048] = "", got[2048] = "";
            size_t wn = 0, gn = 0;
            MC_SEQ_EACH(cls, i) {
                const mc_node *x = mc_item(cls, i);
                const char *cn = text_of(mc_get(x, "name"));
                int64_t w = 0;
                mc_int(mc_get(x, "weight"), &w);
                wn += (size_t)snprintf(want + wn, sizeof want - wn, "%s%s:%lld", i ? "," : "", cn ? cn : "", (long long)w);
                if (wn >= sizeof want) wn = sizeof want - 1;
            }
            for (uint32_t i = 0; d->action == RT_ACT_ROUTE && i < rt_target_count(img, d->target); i++) {
                rt_weighted w = rt_target_at(img, d->target, i);
                gn += (size_t)snprintf(got + gn, sizeof got - gn, "%s%s:%u", i ? "," : "", cluster_name(img, w.cluster), w.weight);
                if (gn >= sizeof got) gn = sizeof got - 1;
            }
            if (d->action == RT_ACT_ROUTE && d->target == IMG_NONE && d->cluster != IMG_NONE)
                snprintf(got, sizeof got, "%s:0", cluster_name(img, d->cluster));
            if (strcmp(want, got) != 0) failure(name, details, &r, "clusters", want, got);
        }
        rt_policy p;
        rt_policy_get(img, d, &p);
        static const char *const policy_keys[] = { "timeout", "retries", "mirrors", "fault", "request_headers", "response_headers" };
        for (size_t k = 0; k < sizeof policy_keys / sizeof policy_keys[0]; k++) {
            char pol[1024];
            policy_text(img, d, &p, policy_keys[k], pol, sizeof pol);
            check_str_field(name, details, &r, validate, policy_keys[k], pol);
        }
        static const char *const cors_keys[] = { "cors_allows", "cors_denies" };
        for (int k = 0; k < 2; k++) {
            const char *origin = text_of(mc_get(validate, cors_keys[k]));
            if (!origin) continue;
            bool allowed = rt_cors_origin_allowed(img, d, origin, strlen(origin));
            if (allowed != (k == 0)) failure(name, details, &r, cors_keys[k], origin, allowed ? "allowed" : "denied");
        }
        const mc_node *rh = mc_get(validate, "request_header_matches");
        MC_SEQ_EACH(rh, i) {
            /* router_check_tool style: a header the route adds, by name and exact value */
            const mc_node *m = mc_item(rh, i);
            const char *hn = text_of(mc_get(m, "name")), *hv = text_of(mc_get(mc_get(m, "string_match"), "exact"));
            if (!hv) hv = text_of(mc_get(m, "exact"));
            bool found = false;
            for (uint32_t k = 0; hn && k < p.nreq_headers && !found; k++) {
                rt_header_op op = rt_req_header_op(img, d, k);
                found = op.op != IMG_HOP_REMOVE && strcasecmp(op.name.p, hn) == 0 && (!hv || strcmp(op.value.p, hv) == 0);
            }
            char want[300], got[8];
            snprintf(want, sizeof want, "%s: %s", hn ? hn : "?", hv ? hv : "(any)");
            snprintf(got, sizeof got, "%s", found ? "added" : "absent");
            if (!found) failure(name, details, &r, "request_header_matches", want, got);
        }
    }
    if (r.failures) (*failed)++;
    else (*passed)++;
    free(a);
    query_free(&q);
}

static const char test_usage[] =
    "usage: meshrt test IMG TESTS.yaml [--details] [--only-show-failures] [--coverage] [--min-coverage PCT]\n";

int rt_cmd_test(int argc, char **argv)
{
    enum { O_DETAILS = 256, O_ONLY, O_COV, O_MINCOV };
    static const struct option lo[] = {
        { "details", no_argument, NULL, O_DETAILS }, { "only-show-failures", no_argument, NULL, O_ONLY },
        { "coverage", no_argument, NULL, O_COV }, { "min-coverage", required_argument, NULL, O_MINCOV },
        { "fail-under", required_argument, NULL, O_MINCOV }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    bool details = false, only = false, coverage = false;
    double min_cov = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "dh", lo, NULL)) != -1) {
        switch (c) {
        case 'd':
        case O_DETAILS: details = true; break;
        case O_ONLY: only = true; break;
        case O_COV: coverage = true; break;
        case O_MINCOV: {
            char *end;
            min_cov = strtod(optarg, &end);
            if (*end || min_cov < 0 || min_cov > 100) {
                fprintf(stderr, "meshrt: test: bad --min-coverage '%s' (0 to 100)\n", optarg);
                return 2;
            }
            coverage = true;
            break;
        }
        case 'h': fputs(test_usage, stdout); return 0;
        default: fputs(test_usage, stderr); return 2;
        }
    }
    if (optind + 2 != argc) {
        fputs(test_usage, stderr);
        return 2;
    }
    char err[RT_ERR_LEN];
    rt_image *img = rt_image_open(argv[optind], err, sizeof err);
    if (!img) {
        fprintf(stderr, "meshrt: %s: %s\n", argv[optind], err);
        return 2;
    }
    int rc = 2;
    tctx t;
    memset(&t, 0, sizeof t);
    t.img = img;
    mc_arena_init(&t.arena);
    int id = mc_src_open(argv[optind + 1], argv[optind + 1]);
    if (id < 0) {
        fprintf(stderr, "meshrt: %s: cannot read the test file\n", argv[optind + 1]);
        goto done;
    }
    mc_parse(&t.arena, false, (uint16_t)id, on_doc, &t);
    if (mc_diag_count(MC_ERROR) || mc_diag_had_fatal()) {
        mc_diag_opts o = { MC_FMT_TEXT, MC_ERROR, MC_INFO, 0, true };
        mc_diag_print(&o, stderr, 1, 0);
        goto done;
    }
    const mc_node *tests = t.ndocs ? mc_get(t.docs[0], "tests") : NULL;
    if (!tests && t.ndocs && t.docs[0]->type == MC_SEQ) tests = t.docs[0];    /* legacy: a top-level list */
    if (!tests || tests->type != MC_SEQ || mc_len(tests) == 0) {
        fprintf(stderr, "meshrt: %s: no tests (want a mapping with a non-empty list 'tests')\n", argv[optind + 1]);
        goto done;
    }
    uint32_t nroutes;
    rt_section(img, IMG_S_ROUTES, &nroutes);
    uint8_t *covered = mc_xcalloc(nroutes + 1, 1);
    int passed = 0, failed = 0;
    MC_SEQ_EACH(tests, i) run_test(img, mc_item(tests, i), i, details, only, covered, &passed, &failed);
    rc = failed ? 1 : 0;
    if (coverage) {
        uint32_t hit = 0;
        for (uint32_t i = 0; i < nroutes; i++) hit += covered[i];
        double pct = nroutes ? 100.0 * hit / nroutes : 100.0;
        printf("Current route coverage: %g%% (%u of %u route rows)\n", pct, hit, nroutes);
        if (min_cov >= 0 && pct < min_cov) {
            printf("Failed to meet coverage requirement: %g%%\n", min_cov);
            rc = 1;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    free(covered);
done:
    free(t.docs);
    mc_arena_free(&t.arena);
    mc_src_free_all();
    rt_image_close(img);
    return rc;
}
