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

    mc_arena_free(&a);
    return t_done();
}
