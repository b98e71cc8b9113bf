/*
** insight_int.h -- what the insight files share (not for use elsewhere):
** the context, the screen's view of Gateways and VirtualServices, the row
** predicates, reporting.
**
**   insight.c        entry, context, indexes, the screen, lowering the suspects
**   insight_model.c  model-level checks, run during the screen's walk
**   insight_rows.c   route rows: coverage, witness requests, istioctl's overlaps
**   insight_gw.c     IR checks per VirtualService and gateway, listeners, 503s
**   insight_vhost.c  IR checks per virtual host: shadowing, merged hosts, gaps
*/
#ifndef MC_INSIGHT_INT_H
#define MC_INSIGHT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "hostset.h"
#include "insight.h"
#include "strmap.h"

/* Server classes (bits): which VirtualService section a server's routes come
** from, as lowering's gateway_listeners decides. */
enum {
    IN_HTTP = 1,                /* plain HTTP, or HTTPS terminating TLS: http */
    IN_PT   = 2,                /* tls.mode PASSTHROUGH: tls */
    IN_AUTO = 4,                /* AUTO_PASSTHROUGH: no VirtualService */
    IN_TCP  = 8                 /* plain TCP, or TLS terminated: tcp */
};

typedef struct in_vec { void **v; uint32_t n, cap; } in_vec;
void in_push(in_vec *v, void *p);

struct in_vs;

/* A Gateway server as lowering reads it. */
typedef struct in_srv {
    const mc_node *node;        /* servers[i] */
    struct in_gw *gw;
    uint32_t port;
    const char *bind, *port_name;
    int proto;                  /* IMG_PROTO_* */
    bool tls_block;
    int cls;                    /* IN_* */
    const char **hns, **hosts;  /* sanitized hosts: namespace (NULL: any) and name */
    uint32_t nhosts;
} in_srv;

typedef struct in_gw {
    const mc_obj *obj;
    const char *ref;            /* "ns/name" */
    in_srv *srv; uint32_t nsrv;
    mc_hostset any;             /* hosts usable from any namespace -> in_srv* */
    mc_strmap by_ns;            /* namespace -> mc_hostset* of its 'ns/host' entries */
    mc_hostset sni;             /* sniHosts of its VirtualServices' tls matches -> port + 1 (1: any) */
    in_vec bound;               /* in_vs* binding it, input order */
    bool complex;               /* a server may lose a conflict with another */
    bool full;                  /* its listener checks need all its VirtualServices lowered */
    bool complete;              /* all its VirtualServices are in the lowered input */
} in_gw;

typedef struct in_vs {
    const mc_obj *obj;
    const char **hosts;         /* FQDN, as lowering resolves them */
    const mc_node **hnodes;
    uint32_t nhosts;
    in_gw **gws; uint32_t ngws; /* bound Gateways that exist, without duplicates */
    bool mesh;                  /* bound to the mesh */
    bool unsafe;                /* a route destination may 503 on a gateway */
    bool suspect, included;
} in_vs;

/* The servers of a Gateway whose hosts overlap a VirtualService's (or one
** of its hosts), by the class of routes they take. */
#define IN_REACH_PORTS 16
typedef struct in_reach {
    int cls;                    /* IN_* of every server met */
    uint32_t ports[3][IN_REACH_PORTS];  /* per class: IN_HTTP, IN_PT, IN_TCP */
    uint32_t nports[3];
    bool many;                  /* more ports than kept: take any port as served */
    const in_srv *first[3];     /* a server per class, for notes */
} in_reach;

/* 0, 1, 2 for IN_HTTP, IN_PT, IN_TCP; -1 for IN_AUTO */
int in_reach_slot(int cls);
void in_reach_add(in_reach *r, const in_srv *s);
void in_reach_merge(in_reach *all, const in_reach *one);
/* a server of that class serves the hosts on the port */
bool in_reach_port(const in_reach *r, int cls, uint32_t port);
/* mc_hostset_fn adding every server met to the in_reach ud */
bool in_reach_fn(void *ud, const char *host, void *val);

/* A ServiceEntry host or a Kubernetes Service. */
enum { IN_RES_NONE, IN_RES_STATIC, IN_RES_DNS, IN_RES_DNS_RR, IN_RES_DYNAMIC };
typedef struct in_svc {
    const mc_obj *obj;
    const char *host;
    bool k8s, pub, external_name, selector;
    int res;                    /* IN_RES_* (Services: DNS) */
    const mc_node *ports;       /* seq of port maps */
    const mc_node *endpoints;   /* ServiceEntry endpoints, or NULL */
} in_svc;

/* A DestinationRule (lowering ignores those with a workloadSelector). */
typedef struct in_dr {
    const mc_obj *obj;
    const char *host;           /* FQDN */
    bool pub, selector;
    const mc_node *policy, *subsets;
    const char *export_key;     /* exportTo as a sorted set, for merging */
    uint8_t *used;              /* per subset: a destination names it */
} in_dr;

typedef struct in_ctx {
    mc_input *in;
    const mc_check_opts *opt;
    mc_arena a;
    const char *domain;
    bool have_services;         /* Kubernetes Services in the inputs */
    bool have_auto_passthrough; /* an AUTO_PASSTHROUGH server exposes subsets */
    in_vec vss;                 /* in_vs*: every VirtualService, input order */
    in_vec gws;                 /* in_gw*: every Gateway */
    mc_strmap gw_by_ref;        /* "ns/name" -> in_gw* */
    mc_strmap vs_by_obj;        /* mc_obj* (bytes) -> in_vs* */
    mc_strmap svc_by_host;      /* host -> in_vec* of in_svc* */
    mc_strmap dr_by_host;       /* FQDN host -> in_vec* of in_dr* (input order) */
    in_vec drs;                 /* in_dr* */
    in_vec dr_wild;             /* in_dr* with a wildcard host */
    mc_hostset vs_hosts;        /* hosts of gateway-bound VirtualServices -> in_vs* */
    mc_strmap seen;             /* findings already reported */
    mc_strmap regex;            /* pattern -> compiled rx* (or a failure mark) */
    mc_buf key;
    const char *memo_host;      /* in_services / in_drules: the last host */
    const in_vec *memo_svc, *memo_dr;
    mc_ir *ir;                  /* NULL: nothing lowered */
    bool ir_full;               /* the IR holds every resource (build) */
} in_ctx;

/* ---- helpers (insight.c) */

/* Field lookup as lowering reads it: camelCase, else the proto's
** snake_case spelling ("sniHosts" also finds "sni_hosts"). */
const mc_node *in_get(const mc_node *m, const char *camel);
/* Several fields in one pass over the keys: out[i] = in_get(m, names[i]). */
void in_fields(const mc_node *m, const char *const *names, int n, const mc_node **out);
const mc_node *in_map(const mc_node *m, const char *camel);
const mc_node *in_seq(const mc_node *m, const char *camel);
const char *in_str(const mc_node *m, const char *camel);
/* A port as lowering reads it (an int or a numeric string, 1..65535); 0 otherwise. */
uint32_t in_port(const mc_node *m, const char *camel);
bool in_bool(const mc_node *m, const char *camel);
/* Short or cluster-local ("reviews", "x.ns.svc.cluster.local"). */
bool in_cluster_local(const in_ctx *c, const char *host);
/* The services of an exact host (lowering's svc_by_host), or NULL; the
** DestinationRules with exactly that host, or NULL. The indexes must be
** complete (memoized). */
const in_vec *in_services(in_ctx *c, const char *host);
const in_vec *in_drules(in_ctx *c, const char *host);
in_gw *in_gateway(in_ctx *c, const char *ref);
in_vs *in_vs_of(in_ctx *c, const mc_obj *o);
/* The server hosts of g that VirtualService namespace ns may use and that
** overlap host h (Name.Matches); fn as for mc_hostset_each, val an in_srv*. */
void in_srv_each(in_gw *g, const char *ns, const char *h, mc_hostset_fn fn, void *ud);
/* A compiled regex, or NULL when the pattern does not compile. */
const struct rx *in_regex(in_ctx *c, const char *pat);
/* "ns/name" of a resource */
const char *in_name(in_ctx *c, const mc_obj *o);

/* Report once per (code, position, message); false when dropped (an error
** is already reported at that node, or the same finding was). Notes follow
** with mc_diag_note, which attaches them to the finding kept last. */
bool in_report(in_ctx *c, mc_code code, mc_level level, const mc_obj *o, const mc_node *at, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- model-level checks (insight_model.c), called from the walk */
void in_model_vs(in_ctx *c, in_vs *v);           /* MSH0600, MSH0603 */
/* Mark the subset a destination names as used (MSH0618); host is its FQDN. */
void in_model_ref(in_ctx *c, const char *host, const char *subset);
void in_model_drs(in_ctx *c);                    /* MSH0617, MSH0618 */
/* Some service of one of v's hosts declares this port. */
bool in_service_port(in_ctx *c, const in_vs *v, uint32_t port);

/* ---- route rows (insight_rows.c) */
typedef struct in_row {
    int path_kind;              /* IMG_PATH_* */
    const char *path;
    bool ci;                    /* ignoreUriCase */
    const mc_ir_matcher *m;     /* headers, then :method/:authority/:scheme, then query */
    uint32_t nm;
    bool catch_all;
} in_row;

in_row in_row_of(const mc_ir_route *r);
/* The row lowering makes of an http match (NULL: an http entry without
** matches), matchers in scratch (reset by the caller). */
in_row in_row_raw(in_ctx *c, const mc_node *match, mc_vec *scratch);
/* Every request b accepts, a accepts (b is shadowed by an earlier a):
** proven rules only, false when unsure. */
bool in_row_covers(in_ctx *c, const in_row *a, const in_row *b);
/* A request r accepts, in text ("GET /api (x-user: a)"), that no row of
** rows[0..n) accepts; NULL when none can be proven. host is its Host. */
const char *in_row_gap(in_ctx *c, const in_row *r, const char *host, const in_row *rows, uint32_t n);
/* istioctl (the webhook's analyzeUnreachableHTTPRules) already reports b as
** a duplicate of a, or a prefix match a covers (IST0131). */
bool in_ist_overlap(const mc_node *a, const mc_node *b);

/* ---- IR checks */
void in_ir_gateways(in_ctx *c);     /* insight_gw.c: MSH0601-0609, 0615, 0616 */
void in_ir_vhosts(in_ctx *c);       /* insight_vhost.c: MSH0610-0614 */

#endif
