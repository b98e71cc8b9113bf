/*
** validate_dr.c -- DestinationRule: ValidateDestinationRule,
** validateTrafficPolicy and its parts (outlier detection, connection pool,
** load balancer with consistent hash and locality settings, client TLS,
** port-level settings, tunnel), subsets, exportTo and workloadSelector.
*/
#include "validate_int.h"
#include "host.h"
#include "strmap.h"

#include <string.h>

/* validateOutlierDetection */
static void outlier(mc_vctx *c, const mc_node *o)
{
    mc_v_duration_at(c, o, "baseEjectionTime");
    int64_t v;
    const mc_node *n = mc_v_int(o, "consecutiveErrors", &v);
    if (v != 0)
        mc_v_report(c, MSH0403, mc_get_key(o, "consecutiveErrors"), "outlierDetection.consecutiveErrors is "
                    "deprecated: use consecutiveGatewayErrors or consecutive5xxErrors");
    n = mc_v_int(o, "consecutiveLocalOriginFailures", &v);
    if (!mc_v_true(o, "splitExternalLocalOriginErrors") && v > 0)
        mc_v_report(c, MSH0404, n, "consecutiveLocalOriginFailures has no effect unless "
                    "splitExternalLocalOriginErrors is true");
    mc_v_duration_at(c, o, "interval");
    static const char *pcts[] = { "maxEjectionPercent", "minHealthPercent" };
    for (int i = 0; i < 2; i++) {
        n = mc_v_int(o, pcts[i], &v);
        if (v < 0 || v > 100)
            mc_v_report(c, MSH0405, n, "outlierDetection.%s %lld is not a percentage (0..100)", pcts[i], (long long)v);
    }
}

static void non_negative(mc_vctx *c, const mc_node *m, const char *k, const char *where)
{
    int64_t v;
    const mc_node *n = mc_v_int(m, k, &v);
    if (v < 0) mc_v_report(c, MSH0407, n, "%s.%s %lld is negative", where, k, (long long)v);
}

/* validateConnectionPool */
static void connection_pool(mc_vctx *c, const mc_node *p)
{
    const mc_node *http = mc_v_map(p, "http"), *tcp = mc_v_map(p, "tcp");
    if (mc_v_blank(p, "http") && mc_v_blank(p, "tcp")) {
        mc_v_report(c, MSH0406, p, "connectionPool sets neither http nor tcp");
        return;
    }
    if (http) {
        static const char *limits[] = { "http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection",
                                        "maxRetries", "maxConcurrentStreams" };
        for (int i = 0; i < 5; i++) non_negative(c, http, limits[i], "connectionPool.http");
        mc_v_duration_at(c, http, "idleTimeout");
        if (strcmp(mc_v_s(http, "h2UpgradePolicy"), "UPGRADE") == 0 && mc_v_true(http, "useClientProtocol"))
            mc_v_report(c, MSH0408, mc_get_key(http, "useClientProtocol"), "useClientProtocol cannot be true when "
                        "h2UpgradePolicy is UPGRADE");
        const mc_node *ka = mc_v_map(http, "http2KeepAlive");
        if (ka) {
            static const char *req[] = { "interval", "timeout" };
            for (int i = 0; i < 2; i++) {
                const mc_node *d = mc_get(ka, req[i]);
                if (!d || d->type == MC_NULL)
                    mc_v_report(c, MSH0409, ka, "http2KeepAlive needs %s", req[i]);
                else if (d->type == MC_STR)
                    mc_v_duration(c, d, NULL);
            }
        }
    }
    if (tcp) {
        non_negative(c, tcp, "maxConnections", "connectionPool.tcp");
        mc_v_duration_at(c, tcp, "connectTimeout");
        mc_v_duration_at(c, tcp, "maxConnectionDuration");
        const mc_node *it = mc_v_str(tcp, "idleTimeout");
        int64_t d;
        /* a timeout under 1ms (0s) disables it and is not checked */
        if (it && !(mc_v_parse_duration(it->u.s, it->n, &d) && d / 1000000 == 0)) mc_v_duration(c, it, NULL);
        const mc_node *ka = mc_v_map(tcp, "tcpKeepalive");
        mc_v_duration_at(c, ka, "time");
        mc_v_duration_at(c, ka, "interval");
    }
}

/* isPrime, as Envoy (and Istio after it) test it */
static bool is_prime(uint64_t x)
{
    if (x != 0 && x < 4) return true;
    if ((x & 1) == 0) return false;
    for (uint64_t f = 3; f * f <= x; f += 2)
        if (x % f == 0) return false;
    return true;
}

static const char *topology[] = { "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
                                  "topology.istio.io/subzone" };

static const mc_node *topology_label(const mc_node *seq)
{
    MC_SEQ_EACH(seq, i) {
        const mc_node *l = mc_item(seq, i);
        if (l->type != MC_STR) continue;
        for (int t = 0; t < 3; t++)
            if (strcmp(l->u.s, topology[t]) == 0) return l;
    }
    return NULL;
}

/* Locality sets of validateLocalities, keyed "len:region" for a region,
** "len:region|len:zone" for a zone, "len:region|len:zone|len:sub" for a
** subzone; "*" marks "all of them". */
static bool loc_has(mc_strmap *m, mc_vctx *c, const char *r, size_t rl, const char *z, size_t zl, const char *s,
                    size_t sl, int depth)
{
    char *k = depth == 0 ? mc_arena_printf(c->scratch, "%zu:%.*s", rl, (int)rl, r)
            : depth == 1 ? mc_arena_printf(c->scratch, "%zu:%.*s|%zu:%.*s", rl, (int)rl, r, zl, (int)zl, z)
            : mc_arena_printf(c->scratch, "%zu:%.*s|%zu:%.*s|%zu:%.*s", rl, (int)rl, r, zl, (int)zl, z, sl, (int)sl, s);
    return mc_strmap_get(m, k, strlen(k)) != NULL;
}

static void loc_put(mc_strmap *m, mc_vctx *c, const char *r, size_t rl, const char *z, size_t zl, const char *s,
                    size_t sl, int depth)
{
    char *k = depth == 0 ? mc_arena_printf(c->scratch, "%zu:%.*s", rl, (int)rl, r)
            : depth == 1 ? mc_arena_printf(c->scratch, "%zu:%.*s|%zu:%.*s", rl, (int)rl, r, zl, (int)zl, z)
            : mc_arena_printf(c->scratch, "%zu:%.*s|%zu:%.*s|%zu:%.*s", rl, (int)rl, r, zl, (int)zl, z, sl, (int)sl, s);
    *mc_strmap_put(m, k, strlen(k), NULL) = (void *)1;
}

typedef struct locname { const mc_node *at; const char *s; size_t n; } locname;

/* validateLocalities: the first problem of the list, if any */
static void localities(mc_vctx *c, const locname *locs, uint32_t n)
{
    mc_strmap m;
    mc_strmap_init(&m);
    for (uint32_t i = 0; i < n; i++) {
        const mc_node *ln = locs[i].at;
        const char *l = locs[i].s;
        size_t len = locs[i].n;
        size_t stars = 0;
        for (size_t j = 0; j < len; j++) stars += l[j] == '*';
        const char *why = NULL;
        if (stars > 0 && (stars > 1 || l[len - 1] != '*')) why = "a '*' may appear once, at the end";
        else if (loc_has(&m, c, "*", 1, NULL, 0, NULL, 0, 0)) why = "it overlaps an earlier entry";
        const char *part[3] = { "", "", "" };
        size_t pl[3] = { 0, 0, 0 };
        int depth = 0;
        if (!why) {
            /* strings.SplitN(l, "/", 3) */
            const char *p = l, *end = l + len;
            for (;;) {
                const char *slash = depth < 2 ? memchr(p, '/', (size_t)(end - p)) : NULL;
                part[depth] = p;
                pl[depth] = slash ? (size_t)(slash - p) : (size_t)(end - p);
                if (pl[depth] == 0) { why = "region, zone and subzone may not be empty"; break; }
                if (!slash) break;
                p = slash + 1;
                depth++;
            }
        }
        if (!why) {
            const char *r = part[0], *z = part[1], *s = part[2];
            size_t rl = pl[0], zl = pl[1], sl = pl[2];
            bool region = loc_has(&m, c, r, rl, NULL, 0, NULL, 0, 0);
            if (depth == 0) {
                if (region) why = "it overlaps an earlier entry";
                else {
                    loc_put(&m, c, r, rl, NULL, 0, NULL, 0, 0);
                    loc_put(&m, c, r, rl, "*", 1, NULL, 0, 1);
                    loc_put(&m, c, r, rl, "*", 1, "*", 1, 2);
                }
            } else if (depth == 1) {
                if (region && (loc_has(&m, c, r, rl, "*", 1, NULL, 0, 1) || loc_has(&m, c, r, rl, z, zl, NULL, 0, 1)))
                    why = "it overlaps an earlier entry";
                else {
                    loc_put(&m, c, r, rl, NULL, 0, NULL, 0, 0);
                    loc_put(&m, c, r, rl, z, zl, NULL, 0, 1);
                    loc_put(&m, c, r, rl, z, zl, "*", 1, 2);
                }
            } else {
                if (region && loc_has(&m, c, r, rl, "*", 1, NULL, 0, 1)) why = "it overlaps an earlier entry";
                else if (region && loc_has(&m, c, r, rl, z, zl, NULL, 0, 1) &&
                         (loc_has(&m, c, r, rl, z, zl, "*", 1, 2) || loc_has(&m, c, r, rl, z, zl, s, sl, 2)))
                    why = "it overlaps an earlier entry";
                else {
                    loc_put(&m, c, r, rl, NULL, 0, NULL, 0, 0);
                    loc_put(&m, c, r, rl, z, zl, NULL, 0, 1);
                    loc_put(&m, c, r, rl, z, zl, s, sl, 2);
                }
            }
        }
        if (why) {
            mc_v_report(c, MSH0420, ln, "invalid locality %s: %s", mc_v_q(c, l, len), why);
            break;
        }
    }
    mc_strmap_free(&m);
}

static void failover_list(mc_vctx *c, const mc_node *fo, const char *what)
{
    MC_SEQ_EACH(fo, i) {
        const mc_node *f = mc_item(fo, i);
        const mc_node *from = mc_v_str(f, "from"), *to = mc_v_str(f, "to");
        const char *fs = mc_v_s(f, "from"), *ts = mc_v_s(f, "to");
        if (f->type != MC_MAP) continue;
        if (strcmp(fs, ts) == 0)
            mc_v_report(c, MSH0422, f, "%s failover from %s to the same region", what, from ? mc_v_qn(c, from) : "\"\"");
        if (strchr(fs, '/') || strchr(ts, '/'))
            mc_v_report(c, MSH0422, strchr(fs, '/') ? from : to, "%s failover names regions only, without '/'", what);
        if (strchr(fs, '*') || strchr(ts, '*'))
            mc_v_report(c, MSH0422, strchr(fs, '*') ? from : to, "%s failover regions may not contain '*'", what);
    }
}

/* agent.ValidateLocalityLbSetting */
static void locality_lb(mc_vctx *c, const mc_node *lb, const mc_node *od)
{
    const mc_node *dist = mc_v_seq(lb, "distribute"), *fo = mc_v_seq(lb, "failover"),
                  *fp = mc_v_seq(lb, "failoverPriority");
    if (dist && fo) {
        mc_v_report(c, MSH0416, mc_get_key(lb, "failover"), "localityLbSetting cannot set both distribute and failover");
        return;
    }
    const mc_node *tl = fo && fp ? topology_label(fp) : NULL;
    if (tl) {
        mc_v_report(c, MSH0417, tl, "failoverPriority cannot use topology label %s together with failover",
                    mc_v_qn(c, tl));
        return;
    }
    locname *src = mc_arena_alloc(c->scratch, sizeof *src * (mc_len(dist) + 1));
    uint32_t nsrc = 0;
    MC_SEQ_EACH(dist, i) {
        const mc_node *d = mc_item(dist, i);
        if (d->type != MC_MAP) continue;
        const mc_node *from = mc_v_str(d, "from");
        src[nsrc++] = (locname){ from ? from : d, from ? from->u.s : "", from ? from->n : 0 };
        const mc_node *to = mc_v_map(d, "to");
        locname *dst = mc_arena_alloc(c->scratch, sizeof *dst * (mc_len(to) + 1));
        uint32_t ndst = 0;
        uint64_t total = 0;
        MC_MAP_EACH(to, j) {
            const mc_node *k = mc_key(to, j), *w = mc_val(to, j);
            if (mc_text(k)) dst[ndst++] = (locname){ k, k->u.s, k->n };
            int64_t wv;
            if (w->type != MC_INT || !mc_int(w, &wv)) continue;
            if (wv <= 0 || wv > 100) {
                mc_v_report(c, MSH0418, w, "locality weight %lld is outside 1..100", (long long)wv);
                return;
            }
            total += (uint64_t)wv;
        }
        if ((uint32_t)total != 100) {
            mc_v_report(c, MSH0419, to ? to : d, "the weights of distribute[%u].to add up to %llu, not 100", i,
                        (unsigned long long)(uint32_t)total);
            return;
        }
        localities(c, dst, ndst);
    }
    localities(c, src, nsrc);
    if ((fo || fp) && !od)
        mc_v_report(c, MSH0421, mc_get_key(lb, fo ? "failover" : "failoverPriority"), "locality failover needs "
                    "outlierDetection in the same traffic policy, or it never happens");
    failover_list(c, fo, "locality lb");
}

/* agent.ValidateZoneAwareLbSetting */
static void zone_aware_lb(mc_vctx *c, const mc_node *lb, const mc_node *od)
{
    const mc_node *fo = mc_v_seq(lb, "failover"), *fp = mc_v_seq(lb, "failoverPriority");
    MC_SEQ_EACH(fp, i) {
        const mc_node *l = mc_item(fp, i);
        for (int t = 0; t < 3 && l->type == MC_STR; t++)
            if (strcmp(l->u.s, topology[t]) == 0)
                mc_v_report(c, MSH0417, l, "zoneAwareLbSetting.failoverPriority cannot use topology label %s: "
                            "region and zone routing are automatic", mc_v_qn(c, l));
    }
    if ((fo || fp) && !od)
        mc_v_report(c, MSH0421, mc_get_key(lb, fo ? "failover" : "failoverPriority"), "zone-aware failover needs "
                    "outlierDetection in the same traffic policy, or it never happens");
    failover_list(c, fo, "zone aware lb");
}

/* validateLoadBalancer */
static void load_balancer(mc_vctx *c, const mc_node *lb, const mc_node *od)
{
    const mc_node *ch = mc_v_map(lb, "consistentHash");
    if (ch) {
        const mc_node *hc = mc_v_map(ch, "httpCookie");
        const mc_node *cn = mc_v_str(hc, "name");
        if (cn && cn->n == 0) mc_v_report(c, MSH0410, cn, "consistentHash.httpCookie.name is empty");
        const mc_node *attrs = mc_get(hc, "attributes");
        mc_strmap seen;
        mc_strmap_init(&seen);
        MC_SEQ_EACH(attrs, i) {
            const mc_node *an = mc_v_str(mc_item(attrs, i), "name");
            if (!an) continue;
            if (an->n == 0) {
                mc_v_report(c, MSH0410, an, "httpCookie attribute name is empty");
                continue;
            }
            bool found;
            mc_strmap_put(&seen, an->u.s, an->n, &found);
            if (found) mc_v_report(c, MSH0411, an, "httpCookie attribute %s is listed twice", mc_v_qn(c, an));
        }
        mc_strmap_free(&seen);
        int64_t mrs;
        const mc_node *mn = mc_v_int(ch, "minimumRingSize", &mrs);
        if (mrs != 0) {
            mc_v_report(c, MSH0412, mc_get_key(ch, "minimumRingSize"), "consistentHash.minimumRingSize is "
                        "deprecated: use ringHash.minimumRingSize");
            if (mc_v_map(ch, "ringHash") || mc_v_map(ch, "maglev"))
                mc_v_report(c, MSH0413, mn, "consistentHash.minimumRingSize cannot be combined with %s",
                            mc_v_map(ch, "ringHash") ? "ringHash" : "maglev");
        }
        const mc_node *ml = mc_v_map(ch, "maglev");
        if (ml && !mc_v_odd(ml, "tableSize", MC_INT)) {
            int64_t ts;
            const mc_node *tn = mc_v_int(ml, "tableSize", &ts);
            uint64_t t = (uint64_t)ts;
            if (t == 0)
                mc_v_report(c, MSH0414, tn ? tn : ml, "maglev.tableSize must be set, to a prime below 5000011");
            else if (t >= 5000011)
                mc_v_report(c, MSH0414, tn, "maglev.tableSize %llu is not below 5000011", (unsigned long long)t);
            else if (!is_prime(t))
                mc_v_report(c, MSH0414, tn, "maglev.tableSize %llu is not a prime number", (unsigned long long)t);
        }
    }
    const mc_node *loc = mc_v_map(lb, "localityLbSetting"), *za = mc_v_map(lb, "zoneAwareLbSetting");
    if (loc && za)
        mc_v_report(c, MSH0415, mc_get_key(lb, "zoneAwareLbSetting"), "only one of localityLbSetting and "
                    "zoneAwareLbSetting may be set");
    if (loc) locality_lb(c, loc, od);
    if (za) zone_aware_lb(c, za, od);
    const mc_node *wu = mc_v_map(lb, "warmup");
    if (wu) {
        mc_v_duration_at(c, wu, "duration");
        double ag;
        const mc_node *an = mc_v_num(wu, "aggression", &ag);
        if (an && ag == 0)
            mc_v_report(c, MSH0423, an, "warmup.aggression must be greater than 0");
    }
}

/* agent.ValidateTLS (client side) */
static void client_tls(mc_vctx *c, const mc_node *t)
{
    const mc_node *cred = mc_v_str(t, "credentialName");
    if (cred && cred->n >= 12 && memcmp(cred->u.s, "configmap://", 12) == 0) {
        const char *r = cred->u.s + 12, *end = cred->u.s + cred->n;
        const char *slash = memchr(r, '/', (size_t)(end - r));
        const char *why = NULL;
        if (!slash) why = "it needs configmap://NAMESPACE/NAME";
        else if (slash == r) why = "the namespace is empty";
        else {
            const char *name = slash + 1;
            const char *s2 = memchr(name, '/', (size_t)(end - name));
            size_t nl = s2 ? (size_t)(s2 - name) : (size_t)(end - name);
            size_t nsl = (size_t)(slash - r);
            if (nl == 0) why = "the name is empty";
            else if (nsl != strlen(c->ns) || memcmp(r, c->ns, nsl) != 0 || !*c->ns)
                why = mc_arena_printf(c->scratch, "the namespace must be the DestinationRule's own, %s",
                                      mc_v_q(c, c->ns, strlen(c->ns)));
        }
        if (why) mc_v_report(c, MSH0424, cred, "invalid credentialName %s: %s", mc_v_qn(c, cred), why);
    }
    const char *mode = mc_v_s(t, "mode");
    bool simple = strcmp(mode, "SIMPLE") == 0, mutual = strcmp(mode, "MUTUAL") == 0;
    bool has_ca = mc_v_has(t, "caCertificates"), has_cred = cred && cred->n;
    bool has_san = mc_v_seq(t, "subjectAltNames") != NULL;
    if (mc_v_true(t, "insecureSkipVerify")) {
        const mc_node *at = mc_get_key(t, "insecureSkipVerify");
        if (simple && (has_ca || has_cred || has_san))
            mc_v_report(c, MSH0425, at, "insecureSkipVerify cannot be combined with %s",
                        has_ca ? "caCertificates" : has_cred ? "credentialName" : "subjectAltNames");
        if (mutual && (has_ca || has_san))
            mc_v_report(c, MSH0425, at, "insecureSkipVerify cannot be combined with %s",
                        has_ca ? "caCertificates" : "subjectAltNames");
    }
    if ((simple || mutual) && has_cred) {
        static const char *files[] = { "clientCertificate", "caCertificates", "privateKey", "caCrl" };
        for (int i = 0; i < 4; i++)
            if (mc_v_has(t, files[i])) {
                mc_v_report(c, MSH0426, mc_get_key(t, files[i]), "%s cannot be set with credentialName: the "
                            "credential holds the certificates", files[i]);
                break;
            }
        return;
    }
    if (mutual && !mc_v_odd(t, "clientCertificate", MC_STR) && !mc_v_odd(t, "privateKey", MC_STR)) {
        if (mc_v_blank(t, "clientCertificate"))
            mc_v_report(c, MSH0427, mc_v_keyat(t, "mode", t), "MUTUAL TLS needs clientCertificate (or a credentialName)");
        if (mc_v_blank(t, "privateKey"))
            mc_v_report(c, MSH0427, mc_v_keyat(t, "mode", t), "MUTUAL TLS needs privateKey (or a credentialName)");
    }
}

/* validateTunnelSettings */
static void tunnel(mc_vctx *c, const mc_node *t)
{
    const mc_node *p = mc_v_str(t, "protocol");
    if (p && p->n && strcmp(p->u.s, "CONNECT") != 0 && strcmp(p->u.s, "POST") != 0)
        mc_v_report(c, MSH0402, p, "tunnel protocol %s must be \"CONNECT\" or \"POST\"", mc_v_qn(c, p));
    const mc_node *h = mc_v_str(t, "targetHost");
    if (h && mc_dns_check(h->u.s, h->n, false, NULL, NULL) != MC_DNS_OK && (memchr(h->u.s, '\0', h->n) ||
                                                                          !mc_is_ip_addr(h->u.s)))
        mc_v_report(c, MSH0402, h, "tunnel targetHost %s is neither a fully qualified domain name nor an IP address: %s",
                    mc_v_qn(c, h), mc_v_dns_why(c, h->u.s, h->n, false));
    int64_t port;
    const mc_node *pn = mc_v_int(t, "targetPort", &port);
    if (pn) mc_v_port(c, pn, port, "tunnel targetPort");
}

static void policy_parts(mc_vctx *c, const mc_node *tp)
{
    const mc_node *od = mc_v_map(tp, "outlierDetection");
    if (od) outlier(c, od);
    const mc_node *cp = mc_v_map(tp, "connectionPool");
    if (cp) connection_pool(c, cp);
    const mc_node *lb = mc_v_map(tp, "loadBalancer");
    if (lb) load_balancer(c, lb, od);
    const mc_node *tls = mc_v_map(tp, "tls");
    if (tls) client_tls(c, tls);
}

/* validatePortTrafficPolicies: warnings inside are dropped (appendErrors) */
static void port_policies(mc_vctx *c, const mc_node *pls)
{
    bool w = c->warn;
    c->warn = false;
    MC_SEQ_EACH(pls, i) {
        const mc_node *p = mc_item(pls, i);
        if (p->type != MC_MAP) continue;
        if (mc_v_blank(p, "port"))
            mc_v_report(c, MSH0428, p, "portLevelSettings[%u] has no port", i);
        if (mc_v_blank(p, "outlierDetection") && mc_v_blank(p, "connectionPool") && mc_v_blank(p, "loadBalancer") &&
            mc_v_blank(p, "tls"))
            mc_v_report(c, MSH0429, p, "portLevelSettings[%u] sets no policy: add outlierDetection, connectionPool, "
                        "loadBalancer or tls", i);
        else
            policy_parts(c, p);
    }
    c->warn = w;
}

/* validateTrafficPolicy */
static void traffic_policy(mc_vctx *c, const mc_node *tp)
{
    if (!mc_is(tp, MC_MAP)) return;
    static const char *fields[] = { "outlierDetection", "connectionPool", "loadBalancer", "tls", "tunnel",
                                    "proxyProtocol", "retryBudget" };
    bool any = !mc_v_none(tp, "portLevelSettings");
    for (int i = 0; i < 7; i++) any |= !mc_v_blank(tp, fields[i]);
    if (!any) {
        mc_v_report(c, MSH0400, tp, "trafficPolicy sets nothing");
        return;
    }
    if (mc_v_map(tp, "tunnel") && mc_v_map(tp, "proxyProtocol")) {
        mc_v_report(c, MSH0401, mc_get_key(tp, "proxyProtocol"), "tunnel and proxyProtocol cannot be set together");
        return;
    }
    policy_parts(c, tp);
    port_policies(c, mc_v_seq(tp, "portLevelSettings"));
    const mc_node *tn = mc_v_map(tp, "tunnel");
    if (tn) tunnel(c, tn);
}

void mc_v_destinationrule(mc_vctx *c)
{
    const mc_node *spec = c->spec;
    const mc_node *host = mc_v_str(spec, "host");
    if (host) mc_v_host(c, host, host->u.s, host->n, true, "host", true);
    traffic_policy(c, mc_get(spec, "trafficPolicy"));

    const mc_node *subsets = mc_get(spec, "subsets");
    mc_strmap names;
    mc_strmap_init(&names);
    MC_SEQ_EACH(subsets, i) {
        const mc_node *s = mc_item(subsets, i);
        if (s->type != MC_MAP) continue;
        const mc_node *name = mc_v_str(s, "name");
        if (name) {
            bool found;
            mc_strmap_put(&names, name->u.s, name->n, &found);
            if (found) mc_v_report(c, MSH0430, name, "subset %s is defined twice", mc_v_qn(c, name));
            mc_v_subset_name(c, name, name->u.s, name->n);
        }
        mc_v_labels(c, mc_get(s, "labels"), "subset labels");
        bool w = c->warn;
        c->warn = false;    /* appendErrors: warnings of subset policies are dropped */
        traffic_policy(c, mc_get(s, "trafficPolicy"));
        c->warn = w;
    }
    mc_strmap_free(&names);

    const mc_node *sel = mc_v_map(spec, "workloadSelector");
    mc_v_export_to(c, mc_get(spec, "exportTo"), false, sel != NULL);
    mc_v_workload_selector(c, sel, "matchLabels", "");
}
