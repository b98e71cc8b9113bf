/*
** lower.h -- Istio's semantics computed once: checked resources in, the
** decision tables of every view (gateway workload, single Gateway, mesh)
** out, as an in-memory IR that emit.c serializes and that analysis passes
** read. Every IR node keeps the source nodes it came from (VS, http[i],
** match[j], destination, Gateway server) so findings can point at them,
** and what lowering dropped is kept too (mc_ir_drop), never silently lost.
**
** Which views an image holds (man/meshimg.5, "Views"):
**  - one WORKLOAD view per gateway workload: every Pod and every
**    Deployment/StatefulSet/DaemonSet pod template in the inputs whose
**    labels some Gateway selector matches; every Gateway selector no such
**    workload carries (as a workload with exactly those labels in the
**    Gateway's namespace); and Istio's default ingress gateway (labels
**    istio=ingressgateway in istio-system) unless an input workload carries
**    that label. Each merges all Gateways whose selector its labels
**    satisfy (a Gateway without selector selects every workload), in
**    creation order, as Istio's mergeGateways does;
**  - one GATEWAY view per Gateway, alone, seen from the first workload it
**    selects (else from its own namespace with its selector as labels);
**  - the MESH view: a sidecar without labels in the default namespace
**    (-n), on every service port and every port a mesh-bound match names.
**
** Semantics followed (../shared/reference/istio-semantics.md and Istio's
** source): gateway.go buildGatewayHTTPRouteConfig / TCP and TLS filter
** chains, route.go BuildHTTPRoutesForVirtualService / TranslateRoute,
** model/gateway.go mergeGateways, push_context.go VirtualServicesForGateway,
** virtualservice.go delegate merging, cluster_traffic_policy.go.
*/
#ifndef MC_LOWER_H
#define MC_LOWER_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "check.h"
#include "load.h"
#include "tree.h"

/* ------------------------------------------------------------ source model
** VirtualServices after short-name resolution and delegate merging. */

typedef enum { MC_SM_NONE, MC_SM_EXACT, MC_SM_PREFIX, MC_SM_REGEX, MC_SM_PRESENT } mc_sm_kind;

typedef struct mc_strmatch {
    mc_sm_kind kind;            /* PRESENT: {} or regex "*" (Istio's present_match) */
    const char *value;
    const mc_node *node;
} mc_strmatch;

typedef struct mc_kv_match {
    const char *name;
    mc_strmatch m;
} mc_kv_match;

typedef struct mc_kv { const char *key, *value; } mc_kv;

/* One HTTPMatchRequest (merged with the root's when it came from a delegate). */
typedef struct mc_http_match {
    const mc_node *node;        /* the match block */
    const mc_node *root_node;   /* the root VS match it was merged with, or NULL */
    uint32_t index;             /* match[index] in its http[] entry */
    const char *name;
    mc_strmatch uri, scheme, method, authority;
    mc_kv_match *headers; uint32_t nheaders;
    mc_kv_match *without; uint32_t nwithout;
    mc_kv_match *query; uint32_t nquery;
    bool ignore_uri_case;
    uint32_t port;              /* 0: any */
    mc_kv *source_labels; uint32_t nsource_labels;
    const char *source_namespace;
    const char **gateways; uint32_t ngateways;  /* resolved: "ns/name" or "mesh" */
} mc_http_match;

typedef struct mc_dest {
    const mc_node *node;        /* the route[] entry (or mirror destination) */
    const char *host;           /* FQDN-resolved */
    const char *subset;         /* "" none */
    uint32_t port;              /* 0: unset */
    int64_t weight;
    const mc_node *headers;     /* destination-level headers */
} mc_dest;

/* One http[] entry after delegation: a delegate's route inherits the
** root's action fields it leaves unset (model/virtualservice.go). */
typedef struct mc_http_route {
    const struct mc_vs *vs;     /* the root VS */
    const struct mc_vs *delegate;
    const mc_node *node;        /* the http[] entry (the delegate's when merged) */
    const mc_node *root_node;   /* the root's http[] entry holding `delegate`, or NULL */
    uint32_t index;             /* position in the root's http[] */
    uint32_t delegate_index;    /* position in the delegate's http[] */
    const char *name;
    mc_http_match *matches; uint32_t nmatches;
    mc_dest *dests; uint32_t ndests;
    const mc_node *redirect, *direct_response, *rewrite, *timeout, *retries, *fault;
    const mc_node *mirror, *mirror_percent, *mirror_percentage, *mirrors, *cors, *headers;
} mc_http_route;

/* tls[] and tcp[] entries */
typedef struct mc_l4_match {
    const mc_node *node;
    uint32_t port;
    const char **gateways; uint32_t ngateways;
    const char **sni; uint32_t nsni;            /* tls only */
} mc_l4_match;

typedef struct mc_l4_route {
    const mc_node *node;
    uint32_t index;
    mc_l4_match *matches; uint32_t nmatches;
    mc_dest *dests; uint32_t ndests;
} mc_l4_route;

typedef struct mc_vs {
    const mc_obj *obj;
    const char **hosts; uint32_t nhosts;        /* FQDN-resolved */
    const char **gateways; uint32_t ngateways;  /* resolved; empty spec => "mesh" */
    bool export_public, export_none;
    const char **export_ns; uint32_t nexport_ns;
    mc_http_route *http; uint32_t nhttp;
    mc_l4_route *tls; uint32_t ntls;
    mc_l4_route *tcp; uint32_t ntcp;
    uint32_t order;             /* rank by (creationTimestamp, name, namespace) */
} mc_vs;

/* ------------------------------------------------------------ lowered IR */

/* Why something did not make it into the tables. */
#define MC_DROPS(X) \
    X(MATCH_PORT,         "match port differs from the server port") \
    X(MATCH_GATEWAYS,     "match gateways do not include this gateway") \
    X(MATCH_SOURCE_LABELS, "match sourceLabels do not select this proxy") \
    X(MATCH_SOURCE_NAMESPACE, "match sourceNamespace is not the proxy's namespace") \
    X(AFTER_CATCH_ALL,    "http route after a catch-all route of the same VirtualService") \
    X(VS_NO_ROUTES,       "no http route of the VirtualService applies here") \
    X(SNI_DUPLICATE,      "SNI host already routed on this port by an earlier rule") \
    X(TCP_SHADOWED,       "an earlier tcp route already serves this server") \
    X(SERVER_CONFLICT,    "server conflicts with an earlier server on the same port") \
    X(SERVER_DUPLICATE_HOST, "TLS server host already served on this port") \
    X(DELEGATE_NOT_FOUND, "delegate VirtualService not found") \
    X(DELEGATE_NOT_EXPORTED, "delegate VirtualService not exported to the root's namespace") \
    X(DELEGATE_CONFLICT,  "delegate route conflicts with the root's match") \
    X(REDIRECT_CODE,      "redirect code not supported: the route has no action") \
    X(NO_DESTINATION,     "no destination with a weight above 0: the route has no action") \
    X(DIRECT_STATUS,      "direct response status is not an HTTP status: the route has no action") \
    X(NO_TCP_ROUTE,       "no tcp route serves this server")

typedef enum {
#define X(n, s) MC_DROP_##n,
    MC_DROPS(X)
#undef X
    MC_DROP_COUNT_
} mc_drop_reason;

typedef struct mc_ir_drop {
    mc_drop_reason reason;
    const mc_obj *obj;          /* the VS or Gateway */
    const mc_node *at;          /* most precise node */
    const char *view;           /* view name */
    uint32_t port;
    const char *detail;
} mc_ir_drop;

typedef struct mc_ir_endpoint {
    const char *address;
    uint32_t port, weight;
    int kind;                   /* IMG_EP_* */
} mc_ir_endpoint;

/* Cluster settings with Istio's defaults filled in. */
typedef struct mc_ir_cpolicy {
    int lb;                     /* IMG_LB_* */
    bool consistent_hash;
    int hash_kind;              /* IMG_HASH_*: what consistentHash hashes */
    const char *hash_name;      /* header (lowercased), cookie or query parameter; "" none */
    const char *cookie_path;    /* httpCookie.path, "" none */
    uint32_t cookie_ttl_ms;     /* httpCookie.ttl */
    bool cookie_ttl_set;        /* ttl given (0s: a session cookie) */
    uint32_t ring_size;         /* ringHash.minimumRingSize (1024) or maglev.tableSize (65537) */
    uint32_t connect_timeout_ms;
    uint32_t max_connections, max_pending_requests, max_requests, max_retries;
    uint32_t max_requests_per_connection;
    bool idle_set; uint32_t idle_timeout_ms;
    bool duration_set; uint32_t max_connection_duration_ms;
    bool h2, use_client_protocol;
    bool outlier;
    uint32_t consecutive_5xx, enforcing_5xx, consecutive_gateway, enforcing_gateway;
    uint32_t interval_ms, base_ejection_ms, max_ejection_percent, min_health_percent;
    int tls;                    /* IMG_CTLS_* */
    bool insecure;
    const char *sni, *ca, *cert, *key, *credential;
    const char **sans; uint32_t nsans;
} mc_ir_cpolicy;

/* Why a cluster is MISSING (mc_ir_cluster.why), for analysis passes. */
typedef enum {
    MC_MISSING_NONE,            /* the cluster exists */
    MC_MISSING_SERVICE,         /* no service with the host is visible to the proxy */
    MC_MISSING_EXTERNAL_NAME,   /* the host is an ExternalName alias of another alias */
    MC_MISSING_PORT,            /* the service has no such port */
    MC_MISSING_UDP,             /* the port is UDP */
    MC_MISSING_SUBSET           /* no visible DestinationRule defines the subset */
} mc_missing_kind;

typedef struct mc_ir_cluster {
    const char *name, *host, *subset;
    uint32_t port;
    int kind;                   /* IMG_CLUSTER_*; MISSING: 503 NC at run time */
    const char *missing;        /* why it is missing (no service, no subset, port) */
    mc_missing_kind why;        /* the same as a code */
    int protocol;               /* IMG_PROTO_* */
    bool mesh_external;
    const mc_obj *service;      /* ServiceEntry or Service, or NULL */
    const mc_obj *dr;           /* DestinationRule applied, or NULL */
    const mc_node *subset_node;
    const mc_node *first_ref;   /* the first destination that named it */
    mc_ir_endpoint *endpoints; uint32_t nendpoints;
    mc_ir_cpolicy policy;
    uint32_t id;                /* creation order (emit sorts by host, port, subset) */
} mc_ir_cluster;

typedef struct mc_ir_hdrop { int op; const char *name, *value; } mc_ir_hdrop;   /* IMG_HOP_* */
typedef struct mc_ir_hdrops { mc_ir_hdrop *v; uint32_t n; } mc_ir_hdrops;

typedef struct mc_ir_dest {
    mc_ir_cluster *cluster;
    uint32_t weight;
    mc_ir_hdrops req, resp;     /* weighted destinations only */
    const char *authority;
    const mc_dest *src;
} mc_ir_dest;

typedef struct mc_ir_target {
    mc_ir_dest *dests; uint32_t n;
    bool weighted;
    uint32_t total;
} mc_ir_target;

typedef struct mc_ir_matcher {
    int target, op;             /* IMG_TARGET_*, IMG_OP_* */
    unsigned flags;             /* IMG_M_* */
    const char *name, *value;
    const mc_node *node;
} mc_ir_matcher;

typedef struct mc_ir_action {
    int kind;                   /* IMG_ACTION_* */
    mc_ir_hdrops req, resp;
    /* fault */
    bool fault; unsigned fault_flags;
    uint32_t delay_ms, delay_pm, abort_status, abort_pm;
    /* cors */
    bool cors;
    mc_ir_matcher *origins; uint32_t norigins;
    const char *cors_methods, *cors_headers, *cors_expose;
    unsigned cors_flags; uint32_t cors_max_age;
    /* route */
    mc_ir_target target;
    bool has_timeout; uint32_t timeout_ms;
    bool retry;
    uint32_t retry_num, retry_per_try_ms, retry_backoff_ms, retry_host_attempts;
    unsigned retry_flags;
    const char *retry_on;
    uint32_t *retry_codes; uint32_t nretry_codes;
    const char *prefix_rewrite, *regex_rewrite, *regex_substitution, *authority;
    mc_ir_cluster **mirrors; uint32_t *mirror_pm; uint32_t nmirrors;
    /* redirect */
    const char *rd_scheme, *rd_host, *rd_path, *rd_prefix;
    uint32_t rd_port, rd_code;
    /* direct response */
    uint32_t status;
    const char *body; uint32_t body_len;
} mc_ir_action;

typedef struct mc_ir_route {
    const mc_http_route *http;  /* source: VS, http[i] */
    const char *gw;             /* the gateway ("ns/name", or "mesh") it was built for */
    const mc_http_match *match; /* source match[j], or NULL (no match block) */
    const char *name;           /* http.name[.match.name] */
    int path_kind;              /* IMG_PATH_* */
    const char *path;
    bool ignore_case;
    mc_ir_matcher *matchers; uint32_t nmatchers;
    bool catch_all;
    mc_ir_action *action;
} mc_ir_route;

typedef struct mc_ir_vhost {
    const char *domain;
    uint32_t port;
    bool require_tls;
    mc_ir_route **routes; uint32_t nroutes;     /* Istio order: catch-alls last */
} mc_ir_vhost;

typedef struct mc_ir_route_table {
    const char *name;           /* "http.80", "https.443.https.gw.ns" */
    mc_ir_vhost *vhosts; uint32_t nvhosts;      /* sorted by domain */
} mc_ir_route_table;

typedef struct mc_ir_server {
    const mc_obj *gateway;
    const mc_node *node;        /* servers[index] */
    uint32_t index;
    uint32_t port;
    int protocol;               /* IMG_PROTO_* */
    int tls;                    /* IMG_TLS_* */
    bool https_redirect;
    const char *bind, *port_name, *credential;
    const char **hosts; uint32_t nhosts;        /* ./ and * / forms resolved */
    struct mc_srv_index *hidx;                  /* private to lower.c: hosts by name */
} mc_ir_server;

typedef struct mc_ir_chain {
    int kind;                   /* IMG_CHAIN_* */
    int tls, protocol;
    const mc_ir_server *server;
    mc_ir_route_table *routes;  /* HTTP chains */
    mc_ir_target target;        /* TCP chains */
    const mc_vs *vs;            /* TCP chains: the VirtualService */
    int entry_kind;             /* IMG_ENTRY_TLS / TCP */
    const mc_l4_route *entry;
    const mc_l4_match *match;   /* NULL: tcp entry without matches */
    const char **sni; uint32_t nsni;            /* "" list = any */
} mc_ir_chain;

typedef struct mc_ir_listener {
    uint32_t port;
    int kind;                   /* IMG_LISTENER_* */
    const char *bind;
    mc_ir_chain *chains; uint32_t nchains;
    mc_ir_server *servers; uint32_t nservers;
} mc_ir_listener;

typedef struct mc_ir_view {
    int kind;                   /* IMG_VIEW_* */
    const char *name, *ns;
    mc_kv *labels; uint32_t nlabels;            /* sorted by key */
    const mc_obj **gateways; uint32_t ngateways;
    mc_ir_listener *listeners; uint32_t nlisteners;     /* sorted by (port, bind) */
} mc_ir_view;

typedef struct mc_ir {
    mc_arena arena;
    mc_vs *vs; uint32_t nvs;                    /* VirtualServices with hosts, Istio order */
    mc_ir_view *views; uint32_t nviews;
    mc_ir_cluster **clusters; uint32_t nclusters;
    mc_vec drops;                               /* mc_ir_drop */
    const char *domain;
} mc_ir;

typedef struct mc_lower_opts {
    const char *cluster_domain;     /* cluster.local */
    const char *default_ns;         /* namespace of the mesh view ("default") */
} mc_lower_opts;

/* Lower every non-shadowed resource of in. Never fails on semantics: a
** route to an unknown host becomes a MISSING cluster (503 NC at run time),
** a dropped rule becomes an mc_ir_drop. */
mc_ir *mc_lower(const mc_input *in, const mc_lower_opts *opt);
/* The same with the WORKLOAD views only (no per-Gateway views, no mesh view):
** what analysis (insight.c) reads; such an IR is not for emitting. */
mc_ir *mc_lower_workloads(const mc_input *in, const mc_lower_opts *opt);
void mc_ir_free(mc_ir *ir);
const char *mc_drop_name(mc_drop_reason r);
/* Istio's config order (creationTimestamp, then name, then namespace), the
** order lowering merges VirtualServices and DestinationRules in: < 0 when a
** comes first. */
int mc_lower_cmp_order(const mc_obj *a, const mc_obj *b);
/* A server or service port protocol as lowering reads it (IMG_PROTO_*,
** case-insensitive, unknown: UNSUPPORTED), and a server tls.mode (IMG_TLS_*;
** absent or unknown: PASSTHROUGH, the proto's zero value). */
int mc_lower_protocol(const char *s);
int mc_lower_tls_mode(const char *mode);

/* Helpers shared with later passes */
/* Go duration text ("1.5s", "100ms", "1m") to milliseconds; false if not one. */
bool mc_duration_ms(const char *s, uint64_t *ms);

#endif
