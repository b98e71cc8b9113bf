/*
** validate_gw.c -- Gateway: ValidateGateway, validateServer,
** validateServerPort, validateServerBind, validateTLSOptions and
** agent.ValidateNamespaceSlashWildcardHostname.
*/
#include "validate_int.h"
#include "host.h"
#include "strmap.h"

#include <string.h>

typedef enum { TLS_UNKNOWN = -1, TLS_PASSTHROUGH, TLS_SIMPLE, TLS_MUTUAL, TLS_AUTO_PASSTHROUGH,
               TLS_ISTIO_MUTUAL, TLS_OPTIONAL_MUTUAL } tls_mode;

static tls_mode server_tls_mode(const mc_node *tls)
{
    static const char *names[] = { "PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL",
                                   "OPTIONAL_MUTUAL" };
    const mc_node *m = mc_get(tls, "mode");
    if (!m || m->type == MC_NULL) return TLS_PASSTHROUGH;   /* the enum's zero value */
    const char *s = mc_str(m);
    for (int i = 0; s && i < 6; i++)
        if (strcmp(s, names[i]) == 0) return (tls_mode)i;
    return TLS_UNKNOWN;     /* the schema stage reports it */
}

/* ValidateUnixAddress; NULL when valid */
static const char *unix_why(const char *p, size_t n)
{
    if (n == 0) return "the socket path is empty";
    if (p[0] == '@') return NULL;
    if (p[0] != '/') return "the socket path is not absolute";
    if (p[n - 1] == '/') return "the socket path ends with '/'";
    return NULL;
}

/* validateSidecarOrGatewayHostnamePart with isGateway */
static void host_part(mc_vctx *c, const mc_node *at, const char *h, size_t n, const char *full)
{
    if (!(n == 1 && h[0] == '*') && !memchr(h, '.', n))
        mc_v_report(c, MSH0206, at, "gateway host %s is a short name: use a fully qualified name (with a '.') or \"*\"",
                    mc_v_q(c, full, strlen(full)));
    if (mc_dns_check(h, n, true, NULL, NULL) != MC_DNS_OK) {
        char ip[80];
        bool is_ip = false;
        if (n < sizeof ip) {
            memcpy(ip, h, n);
            ip[n] = '\0';
            is_ip = mc_is_ip_addr(ip);
        }
        if (!is_ip)
            mc_v_report(c, MSH0207, at, "invalid host %s in gateway server hosts: %s", mc_v_q(c, full, strlen(full)),
                        mc_v_dns_why(c, h, n, true));
    }
    if (mc_host_partial_wild(h, n))
        mc_v_report(c, MSH0208, at, "gateway host %s has a partial wildcard: only \"*\" or a leading \"*.\" are allowed",
                    mc_v_q(c, full, strlen(full)));
}

/* agent.ValidateNamespaceSlashWildcardHostname(host, isGateway=true) */
static void server_host(mc_vctx *c, const mc_node *hn)
{
    const char *h = hn->u.s;
    size_t n = hn->n;
    const char *slash = memchr(h, '/', n);
    if (!slash) {
        host_part(c, hn, h, n, h);
        return;
    }
    size_t nsl = (size_t)(slash - h);
    const char *dns = slash + 1;
    size_t dl = n - nsl - 1;
    if (nsl == 0 || dl == 0)
        mc_v_report(c, MSH0205, hn, "gateway host %s: the namespace and the DNS name in namespace/dnsName must "
                    "both be set", mc_v_qn(c, hn));
    bool special = nsl == 1 && (h[0] == '*' || h[0] == '.' || (h[0] == '~' && c->gw_semantics));
    if (!special && !mc_istio_label(h, nsl))
        mc_v_report(c, MSH0205, hn, "gateway host %s: namespace %s must be \"*\", \".\" or a namespace name",
                    mc_v_qn(c, hn), mc_v_q(c, h, nsl));
    host_part(c, hn, dns, dl, h);
}

/* security.IsValidCipherSuite. Go tests the first byte as a rune, so bytes
** 0x80..0xFF count as Latin-1 letters and numbers. */
static bool latin1_alnum(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return true;
    if (ch < 0x80) return false;
    return ch == 0xAA || ch == 0xB2 || ch == 0xB3 || ch == 0xB5 || ch == 0xB9 || ch == 0xBA ||
           (ch >= 0xBC && ch <= 0xBE) || (ch >= 0xC0 && ch != 0xD7 && ch != 0xF7);
}

static bool valid_cipher(const char *s, size_t n)
{
    static const char *ok[] = {
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
    };
    if (n == 0 || (n == 3 && memcmp(s, "ALL", 3) == 0)) return true;
    if (!latin1_alnum((unsigned char)s[0])) return true;    /* "-X", "+X", "!X" expressions */
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == n && memcmp(ok[i], s, n) == 0) return true;
    return false;
}

static void ciphers(mc_vctx *c, const mc_node *tls)
{
    const mc_node *cs = mc_v_seq(tls, "cipherSuites");
    if (!cs) return;
    mc_strmap seen;
    mc_strmap_init(&seen);
    MC_SEQ_EACH(cs, i) {
        const mc_node *s = mc_item(cs, i);
        if (s->type != MC_STR) continue;
        bool found;
        void **slot = mc_strmap_put(&seen, s->u.s, s->n, &found);
        if (!valid_cipher(s->u.s, s->n)) {
            if (!found)
                mc_v_report(c, MSH0220, s, "cipher suite %s is not supported by Envoy and is ignored", mc_v_qn(c, s));
        } else if (found && *slot == NULL) {
            mc_v_report(c, MSH0221, s, "cipher suite %s is listed more than once", mc_v_qn(c, s));
            *slot = (void *)1;     /* report each duplicate once */
        }
    }
    mc_strmap_free(&seen);
}

/* validateTLSOptions */
static void server_tls(mc_vctx *c, const mc_node *tls)
{
    const mc_node *minv = mc_v_str(tls, "minProtocolVersion");
    if (minv && (strcmp(minv->u.s, "TLSV1_0") == 0 || strcmp(minv->u.s, "TLSV1_1") == 0) && !mc_v_seq(tls, "cipherSuites"))
        mc_v_report(c, MSH0219, minv, "minProtocolVersion %s without cipherSuites: Envoy's default ciphers no longer "
                    "include ones that TLS 1.0/1.1 clients can use", minv->u.s);
    ciphers(c, tls);

    tls_mode mode = server_tls_mode(tls);
    const mc_node *scert = mc_v_str(tls, "serverCertificate"), *pkey = mc_v_str(tls, "privateKey"),
                  *ca = mc_v_str(tls, "caCertificates"), *cred = mc_v_str(tls, "credentialName"),
                  *crl = mc_v_str(tls, "caCrl");
    const mc_node *creds = mc_v_seq(tls, "credentialNames"), *certs = mc_v_seq(tls, "tlsCertificates");
    bool has_scert = scert && scert->n, has_pkey = pkey && pkey->n, has_ca = ca && ca->n, has_cred = cred && cred->n,
         has_crl = crl && crl->n;
    /* fields of the wrong type: neither set nor missing */
    bool odd = mc_v_odd(tls, "serverCertificate", MC_STR) || mc_v_odd(tls, "privateKey", MC_STR) ||
               mc_v_odd(tls, "caCertificates", MC_STR) || mc_v_odd(tls, "credentialName", MC_STR) ||
               mc_v_odd(tls, "credentialNames", MC_SEQ) || mc_v_odd(tls, "tlsCertificates", MC_SEQ);

    if (mode == TLS_ISTIO_MUTUAL) {
        static const char *what[] = { "serverCertificate", "privateKey", "caCertificates", "tlsCertificates",
                                      "credentialName", "credentialNames" };
        bool set[] = { has_scert, has_pkey, has_ca, certs != NULL, has_cred, creds != NULL };
        for (int i = 0; i < 6; i++)
            if (set[i])
                mc_v_report(c, MSH0222, mc_get_key(tls, what[i]), "ISTIO_MUTUAL TLS uses the mesh certificates; "
                            "%s may not be set", what[i]);
        return;
    }
    if ((mode == TLS_PASSTHROUGH || mode == TLS_AUTO_PASSTHROUGH) &&
        (has_crl || has_scert || has_pkey || has_ca || certs || has_cred || creds))
        mc_v_report(c, MSH0223, mc_v_keyat(tls, "mode", tls), "%s mode does not terminate TLS: the certificate "
                    "settings are ignored", mode == TLS_PASSTHROUGH ? "PASSTHROUGH" : "AUTO_PASSTHROUGH");

    int sources = (has_scert && has_pkey) + has_cred + (creds != NULL) + (certs != NULL);
    /* credentialName with credentialNames, and credentialNames with
    ** tlsCertificates, are the CRD's CEL rules: the schema stage reports them */
    bool cel = (has_cred && creds) || (creds && certs);
    if (sources > 1 && !cel)
        mc_v_report(c, MSH0224, tls, "more than one certificate source: set only one of credentialName, "
                    "credentialNames, serverCertificate/privateKey and tlsCertificates");

    bool terminating = mode == TLS_SIMPLE || mode == TLS_MUTUAL || mode == TLS_OPTIONAL_MUTUAL;
    if (terminating && (has_cred || creds)) return;     /* certificates come from the credential */
    if (odd) terminating = false;
    if (terminating) {
        const char *pfx = mode == TLS_SIMPLE ? "SIMPLE TLS" : "MUTUAL TLS";
        if (mode != TLS_SIMPLE && !has_ca)
            mc_v_report(c, MSH0226, mc_v_keyat(tls, "mode", tls), "%s requires caCertificates (the CA bundle that "
                        "verifies client certificates) or a credentialName", pfx);
        if (certs && certs->n > 2)
            mc_v_report(c, MSH0227, certs, "%s can use at most 2 server certificates, %u are listed", pfx, certs->n);
        if (certs) {
            MC_SEQ_EACH(certs, i) {
                const mc_node *ce = mc_item(certs, i);
                if (!mc_v_has(ce, "serverCertificate"))
                    mc_v_report(c, MSH0225, ce, "%s requires a server certificate: tlsCertificates[%u] has no "
                                "serverCertificate", pfx, i);
                if (!mc_v_has(ce, "privateKey"))
                    mc_v_report(c, MSH0225, ce, "%s requires a private key: tlsCertificates[%u] has no privateKey", pfx, i);
            }
        } else {
            if (!has_scert)
                mc_v_report(c, MSH0225, mc_v_keyat(tls, "mode", tls), "%s requires serverCertificate (or a "
                            "credentialName)", pfx);
            if (!has_pkey)
                mc_v_report(c, MSH0225, mc_v_keyat(tls, "mode", tls), "%s requires privateKey (or a credentialName)", pfx);
        }
    }
    if (has_crl) {
        if (has_cred)
            mc_v_report(c, MSH0228, crl, "caCrl cannot be combined with credentialName: put the CRL in the credential");
        if (mode == TLS_SIMPLE)
            mc_v_report(c, MSH0228, crl, "caCrl is not supported with SIMPLE TLS (no client certificates are verified)");
    }
}

/* validateServer, with validateServerPort and validateServerBind */
static void server(mc_vctx *c, const mc_node *s)
{
    const mc_node *hosts = mc_get(s, "hosts");
    if (mc_is(hosts, MC_SEQ) && hosts->n == 0)
        mc_v_report(c, MSH0204, hosts, "server has no hosts: list at least one host (\"*\" for any)");
    MC_SEQ_EACH(hosts, i) {
        const mc_node *h = mc_item(hosts, i);
        if (h->type == MC_STR) server_host(c, h);
    }

    const mc_node *port = mc_v_map(s, "port");
    const mc_node *bindn = mc_v_str(s, "bind");
    const char *bind = bindn ? bindn->u.s : "";
    bool unix_bind = strncmp(bind, "unix://", 7) == 0;
    bool port_err = port == NULL;
    int64_t number = 0;
    const mc_node *protocol = NULL;
    if (port) {
        protocol = mc_v_str(port, "protocol");
        if (mc_v_proto(protocol ? protocol->u.s : "") == MC_P_UNSUPPORTED) {
            port_err = true;
            if (protocol)
                mc_v_report(c, MSH0209, protocol, "unknown protocol %s: use HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, "
                            "MONGO, REDIS, MYSQL, TCP or TLS", mc_v_qn(c, protocol));
        }
        const mc_node *num = mc_v_int(port, "number", &number);
        if ((number > 0 || !unix_bind) && !(number >= 1 && number <= 65535)) {
            port_err = true;
            if (num) mc_v_port(c, num, number, "server port");
        }
        int64_t tp;
        const mc_node *tpn = mc_v_int(port, "targetPort", &tp);
        if (tp > 0) {
            port_err = true;
            mc_v_report(c, MSH0211, tpn, "targetPort has no effect on a Gateway: remove it");
        }
        const mc_node *name = mc_v_str(port, "name");
        if (!name || name->n == 0) {
            port_err = true;
            if (name) mc_v_report(c, MSH0212, name, "server port name is empty");
        }
    }

    if (unix_bind) {
        const char *why = unix_why(bind + 7, bindn->n - 7);
        if (why) mc_v_report(c, MSH0214, bindn, "invalid bind %s: %s", mc_v_qn(c, bindn), why);
        if (port && number != 0)
            mc_v_report(c, MSH0215, mc_v_keyat(port, "number", port), "a server bound to a unix domain socket must "
                        "have port number 0, not %lld", (long long)number);
    } else if (bindn && bindn->n && (memchr(bind, '\0', bindn->n) || !mc_is_ip_addr(bind))) {
        mc_v_report(c, MSH0214, bindn, "invalid bind %s: it must be an IP address or unix://PATH", mc_v_qn(c, bindn));
    }

    const mc_node *tls = mc_v_map(s, "tls");
    if (tls) server_tls(c, tls);

    if (port_err) return;
    mc_proto p = mc_v_proto(protocol->u.s);
    if (mc_v_proto_tls(p) && mc_v_blank(s, "tls")) {
        mc_v_report(c, MSH0216, protocol, "protocol %s needs tls settings (mode and certificates)", protocol->u.s);
    } else if (!mc_v_proto_tls(p) && tls) {
        if (mc_v_proto_http(p)) {
            tls_mode mode = server_tls_mode(tls);
            bool passthrough = mode == TLS_PASSTHROUGH || mode == TLS_AUTO_PASSTHROUGH;
            if (mode != TLS_UNKNOWN && (!passthrough || mc_v_has(tls, "caCertificates") || mc_v_has(tls, "privateKey") ||
                                        mc_v_has(tls, "serverCertificate")))
                mc_v_report(c, MSH0217, mc_get_key(s, "tls"), "a plain-text %s server cannot have tls settings other "
                            "than httpsRedirect: use protocol HTTPS to terminate TLS", protocol->u.s);
        } else {
            mc_v_report(c, MSH0217, mc_get_key(s, "tls"), "a %s server cannot have tls settings: only HTTPS and TLS "
                        "servers use them", protocol->u.s);
        }
    }
}

void mc_v_gateway(mc_vctx *c)
{
    const mc_node *name = mc_v_str(c->o->meta, "name");
    if (name && !mc_istio_label(name->u.s, name->n) && !c->gw_semantics)
        mc_v_report(c, MSH0202, name, "invalid Gateway name %s: it must be a DNS label (letters, digits and '-', "
                    "no dots)", mc_v_qn(c, name));

    const mc_node *servers = mc_get(c->spec, "servers");
    if (!servers || (servers->type == MC_SEQ && servers->n == 0) || servers->type == MC_NULL) {
        mc_v_report(c, MSH0203, servers ? servers : c->at, "Gateway has no servers: it opens no port");
        return;
    }
    MC_SEQ_EACH(servers, i) {
        const mc_node *s = mc_item(servers, i);
        if (s->type == MC_MAP) server(c, s);
    }

    /* port names unique across servers; httpsRedirect only on HTTP */
    mc_strmap names;
    mc_strmap_init(&names);
    MC_SEQ_EACH(servers, i) {
        const mc_node *s = mc_item(servers, i), *port = mc_v_map(s, "port");
        if (!port) continue;
        const mc_node *pn = mc_v_str(port, "name");
        if (pn) {
            bool found;
            const mc_node **first = (const mc_node **)mc_strmap_put(&names, pn->u.s, pn->n, &found);
            if (found) {
                mc_v_report(c, MSH0213, pn, "port name %s is already used by the server on line %u",
                            mc_v_qn(c, pn), mc_node_line(*first));
            } else {
                *first = pn;
            }
        }
        const mc_node *tls = mc_v_map(s, "tls");
        if (mc_v_true(tls, "httpsRedirect") && !mc_v_proto_http(mc_v_proto(mc_v_s(port, "protocol"))))
            mc_v_report(c, MSH0218, mc_get_key(tls, "httpsRedirect"), "tls.httpsRedirect only has an effect on "
                        "HTTP servers, not on %s", mc_v_s(port, "protocol")[0] ? mc_v_s(port, "protocol") : "this one");
    }
    mc_strmap_free(&names);
}
