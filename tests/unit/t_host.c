/*
** t_host.c -- Istio host semantics: SubsetOf, Matches, FQDN rules,
** gateway references, address and name syntax.
*/
#include "host.h"
#include "t.h"

int main(void)
{
    mc_arena a;
    mc_arena_init(&a);

    ok(mc_host_subset("a.foo.com", "*.foo.com"), "a.foo.com is a subset of *.foo.com");
    ok(mc_host_subset("a.b.foo.com", "*.foo.com"), "a.b.foo.com is a subset of *.foo.com");
    ok(!mc_host_subset("foo.com", "*.foo.com"), "foo.com is not a subset of *.foo.com");
    ok(mc_host_subset("*.a.foo.com", "*.foo.com"), "*.a.foo.com is a subset of *.foo.com");
    ok(!mc_host_subset("*.foo.com", "*.a.foo.com"), "*.foo.com is not a subset of *.a.foo.com");
    ok(!mc_host_subset("*.foo.com", "a.foo.com"), "a wildcard is never a subset of a name");
    ok(mc_host_subset("anything.example", "*"), "* is a superset of everything");
    ok(mc_host_subset("*", "*"), "* is a subset of *");

    ok(mc_host_matches("*.foo.com", "a.foo.com") && mc_host_matches("a.foo.com", "*.foo.com"), "Matches is symmetric");
    ok(mc_host_matches("*.foo.com", "*.b.foo.com"), "*.foo.com matches *.b.foo.com");
    ok(!mc_host_matches("*.foo.com", "bar.com"), "*.foo.com does not match bar.com");
    ok(mc_host_matches("*", "x.y"), "* matches any name");
    ok(!mc_host_matches("Foo.com", "foo.com"), "exact comparison is case-sensitive");

    is_str(mc_host_fqdn(&a, "reviews", "prod", "cluster.local"), "reviews.prod.svc.cluster.local", "short name expands");
    is_str(mc_host_fqdn(&a, "reviews.prod", "default", "cluster.local"), "reviews.prod", "dotted name stays");
    is_str(mc_host_fqdn(&a, "*", "prod", "cluster.local"), "*", "* stays");
    is_str(mc_host_fqdn(&a, "::1", "prod", "cluster.local"), "::1", "an IPv6 address stays");
    is_str(mc_host_fqdn(&a, "reviews", "", "cluster.local"), "reviews..svc.cluster.local", "empty namespace as in Istio's harness");
    is_str(mc_host_fqdn_analyzer(&a, "*x", "ns", "cluster.local"), "*x", "analyzer form leaves wildcards alone");

    is_str(mc_gateway_ref(&a, "mesh", "ns"), "mesh", "mesh is reserved");
    is_str(mc_gateway_ref(&a, "gw", "ns"), "ns/gw", "short gateway name");
    is_str(mc_gateway_ref(&a, "./gw", "ns"), "ns/gw", "./gw");
    is_str(mc_gateway_ref(&a, "other/gw", "ns"), "other/gw", "ns/gw stays");
    is_str(mc_gateway_ref(&a, "gw.other.svc.cluster.local", "ns"), "other/gw", "legacy FQDN gateway name");
    is_str(mc_gateway_ref(&a, "gw.other", "ns"), "other/gw", "legacy name.ns gateway name");

    ok(mc_is_ip("10.0.0.1") && mc_is_ip("::1") && mc_is_ip("2001:db8::1"), "IP addresses");
    ok(!mc_is_ip("10.0.0") && !mc_is_ip("foo") && !mc_is_ip("1.2.3.4.5"), "not IP addresses");
    ok(mc_is_cidr("10.0.0.0/8") && mc_is_cidr("2001:db8::/32") && mc_is_cidr("1.2.3.4/32"), "CIDRs");
    ok(!mc_is_cidr("10.0.0.0/33") && !mc_is_cidr("10.0.0.0") && !mc_is_cidr("10.0.0.0/08") && !mc_is_cidr("/8"), "not CIDRs");

    ok(mc_dns1123_label("a-b0") && !mc_dns1123_label("A") && !mc_dns1123_label("-a") && !mc_dns1123_label("a.b"), "DNS-1123 labels");
    ok(mc_dns1123_subdomain("a.b-c.d") && !mc_dns1123_subdomain("a..b") && !mc_dns1123_subdomain("a.b."), "DNS-1123 subdomains");

    ok(mc_is_ip_addr("fe80::1%eth0") && !mc_is_ip_addr("fe80::1%") && !mc_is_ip_addr("1.2.3.4%eth0"),
       "netip.ParseAddr: IPv6 zones, non-empty, IPv6 only");
    ok(mc_is_ip_subnet("10.0.0.0/8") && mc_is_ip_subnet("10.0.0.1") && mc_is_ip_subnet("::1%lo"),
       "ValidateIPSubnet: a CIDR or an address");
    ok(!mc_is_ip_subnet("10.0.0.0/8/8") && !mc_is_ip_subnet("fe80::%lo/64") && !mc_is_ip_subnet("10.0.0.0/"),
       "ValidateIPSubnet rejects two slashes, zones in prefixes, empty lengths");

    ok(mc_istio_label("Foo-1", 5) && !mc_istio_label("-a", 2) && !mc_istio_label("", 0) && !mc_istio_label("a_b", 3),
       "Istio labels allow upper case, not _ or a leading -");
    ok(mc_istio_wild_label("*", 1) && mc_istio_wild_label("*foo", 4) && mc_istio_wild_label("*-foo", 5) &&
       !mc_istio_wild_label("**", 2) && !mc_istio_wild_label("f*o", 3), "wildcard labels");

    const char *bad;
    size_t bl;
#define DNS(h, w) mc_dns_check(h, strlen(h), w, &bad, &bl)
    ok(DNS("reviews", true) == MC_DNS_OK && DNS("*", true) == MC_DNS_OK && DNS("*.a.com", true) == MC_DNS_OK,
       "wildcard domains: short names, *, *.a.com");
    ok(DNS("123", true) == MC_DNS_OK && DNS("123", false) == MC_DNS_NUMERIC_TLD,
       "a single numeric label passes only the wildcard-domain rule (Istio quirk)");
    ok(DNS("a.com.", false) == MC_DNS_OK && DNS("*.", true) == MC_DNS_OK, "a trailing dot is allowed");
    ok(DNS("1.2.3.4", true) == MC_DNS_NUMERIC_TLD && bl == 1 && bad[0] == '4', "an IPv4 address fails on its numeric last label");
    ok(DNS("a.99999999999999999999", false) == MC_DNS_OK, "a numeric label beyond int64 is not 'numeric' for Atoi");
    ok(DNS("a.00000000000000000001", false) == MC_DNS_NUMERIC_TLD, "leading zeros do not overflow Atoi");
    ok(DNS("a.+1", false) == MC_DNS_NUMERIC_TLD, "Atoi accepts a sign, so +1 is numeric");
    ok(DNS("a..com", false) == MC_DNS_BAD_LABEL && bl == 0, "empty inner label");
    ok(DNS("*.*.com", true) == MC_DNS_BAD_LABEL && bl == 1 && bad[0] == '*', "only the first label may be a wildcard");
    ok(DNS("a_b.com", true) == MC_DNS_BAD_LABEL && bl == 3, "underscores are refused, label named");
    ok(DNS("", true) == MC_DNS_EMPTY, "empty name");
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    for (int i = 60; i < 290; i += 61) longname[i] = '.';
    ok(DNS(longname, true) == MC_DNS_TOO_LONG, "over 255 bytes");
#undef DNS
    ok(mc_host_partial_wild("*foo.com", 8) && mc_host_partial_wild("a.*.com", 7) &&
       !mc_host_partial_wild("*", 1) && !mc_host_partial_wild("*.foo.com", 9) && !mc_host_partial_wild("foo.com", 7),
       "partial wildcards");

    mc_arena_free(&a);
    return t_done();
}
