/*
** host.c -- host names, gateway references, address and name syntax.
*/
#include "host.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

bool mc_host_wild(const char *h) { return h && h[0] == '*'; }

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && memcmp(s + a - b, suf, b) == 0;
}

bool mc_host_subset(const char *n, const char *o)
{
    bool nw = mc_host_wild(n), ow = mc_host_wild(o);
    if (nw) {
        if (!ow) return false;
        if (strlen(n) < strlen(o)) return false;
        return has_suffix(n + 1, o + 1);
    }
    if (ow) return has_suffix(n, o + 1);
    return strcmp(n, o) == 0;
}

bool mc_host_matches(const char *a, const char *b)
{
    bool aw = mc_host_wild(a), bw = mc_host_wild(b);
    if (aw) {
        if (bw) {
            if (strlen(a) < strlen(b)) return has_suffix(b + 1, a + 1);
            return has_suffix(a + 1, b + 1);
        }
        return has_suffix(b, a + 1);
    }
    if (bw) return has_suffix(a, b + 1);
    return strcmp(a, b) == 0;
}

const char *mc_host_fqdn(mc_arena *a, const char *h, const char *ns, const char *domain)
{
    if (!h || strcmp(h, "*") == 0 || strchr(h, '.') || mc_is_ip(h)) return h;
    return mc_arena_printf(a, "%s.%s.svc.%s", h, ns ? ns : "", domain ? domain : "cluster.local");
}

const char *mc_host_fqdn_analyzer(mc_arena *a, const char *h, const char *ns, const char *domain)
{
    if (!h || h[0] == '*' || strchr(h, '.')) return h;
    return mc_arena_printf(a, "%s.%s.svc.%s", h, ns ? ns : "", domain ? domain : "cluster.local");
}

const char *mc_gateway_ref(mc_arena *a, const char *ref, const char *ns)
{
    if (!ref || strcmp(ref, "mesh") == 0) return ref;
    const char *slash = strchr(ref, '/');
    if (!slash) {
        const char *dot = strchr(ref, '.');
        if (!dot) return mc_arena_printf(a, "%s/%s", ns, ref);
        /* legacy FQDN: name.ns[.svc.cluster.local] -> ns/name */
        const char *rest = dot + 1;
        const char *dot2 = strchr(rest, '.');
        size_t nslen = dot2 ? (size_t)(dot2 - rest) : strlen(rest);
        return mc_arena_printf(a, "%.*s/%.*s", (int)nslen, rest, (int)(dot - ref), ref);
    }
    if (slash - ref == 1 && ref[0] == '.') return mc_arena_printf(a, "%s/%s", ns, slash + 1);
    return ref;
}

bool mc_is_ipv4(const char *s)
{
    struct in_addr a;
    return s && inet_pton(AF_INET, s, &a) == 1;
}

bool mc_is_ipv6(const char *s)
{
    struct in6_addr a;
    if (!s || !strchr(s, ':')) return false;
    /* Go's ParseIP rejects zones; inet_pton too */
    return inet_pton(AF_INET6, s, &a) == 1;
}

bool mc_is_ip(const char *s) { return mc_is_ipv4(s) || mc_is_ipv6(s); }

bool mc_is_cidr(const char *s)
{
    if (!s) return false;
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1]) return false;
    char addr[64];
    size_t n = (size_t)(slash - s);
    if (n >= sizeof addr) return false;
    memcpy(addr, s, n);
    addr[n] = '\0';
    int max = mc_is_ipv4(addr) ? 32 : mc_is_ipv6(addr) ? 128 : -1;
    if (max < 0) return false;
    const char *p = slash + 1;
    if (strlen(p) > 3) return false;
    for (const char *q = p; *q; q++) if (*q < '0' || *q > '9') return false;
    /* Go rejects leading zeros in the prefix length ("/08") */
    if (p[0] == '0' && p[1]) return false;
    return atoi(p) <= max;
}

bool mc_is_ip_addr(const char *s)
{
    if (!s) return false;
    const char *pct = strchr(s, '%');
    if (!pct) return mc_is_ip(s);
    /* a zone: non-empty, after an IPv6 address */
    if (!pct[1]) return false;
    size_t n = (size_t)(pct - s);
    char addr[64];
    if (n >= sizeof addr) return false;
    memcpy(addr, s, n);
    addr[n] = '\0';
    return mc_is_ipv6(addr);
}

bool mc_is_ip_subnet(const char *s)
{
    if (!s) return false;
    const char *slash = strchr(s, '/');
    if (slash && !strchr(slash + 1, '/')) return !strchr(s, '%') && mc_is_cidr(s);
    return mc_is_ip_addr(s);
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool mc_istio_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !alnum(s[0]) || !alnum(s[n - 1])) return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!alnum(s[i]) && s[i] != '-') return false;
    return true;
}

bool mc_istio_wild_label(const char *s, size_t n)
{
    if (n > 63) return false;
    if (n == 1 && s[0] == '*') return true;
    if (n > 0 && s[0] == '*') {
        s++, n--;
        if (n > 0 && s[0] == '-') s++, n--;
    }
    return mc_istio_label(s, n);
}

/* Go's strconv.Atoi succeeds: [+-]?[0-9]+ within int64 */
static bool go_atoi_ok(const char *s, size_t n)
{
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) neg = s[0] == '-', s++, n--;
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    while (n > 1 && s[0] == '0') s++, n--;
    if (n != 19) return n < 19;
    return memcmp(s, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* ValidateDNS1123Labels */
static mc_dns_status dns_labels(const char *h, size_t n, const char **bad, size_t *badlen)
{
    const char *last = h;
    for (size_t i = 0; i < n; i++)
        if (h[i] == '.') last = h + i + 1;
    size_t lastn = n - (size_t)(last - h);
    if (go_atoi_ok(last, lastn)) {
        *bad = last, *badlen = lastn;
        return MC_DNS_NUMERIC_TLD;
    }
    const char *p = h, *end = h + n;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t l = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (!dot && l == 0) return MC_DNS_OK;   /* trailing dot */
        if (!mc_istio_label(p, l)) {
            *bad = p, *badlen = l;
            return MC_DNS_BAD_LABEL;
        }
        if (!dot) return MC_DNS_OK;
        p = dot + 1;
    }
}

mc_dns_status mc_dns_check(const char *h, size_t n, bool wild, const char **bad, size_t *badlen)
{
    const char *b0;
    size_t l0;
    if (!bad) bad = &b0;
    if (!badlen) badlen = &l0;
    if (n > 255) return MC_DNS_TOO_LONG;
    if (n == 0) return MC_DNS_EMPTY;
    if (!wild) return dns_labels(h, n, bad, badlen);
    const char *dot = memchr(h, '.', n);
    size_t l = dot ? (size_t)(dot - h) : n;
    if (!mc_istio_wild_label(h, l)) {
        *bad = h, *badlen = l;
        return MC_DNS_BAD_LABEL;
    }
    if (!dot) return MC_DNS_OK;
    return dns_labels(dot + 1, n - l - 1, bad, badlen);
}

bool mc_host_partial_wild(const char *h, size_t n)
{
    if (!memchr(h, '*', n) || n == 1) return false;
    return !(n >= 2 && h[0] == '*' && h[1] == '.');
}

static bool label_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static bool label_n(const char *s, size_t n)
{
    if (n == 0 || n > 63) return false;
    if (!label_char(s[0]) || !label_char(s[n - 1])) return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!label_char(s[i]) && s[i] != '-') return false;
    return true;
}

bool mc_dns1123_label(const char *s) { return s && label_n(s, strlen(s)); }

bool mc_dns1123_subdomain(const char *s)
{
    if (!s) return false;
    size_t n = strlen(s);
    if (n == 0 || n > 253) return false;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (!label_n(p, l)) return false;
        if (!dot) return true;
        p = dot + 1;
    }
}

bool mc_labels_match(const mc_node *sel, const mc_node *labels)
{
    if (!sel || sel->type != MC_MAP) return true;
    MC_MAP_EACH(sel, i) {
        const mc_node *k = mc_key(sel, i), *v = mc_val(sel, i);
        const mc_node *lv = mc_get(labels, k->u.s);
        const char *want = mc_text(v), *have = mc_text(lv);
        if (!want || !have || strcmp(want, have) != 0) return false;
    }
    return true;
}
