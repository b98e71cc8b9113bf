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

/* ValidateIPAddress (netip.ParseAddr): like mc_is_ip, but an IPv6 address
** may carry a non-empty %zone. */
bool mc_is_ip_addr(const char *s);
/* ValidateIPSubnet: with exactly one '/', a CIDR (netip.ParsePrefix, no
** zone); otherwise an address as mc_is_ip_addr. */
bool mc_is_ip_subnet(const char *s);

/* Istio's name syntax (pkg/config/labels), which differs from Kubernetes'
** by allowing upper-case letters:
**   label:          [a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?, at most 63
**   wildcard label: '*', or a label prefixed by nothing, '*' or '*-' */
bool mc_istio_label(const char *s, size_t n);
bool mc_istio_wild_label(const char *s, size_t n);

/* Istio's domain-name rules (pkg/config/validation/agent):
**   wild = true:  ValidateWildcardDomain -- the first label is a wildcard
**                 label and only the rest is held to the FQDN rules, so a
**                 single label ("reviews", "*", even "123") passes;
**   wild = false: ValidateFQDN -- every label a label, a trailing dot
**                 allowed, the last label not all-numeric (Go's Atoi).
** 1..255 bytes in both cases. On MC_DNS_BAD_LABEL and MC_DNS_NUMERIC_TLD,
** *bad and *badlen give the offending label. */
typedef enum {
    MC_DNS_OK,
    MC_DNS_EMPTY,
    MC_DNS_TOO_LONG,
    MC_DNS_BAD_LABEL,
    MC_DNS_NUMERIC_TLD
} mc_dns_status;
mc_dns_status mc_dns_check(const char *h, size_t n, bool wild, const char **bad, size_t *badlen);
/* ValidatePartialWildCard fails: h holds a '*' but is neither "*" nor
** starts with "*." (so "*foo.com" and "a.*.com" are partial). */
bool mc_host_partial_wild(const char *h, size_t n);

/* Kubernetes name syntax */
bool mc_dns1123_label(const char *s);        /* [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63 */
bool mc_dns1123_subdomain(const char *s);    /* labels joined by '.', <= 253 */

/* Label selector: every key=value of sel (a map node) is in labels (a
** map node). An absent or empty selector matches everything. */
bool mc_labels_match(const mc_node *sel, const mc_node *labels);

#endif
