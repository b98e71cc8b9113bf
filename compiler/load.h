/*
** load.h -- inputs to resources, as `kubectl apply -f` reads them.
**
** Inputs are paths (files; directories: *.yaml *.yml *.json in sorted
** order, recursing with -R), '-' for stdin, and http(s) URLs (libcurl).
** Each document becomes one resource (mc_obj); kind: List and *List kinds
** are expanded to their items. Resources keep their tree (tree.h) and
** their position; nothing is validated here beyond the envelope
** (apiVersion, kind, metadata.name).
*/
#ifndef MC_LOAD_H
#define MC_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "strmap.h"
#include "tree.h"

/* Kinds meshc reads. The first four are checked and compiled; the others
** are context for analysis (hosts, workloads, secrets). */
#define MC_KINDS(X) \
    X(GATEWAY,         "Gateway",               "networking.istio.io") \
    X(VIRTUALSERVICE,  "VirtualService",        "networking.istio.io") \
    X(DESTINATIONRULE, "DestinationRule",       "networking.istio.io") \
    X(SERVICEENTRY,    "ServiceEntry",          "networking.istio.io") \
    X(SIDECAR,         "Sidecar",               "networking.istio.io") \
    X(WORKLOADENTRY,   "WorkloadEntry",         "networking.istio.io") \
    X(SERVICE,         "Service",               "") \
    X(POD,             "Pod",                   "") \
    X(NAMESPACE,       "Namespace",             "") \
    X(NODE,            "Node",                  "") \
    X(SECRET,          "Secret",                "") \
    X(CONFIGMAP,       "ConfigMap",             "") \
    X(DEPLOYMENT,      "Deployment",            "apps") \
    X(STATEFULSET,     "StatefulSet",           "apps") \
    X(DAEMONSET,       "DaemonSet",             "apps") \
    X(REQUESTAUTHN,    "RequestAuthentication", "security.istio.io") \
    X(K8SGATEWAY,      "Gateway",               "gateway.networking.k8s.io")

typedef enum {
#define X(id, kind, group) MC_K_##id,
    MC_KINDS(X)
#undef X
    MC_NKINDS
} mc_kind;

#define MC_K_NETWORKING_LAST MC_K_SERVICEENTRY   /* kinds <= this are checked */

typedef enum { MC_V_NONE, MC_V_V1ALPHA3, MC_V_V1BETA1, MC_V_V1 } mc_version;

typedef struct mc_obj {
    mc_origin o;            /* kind name, namespace, name, suppression */
    mc_kind kind;
    mc_version version;     /* networking.istio.io kinds */
    const char *api_version;
    mc_node *root;          /* the document (or List item) */
    mc_node *meta;          /* metadata, or NULL */
    mc_node *spec;          /* spec, or NULL */
    const char *created;    /* metadata.creationTimestamp text, or NULL */
    uint32_t seq;           /* input order */
    bool ns_defaulted;      /* metadata.namespace absent */
    bool shadowed;          /* a later document defines the same resource */
} mc_obj;

typedef struct mc_load_opts {
    const char *ns;             /* namespace for resources without one */
    const char *stdin_name;     /* "<stdin>" unless --stdin-filename */
    bool recursive;             /* -R */
    bool strict_kinds;          /* --strict-kinds */
    long url_timeout;           /* seconds */
} mc_load_opts;

typedef struct mc_input {
    mc_arena arena;             /* trees and strings of every resource */
    mc_obj **objs;              /* all resources, input order */
    uint32_t nobjs, capobjs;
    uint32_t nfiles;            /* sources read */
    uint32_t skipped_kinds;     /* documents of kinds meshc does not read */
    uint32_t skipped_files;     /* directory entries with other extensions */
    /* Called for each resource as soon as its document is read, while its
    ** tree is still in cache (check.c runs the per-resource stages here). */
    void (*on_obj)(void *ud, mc_obj *o);
    void *on_obj_ud;
} mc_input;

void mc_input_init(mc_input *in);
void mc_input_free(mc_input *in);
/* Read one input argument; problems are reported through diag. */
void mc_load(mc_input *in, const mc_load_opts *opt, const char *arg);
/* After all inputs: mark shadowed duplicates (MSH0017); no mc_load after it. */
void mc_load_finish(mc_input *in);

const char *mc_kind_name(mc_kind k);
const char *mc_kind_group(mc_kind k);

#endif
