/*
** table.h -- what the forwarder (and `meshrt route`, `meshrt test`) call
** to answer "where does this connection / request go?". One code path for
** the CLI and the data plane.
**
** Life cycle
**   rt_image *img = rt_image_open(path, err, sizeof err);   // mmap + verify
**   const rt_view *v = rt_view_workload(img, "istio-system", labels, n);
**   const rt_listener *l = rt_listener_find(img, v, 80, NULL);
**   const rt_chain *c = rt_listener_chain(img, l, sni, sni_len);
**   rt_decision d;  rt_route_http(img, c, &req, &d);
**   ...
**   rt_image_close(img);
**
** Contract
** - rt_image_open verifies every byte (image.c) and compiles every regex
**   once (RE2, outside the image). After that nothing here checks bounds:
**   the image is trusted, and the handles returned point into it.
** - Lookups never allocate and never write to the image; the caller owns
**   every buffer. Strings returned (rt_str) point into the read-only
**   mapping (cluster names, which the image derives, into memory the
**   rt_image owns), are NUL-terminated and live until rt_image_close.
** - The same image may be used by many threads at once (nothing mutable).
** - Semantics are Envoy's as configured by Istio (see runtime/table.c and
**   man/meshrt.1): Host lowercased and its :port stripped, one virtual
**   host per request (exact, longest suffix wildcard, "*"), first matching
**   route row wins, weighted clusters picked by `random % total`.
*/
#ifndef RT_TABLE_H
#define RT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"

#define RT_ERR_LEN 256

typedef struct rt_image rt_image;               /* opaque: mapping + compiled regexes */
typedef struct img_view rt_view;                /* handles: records inside the image */
typedef struct img_listener rt_listener;
typedef struct img_chain rt_chain;

typedef struct rt_str { const char *p; uint32_t n; } rt_str;

/* ------------------------------------------------------------ image */

/* Map PATH read-only and verify it. NULL on failure, with a message in
** err such as "at offset 1234: route 5: matcher range 7+3 exceeds 8
** matchers" or "format version 2.0, this program reads 1.x". */
rt_image *rt_image_open(const char *path, char *err, size_t errlen);
/* Read PATH into private memory and verify that copy: what a long-lived
** server uses, since a file rewritten in place under a mapping could
** change verified bytes or truncate them (SIGBUS). Same errors. */
rt_image *rt_image_read(const char *path, char *err, size_t errlen);
/* The same over bytes the caller keeps alive (tests, fuzzing, tools); p
** must be 8-byte aligned. */
rt_image *rt_image_open_mem(const void *p, size_t n, char *err, size_t errlen);
void rt_image_close(rt_image *img);

typedef struct rt_image_info {
    uint64_t size;
    uint16_t major, minor;
    char build_id[33];                  /* hex */
    uint32_t counts[IMG_NSECTIONS];     /* records per section */
} rt_image_info;
void rt_image_info_get(const rt_image *img, rt_image_info *out);
/* Raw access for tools (dump, tests): base of the mapping and a section. */
const void *rt_image_base(const rt_image *img);
const void *rt_section(const rt_image *img, img_sec s, uint32_t *count);
rt_str rt_string(const rt_image *img, img_str s);

/* ------------------------------------------------------------ views
** A view is what one proxy sees: a gateway workload (all Gateways whose
** selector matches its labels, merged as Istio merges them), one Gateway
** alone, or the mesh (sidecars, VirtualServices bound to "mesh"). */

typedef struct rt_label { const char *key, *value; } rt_label;

uint32_t rt_view_count(const rt_image *img);
const rt_view *rt_view_at(const rt_image *img, uint32_t i);
/* The workload view of namespace ns with exactly these labels; failing
** that, the only view in ns whose labels include them. NULL when none or
** ambiguous. */
const rt_view *rt_view_workload(const rt_image *img, const char *ns, const rt_label *labels, uint32_t n);
/* The view of one Gateway, "ns/name". */
const rt_view *rt_view_gateway(const rt_image *img, const char *ns_name);
const rt_view *rt_view_mesh(const rt_image *img);
/* The view the command-line options name, as meshrt route and run pick
** it: the mesh, one Gateway, or the workload of `labels` in `ns`
** (default istio-system). */
const rt_view *rt_view_select(const rt_image *img, bool mesh, const char *gateway, const char *ns,
                              const rt_label *labels, uint32_t n);
/* Every view as "kind name; kind name; ..." for error messages (truncated
** to fit). */
void rt_view_list(const rt_image *img, char *buf, size_t cap);
/* "k=v,k2=v2" into labels pointing into spec (split in place); false on a
** pair without "=" or a key, more than RT_MAX_LABELS, or none. */
#define RT_MAX_LABELS 32
bool rt_labels_parse(char *spec, rt_label *labels, uint32_t *n);

typedef struct rt_view_info {
    uint32_t kind;                      /* IMG_VIEW_* */
    rt_str name, ns;
    uint32_t nlabels, ngateways, nlisteners;
} rt_view_info;
void rt_view_info_get(const rt_image *img, const rt_view *v, rt_view_info *out);
rt_label rt_view_label(const rt_image *img, const rt_view *v, uint32_t i);   /* pointers into the image */
rt_str rt_view_gateway_name(const rt_image *img, const rt_view *v, uint32_t i);
const rt_listener *rt_view_listener(const rt_image *img, const rt_view *v, uint32_t i);

/* ------------------------------------------------------------ listeners */

/* The listener of a view on port (bind NULL: the one listening on all
** addresses, else that bind address, falling back to all). */
const rt_listener *rt_listener_find(const rt_image *img, const rt_view *v, uint32_t port, const char *bind);

typedef struct rt_listener_info {
    uint32_t port;
    uint32_t kind;                      /* IMG_LISTENER_*: TLS means "peek SNI first" */
    rt_str bind;
    uint32_t nchains;
} rt_listener_info;
void rt_listener_info_get(const rt_image *img, const rt_listener *l, rt_listener_info *out);

/* The filter chain for a connection: on TLS listeners by SNI (NULL/0 for
** no SNI; exact name, then longest "*." suffix, then the chain without
** server names); on HTTP and TCP listeners the only chain. NULL means no
** filter chain: close the connection (flag NR, filter_chain_not_found). */
const rt_chain *rt_listener_chain(const rt_image *img, const rt_listener *l, const char *sni, size_t sni_len);
const rt_chain *rt_listener_chain_at(const rt_image *img, const rt_listener *l, uint32_t i);

typedef struct rt_chain_info {
    uint32_t kind;                      /* IMG_CHAIN_HTTP: rt_route_http; IMG_CHAIN_TCP: rt_route_tcp */
    uint32_t tls;                       /* IMG_TLS_*: NONE/PASSTHROUGH: no termination */
    uint32_t protocol;                  /* IMG_PROTO_* of the server */
    rt_str server;                      /* "ns/gateway servers[i]" */
    rt_str credential;                  /* tls.credentialName */
    rt_str route_table;                 /* RDS name of HTTP chains */
    uint32_t nsni;
} rt_chain_info;
void rt_chain_info_get(const rt_image *img, const rt_chain *c, rt_chain_info *out);
rt_str rt_chain_sni(const rt_image *img, const rt_chain *c, uint32_t i);

/* ------------------------------------------------------------ decisions */

typedef enum {
    RT_ACT_ROUTE,               /* proxy to cluster (or the split in `target`) */
    RT_ACT_REDIRECT,            /* answer `status` with rt_redirect_location() */
    RT_ACT_DIRECT_RESPONSE,     /* answer `status` with rt_direct_body() */
    RT_ACT_NO_ROUTE,            /* answer 404, flag NR */
    RT_ACT_CLOSE                /* close the connection (no filter chain / TCP route), flag NR */
} rt_action;

/* %RESPONSE_FLAGS% bits a routing decision can predict */
enum {
    RT_FLAG_NR = 1u << 0,       /* no route / no filter chain */
    RT_FLAG_NC = 1u << 1,       /* cluster not found (503) */
    RT_FLAG_UH = 1u << 2        /* cluster has no endpoints (503 no_healthy_upstream) */
};

typedef struct rt_decision {
    rt_action action;
    uint16_t status;            /* local reply status; 0 when the upstream answers */
    uint32_t flags;             /* RT_FLAG_* */
    const char *details;        /* %RESPONSE_CODE_DETAILS%: route_not_found, cluster_not_found,
                                   no_healthy_upstream, filter_chain_not_found, direct_response,
                                   via_upstream (a normal route) */
    uint32_t cluster;           /* CLUSTERS index chosen (weighted pick included), IMG_NONE if none */
    uint32_t target;            /* TARGETS index of a weighted split (all clusters and weights),
                                   IMG_NONE for a single cluster or no route */
    uint32_t wcluster;          /* WCLUSTERS index picked in a split (per-destination headers), IMG_NONE */
    uint32_t route;             /* ROUTES index that matched (coverage), IMG_NONE */
    uint32_t action_rec;        /* ACTIONS index of the matched route, IMG_NONE */
    uint32_t vhost;             /* VHOSTS index selected, IMG_NONE */
    const img_src *src;         /* the origin record (route name, VS entry, match) the route or
                                   chain came from; NULL for none. Shared by every row or chain
                                   of that shape: read it through rt_origin_get / rt_route_label */
    uint32_t path_match_len;    /* bytes of :path the route matched (prefix rewrites) */
    bool tls_redirect;          /* vhost requires TLS and the request was plain: 301 to https */
    rt_str route_name;          /* %ROUTE_NAME% ("" none) */
    uint32_t vs;                /* VSES index of the VirtualService the route or chain came
                                   from, IMG_NONE for none (format 2; added) */
} rt_decision;

/* The request as the HTTP parser saw it. Strings need not be NUL-terminated. */
typedef const char *(*rt_header_fn)(void *ud, const char *name, size_t name_len, size_t *value_len);
typedef struct rt_request {
    const char *method; size_t method_len;
    const char *authority; size_t authority_len;    /* Host / :authority, as received */
    const char *path; size_t path_len;              /* request target with query */
    const char *scheme; size_t scheme_len;          /* "http" / "https" of the downstream */
    /* Other headers by lowercase name; NULL when absent. Several values of
    ** one header must be returned joined with ",". May be NULL: no headers. */
    rt_header_fn header; void *header_ud;
    uint64_t random;                                /* Envoy's random_value */
} rt_request;

/* HTTP: pick the virtual host and the first matching route row of an
** HTTP chain. Always fills d (NO_ROUTE when nothing matches). */
void rt_route_http(const rt_image *img, const rt_chain *c, const rt_request *req, rt_decision *d);
/* TCP chains (plain TCP, TLS passthrough, TLS terminated then TCP). */
void rt_route_tcp(const rt_image *img, const rt_chain *c, uint64_t random, rt_decision *d);

/* After an HTTP decision: the :path and :authority to send upstream, the
** Location of a redirect. Each writes at most cap bytes (NUL included) and
** returns the length, or -1 when cap is too small. */
int rt_rewrite_path(const rt_image *img, const rt_decision *d, const rt_request *req, char *buf, size_t cap);
int rt_rewrite_authority(const rt_image *img, const rt_decision *d, const rt_request *req, char *buf, size_t cap);
int rt_redirect_location(const rt_image *img, const rt_decision *d, const rt_request *req, char *buf, size_t cap);
rt_str rt_direct_body(const rt_image *img, const rt_decision *d);

/* ------------------------------------------------------------ route actions */

typedef struct rt_retry {
    bool enabled;               /* false: no retry policy (attempts <= 0) */
    uint32_t num_retries;
    rt_str retry_on;
    uint32_t per_try_timeout_ms, backoff_ms, host_selection_attempts;
    bool previous_hosts, remote_localities;
    uint32_t ncodes;
} rt_retry;

typedef struct rt_fault {
    bool delay, abort, grpc;
    uint32_t delay_ms, delay_per_million;
    uint32_t abort_status, abort_per_million;
} rt_fault;

typedef struct rt_cors {
    bool present;
    rt_str methods, headers, expose;
    bool max_age_set; uint32_t max_age;
    int credentials;            /* -1 unset, 0 false, 1 true */
    bool forward_unmatched;
    uint32_t norigins;
} rt_cors;

typedef struct rt_policy {
    uint32_t action;            /* IMG_ACTION_* */
    uint32_t timeout_ms;        /* 0: none (Istio's default) */
    rt_retry retry;
    rt_fault fault;
    rt_cors cors;
    uint32_t nmirrors;
    uint32_t nreq_headers, nresp_headers;       /* route level */
} rt_policy;

typedef struct rt_header_op { uint32_t op; rt_str name, value; } rt_header_op;   /* IMG_HOP_* */
typedef struct rt_mirror { uint32_t cluster, per_million; } rt_mirror;
typedef struct rt_match { uint32_t op; rt_str value; bool invert; } rt_match;

/* The action records of a decision's route (d->action_rec). */
void rt_policy_get(const rt_image *img, const rt_decision *d, rt_policy *out);
uint32_t rt_retry_code(const rt_image *img, const rt_decision *d, uint32_t i);
rt_header_op rt_req_header_op(const rt_image *img, const rt_decision *d, uint32_t i);
rt_header_op rt_resp_header_op(const rt_image *img, const rt_decision *d, uint32_t i);
rt_mirror rt_mirror_get(const rt_image *img, const rt_decision *d, uint32_t i);
rt_match rt_cors_origin(const rt_image *img, const rt_decision *d, uint32_t i);
/* Does an Origin header value pass the CORS allowOrigins of the route? */
bool rt_cors_origin_allowed(const rt_image *img, const rt_decision *d, const char *origin, size_t len);

/* The clusters of a split (d->target) with weights; per-destination
** header operations through the WCLUSTERS index (d->wcluster). */
typedef struct rt_weighted { uint32_t cluster, weight; uint32_t nreq_headers, nresp_headers; rt_str authority; } rt_weighted;
uint32_t rt_target_count(const rt_image *img, uint32_t target);
rt_weighted rt_target_at(const rt_image *img, uint32_t target, uint32_t i);
rt_header_op rt_wcluster_req_header_op(const rt_image *img, uint32_t wcluster, uint32_t i);
rt_header_op rt_wcluster_resp_header_op(const rt_image *img, uint32_t wcluster, uint32_t i);

/* Where the matched route came from (false: a default route, no VS). */
typedef struct rt_origin_info {
    rt_str vs_ns, vs_name;
    uint32_t kind;              /* IMG_ENTRY_*: http[], tls[], tcp[] */
    uint32_t entry, match;      /* [entry] of the root VS; match UINT32_MAX: none */
    rt_str delegate_ns, delegate_name;  /* "" unless merged from a delegate VS */
} rt_origin_info;
bool rt_origin_get(const rt_image *img, const rt_decision *d, rt_origin_info *out);
/* "ns/name.http[0].match[1]" or the route name: `route` in meshrt route -o json */
int rt_route_label(const rt_image *img, const rt_decision *d, char *buf, size_t cap);
rt_str rt_vhost_domain(const rt_image *img, uint32_t vhost, uint32_t *port);

/* ------------------------------------------------------------ clusters */

typedef struct rt_cluster_info {
    rt_str name, host, subset;
    uint32_t port;
    uint32_t kind;              /* IMG_CLUSTER_*: MISSING is "not defined" (503 NC) */
    uint32_t protocol;          /* IMG_PROTO_* */
    bool mesh_external;
    uint32_t nendpoints;
    /* settings (Istio defaults filled in); absent for MISSING */
    uint32_t lb;                /* IMG_LB_* */
    uint32_t connect_timeout_ms;
    uint32_t max_connections, max_pending_requests, max_requests, max_retries;
    uint32_t max_requests_per_connection;   /* 0 unlimited */
    bool idle_timeout_set; uint32_t idle_timeout_ms;
    bool max_connection_duration_set; uint32_t max_connection_duration_ms;
    bool h2, use_client_protocol;
    bool outlier;               /* outlier detection configured */
    uint32_t consecutive_5xx, enforcing_5xx, consecutive_gateway, enforcing_gateway;
    uint32_t interval_ms, base_ejection_ms, max_ejection_percent, min_health_percent;
    uint32_t tls;               /* IMG_CTLS_* upstream TLS */
    rt_str sni, ca_certificates, client_certificate, private_key, credential;
    bool insecure_skip_verify;
    uint32_t nsans;
    /* consistentHash (RING_HASH, MAGLEV); hash_kind IMG_HASH_NONE: no key */
    uint32_t hash_kind;
    rt_str hash_name, cookie_path;
    uint32_t cookie_ttl_ms, ring_size;
    bool cookie_ttl_set;        /* generate a missing cookie (Set-Cookie) */
} rt_cluster_info;

typedef struct rt_endpoint_info {
    uint32_t kind;              /* IMG_EP_IP / DNS (resolve) / UNIX */
    rt_str address;
    uint32_t port, weight;
} rt_endpoint_info;

uint32_t rt_cluster_count(const rt_image *img);
void rt_cluster_get(const rt_image *img, uint32_t cluster, rt_cluster_info *out);
/* Index of the cluster with this name, IMG_NONE when absent. O(log n). */
uint32_t rt_cluster_find(const rt_image *img, const char *name, size_t len);
void rt_endpoint_get(const rt_image *img, uint32_t cluster, uint32_t i, rt_endpoint_info *out);
rt_str rt_cluster_san(const rt_image *img, uint32_t cluster, uint32_t i);

/* Names of flags for logs: "NR", "NC", "UH"; several joined with ",". */
int rt_flags_string(uint32_t flags, char *buf, size_t cap);
const char *rt_action_name(rt_action a);

#endif
