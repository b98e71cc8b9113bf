/*
** validate_vs.c -- VirtualService: ValidateVirtualService and everything
** under it (virtualservice.go: validateHTTPRoute and its conflicts, match
** requests, header operations, authority rewrite; validation.go: TLS and
** TCP routes, SNI hosts, CORS, fault injection, mirrors, redirect,
** rewrite, retries, destinations and weights), plus the unreachable and
** ineffective-rule warnings istioctl reports as IST0130 and IST0131.
*/
#include "validate_int.h"
#include "host.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ hosts */

static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && memcmp(s, p, pl) == 0;
}

static bool seq_has(const mc_node *seq, const char *s)
{
    MC_SEQ_EACH(seq, i) {
        const mc_node *e = mc_item(seq, i);
        if (e->type == MC_STR && strcmp(e->u.s, s) == 0 && e->n == strlen(s)) return true;
    }
    return false;
}

/* the n-th '_'-separated part of s, trimmed of '.' at both ends */
static void underscore_part(const char *s, size_t n, int k, const char **p, size_t *pl)
{
    const char *b = s, *end = s + n;
    for (int i = 0; i < k && b; i++) {
        b = memchr(b, '_', (size_t)(end - b));
        if (b) b++;
    }
    if (!b) { *p = s; *pl = 0; return; }
    const char *e = memchr(b, '_', (size_t)(end - b));
    if (!e) e = end;
    while (b < e && *b == '.') b++;
    while (e > b && e[-1] == '.') e--;
    *p = b;
    *pl = (size_t)(e - b);
}

static bool any_in(const char *s, size_t n, bool (*f)(char))
{
    for (size_t i = 0; i < n; i++)
        if (f(s[i])) return true;
    return false;
}
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_letter(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* ValidateWildcardDomainForVirtualServiceBoundToGateway (sni) or
** ValidateWildcardDomain; reports and returns false when invalid, except
** that an invalid name which is an IP address is left to the caller
** (*is_ip set, nothing reported). */
static bool vs_host(mc_vctx *c, const mc_node *hn, bool gateway_rules, bool sni, const char *what, bool *is_ip)
{
    const char *h = hn->u.s;
    size_t n = hn->n;
    *is_ip = false;
    mc_dns_status st = mc_dns_check(h, n, true, NULL, NULL);
    bool auto_sni = gateway_rules && sni && st != MC_DNS_EMPTY && st != MC_DNS_TOO_LONG && has_prefix(h, n, "outbound_");
    if (auto_sni) {
        /* outbound_.<PORT>_._.<HOSTNAME>, as AUTO_PASSTHROUGH gateways see it */
        int parts = 1;
        for (size_t i = 0; i < n; i++) parts += h[i] == '_';
        const char *port, *name;
        size_t portl, namel;
        underscore_part(h, n, 1, &port, &portl);
        underscore_part(h, n, 3, &name, &namel);
        const char *why = NULL;
        if (parts < 4) why = "it has fewer than four '_'-separated parts";
        else if (!any_in(port, portl, is_digit)) why = "the port part has no digit";
        else if (!any_in(name, namel, is_letter)) why = "the host part has no letter";
        if (!why) return true;
        if (!memchr(h, '\0', n) && mc_is_ip_addr(h)) { *is_ip = true; return false; }
        mc_v_report(c, MSH0305, hn, "invalid %s %s: %s; the form is outbound_.<PORT>_._.<HOSTNAME>", what,
                    mc_v_qn(c, hn), why);
        return false;
    }
    if (st == MC_DNS_OK) return true;
    if (!memchr(h, '\0', n) && mc_is_ip_addr(h)) { *is_ip = true; return false; }
    mc_v_report(c, MSH0207, hn, "invalid host %s in %s: %s", mc_v_qn(c, hn), what, mc_v_dns_why(c, h, n, true));
    return false;
}

/* host.Name.Matches over raw strings */
static bool host_matches(const mc_node *a, const mc_node *b)
{
    const char *x = a->u.s, *y = b->u.s;
    size_t xl = a->n, yl = b->n;
    bool xw = xl && x[0] == '*', yw = yl && y[0] == '*';
    if (xw && yw) {
        if (xl < yl) return memcmp(y + yl - (xl - 1), x + 1, xl - 1) == 0;
        return memcmp(x + xl - (yl - 1), y + 1, yl - 1) == 0;
    }
    if (xw) return yl >= xl - 1 && memcmp(y + yl - (xl - 1), x + 1, xl - 1) == 0;
    if (yw) return xl >= yl - 1 && memcmp(x + xl - (yl - 1), y + 1, yl - 1) == 0;
    return xl == yl && memcmp(x, y, xl) == 0;
}

/* Duplicate hosts: each host that Matches an earlier one is reported once,
** naming the first such earlier host (the webhook reports every pair).
** Few hosts: pairwise. Many: four indexes, so the work is the sum of
** the squared host lengths, not the square of their number:
**   E   exact names            NS  every suffix of exact names
**   W   wildcard stems (w+1)   WS  every suffix of wildcard stems
** A name h matches an earlier wildcard w iff some suffix of h is in W; a
** wildcard stem t matches an earlier name iff t is in NS, an earlier
** wildcard iff a suffix of t is in W or t is in WS. */
typedef struct host_ix { mc_strmap e, ns, w, ws; } host_ix;

static void ix_min(const mc_strmap *m, const char *k, size_t n, uintptr_t *best)
{
    uintptr_t v = (uintptr_t)mc_strmap_get(m, k, n);
    if (v && (*best == 0 || v < *best)) *best = v;
}

static void ix_put(mc_strmap *m, const char *k, size_t n, uintptr_t v)
{
    bool found;
    void **slot = mc_strmap_put(m, k, n, &found);
    if (!found) *slot = (void *)v;
}

static void duplicate_hosts(mc_vctx *c, const mc_node *hosts)
{
    uint32_t n = hosts->n;
    if (n <= 16) {
        for (uint32_t j = 1; j < n; j++) {
            const mc_node *b = mc_item(hosts, j);
            if (b->type != MC_STR) continue;
            for (uint32_t i = 0; i < j; i++) {
                const mc_node *a = mc_item(hosts, i);
                if (a->type != MC_STR || !host_matches(a, b)) continue;
                mc_v_report(c, MSH0307, b, "host %s overlaps host %s listed before it in this VirtualService",
                            mc_v_qn(c, b), mc_v_qn(c, a));
                break;
            }
        }
        return;
    }
    host_ix x;
    mc_strmap_init(&x.e);
    mc_strmap_init(&x.ns);
    mc_strmap_init(&x.w);
    mc_strmap_init(&x.ws);
    for (uint32_t j = 0; j < n; j++) {
        const mc_node *b = mc_item(hosts, j);
        if (b->type != MC_STR) continue;
        const char *h = b->u.s;
        size_t hl = b->n;
        bool wild = hl && h[0] == '*';
        const char *t = wild ? h + 1 : h;
        size_t tl = wild ? hl - 1 : hl;
        uintptr_t best = 0;     /* index + 1 of the first earlier match */
        if (wild) {
            ix_min(&x.ns, t, tl, &best);
            ix_min(&x.ws, t, tl, &best);
        } else {
            ix_min(&x.e, h, hl, &best);
        }
        for (size_t s = 0; s <= tl; s++) ix_min(&x.w, t + s, tl - s, &best);
        if (best) {
            const mc_node *a = mc_item(hosts, (uint32_t)(best - 1));
            mc_v_report(c, MSH0307, b, "host %s overlaps host %s listed before it in this VirtualService",
                        mc_v_qn(c, b), mc_v_qn(c, a));
        }
        if (wild) {
            ix_put(&x.w, t, tl, j + 1);
            for (size_t s = 0; s <= tl; s++) ix_put(&x.ws, t + s, tl - s, j + 1);
        } else {
            ix_put(&x.e, h, hl, j + 1);
            for (size_t s = 0; s <= tl; s++) ix_put(&x.ns, t + s, tl - s, j + 1);
        }
    }
    mc_strmap_free(&x.e);
    mc_strmap_free(&x.ns);
    mc_strmap_free(&x.w);
    mc_strmap_free(&x.ws);
}

/* ------------------------------------------------------------ HTTP rules */

/* jwt.ToRoutingClaim(name).Match */
static bool jwt_claim(const char *s, size_t n)
{
    static const char P[] = "@request.auth.claims";
    size_t pl = sizeof P - 1;
    if (n < pl || strncasecmp(s, P, pl) != 0) return false;
    const char *r = s + pl;
    size_t rl = n - pl;
    if (rl > 1 && r[0] == '.') return true;
    return rl > 2 && r[0] == '[' && r[rl - 1] == ']';
}

/* RFC 7230 tchar, as Istio's character class writes it: "+-." is a range,
** so ',' is accepted too. */
static bool tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch >= '+' && ch <= '.') || (ch && strchr("!#$%&'*^_`|~", ch));
}

static bool token(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!tchar(s[i])) return false;
    return true;
}

/* ValidateHTTPHeaderNameOrJwtClaimRoute */
static void match_header_name(mc_vctx *c, const mc_node *k, const char *where)
{
    const char *s = mc_text(k);
    size_t n = k->n;
    if (!s) return;
    if (n == 0) {
        mc_v_report(c, MSH0314, k, "empty header name in match %s", where);
        return;
    }
    if (jwt_claim(s, n)) return;
    static const char *pseudo[] = { ":method", ":scheme", ":authority", ":path", ":status" };
    for (size_t i = 0; i < 5; i++)
        if (strlen(pseudo[i]) == n && memcmp(pseudo[i], s, n) == 0) return;
    if (!token(s, n))
        mc_v_report(c, MSH0314, k, "invalid header name %s in match %s: only RFC 7230 token characters are allowed",
                    mc_v_q(c, s, n), where);
}

/* validateHTTPRouteMatchRequest */
static void http_matches(mc_vctx *c, const mc_node *matches)
{
    MC_SEQ_EACH(matches, i) {
        const mc_node *m = mc_item(matches, i);
        if (m->type != MC_MAP) continue;
        const mc_node *h = mc_v_map(m, "headers");
        MC_MAP_EACH(h, j) {
            match_header_name(c, mc_key(h, j), "headers");
            mc_v_string_match(c, mc_val(h, j), "headers", false);
        }
        const mc_node *wh = mc_v_map(m, "withoutHeaders");
        MC_MAP_EACH(wh, j) {
            match_header_name(c, mc_key(wh, j), "withoutHeaders");
            /* regex "*" means "header present", not a regex */
            const mc_node *re = mc_v_str(mc_val(wh, j), "regex");
            if (!(re && re->n == 1 && re->u.s[0] == '*'))
                mc_v_string_match(c, mc_val(wh, j), "withoutHeaders", false);
        }
        mc_v_string_match(c, mc_get(m, "uri"), "uri", true);
        mc_v_string_match(c, mc_get(m, "scheme"), "scheme", false);
        mc_v_string_match(c, mc_get(m, "method"), "method", false);
        mc_v_string_match(c, mc_get(m, "authority"), "authority", false);
        const mc_node *qp = mc_v_map(m, "queryParams");
        MC_MAP_EACH(qp, j) mc_v_string_match(c, mc_val(qp, j), "queryParams", false);
    }
    MC_SEQ_EACH(matches, i) {
        const mc_node *m = mc_item(matches, i);
        if (m->type != MC_MAP) continue;
        int64_t port;
        const mc_node *pn = mc_v_int(m, "port", &port);
        if (pn && port != 0) mc_v_port(c, pn, port, "match port");
        mc_v_labels(c, mc_get(m, "sourceLabels"), "match sourceLabels");
        bool w = c->warn;
        c->warn = false;    /* appendErrors: the legacy-name warning is dropped */
        mc_v_gateway_names(c, mc_get(m, "gateways"));
        c->warn = w;
        const mc_node *sn = mc_v_str(m, "sourceNamespace");
        if (sn && sn->n && !mc_istio_label(sn->u.s, sn->n))
            mc_v_report(c, MSH0319, sn, "invalid sourceNamespace %s: it must be a namespace name (a DNS label)",
                        mc_v_qn(c, sn));
    }
}

/* validateHTTPRouteConflict */
static void route_conflicts(mc_vctx *c, const mc_node *r, bool delegate_vs)
{
    const mc_node *redirect = mc_v_map(r, "redirect"), *dr = mc_v_map(r, "directResponse"),
                  *fault = mc_v_map(r, "fault"), *rewrite = mc_v_map(r, "rewrite"), *route = mc_v_seq(r, "route"),
                  *delegate = mc_v_map(r, "delegate");
    if (!delegate_vs && delegate) {
        if (redirect)
            mc_v_report(c, MSH0309, mc_get_key(r, "redirect"), "an HTTP route that delegates may not also redirect");
        if (route)
            mc_v_report(c, MSH0309, mc_get_key(r, "route"), "an HTTP route that delegates may not also have route "
                        "destinations");
        return;
    }
    if (delegate_vs && delegate)
        mc_v_report(c, MSH0310, mc_get_key(r, "delegate"), "a delegate VirtualService's route cannot delegate again");
    const char *with = redirect ? "redirect" : dr ? "directResponse" : NULL;
    if (with) {
        const mc_node *w = mc_get_key(r, with);
        if (route) mc_v_report(c, MSH0311, w, "an HTTP route cannot have both route and %s", with);
        if (fault) mc_v_report(c, MSH0311, w, "an HTTP route cannot have both fault and %s", with);
        if (rewrite) mc_v_report(c, MSH0311, w, "an HTTP route cannot have both rewrite and %s", with);
        if (redirect && dr) mc_v_report(c, MSH0311, w, "an HTTP route cannot have both directResponse and redirect");
    } else if (mc_v_none(r, "route") && mc_v_none(r, "redirect") && mc_v_none(r, "directResponse")) {
        mc_v_report(c, MSH0312, r, "HTTP route has no action: set route, redirect or directResponse");
    }
    if (mc_v_map(r, "mirror") && mc_v_seq(r, "mirrors"))
        mc_v_report(c, MSH0313, mc_get_key(r, "mirrors"), "an HTTP route cannot have both mirror and mirrors");
}

static const char *cors_methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS",
                                      "TRACE", "*" };

/* validateCORSPolicy */
static void cors(mc_vctx *c, const mc_node *p)
{
    const mc_node *ao = mc_get(p, "allowOrigins");
    MC_SEQ_EACH(ao, i) {
        const mc_node *o = mc_item(ao, i);
        if (o->type != MC_MAP) continue;
        mc_node *v;
        const char *k = mc_v_sm_kind(o, &v);
        if (k ? v->n == 0 : mc_v_blank(o, "exact") && mc_v_blank(o, "prefix") && mc_v_blank(o, "regex")) {
            mc_v_report(c, MSH0323, o, "allowOrigins[%u] matches nothing: give exact, prefix or regex a non-empty "
                        "value", i);
            continue;
        }
        if (k) mc_v_string_match(c, o, "corsPolicy.allowOrigins", true);
    }
    const mc_node *am = mc_get(p, "allowMethods");
    MC_SEQ_EACH(am, i) {
        const mc_node *m = mc_item(am, i);
        if (m->type != MC_STR) continue;
        bool ok = false;
        for (size_t j = 0; j < sizeof cors_methods / sizeof cors_methods[0]; j++)
            if (strlen(cors_methods[j]) == m->n && memcmp(cors_methods[j], m->u.s, m->n) == 0) ok = true;
        if (!ok)
            mc_v_report(c, MSH0324, m, "%s is not an HTTP method CORS accepts (GET, HEAD, POST, PUT, PATCH, DELETE, "
                        "CONNECT, OPTIONS, TRACE or *; upper case)", mc_v_qn(c, m));
    }
    static const char *lists[] = { "allowHeaders", "exposeHeaders" };
    for (int l = 0; l < 2; l++) {
        const mc_node *hs = mc_get(p, lists[l]);
        MC_SEQ_EACH(hs, i) {
            const mc_node *h = mc_item(hs, i);
            if (h->type != MC_STR || (h->n == 1 && h->u.s[0] == '*')) continue;
            if (!token(h->u.s, h->n))
                mc_v_report(c, MSH0325, h, "invalid header name %s in corsPolicy.%s", mc_v_qn(c, h), lists[l]);
        }
    }
    const mc_node *ma = mc_v_str(p, "maxAge");
    int64_t d;
    if (ma) {
        mc_v_duration(c, ma, NULL);
        /* the Duration's nanos field is positive: not whole seconds */
        if (mc_v_parse_duration(ma->u.s, ma->n, &d) && d % 1000000000 > 0)
            mc_v_report(c, MSH0326, ma, "corsPolicy.maxAge %s is not a whole number of seconds (browsers cache "
                        "preflight results in seconds)", mc_v_qn(c, ma));
    }
}

/* validatePercentage */
static void fraction(mc_vctx *c, const mc_node *pct, const char *what)
{
    if (!mc_is(pct, MC_MAP)) return;
    double v;
    const mc_node *vn = mc_v_num(pct, "value", &v);
    if (v < 0.0 || v > 100.0 || (v > 0.0 && v < 0.0001))
        mc_v_report(c, MSH0329, vn ? vn : pct, "%s %g is neither 0 nor in the range 0.0001..100", what, v);
}

/* validateHTTPStatus */
static void http_status(mc_vctx *c, const mc_node *n, int64_t status, const char *what)
{
    if (status < 200 || status > 600)
        mc_v_report(c, MSH0332, n, "%s %lld is not an HTTP status in the range 200..600", what, (long long)status);
}

static const char *grpc_codes[] = { "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED" };

/* validateHTTPFaultInjection */
static void fault(mc_vctx *c, const mc_node *f)
{
    const mc_node *abort_ = mc_v_map(f, "abort"), *delay = mc_v_map(f, "delay");
    if (mc_v_blank(f, "abort") && mc_v_blank(f, "delay"))
        mc_v_report(c, MSH0328, f, "fault injection with neither abort nor delay does nothing");
    if (abort_) {
        fraction(c, mc_get(abort_, "percentage"), "fault.abort.percentage");
        MC_MAP_EACH(abort_, i) {
            const char *k = mc_text(mc_key(abort_, i));
            const mc_node *v = mc_val(abort_, i);
            if (!k) continue;
            if (strcmp(k, "grpcStatus") == 0 && v->type == MC_STR) {
                bool ok = false;
                for (size_t j = 0; j < sizeof grpc_codes / sizeof grpc_codes[0]; j++)
                    if (strlen(grpc_codes[j]) == v->n && memcmp(grpc_codes[j], v->u.s, v->n) == 0) ok = true;
                if (!ok)
                    mc_v_report(c, MSH0330, v, "unknown gRPC status %s: use a name like NOT_FOUND or UNAVAILABLE",
                                mc_v_qn(c, v));
                break;
            }
            if (strcmp(k, "http2Error") == 0 && v->type == MC_STR) {
                mc_v_report(c, MSH0331, mc_key(abort_, i), "HTTP/2 error aborts (http2Error) are not supported by "
                            "Istio yet");
                break;
            }
            int64_t st;
            if (strcmp(k, "httpStatus") == 0 && v->type == MC_INT && mc_int(v, &st)) {
                http_status(c, v, st, "fault.abort.httpStatus");
                break;
            }
        }
        /* an abort without an error type is a webhook warning that Istio
        ** drops (appendErrors), so it is not reported */
    }
    if (delay) {
        fraction(c, mc_get(delay, "percentage"), "fault.delay.percentage");
        MC_MAP_EACH(delay, i) {
            const char *k = mc_text(mc_key(delay, i));
            const mc_node *v = mc_val(delay, i);
            if (!k || v->type != MC_STR) continue;
            if (strcmp(k, "fixedDelay") == 0) {
                mc_v_duration(c, v, NULL);
                break;
            }
            if (strcmp(k, "exponentialDelay") == 0) {
                mc_v_duration(c, v, NULL);
                mc_v_report(c, MSH0331, mc_key(delay, i), "exponentialDelay is not supported by Istio yet");
                break;
            }
        }
    }
}

/* validateHTTPRedirect: the webhook stops at the first problem */
static void redirect(mc_vctx *c, const mc_node *r, const mc_node *matches)
{
    const mc_node *uri = mc_v_str(r, "uri"), *pr = mc_v_str(r, "prefixRewrite");
    bool has_uri = uri && uri->n, has_pr = pr && pr->n;
    if (has_uri && has_pr) {
        mc_v_report(c, MSH0335, pr, "redirect may set only one of uri and prefixRewrite");
        return;
    }
    if (has_pr) {
        MC_SEQ_EACH(matches, i) {
            const mc_node *u = mc_v_map(mc_item(matches, i), "uri");
            const char *k = u ? mc_v_sm_kind(u, NULL) : NULL;
            if (u && !(k && strcmp(k, "prefix") == 0)) {
                mc_v_report(c, MSH0336, pr, "redirect.prefixRewrite needs every uri match of the rule to be a prefix "
                            "match; match[%u] is not", i);
                return;
            }
        }
    }
    int64_t port = 0;
    const mc_node *pn = mc_v_int(r, "port", &port);
    if (mc_v_blank(r, "uri") && mc_v_blank(r, "prefixRewrite") && mc_v_blank(r, "authority") &&
        mc_v_blank(r, "port") && mc_v_blank(r, "derivePort") && mc_v_blank(r, "scheme")) {
        mc_v_report(c, MSH0337, r, "redirect changes nothing: set uri, prefixRewrite, authority, scheme or port");
        return;
    }
    int64_t code;
    const mc_node *cn = mc_v_int(r, "redirectCode", &code);
    if (code != 0 && (code < 300 || code > 399)) {
        mc_v_report(c, MSH0338, cn, "redirectCode %lld is not a 3xx redirect status", (long long)code);
        return;
    }
    const mc_node *sc = mc_v_str(r, "scheme");
    if (sc && sc->n && strcmp(sc->u.s, "http") != 0 && strcmp(sc->u.s, "https") != 0) {
        mc_v_report(c, MSH0339, sc, "redirect scheme %s must be \"http\" or \"https\"", mc_v_qn(c, sc));
        return;
    }
    if (port > 0) mc_v_port(c, pn, port, "redirect port");
}

/* validateHTTPDirectResponse */
static void direct_response(mc_vctx *c, const mc_node *d)
{
    const mc_node *body = mc_v_map(d, "body");
    if (body) {
        size_t size = 0;
        const mc_node *bn = NULL;
        MC_MAP_EACH(body, i) {
            const char *k = mc_text(mc_key(body, i));
            const mc_node *v = mc_val(body, i);
            if (!k || v->type != MC_STR) continue;
            if (strcmp(k, "string") == 0) { size = v->n; bn = v; break; }
            if (strcmp(k, "bytes") == 0) {
                /* decoded size of base64 (standard or URL alphabet, padding optional) */
                size_t chars = 0;
                for (size_t j = 0; j < v->n; j++)
                    if (v->u.s[j] != '=' && v->u.s[j] != '\n' && v->u.s[j] != '\r') chars++;
                size = chars * 6 / 8;
                bn = v;
                break;
            }
        }
        if (size > 1024 * 1024)
            mc_v_report(c, MSH0340, bn, "directResponse body is %zu bytes; Istio refuses bodies over 1 MiB", size);
        else if (size > 100 * 1024)
            mc_v_report(c, MSH0341, bn, "directResponse body is %zu bytes; bodies over 100 KiB slow down istiod and "
                        "every proxy that receives them", size);
    }
    int64_t st;
    const mc_node *sn = mc_v_int(d, "status", &st);
    if (sn) http_status(c, sn, st, "directResponse status");
}

/* Go's net/http.StatusText(code) != "" */
static bool http_status_text(int64_t s)
{
    if ((s >= 100 && s <= 103) || (s >= 200 && s <= 208) || s == 226 || (s >= 300 && s <= 308 && s != 306) ||
        (s >= 400 && s <= 418) || (s >= 421 && s <= 426 && s != 427) || s == 428 || s == 429 || s == 431 ||
        s == 451 || (s >= 500 && s <= 508) || s == 510 || s == 511)
        return true;
    return false;
}

static const char *retry_policies[] = { "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure",
    "retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited",
    "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable" };

/* strconv.Atoi, 0 on failure */
static int64_t go_atoi(const char *s, size_t n)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) neg = s[0] == '-', i++;
    if (i == n) return 0;
    while (n - i > 1 && s[i] == '0') i++;
    if (n - i > 18) return 0;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    return neg ? -v : v;
}

/* agent.ValidateHTTPRetry */
static void retries(mc_vctx *c, const mc_node *r)
{
    int64_t attempts;
    const mc_node *an = mc_v_int(r, "attempts", &attempts);
    if (attempts < 0) mc_v_report(c, MSH0342, an, "retries.attempts %lld is negative", (long long)attempts);
    const mc_node *ptt = mc_v_str(r, "perTryTimeout"), *ro = mc_v_str(r, "retryOn");
    const mc_node *rrl = mc_get(r, "retryRemoteLocalities");
    if (rrl && rrl->type != MC_BOOL) rrl = NULL;
    if (attempts == 0 && !mc_v_odd(r, "attempts", MC_INT) && (ptt || (ro && ro->n) || rrl))
        mc_v_report(c, MSH0343, an ? an : r, "retries has %s but attempts is 0, which disables retries",
                    ptt ? "perTryTimeout" : ro && ro->n ? "retryOn" : "retryRemoteLocalities");
    if (ptt) mc_v_duration(c, ptt, NULL);
    if (ro && ro->n) {
        const char *p = ro->u.s, *end = p + ro->n;
        for (;;) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);
            bool ok = http_status_text(go_atoi(p, l));
            for (size_t j = 0; !ok && j < sizeof retry_policies / sizeof retry_policies[0]; j++)
                ok = strlen(retry_policies[j]) == l && memcmp(retry_policies[j], p, l) == 0;
            if (!ok)
                mc_v_report(c, MSH0344, ro, "retryOn policy %s is neither an Envoy retry condition nor an HTTP status "
                            "code%s", mc_v_q(c, p, l), l && (p[0] == ' ' || p[l - 1] == ' ') ?
                            " (spaces around ',' are not allowed)" : "");
            if (!comma) break;
            p = comma + 1;
        }
    }
    mc_v_duration_at(c, r, "backoff");
}

/* validateHTTPRewrite: the webhook stops at the first problem */
static void rewrite(mc_vctx *c, const mc_node *r)
{
    const mc_node *uri = mc_v_str(r, "uri"), *rr = mc_v_map(r, "uriRegexRewrite");
    if (uri && uri->n && rr) {
        mc_v_report(c, MSH0345, mc_get_key(r, "uriRegexRewrite"), "rewrite may set only one of uri and "
                    "uriRegexRewrite");
        return;
    }
    if (mc_v_blank(r, "uri") && mc_v_blank(r, "uriRegexRewrite") && mc_v_blank(r, "authority")) {
        mc_v_report(c, MSH0346, r, "rewrite changes nothing: set uri, uriRegexRewrite or authority");
        return;
    }
    if (!rr) return;
    const mc_node *m = mc_v_str(rr, "match");
    if (mc_v_blank(rr, "match") || mc_v_blank(rr, "rewrite")) {
        mc_v_report(c, MSH0347, rr, "uriRegexRewrite needs both match and rewrite");
        return;
    }
    if (m) mc_v_regex(c, m, "rewrite.uriRegexRewrite.match");
}

static bool authority_header(const char *s, size_t n)
{
    return (n == 10 && strncasecmp(s, ":authority", 10) == 0) || (n == 4 && strncasecmp(s, "host", 4) == 0);
}

/* validateAuthorityRewrite: the authority may be rewritten in one place */
static void authority_rewrite(mc_vctx *c, const mc_node *r)
{
    const mc_node *cur = mc_v_str(mc_v_map(r, "rewrite"), "authority");
    const mc_node *req = mc_v_map(mc_v_map(r, "headers"), "request");
    static const char *ops[] = { "set", "add" };
    for (int o = 0; o < 2; o++) {
        const mc_node *m = mc_v_map(req, ops[o]);
        MC_MAP_EACH(m, i) {
            const mc_node *k = mc_key(m, i), *v = mc_val(m, i);
            if (!mc_text(k) || !authority_header(k->u.s, k->n)) continue;
            if (cur && cur->n) {
                mc_v_report(c, MSH0322, k, "the authority is already rewritten to %s; %s sets it again to %s",
                            mc_v_qn(c, cur), mc_v_q(c, k->u.s, k->n), v->type == MC_STR ? mc_v_qn(c, v) : "\"\"");
                return;
            }
            cur = v->type == MC_STR ? v : NULL;
        }
    }
}

/* validateHTTPRouteDestinations (http) / validateRouteDestinations (tcp, tls) */
static void destinations(mc_vctx *c, const mc_node *route, bool http)
{
    uint32_t total = 0;     /* int32 arithmetic, wrapping as Go's does */
    bool odd = false;       /* a weight of the wrong type: no total */
    MC_SEQ_EACH(route, i) {
        const mc_node *d = mc_item(route, i);
        if (d->type != MC_MAP) continue;
        if (http) mc_v_header_ops(c, mc_get(d, "headers"));
        if (!c->gw_semantics) mc_v_destination(c, mc_get(d, "destination"));
        int64_t w;
        const mc_node *wn = mc_v_int(d, "weight", &w);
        odd |= mc_v_odd(d, "weight", MC_INT);
        if (w < 0) mc_v_report(c, MSH0350, wn, "weight %lld is negative", (long long)w);
        total += (uint32_t)w;
    }
    if (mc_len(route) > 1 && total == 0 && !odd)
        mc_v_report(c, MSH0351, route, "the weights of the %u destinations add up to 0 (as 32-bit integers), so "
                    "there is nothing to split traffic by", route->n);
}

/* validateHTTPRoute */
static void http_route(mc_vctx *c, const mc_node *r, bool delegate_vs)
{
    route_conflicts(c, r, delegate_vs);
    const mc_node *matches = mc_get(r, "match");
    http_matches(c, matches);
    mc_v_header_ops(c, mc_get(r, "headers"));
    const mc_node *cp = mc_v_map(r, "corsPolicy");
    if (cp) cors(c, cp);
    const mc_node *f = mc_v_map(r, "fault");
    if (f) fault(c, f);

    int64_t mp;
    const mc_node *mpn = mc_v_int(r, "mirrorPercent", &mp);
    if (mpn) {
        if (mp > 100) mc_v_report(c, MSH0333, mpn, "mirrorPercent %lld is over 100", (long long)mp);
        mc_v_report(c, MSH0334, mc_get_key(r, "mirrorPercent"), "mirrorPercent is deprecated: use mirrorPercentage");
    }
    double v;
    const mc_node *mpct = mc_v_map(r, "mirrorPercentage");
    const mc_node *vn = mpct ? mc_v_num(mpct, "value", &v) : NULL;
    if (mpct && (v > 100 || v < 0))
        mc_v_report(c, MSH0333, vn ? vn : mpct, "mirrorPercentage %g is outside 0..100", v);

    mc_v_destination(c, mc_get(r, "mirror"));
    const mc_node *mirrors = mc_get(r, "mirrors");
    MC_SEQ_EACH(mirrors, i) {
        const mc_node *m = mc_item(mirrors, i);
        if (m->type != MC_MAP || !mc_v_map(m, "destination")) continue;
        mc_v_destination(c, mc_get(m, "destination"));
        const mc_node *p = mc_v_map(m, "percentage");
        vn = p ? mc_v_num(p, "value", &v) : NULL;
        if (p && (v > 100 || v < 0))
            mc_v_report(c, MSH0333, vn ? vn : p, "mirrors[%u].percentage %g is outside 0..100", i, v);
    }
    const mc_node *rd = mc_v_map(r, "redirect");
    if (rd) redirect(c, rd, matches);
    const mc_node *dr = mc_v_map(r, "directResponse");
    if (dr) direct_response(c, dr);
    const mc_node *rt = mc_v_map(r, "retries");
    if (rt) retries(c, rt);
    const mc_node *rw = mc_v_map(r, "rewrite");
    if (rw) rewrite(c, rw);
    authority_rewrite(c, r);
    destinations(c, mc_get(r, "route"), true);
    mc_v_duration_at(c, r, "timeout");
}

/* ------------------------------------------------------------ TLS, TCP */

/* validateSniHost */
static void sni_host(mc_vctx *c, const mc_node *sh, const mc_node *hosts, bool gateway_rules)
{
    bool is_ip;
    if (!vs_host(c, sh, gateway_rules, true, "sniHosts entry", &is_ip)) {
        if (is_ip)
            mc_v_report(c, MSH0354, sh, "SNI host %s is an IP address: the TLS standard forbids it and most clients "
                        "never send one", mc_v_qn(c, sh));
        return;
    }
    MC_SEQ_EACH(hosts, i) {
        const mc_node *h = mc_item(hosts, i);
        if (h->type == MC_STR && mc_host_subset(sh->u.s, h->u.s)) return;
    }
    mc_buf b;
    mc_buf_init(&b);
    MC_SEQ_EACH(hosts, i) {
        const mc_node *h = mc_item(hosts, i);
        if (h->type != MC_STR) continue;
        if (b.n) mc_buf_puts(&b, ", ");
        mc_buf_puts(&b, h->u.s);
    }
    if (b.n)
        mc_v_report(c, MSH0355, sh, "SNI host %s is not covered by any host of the VirtualService [%s]",
                    mc_v_qn(c, sh), b.s);
    else
        mc_v_report(c, MSH0355, sh, "SNI host %s is not covered by any host: the VirtualService has none",
                    mc_v_qn(c, sh));
    mc_buf_free(&b);
}

static void l4_match_common(mc_vctx *c, const mc_node *m, bool keep_gw_warnings)
{
    const mc_node *subnets = mc_get(m, "destinationSubnets");
    MC_SEQ_EACH(subnets, i) {
        const mc_node *s = mc_item(subnets, i);
        if (s->type == MC_STR && (memchr(s->u.s, '\0', s->n) || !mc_is_ip_subnet(s->u.s)))
            mc_v_report(c, MSH0356, s, "destinationSubnets entry %s is neither an IP address nor a CIDR block",
                        mc_v_qn(c, s));
    }
    int64_t port;
    const mc_node *pn = mc_v_int(m, "port", &port);
    if (pn && port != 0) mc_v_port(c, pn, port, "match port");
    mc_v_labels(c, mc_get(m, "sourceLabels"), "match sourceLabels");
    bool w = c->warn;
    if (!keep_gw_warnings) c->warn = false;
    mc_v_gateway_names(c, mc_get(m, "gateways"));
    c->warn = w;
}

/* validateTLSRoute */
static void tls_route(mc_vctx *c, const mc_node *r, const mc_node *hosts, bool gateway_rules)
{
    const mc_node *matches = mc_get(r, "match");
    if (mc_is(matches, MC_SEQ) && matches->n == 0)
        mc_v_report(c, MSH0352, matches, "TLS route has no match: list at least one match with sniHosts");
    MC_SEQ_EACH(matches, i) {
        const mc_node *m = mc_item(matches, i);
        if (m->type != MC_MAP) continue;
        const mc_node *sni = mc_get(m, "sniHosts");
        if (mc_is(sni, MC_SEQ) && sni->n == 0)
            mc_v_report(c, MSH0353, sni, "TLS match has no sniHosts: list at least one");
        MC_SEQ_EACH(sni, j) {
            const mc_node *sh = mc_item(sni, j);
            if (sh->type == MC_STR) sni_host(c, sh, hosts, gateway_rules);
        }
        l4_match_common(c, m, true);
    }
    const mc_node *route = mc_v_seq(r, "route");
    if (mc_v_none(r, "route")) mc_v_report(c, MSH0357, r, "TLS route has no route destinations");
    destinations(c, route, false);
}

/* validateTCPRoute */
static void tcp_route(mc_vctx *c, const mc_node *r)
{
    const mc_node *matches = mc_get(r, "match");
    MC_SEQ_EACH(matches, i) {
        const mc_node *m = mc_item(matches, i);
        if (m->type == MC_MAP) l4_match_common(c, m, false);
    }
    const mc_node *route = mc_v_seq(r, "route");
    if (mc_v_none(r, "route")) mc_v_report(c, MSH0357, r, "TCP route has no route destinations");
    destinations(c, route, false);
}

/* ------------------------------------------------------------ IST0130/IST0131 */

/* routeName / requestName: a quoted name (HTTP only) or #index */
static const char *rule_name(mc_vctx *c, const mc_node *r, uint32_t i, bool http)
{
    const mc_node *nm = http ? mc_v_str(r, "name") : NULL;
    if (nm && nm->n) return mc_v_goquote(c, nm->u.s, nm->n);
    return mc_arena_printf(c->scratch, "#%u", i);
}

/* rule_name, made on first use: most rules are never reported */
static const char *rule_name_once(mc_vctx *c, const char **cache, const mc_node *r, uint32_t i, bool http)
{
    if (!*cache) *cache = rule_name(c, r, i, http);
    return *cache;
}

static void unused(mc_vctx *c, const mc_node *at, const char *rule, const char *why)
{
    mc_v_report(c, IST0130, at, "VirtualService rule %s not used (%s).", rule, why);
}

static void ineffective(mc_vctx *c, const mc_node *at, const char *rule, const char *match, const char *dup)
{
    mc_v_report(c, IST0131, at, "VirtualService rule %s match %s is not used (duplicate/overlapping match in rule %s).",
                rule, match, dup);
}

/* asJSON: a canonical text of a match, equal for two matches exactly when
** Go's json.Marshal of the decoded structs is equal. Zero values are
** omitted (omitempty), except that a StringMatch message that is present
** but empty ({}) stays, and inside a StringMatch the set field stays even
** when "" (a oneof). The HTTP match name is left out. */
enum {
    CJ_PLAIN,       /* list items and other values */
    CJ_HTTP,        /* HTTPMatchRequest: omitempty fields, name left out */
    CJ_L4,          /* TLSMatchAttributes, L4MatchAttributes: omitempty fields */
    CJ_SM,          /* StringMatch: its oneof field stays even when "" */
    CJ_SMMAP,       /* map[string]*StringMatch: every entry stays */
    CJ_GOMAP        /* map[string]string: every entry stays */
};

static int cmp_keys(const void *a, const void *b)
{
    const mc_node *x = *(const mc_node *const *)a, *y = *(const mc_node *const *)b;
    size_t n = x->n < y->n ? x->n : y->n;
    int r = memcmp(x->u.s, y->u.s, n);
    return r ? r : (x->n > y->n) - (x->n < y->n);
}

static bool cj_zero(const mc_node *v)
{
    int64_t x;
    switch (v->type) {
    case MC_NULL: return true;
    case MC_BOOL: return !(v->flags & MC_N_TRUE);
    case MC_INT: return mc_int(v, &x) && x == 0;
    case MC_STR: return v->n == 0;
    case MC_MAP: case MC_SEQ: return v->n == 0;
    default: return false;
    }
}

static void cj(mc_buf *b, const mc_node *v, int ctx)
{
    int64_t x;
    switch (v->type) {
    case MC_NULL: mc_buf_putc(b, 'n'); return;
    case MC_BOOL: mc_buf_putc(b, (v->flags & MC_N_TRUE) ? 't' : 'f'); return;
    case MC_INT:
        if (mc_int(v, &x)) { mc_buf_putc(b, 'i'); mc_buf_puti(b, x); mc_buf_putc(b, ';'); return; }
        break;
    case MC_SEQ:
        mc_buf_putc(b, '[');
        mc_buf_putu(b, v->n);
        MC_SEQ_EACH(v, i) cj(b, mc_item(v, i), CJ_PLAIN);
        mc_buf_putc(b, ']');
        return;
    case MC_MAP: {
        const mc_node **keys = mc_xmalloc(sizeof *keys * (v->n ? v->n : 1));
        uint32_t nk = 0;
        MC_MAP_EACH(v, i) {
            const mc_node *k = mc_key(v, i), *val = mc_val(v, i);
            if (!mc_text(k)) continue;
            if (ctx == CJ_HTTP && k->n == 4 && memcmp(k->u.s, "name", 4) == 0) continue;
            bool msg = ctx == CJ_HTTP && (strcmp(k->u.s, "uri") == 0 || strcmp(k->u.s, "scheme") == 0 ||
                                          strcmp(k->u.s, "method") == 0 || strcmp(k->u.s, "authority") == 0);
            bool strct = ctx == CJ_HTTP || ctx == CJ_L4 || ctx == CJ_PLAIN;
            if (strct && !(msg && val->type == MC_MAP) && cj_zero(val)) continue;
            keys[nk++] = k;
        }
        qsort(keys, nk, sizeof *keys, cmp_keys);
        mc_buf_putc(b, '{');
        for (uint32_t i = 0; i < nk; i++) {
            const mc_node *k = keys[i], *val = k + 1;
            int sub = CJ_PLAIN;
            const char *ks = k->u.s;
            if (ctx == CJ_SMMAP) sub = CJ_SM;
            else if (ctx == CJ_GOMAP || ctx == CJ_SM) sub = CJ_PLAIN;
            else if (ctx == CJ_HTTP && (!strcmp(ks, "uri") || !strcmp(ks, "scheme") || !strcmp(ks, "method") ||
                                        !strcmp(ks, "authority")))
                sub = CJ_SM;
            else if (ctx == CJ_HTTP && (!strcmp(ks, "headers") || !strcmp(ks, "queryParams") ||
                                        !strcmp(ks, "withoutHeaders")))
                sub = CJ_SMMAP;
            else if ((ctx == CJ_HTTP || ctx == CJ_L4) && !strcmp(ks, "sourceLabels"))
                sub = CJ_GOMAP;
            mc_buf_putu(b, k->n);
            mc_buf_putc(b, ':');
            mc_buf_add(b, k->u.s, k->n);
            cj(b, val, sub);
        }
        mc_buf_putc(b, '}');
        free(keys);
        return;
    }
    default: break;
    }
    mc_buf_putc(b, 's');
    mc_buf_putu(b, v->n);
    mc_buf_putc(b, ':');
    mc_buf_add(b, v->u.s, v->n);
}

static const char *as_json(mc_vctx *c, const mc_node *m, bool http, size_t *len)
{
    mc_buf b;
    mc_buf_init(&b);
    cj(&b, m, http ? CJ_HTTP : CJ_L4);
    char *r = mc_arena_strndup(c->scratch, b.s ? b.s : "", b.n);
    *len = b.n;
    mc_buf_free(&b);
    return r;
}

/* OverlappingMatchValidationForHTTPRoute: a match with a non-empty uri
** prefix, reduced to the fields coveredValidation compares. Value strings
** are assignExactOrPrefix: "exact:V", "prefix:V" or "". */
typedef struct kv { const char *k; size_t kl; const char *v; } kv;
typedef struct pmatch {
    const mc_node *at;
    const char *rule, *match;
    const char *prefix;
    size_t plen;
    uint32_t idx;           /* order of collection */
    int64_t port;
    const char *method, *authority;
    kv *hdr, *qp, *nohdr;
    uint32_t nhdr, nqp, nnohdr;
} pmatch;

static const char *exact_or_prefix(mc_vctx *c, const mc_node *sm)
{
    if (!mc_is(sm, MC_MAP)) return "";
    const mc_node *e = mc_v_str(sm, "exact"), *p = mc_v_str(sm, "prefix");
    if (e && e->n) return mc_arena_printf(c->scratch, "exact:%s", e->u.s);
    if (p && p->n) return mc_arena_printf(c->scratch, "prefix:%s", p->u.s);
    return "";
}

static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int r = memcmp(x->k, y->k, n);
    return r ? r : (x->kl > y->kl) - (x->kl < y->kl);
}

static kv *kv_map(mc_vctx *c, const mc_node *m, uint32_t *n)
{
    *n = 0;
    if (!mc_is(m, MC_MAP) || m->n == 0) return NULL;
    kv *a = mc_arena_alloc(c->scratch, sizeof *a * m->n);
    MC_MAP_EACH(m, i) {
        const mc_node *k = mc_key(m, i);
        if (!mc_text(k)) continue;
        a[*n].k = k->u.s;
        a[*n].kl = k->n;
        a[*n].v = exact_or_prefix(c, mc_val(m, i));
        (*n)++;
    }
    qsort(a, *n, sizeof *a, cmp_kv);
    return a;
}

/* the string test coveredValidation applies to each field: equal, or the
** earlier one starts with the later one */
static bool field_covers(const char *a, const char *b)
{
    return strcmp(a, b) == 0 || strncmp(a, b, strlen(b)) == 0;
}

static bool kv_covers(const kv *a, uint32_t na, const kv *b, uint32_t nb)
{
    if (na != nb) return false;
    for (uint32_t i = 0; i < na; i++) {
        if (a[i].kl != b[i].kl || memcmp(a[i].k, b[i].k, a[i].kl) != 0) return false;
        if (!field_covers(a[i].v, b[i].v)) return false;
    }
    return true;
}

/* coveredValidation, with A earlier and B's prefix starting with A's */
static bool covered(const pmatch *a, const pmatch *b)
{
    return a->port == b->port && field_covers(a->method, b->method) && field_covers(a->authority, b->authority) &&
           kv_covers(a->hdr, a->nhdr, b->hdr, b->nhdr) && kv_covers(a->qp, a->nqp, b->qp, b->nqp) &&
           kv_covers(a->nohdr, a->nnohdr, b->nohdr, b->nnohdr);
}

static int cmp_pm(const void *x, const void *y)
{
    const pmatch *a = *(const pmatch *const *)x, *b = *(const pmatch *const *)y;
    size_t n = a->plen < b->plen ? a->plen : b->plen;
    int r = memcmp(a->prefix, b->prefix, n);
    if (r) return r;
    if (a->plen != b->plen) return a->plen < b->plen ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static bool is_prefix_of(const pmatch *a, const pmatch *b)
{
    return a->plen <= b->plen && memcmp(a->prefix, b->prefix, a->plen) == 0;
}

/* The webhook compares every pair of prefix matches (earlier A, later B,
** different prefixes, B's starting with A's). Sorted by prefix, the
** prefixes of a string that are present are exactly those on a stack of
** groups kept while walking the sorted list, so only related pairs are
** visited. */
static void overlapping_prefixes(mc_vctx *c, pmatch *pm, uint32_t n)
{
    if (n < 2) return;
    pmatch **s = mc_xmalloc(sizeof *s * n);
    for (uint32_t i = 0; i < n; i++) s[i] = &pm[i];
    qsort(s, n, sizeof *s, cmp_pm);
    uint32_t *stk = mc_xmalloc(sizeof *stk * n * 2);   /* group (start, end) pairs */
    uint32_t depth = 0;
    for (uint32_t g = 0; g < n;) {
        uint32_t e = g + 1;
        while (e < n && s[e]->plen == s[g]->plen && memcmp(s[e]->prefix, s[g]->prefix, s[g]->plen) == 0) e++;
        while (depth > 0 && !is_prefix_of(s[stk[2 * (depth - 1)]], s[g])) depth--;
        for (uint32_t d = 0; d < depth; d++) {
            for (uint32_t ai = stk[2 * d]; ai < stk[2 * d + 1]; ai++) {
                const pmatch *a = s[ai];
                for (uint32_t bi = g; bi < e; bi++) {
                    const pmatch *b = s[bi];
                    if (a->idx >= b->idx || !covered(a, b)) continue;
                    ineffective(c, b->at, b->rule,
                                mc_arena_printf(c->scratch, "%s of prefix %s", b->match, b->prefix),
                                mc_arena_printf(c->scratch, "%s of prefix %s on %s", a->match, a->prefix, a->rule));
                }
            }
        }
        stk[2 * depth] = g;
        stk[2 * depth + 1] = e;
        depth++;
        g = e;
    }
    free(stk);
    free(s);
}

/* analyzeUnreachable{HTTP,TCP,TLS}Rules */
static void unreachable(mc_vctx *c, const mc_node *rules, bool http)
{
    mc_strmap seen;     /* asJSON -> index + 1 of the first rule */
    mc_strmap_init(&seen);
    mc_vec pms;
    mc_vec_init(&pms, sizeof(pmatch));
    int64_t empty_at = -1;
    MC_SEQ_EACH(rules, rn) {
        const mc_node *r = mc_item(rules, rn);
        if (r->type != MC_MAP) continue;
        if (mc_v_odd(r, "match", MC_SEQ)) continue;    /* the schema stage reports it */
        const char *rname = NULL;
        const mc_node *matches = mc_v_seq(r, "match");
        if (!matches) {
            if (empty_at >= 0) unused(c, r, rule_name_once(c, &rname, r, rn, http), "only the last rule can have no matches");
            empty_at = rn;
            continue;
        }
        if (empty_at >= 0) {
            /* the webhook warns once per match, all alike */
            unused(c, matches, rule_name_once(c, &rname, r, rn, http), "route without matches defined before");
            continue;
        }
        uint32_t dups = 0;
        MC_SEQ_EACH(matches, mn) {
            const mc_node *m = mc_item(matches, mn);
            size_t kl;
            const char *key = as_json(c, m, http, &kl);
            bool found;
            void **slot = mc_strmap_put(&seen, key, kl, &found);
            if (found) {
                uint32_t dn = (uint32_t)(uintptr_t)*slot - 1;
                ineffective(c, m, rule_name_once(c, &rname, r, rn, http), rule_name(c, m, mn, http), rule_name(c, mc_item(rules, dn), dn, http));
                dups++;
                continue;
            }
            *slot = (void *)(uintptr_t)(rn + 1);
            if (!http || m->type != MC_MAP) continue;
            const mc_node *uri = mc_v_map(m, "uri");
            const mc_node *pfx = mc_v_str(uri, "prefix");
            const char *kind = mc_v_sm_kind(uri, NULL);
            if (!pfx || pfx->n == 0 || !kind || strcmp(kind, "prefix") != 0) continue;
            pmatch *p = mc_vec_push(&pms);
            p->at = m;
            p->rule = rule_name_once(c, &rname, r, rn, http);
            p->match = rule_name(c, m, mn, true);
            p->prefix = pfx->u.s;
            p->plen = pfx->n;
            p->idx = (uint32_t)pms.n - 1;
            mc_v_int(m, "port", &p->port);
            p->method = exact_or_prefix(c, mc_get(m, "method"));
            if (!*p->method) p->method = "exact:GET";
            p->authority = exact_or_prefix(c, mc_get(m, "authority"));
            p->hdr = kv_map(c, mc_get(m, "headers"), &p->nhdr);
            p->qp = kv_map(c, mc_get(m, "queryParams"), &p->nqp);
            p->nohdr = kv_map(c, mc_get(m, "withoutHeaders"), &p->nnohdr);
        }
        if (dups == matches->n) unused(c, r, rule_name_once(c, &rname, r, rn, http), "all matches used by prior rules");
    }
    overlapping_prefixes(c, pms.v, (uint32_t)pms.n);
    mc_vec_free(&pms);
    mc_strmap_free(&seen);
}

/* ------------------------------------------------------------ entry */

void mc_v_virtualservice(mc_vctx *c)
{
    const mc_node *spec = c->spec;
    const mc_node *hosts = mc_v_seq(spec, "hosts"), *gateways = mc_v_seq(spec, "gateways");
    const mc_node *http = mc_v_seq(spec, "http"), *tls = mc_v_seq(spec, "tls"), *tcp = mc_v_seq(spec, "tcp");
    /* no hosts: a delegate; hosts of the wrong type: neither checked nor a delegate */
    bool delegate_vs = mc_v_none(spec, "hosts");
    if (delegate_vs) {
        if (gateways)
            mc_v_report(c, MSH0300, mc_get_key(spec, "gateways"), "a delegate VirtualService (one without hosts) "
                        "cannot have gateways: the root VirtualService decides where it applies");
        if (tls)
            mc_v_report(c, MSH0301, mc_get_key(spec, "tls"), "a delegate VirtualService (one without hosts) cannot "
                        "have tls routes: only HTTP routes can be delegated");
        if (tcp)
            mc_v_report(c, MSH0301, mc_get_key(spec, "tcp"), "a delegate VirtualService (one without hosts) cannot "
                        "have tcp routes: only HTTP routes can be delegated");
    }

    bool to_mesh = true, to_gateway = false;
    if (gateways) {
        mc_v_gateway_names(c, gateways);
        to_gateway = !seq_has(gateways, "mesh");
        to_mesh = !to_gateway;
    }
    if (!to_gateway) {
        MC_SEQ_EACH(http, i) {
            const mc_node *ms = mc_get(mc_item(http, i), "match");
            MC_SEQ_EACH(ms, j) {
                static const char *keys[] = { "headers", "withoutHeaders" };
                for (int k = 0; k < 2; k++) {
                    const mc_node *h = mc_v_map(mc_item(ms, j), keys[k]);
                    MC_MAP_EACH(h, x) {
                        const mc_node *kn = mc_key(h, x);
                        if (mc_text(kn) && jwt_claim(kn->u.s, kn->n))
                            mc_v_report(c, MSH0304, kn, "routing on JWT claim %s works only on gateways, and this "
                                        "VirtualService applies to the mesh", mc_v_q(c, kn->u.s, kn->n));
                    }
                }
            }
        }
    }

    bool sni = false;
    MC_SEQ_EACH(tls, i) {
        const mc_node *ms = mc_get(mc_item(tls, i), "match");
        MC_SEQ_EACH(ms, j) if (mc_v_seq(mc_item(ms, j), "sniHosts")) sni = true;
    }
    bool all_valid = true;
    MC_SEQ_EACH(hosts, i) {
        const mc_node *h = mc_item(hosts, i);
        if (h->type != MC_STR) continue;
        bool is_ip;
        if (!vs_host(c, h, to_gateway, sni, "hosts", &is_ip)) {
            if (!is_ip) all_valid = false;
        } else if (to_mesh && h->n == 1 && h->u.s[0] == '*') {
            mc_v_report(c, MSH0306, h, "host \"*\" is not allowed on a VirtualService that applies to the mesh "
                        "(no gateways, or gateways including \"mesh\")");
            all_valid = false;
        }
    }
    if (all_valid && hosts) duplicate_hosts(c, hosts);

    if (mc_v_none(spec, "http") && mc_v_none(spec, "tcp") && mc_v_none(spec, "tls"))
        mc_v_report(c, MSH0308, spec ? spec : c->at, "VirtualService has no routes: add http, tcp or tls rules");
    MC_SEQ_EACH(http, i) {
        const mc_node *r = mc_item(http, i);
        if (r->type == MC_MAP) http_route(c, r, delegate_vs);
    }
    bool gw_rules = !seq_has(gateways, "mesh");     /* isGateway: also true without gateways */
    MC_SEQ_EACH(tls, i) {
        const mc_node *r = mc_item(tls, i);
        if (r->type == MC_MAP) tls_route(c, r, hosts, gw_rules);
    }
    MC_SEQ_EACH(tcp, i) {
        const mc_node *r = mc_item(tcp, i);
        if (r->type == MC_MAP) tcp_route(c, r);
    }
    mc_v_export_to(c, mc_get(spec, "exportTo"), false, false);

    unreachable(c, http, true);
    unreachable(c, tcp, false);
    unreachable(c, tls, false);
}
