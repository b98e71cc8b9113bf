/*
** host.h -- Istio's host-name and reference rules, shared by validation,
** analysis and lowering so they agree to the byte.
**
** Semantics follow istio/istio pkg/config/host (Name.Matches, SubsetOf),
** pilot/pkg/model/config.go (resolveGatewayName) and the analyzers' FQDN
** helpers; see ../shared/reference/istio-semantics.md 1.1-1.2 and
** istio-analyzers.md section 2.
*/
#ifndef MC_HOST_H
#define MC_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "tree.h"

/* "wildcarded" = first character '*' */
bool mc_host_wild(const char *h);
/* host.Name.SubsetOf: every name n matches is matched by o */
bool mc_host_subset(const char *n, const char *o);
/* host.Name.Matches: symmetric, wildcard-aware overlap */
bool mc_host_matches(const char *a, const char *b);

/* ResolveShortnameToFQDN: a name without any '.' (and not '*', not an IP)
** becomes name.NS.svc.DOMAIN; anything else is returned as is. */
const char *mc_host_fqdn(mc_arena *a, const char *h, const char *ns, const char *domain);
/* The analyzers' ConvertHostToFQDN: the same, except that any name
** starting with '*' is left alone. */
const char *mc_host_fqdn_analyzer(mc_arena *a, const char *h, const char *ns, const char *domain);

/* resolveGatewayName: "mesh" stays; "name" -> "ns/name"; "./name" ->
** "ns/name"; legacy "name.ns[.svc.cluster.local]" -> "ns/name". */
const char *mc_gateway_ref(mc_arena *a, const char *ref, const char *ns);

/* Address syntax (Go's net.ParseIP / ParseCIDR accept the same forms). */
bool mc_is_ipv4(const char *s);
bool mc_is_ipv6(const char *s);
bool mc_is_ip(const char *s);
bool mc_is_cidr(const char *s);

/* Kubernetes name syntax */
bool mc_dns1123_label(const char *s);        /* [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63 */
bool mc_dns1123_subdomain(const char *s);    /* labels joined by '.', <= 253 */

/* Label selector: every key=value of sel (a map node) is in labels (a
** map node). An absent or empty selector matches everything. */
bool mc_labels_match(const mc_node *sel, const mc_node *labels);

#endif
