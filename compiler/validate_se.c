/*
** validate_se.c -- ServiceEntry: ValidateServiceEntry with
** validateWorkloadEntry for STATIC endpoints, and the IP auto-allocation
** test (serviceentry.ShouldV2AutoAllocateIPFromConfig) that decides the
** "addresses required" warning.
*/
#include "validate_int.h"
#include "host.h"
#include "strmap.h"

#include <strings.h>
#include <string.h>

typedef enum { RES_UNKNOWN = -1, RES_NONE, RES_STATIC, RES_DNS, RES_DNS_ROUND_ROBIN, RES_DYNAMIC_DNS } resolution;

static resolution se_resolution(const mc_node *spec)
{
    static const char *names[] = { "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS" };
    const mc_node *r = mc_get(spec, "resolution");
    if (!r || r->type == MC_NULL) return RES_NONE;
    const char *s = mc_str(r);
    for (int i = 0; s && i < 5; i++)
        if (strcmp(s, names[i]) == 0) return (resolution)i;
    return RES_UNKNOWN;     /* the schema stage reports it */
}

static const char *res_name(resolution r)
{
    static const char *names[] = { "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS" };
    return r >= 0 ? names[r] : "?";
}

static bool ip_addr(const mc_node *n)
{
    return !memchr(n->u.s, '\0', n->n) && mc_is_ip_addr(n->u.s);
}

/* the endpoint's port names must be ports of the ServiceEntry */
static void endpoint_ports(mc_vctx *c, const mc_node *ports, const mc_strmap *names)
{
    MC_MAP_EACH(ports, i) {
        const mc_node *k = mc_key(ports, i), *v = mc_val(ports, i);
        const char *ks = mc_text(k);
        if (!ks) continue;
        int64_t num = 0;
        bool has_num = v->type == MC_INT && mc_int(v, &num);
        if (!mc_strmap_get(names, ks, k->n))
            mc_v_report(c, MSH0514, k, "endpoint port %s is not a port of the ServiceEntry", mc_v_q(c, ks, k->n));
        if (!mc_istio_label(ks, k->n))
            mc_v_report(c, MSH0507, k, "invalid port name %s: it must be a DNS label", mc_v_q(c, ks, k->n));
        if (has_num) mc_v_port(c, v, num, "endpoint port");
    }
}

/* validateWorkloadEntry(endpoint, servicePorts, allowFQDN=false) */
static void static_endpoint(mc_vctx *c, const mc_node *ep, const mc_strmap *names)
{
    const mc_node *an = mc_v_str(ep, "address");
    const char *addr = an ? an->u.s : "";
    size_t al = an ? an->n : 0;
    if (al == 0) {
        if (mc_v_odd(ep, "address", MC_STR)) return;      /* the schema stage reports it */
        if (mc_v_odd(ep, "network", MC_STR)) return;
        if (mc_v_blank(ep, "network")) {
            mc_v_report(c, MSH0510, an ? an : ep, "endpoint has neither an address nor a network");
            return;
        }
        mc_v_report(c, MSH0511, mc_get_key(ep, "network"), "endpoint has no address, only network %s",
                    mc_v_qn(c, mc_v_str(ep, "network")));
    }
    bool unix_ = al >= 7 && memcmp(addr, "unix://", 7) == 0;
    const mc_node *ports = mc_v_nmap(ep, "ports");
    if (unix_) {
        const char *p = addr + 7;
        size_t pl = al - 7;
        const char *why = pl == 0 ? "the socket path is empty" : p[0] == '@' ? NULL : p[0] != '/' ?
                          "the socket path is not absolute" : p[pl - 1] == '/' ? "the socket path ends with '/'" : NULL;
        if (why) mc_v_report(c, MSH0512, an, "invalid endpoint address %s: %s", mc_v_qn(c, an), why);
        if (ports)
            mc_v_report(c, MSH0513, mc_get_key(ep, "ports"), "a unix domain socket endpoint cannot have ports");
    } else if (al && !ip_addr(an)) {
        mc_v_report(c, MSH0512, an, "endpoint address %s is not an IP address (resolution STATIC needs IP addresses "
                    "or unix:// sockets)", mc_v_qn(c, an));
    }
    endpoint_ports(c, ports, names);
    mc_v_labels(c, mc_get(ep, "labels"), "endpoint labels");
    if (unix_ && names->n != 1)
        mc_v_report(c, MSH0515, an, "a unix domain socket endpoint needs a ServiceEntry with exactly 1 port, not %zu",
                    names->n);
}

void mc_v_serviceentry(mc_vctx *c)
{
    const mc_node *spec = c->spec;
    const mc_node *sel = mc_v_map(spec, "workloadSelector");
    if (!mc_v_workload_selector(c, sel, "labels", ": the ServiceEntry selects every workload in its namespace"))
        return;     /* the webhook returns this error alone */
    const mc_node *endpoints = mc_v_seq(spec, "endpoints");
    if (sel && endpoints)
        mc_v_report(c, MSH0500, mc_get_key(spec, "endpoints"), "a ServiceEntry may have workloadSelector or "
                    "endpoints, not both");

    resolution res = se_resolution(spec);
    const mc_node *hosts = mc_v_seq(spec, "hosts");
    MC_SEQ_EACH(hosts, i) {
        const mc_node *h = mc_item(hosts, i);
        if (h->type != MC_STR) continue;
        if (h->n == 1 && h->u.s[0] == '*') {
            mc_v_report(c, MSH0501, h, "host \"*\" is not allowed on a ServiceEntry");
            continue;
        }
        mc_v_host(c, h, h->u.s, h->n, true, "hosts", true);
        if (res != RES_DYNAMIC_DNS && res != RES_UNKNOWN && mc_host_partial_wild(h->u.s, h->n))
            mc_v_report(c, MSH0502, h, "host %s has a partial wildcard: only a leading \"*.\" is supported "
                        "(or resolution DYNAMIC_DNS)", mc_v_qn(c, h));
    }

    const mc_node *addresses = mc_v_seq(spec, "addresses");
    const mc_node *cidr = NULL;
    MC_SEQ_EACH(addresses, i) {
        const mc_node *a = mc_item(addresses, i);
        if (a->type != MC_STR) continue;
        if (!cidr && memchr(a->u.s, '/', a->n)) cidr = a;
        if (memchr(a->u.s, '\0', a->n) || !mc_is_ip_subnet(a->u.s))
            mc_v_report(c, MSH0356, a, "address %s is neither an IP address nor a CIDR block", mc_v_qn(c, a));
    }
    if (cidr && res != RES_NONE && res != RES_STATIC && res != RES_UNKNOWN)
        mc_v_report(c, MSH0503, cidr, "CIDR address %s needs resolution NONE or STATIC, not %s", mc_v_qn(c, cidr),
                    res_name(res));

    /* IP auto-allocation (PILOT_ENABLE_IP_AUTOALLOCATE, on by default) */
    const mc_node *labels = mc_v_map(c->o->meta, "labels");
    bool auto_alloc = res != RES_NONE && strcasecmp(mc_v_s(labels, "networking.istio.io/enable-autoallocate-ip"),
                                                    "false") != 0 && !addresses;

    const mc_node *ports = mc_get(spec, "ports");
    mc_strmap names, numbers;
    mc_strmap_init(&names);
    mc_strmap_init(&numbers);
    MC_SEQ_EACH(ports, i) {
        const mc_node *p = mc_item(ports, i);
        if (p->type != MC_MAP) continue;
        const mc_node *name = mc_v_str(p, "name");
        bool found;
        *mc_strmap_put(&names, name ? name->u.s : "", name ? name->n : 0, &found) = (void *)p;
        if (found && name)
            mc_v_report(c, MSH0504, name, "port name %s is already used by another port", mc_v_qn(c, name));
        int64_t num, tp;
        const mc_node *nn = mc_v_int(p, "number", &num);
        char key[24];
        int kl = snprintf(key, sizeof key, "%lld", (long long)num);
        char *k = mc_arena_strndup(c->scratch, key, (size_t)kl);
        mc_strmap_put(&numbers, k, (size_t)kl, &found);
        if (found && nn) mc_v_report(c, MSH0505, nn, "port %lld is defined twice", (long long)num);
        const mc_node *tn = mc_v_int(p, "targetPort", &tp);
        if (tp != 0) mc_v_port(c, tn, tp, "targetPort");
        const mc_node *proto = mc_v_str(p, "protocol");
        const char *ps = proto ? proto->u.s : "";
        if (!addresses && !auto_alloc && res != RES_UNKNOWN && !mc_v_odd(p, "protocol", MC_STR) &&
            (ps[0] == '\0' || strcmp(ps, "TCP") == 0))
            mc_v_report(c, MSH0506, p, "port %lld serves %s without addresses; with resolution NONE (or IP "
                        "auto-allocation turned off) the ServiceEntry cannot be told apart from other TCP traffic "
                        "on that port", (long long)num, ps[0] ? "TCP" : "an unset protocol");
        if (name && !mc_istio_label(name->u.s, name->n))
            mc_v_report(c, MSH0507, name, "invalid port name %s: it must be a DNS label", mc_v_qn(c, name));
        if (ps[0] && mc_v_proto(ps) == MC_P_UNSUPPORTED)
            mc_v_report(c, MSH0209, proto, "unknown protocol %s: use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, "
                        "UDP, MONGO, REDIS or MYSQL", mc_v_qn(c, proto));
        if (nn) mc_v_port(c, nn, num, "port");
    }

    switch (res) {
    case RES_NONE:
        if (endpoints)
            mc_v_report(c, MSH0508, mc_get_key(spec, "endpoints"), "resolution NONE takes no endpoints: traffic goes "
                        "to the address the client asked for");
        if (sel)
            mc_v_report(c, MSH0509, mc_get_key(spec, "workloadSelector"), "workloadSelector should not be set with "
                        "resolution NONE");
        break;
    case RES_STATIC:
        MC_SEQ_EACH(endpoints, i) {
            const mc_node *ep = mc_item(endpoints, i);
            if (ep->type == MC_MAP) static_endpoint(c, ep, &names);
        }
        break;
    case RES_DNS:
    case RES_DNS_ROUND_ROBIN:
        if (mc_v_none(spec, "endpoints")) {
            MC_SEQ_EACH(hosts, i) {
                const mc_node *h = mc_item(hosts, i);
                if (h->type != MC_STR || mc_dns_check(h->u.s, h->n, false, NULL, NULL) == MC_DNS_OK) continue;
                mc_v_report(c, MSH0516, h, "resolution %s without endpoints resolves the hosts themselves, so each "
                            "must be a fully qualified name; %s is not: %s", res_name(res), mc_v_qn(c, h),
                            mc_v_dns_why(c, h->u.s, h->n, false));
                break;
            }
        }
        /* the CRD's CEL rule (schema stage) reports this at the second endpoint */
        if (res == RES_DNS_ROUND_ROBIN && endpoints && endpoints->n > 1 && !mc_diag_error_at(mc_item(endpoints, 1)->pos))
            mc_v_report(c, MSH0517, endpoints, "resolution DNS_ROUND_ROBIN takes at most 1 endpoint, not %u",
                        endpoints->n);
        MC_SEQ_EACH(endpoints, i) {
            const mc_node *ep = mc_item(endpoints, i);
            if (ep->type != MC_MAP) continue;
            const mc_node *an = mc_v_str(ep, "address");
            const char *a = an ? an->u.s : "";
            size_t al = an ? an->n : 0;
            if (!(an && ip_addr(an)) && mc_dns_check(a, al, false, NULL, NULL) != MC_DNS_OK)
                mc_v_report(c, MSH0512, an ? an : ep, "endpoint address %s is neither a fully qualified name nor an "
                            "IP address", mc_v_q(c, a, al));
            mc_v_labels(c, mc_get(ep, "labels"), "endpoint labels");
            endpoint_ports(c, mc_v_nmap(ep, "ports"), &names);
        }
        if (addresses) {
            MC_SEQ_EACH(ports, i) {
                const mc_node *p = mc_item(ports, i);
                if (p->type != MC_MAP || !mc_v_proto_tcp(mc_v_proto(mc_v_s(p, "protocol")))) continue;
                int64_t num;
                mc_v_int(p, "number", &num);
                if (hosts && hosts->n > 1)
                    mc_v_report(c, MSH0518, p, "with addresses, port %lld (%s) is keyed by address and port, so only "
                                "one of the %u hosts can be told apart", (long long)num, mc_v_s(p, "protocol"), hosts->n);
                break;
            }
        }
        break;
    case RES_DYNAMIC_DNS:
        MC_SEQ_EACH(hosts, i) {
            const mc_node *h = mc_item(hosts, i);
            if (h->type == MC_STR && !(h->n && h->u.s[0] == '*'))
                mc_v_report(c, MSH0519, h, "resolution DYNAMIC_DNS needs wildcard hosts; %s is not one",
                            mc_v_qn(c, h));
        }
        if (addresses)
            mc_v_report(c, MSH0520, mc_get_key(spec, "addresses"), "resolution DYNAMIC_DNS takes no addresses: "
                        "routes come from the hosts");
        if (endpoints)
            mc_v_report(c, MSH0521, mc_get_key(spec, "endpoints"), "resolution DYNAMIC_DNS takes no endpoints: the "
                        "destination is resolved from the request's host");
        MC_SEQ_EACH(ports, i) {
            const mc_node *p = mc_item(ports, i);
            if (p->type != MC_MAP) continue;
            mc_proto pr = mc_v_proto(mc_v_s(p, "protocol"));
            if (pr != MC_P_HTTP && pr != MC_P_TLS && pr != MC_P_GRPC && pr != MC_P_HTTP2)
                mc_v_report(c, MSH0522, mc_v_keyat(p, "protocol", p), "resolution DYNAMIC_DNS supports only HTTP, "
                            "TLS, GRPC and HTTP2 ports, not %s", mc_v_s(p, "protocol")[0] ? mc_v_s(p, "protocol") :
                            "an unset protocol");
        }
        if (strcmp(mc_v_s(spec, "location"), "MESH_INTERNAL") == 0) {
            const char *wp = mc_v_s(labels, "istio.io/use-waypoint");
            if (*wp && strcasecmp(wp, "none") != 0)
                mc_v_report(c, MSH0523, mc_get_key(spec, "location"), "location MESH_INTERNAL with resolution "
                            "DYNAMIC_DNS is not supported when the ServiceEntry uses a waypoint (label "
                            "istio.io/use-waypoint)");
        }
        break;
    case RES_UNKNOWN:
        break;
    }

    if (res != RES_NONE && res != RES_UNKNOWN && hosts && hosts->n > 1) {
        MC_SEQ_EACH(ports, i) {
            const mc_node *p = mc_item(ports, i);
            if (p->type != MC_MAP) continue;
            mc_proto pr = mc_v_proto(mc_v_s(p, "protocol"));
            if (!mc_v_proto_http(pr) && !mc_v_proto_tls(pr)) {
                int64_t num;
                mc_v_int(p, "number", &num);
                mc_v_report(c, MSH0524, p, "%u hosts share port %lld whose protocol %s carries no host name: the "
                            "proxy cannot tell the hosts apart", hosts->n, (long long)num,
                            mc_v_s(p, "protocol")[0] ? mc_v_s(p, "protocol") : "(unset)");
                break;
            }
        }
    }
    mc_strmap_free(&names);
    mc_strmap_free(&numbers);
    mc_v_export_to(c, mc_get(spec, "exportTo"), true, false);
}
