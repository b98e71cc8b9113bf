/*
** analyze_int.h -- what the analyzer files (analyze_*.c) share: the
** analysis context (resources by kind, workloads, lazily built indexes),
** the reporting helper that deduplicates as istioctl does, and Go-style
** formatting of message parameters. Not for use outside analyze*.c.
**
** Istio's analyzers iterate Go maps, whose order is random; where the order
** changes a result (which key reports a VirtualService first, which
** ServiceEntry a wildcard lookup returns), meshc takes input order, which is
** one of the orders Istio may take.
*/
#ifndef MC_ANALYZE_INT_H
#define MC_ANALYZE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "analyze.h"
#include "arena.h"
#include "hostset.h"
#include "strmap.h"

/* A workload instance: a Pod, the pod template of a Deployment, StatefulSet
** or DaemonSet, or the assumed default ingress gateway pod. */
typedef struct mc_an_pod {
    const char *name, *ns;
    const mc_node *labels;      /* map, or NULL */
    const char *node;           /* spec.nodeName, or NULL */
    const mc_obj *obj;          /* NULL for the assumed pod */
} mc_an_pod;

/* A ServiceEntry, or a Kubernetes Service seen as one (InitServiceEntryHostMap). */
typedef struct mc_an_svc {
    const mc_obj *obj;
    bool k8s;
    const mc_node *ports;       /* seq: SE ports (number) or Service ports (port) */
    const mc_node *wl_labels;   /* SE workloadSelector.labels, or NULL */
} mc_an_svc;

typedef struct mc_an_vec { void **v; uint32_t n, cap; } mc_an_vec;

typedef struct mc_an_ctx {
    mc_input *in;
    const mc_check_opts *opt;
    mc_arena a;                 /* scratch of the running analyzer, emptied after it */
    mc_arena keep;              /* the context, the indexes, deduplication keys */
    const char *domain;         /* cluster domain, "cluster.local" */
    const char *svc_suffix;     /* ".svc.cluster.local" */
    mc_an_vec objs[MC_NKINDS];  /* visible resources per kind, input order */
    mc_an_pod *pods;
    uint32_t npods;
    bool have_workloads;        /* Pods or workload templates in the inputs */
    bool have_services;         /* Kubernetes Services in the inputs */
    bool have_secrets;
    bool assumed_gateway;       /* pods[] ends with the assumed default gateway */
    bool mesh_autoalloc;        /* MeshConfig: DNS capture + auto allocation */
    mc_strmap seen;             /* istioctl's message deduplication */
    mc_buf msg;                 /* scratch: deduplication keys */
    mc_buf key;                 /* scratch: index lookup keys */
    /* indexes, built on first use */
    bool svc_built;
    mc_strmap svc_exact;        /* "scope/fqdn" -> mc_an_svc */
    mc_strmap svc_wild;         /* "scope/tail" of wildcard hosts -> mc_an_svc */
    const char *memo_ns, *memo_host;    /* the last mc_an_dest_host query */
    const mc_node *memo_exp;
    const mc_an_svc *memo_svc;
    bool names_built[MC_NKINDS];
    mc_strmap by_name[MC_NKINDS];   /* "ns\x1fname" -> mc_obj */
    struct mc_an_vsd *vsd;      /* VirtualService destinations (analyze_vs.c) */
    bool podidx_built;
    mc_strmap podidx;           /* "key\x1fvalue" -> mc_an_vec of pod indexes */
} mc_an_ctx;

void mc_an_vec_push(mc_an_vec *v, void *p);
/* A strmap of lists: append val to key's list (key must outlive the map);
** with once, not when it is already the list's last element. */
void mc_an_multi_add(mc_an_ctx *c, mc_strmap *m, const char *key, void *val, bool once);
/* Free such a map's lists and the map. */
void mc_an_multi_free(mc_strmap *m);

/* Resources of a kind, input order, shadowed duplicates and ignored
** namespaces left out. */
static inline uint32_t mc_an_count(const mc_an_ctx *c, mc_kind k) { return c->objs[k].n; }
static inline mc_obj *mc_an_obj(const mc_an_ctx *c, mc_kind k, uint32_t i) { return c->objs[k].v[i]; }

/* Text of a scalar (string, number, bool); NULL for null, absent or a
** container. */
const char *mc_an_str(const mc_node *n);
/* Same, "" instead of NULL (Go's zero value). */
const char *mc_an_s(const mc_node *n);
/* The integer value of a scalar (an int, or a string holding one); def otherwise. */
int64_t mc_an_int(const mc_node *n, int64_t def);
/* A present, non-null node (Go: a non-nil message or list). */
static inline bool mc_an_set(const mc_node *n) { return n && n->type != MC_NULL; }

/* a, sep, b concatenated in the arena (index keys: no printf in loops) */
const char *mc_an_cat(mc_an_ctx *c, const char *a, char sep, const char *b);
/* decimal text of v in the arena */
const char *mc_an_u32(mc_an_ctx *c, uint32_t v);
/* resource.FullName.String(): "ns/name", or "name" when ns is empty */
const char *mc_an_fullname(mc_an_ctx *c, const mc_obj *o);
/* Resource by kind and "ns/name" (as resource.NewShortOrFullName builds it). */
mc_obj *mc_an_find(mc_an_ctx *c, mc_kind k, const char *ns, const char *name);
/* resource.NewShortOrFullName: "ns/name" splits at the first '/'. */
void mc_an_short_or_full(mc_an_ctx *c, const char *defns, const char *ref, const char **ns, const char **name);

/* The exportTo scopes of a resource, as a set in first-seen order: just "*"
** when exportTo is empty or holds "*", else the entries with "." read as
** the resource's namespace. */
const char **mc_an_scopes(mc_an_ctx *c, const mc_obj *o, const mc_node *export_to, uint32_t *n);
/* util.ConvertHostToFQDN with the cluster domain */
const char *mc_an_fqdn(mc_an_ctx *c, const char *ns, const char *host);
/* util.GetResourceNameFromHost, appended to out as "ns\x1fname" */
void mc_an_resource_name(mc_an_ctx *c, mc_buf *out, const char *defns, const char *host);
/* A short or cluster-local host ("reviews", "x.ns.svc.cluster.local"). */
bool mc_an_cluster_local(const mc_an_ctx *c, const char *host);
/* util.GetDestinationHost: the ServiceEntry or Service a host refers to, as
** seen from srcns with the referrer's exportTo; NULL when none. */
const mc_an_svc *mc_an_dest_host(mc_an_ctx *c, const char *srcns, const mc_node *export_to, const char *host);

/* labels.SelectorFromSet(sel).String(): "k=v,k2=v2" sorted by key. */
const char *mc_an_selector_string(mc_an_ctx *c, const mc_node *sel);
/* The value node of the first key of that string (ErrorLine's anchor). */
const mc_node *mc_an_selector_anchor(const mc_node *sel);
/* Pods whose labels the selector matches (an empty selector matches all),
** in input order; calls fn until it returns false. */
void mc_an_pods_matching(mc_an_ctx *c, const mc_node *sel, bool (*fn)(void *ud, mc_an_pod *p), void *ud);
/* Every key=value of the selector map is among the labels (a null value
** reads as ""); an empty selector matches everything. */
bool mc_an_labels_match(const mc_node *sel, const mc_node *labels);
/* A label value as Kubernetes reads it ("" for null); NULL for containers. */
const char *mc_an_label_text(const mc_node *v);

/* Report a finding as istioctl would: rendered with fmt, attached to o,
** positioned at `at`; dropped when istioctl would have dropped it as a
** duplicate (same resource, code, line and text). `istio_at` is the node
** whose line istioctl prints (util.ErrorLine), NULL when istioctl prints
** the resource's own line. */
void mc_an_report(mc_an_ctx *c, mc_code code, mc_level level, const mc_obj *o, const mc_node *at,
                  const mc_node *istio_at, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Go formatting: %q of a string, %v of a []string (a seq node, or a list) */
void mc_an_goquote(mc_buf *b, const char *s);
const char *mc_an_q(mc_an_ctx *c, const char *s);
const char *mc_an_seq_v(mc_an_ctx *c, const mc_node *seq);
const char *mc_an_list_v(mc_an_ctx *c, const char *const *items, uint32_t n);

void mc_an_vs_free(mc_an_ctx *c);

/* The analyzers, one per Istio analyzer (analyze_vs.c, analyze_gw.c, analyze_svc.c) */
void mc_an_vs_destination_hosts(mc_an_ctx *c);
void mc_an_vs_destination_rules(mc_an_ctx *c);
void mc_an_vs_gateways(mc_an_ctx *c);
void mc_an_vs_mesh_hosts(mc_an_ctx *c);
void mc_an_vs_jwt_claims(mc_an_ctx *c);
void mc_an_gw_ports(mc_an_ctx *c);
void mc_an_gw_secrets(mc_an_ctx *c);
void mc_an_gw_conflicts(mc_an_ctx *c);
void mc_an_gw_certificates(mc_an_ctx *c);
void mc_an_dr_ca_certificates(mc_an_ctx *c);
void mc_an_dr_subsets(mc_an_ctx *c);
void mc_an_se_addresses(mc_an_ctx *c);
void mc_an_se_protocols(mc_an_ctx *c);
void mc_an_deprecation(mc_an_ctx *c);

#endif
