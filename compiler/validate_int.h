/*
** validate_int.h -- what the validate_*.c files share: the per-resource
** context, typed lookups that treat a value of the wrong type as absent
** (the schema stage reports it), reporting, and the primitives of Istio's
** webhook (pkg/config/validation) used by several kinds.
**
** Go semantics the helpers keep: an absent string is "", an absent number
** 0, an absent message nil, an empty list or map the same as an absent one
** (protobuf JSON decoding leaves them nil).
*/
#ifndef MC_VALIDATE_INT_H
#define MC_VALIDATE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "load.h"
#include "tree.h"
#include "validate.h"

typedef struct mc_vctx {
    mc_obj *o;
    const char *ns;         /* the resource's namespace */
    mc_node *spec;          /* spec, NULL when absent or not a map */
    const mc_node *at;      /* position for findings without a node */
    mc_arena *scratch;      /* freed after each resource */
    bool warn;              /* false where Istio drops warnings (see below) */
    /* internal.istio.io/{gateway,route}-semantics: gateway (set by Istio's
    ** Gateway API translation; relaxes a few name rules) */
    bool gw_semantics;
} mc_vctx;

/* Istio merges findings of nested checks with two helpers: AppendValidation
** keeps warnings, appendErrors keeps only errors. Where the webhook goes
** through appendErrors (subset and port-level traffic policies, HTTP and TCP
** match gateways, fault aborts), our warnings are dropped too: save
** c->warn, clear it, restore it. */

/* ---- typed lookups: NULL (or the zero value) when absent or mistyped ---- */
mc_node *mc_v_str(const mc_node *m, const char *k);
mc_node *mc_v_map(const mc_node *m, const char *k);
mc_node *mc_v_seq(const mc_node *m, const char *k);     /* non-empty only */
mc_node *mc_v_int(const mc_node *m, const char *k, int64_t *v);
mc_node *mc_v_num(const mc_node *m, const char *k, double *v);
bool        mc_v_true(const mc_node *m, const char *k);
const char *mc_v_s(const mc_node *m, const char *k);   /* "" when absent */
bool        mc_v_has(const mc_node *m, const char *k); /* non-empty string */
/* A non-empty map of any value, as Go sees a map field. */
mc_node    *mc_v_nmap(const mc_node *m, const char *k);
/* Rules that fire on a missing field must not fire when the field is
** there with the wrong type (the schema stage reports that instead):
** blank: absent, null or "";  none: absent, null, [] or {}. */
bool        mc_v_blank(const mc_node *m, const char *k);
bool        mc_v_none(const mc_node *m, const char *k);
/* present, not null, and not of type t */
bool        mc_v_odd(const mc_node *m, const char *k, mc_type t);
/* Node of key k (for positions), or fallback. */
const mc_node *mc_v_keyat(const mc_node *m, const char *k, const mc_node *fallback);

/* ---- reporting ---- */
void mc_v_report(mc_vctx *c, mc_code code, const mc_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* s[0..n) quoted the way Go's %q does, shortened past 120 bytes (scratch). */
const char *mc_v_q(mc_vctx *c, const char *s, size_t n);
const char *mc_v_qn(mc_vctx *c, const mc_node *n);      /* string node */
/* strconv.Quote exactly, for Istio's message templates */
const char *mc_v_goquote(mc_vctx *c, const char *s, size_t n);

/* ---- primitives ---- */
/* time.ParseDuration; false on a syntax error or overflow. */
bool mc_v_parse_duration(const char *s, size_t n, int64_t *ns);
/* ValidateDuration on a string node: parses, then >= 1ms and whole ms.
** Returns false and reports when not; *out gets the value when parsed. */
bool mc_v_duration(mc_vctx *c, const mc_node *n, int64_t *out);
/* validateDuration where the node may be absent: checks it when present */
void mc_v_duration_at(mc_vctx *c, const mc_node *m, const char *k);

void mc_v_port(mc_vctx *c, const mc_node *at, int64_t port, const char *what);
/* labels.Instance.Validate over a map node */
void mc_v_labels(mc_vctx *c, const mc_node *m, const char *what);
/* Go regexp compile (RE2 syntax, 1024 bytes at most) of a string node */
void mc_v_regex(mc_vctx *c, const mc_node *n, const char *where);
/* validateStringMatch (empty prefix refused) or, with uri_rules, only the
** regex part (validateStringMatchRegexp, which allows an empty prefix). */
void mc_v_string_match(mc_vctx *c, const mc_node *sm, const char *where, bool uri_rules);
/* The StringMatch's set field ("exact", "prefix", "regex") and its value
** node; NULL when none is set. */
const char *mc_v_sm_kind(const mc_node *sm, mc_node **val);

/* validateExportTo */
void mc_v_export_to(mc_vctx *c, const mc_node *seq, bool is_se, bool dr_selector);
/* validateWorkloadSelector (DR, key matchLabels) / ValidateAlphaWorkloadSelector
** (SE, key labels). Returns false when the selector has errors. */
bool mc_v_workload_selector(mc_vctx *c, const mc_node *sel, const char *key, const char *kind_note);
/* Headers{request,response}{add,set,remove} names and values. */
void mc_v_header_ops(mc_vctx *c, const mc_node *headers);
/* validateDestination */
void mc_v_destination(mc_vctx *c, const mc_node *dest);
/* validateSubsetName */
void mc_v_subset_name(mc_vctx *c, const mc_node *at, const char *name, size_t n);
/* validateGatewayNames (VS gateways and match gateways) */
void mc_v_gateway_names(mc_vctx *c, const mc_node *seq);
/* ValidateWildcardDomain (wild) / ValidateFQDN on a host string; reports
** MSH0207 with `what` naming the field; returns true when valid. */
bool mc_v_host(mc_vctx *c, const mc_node *at, const char *h, size_t n, bool wild, const char *what,
               bool report);
/* Explanation of a failed mc_dns_check, for messages. */
const char *mc_v_dns_why(mc_vctx *c, const char *h, size_t n, bool wild);

/* Istio protocol names (protocol.Parse, case-insensitive). */
typedef enum {
    MC_P_UNSUPPORTED, MC_P_TCP, MC_P_UDP, MC_P_GRPC, MC_P_GRPC_WEB, MC_P_HTTP, MC_P_HTTP_PROXY,
    MC_P_HTTP2, MC_P_HTTPS, MC_P_TLS, MC_P_MONGO, MC_P_REDIS, MC_P_MYSQL
} mc_proto;
mc_proto mc_v_proto(const char *s);
bool mc_v_proto_http(mc_proto p);   /* IsHTTP */
bool mc_v_proto_tls(mc_proto p);    /* IsTLS */
bool mc_v_proto_tcp(mc_proto p);    /* IsTCP */

/* per kind */
void mc_v_gateway(mc_vctx *c);
void mc_v_virtualservice(mc_vctx *c);
void mc_v_destinationrule(mc_vctx *c);
void mc_v_serviceentry(mc_vctx *c);

#endif
