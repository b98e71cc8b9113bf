/*
** utls.c -- TLS origination to upstreams with OpenSSL (contracts in utls.h).
*/
#include "utls.h"

#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_SANS 16

struct rt_utls_ctx {
    SSL_CTX *ctx;
    bool insecure;
    char *sans[MAX_SANS];
    unsigned nsans;
};

struct rt_utls {
    SSL *ssl;
    int want;
};

static void ssl_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char b[256];
    if (e) ERR_error_string_n(e, b, sizeof b);
    else snprintf(b, sizeof b, "%s", what);
    snprintf(err, errlen, "%s", b);
    ERR_clear_error();
}

rt_utls_ctx *rt_utls_ctx_new(const char *ca_file, const char *cert_file, const char *key_file, bool insecure,
                             const char *const *sans, unsigned nsans, char *err, size_t errlen)
{
    rt_utls_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ERR_clear_error();
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        ssl_err(err, errlen, "SSL_CTX_new failed");
        free(c);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* a close without close_notify ends a close-delimited body, as Envoy reads it */
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    c->insecure = insecure;
    if (!insecure) {
        int ok = ca_file && *ca_file ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(c->ctx);
        if (ok != 1) {
            char e[200];
            ssl_err(e, sizeof e, "cannot load");
            snprintf(err, errlen, "caCertificates %s: %s", ca_file && *ca_file ? ca_file : "(system)", e);
            rt_utls_ctx_free(c);
            return NULL;
        }
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    }
    if (cert_file && *cert_file) {
        if (SSL_CTX_use_certificate_chain_file(c->ctx, cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(c->ctx, key_file && *key_file ? key_file : cert_file, SSL_FILETYPE_PEM) != 1) {
            char e[200];
            ssl_err(e, sizeof e, "cannot load");
            snprintf(err, errlen, "clientCertificate %s: %s", cert_file, e);
            rt_utls_ctx_free(c);
            return NULL;
        }
    }
    for (unsigned i = 0; i < nsans && c->nsans < MAX_SANS; i++)
        if (sans[i] && *sans[i] && !strstr(sans[i], "://") && (c->sans[c->nsans] = strdup(sans[i]))) c->nsans++;
    return c;
}

void rt_utls_ctx_free(rt_utls_ctx *c)
{
    if (!c) return;
    SSL_CTX_free(c->ctx);
    for (unsigned i = 0; i < c->nsans; i++) free(c->sans[i]);
    free(c);
}

/* The names the peer's certificate must match (SANs, else the SNI). */
static bool set_names(SSL *ssl, const rt_utls_ctx *c, const char *sni)
{
    X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!c->nsans) {
        if (!sni || !*sni) return true;
        unsigned char ip[16];
        if (inet_pton(AF_INET, sni, ip) == 1 || inet_pton(AF_INET6, sni, ip) == 1) return X509_VERIFY_PARAM_set1_ip_asc(p, sni) == 1;
        return X509_VERIFY_PARAM_set1_host(p, sni, 0) == 1;
    }
    for (unsigned i = 0; i < c->nsans; i++)
        if ((i ? X509_VERIFY_PARAM_add1_host(p, c->sans[i], 0) : X509_VERIFY_PARAM_set1_host(p, c->sans[i], 0)) != 1) return false;
    return true;
}

rt_utls *rt_utls_new(rt_utls_ctx *c, int fd, const char *sni, size_t sni_len)
{
    rt_utls *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    char name[256];
    size_t n = sni && sni_len < sizeof name ? sni_len : 0;
    if (n) memcpy(name, sni, n);
    name[n] = '\0';
    ERR_clear_error();
    t->ssl = SSL_new(c->ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1 || (n && SSL_set_tlsext_host_name(t->ssl, name) != 1) ||
        (!c->insecure && !set_names(t->ssl, c, n ? name : NULL))) {
        ERR_clear_error();
        rt_utls_free(t);
        return NULL;
    }
    SSL_set_connect_state(t->ssl);
    t->want = RT_WRITABLE;
    return t;
}

void rt_utls_free(rt_utls *t)
{
    if (!t) return;
    if (t->ssl) SSL_free(t->ssl);
    free(t);
}

int rt_utls_want(const rt_utls *t) { return t->want; }

bool rt_utls_pending(const rt_utls *t) { return SSL_pending(t->ssl) > 0; }

/* After a failed call: true when it only has to wait (t->want set). */
static bool would_block(rt_utls *t, int rc)
{
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
        t->want = RT_READABLE;
        return true;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        t->want = RT_WRITABLE;
        return true;
    }
    return false;
}

int rt_utls_handshake(rt_utls *t, char *err, size_t errlen)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->want = RT_READABLE;
        return 1;
    }
    if (would_block(t, rc)) return 0;
    long v = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_peek_error();
    char b[256];
    if (v != X509_V_OK) snprintf(b, sizeof b, "CERTIFICATE_VERIFY_FAILED: %s", X509_verify_cert_error_string(v));
    else if (e) ERR_error_string_n(e, b, sizeof b);
    else snprintf(b, sizeof b, "%s", errno ? strerror(errno) : "connection closed during the handshake");
    snprintf(err, errlen, "TLS_error:|%s:TLS_error_end", b);
    ERR_clear_error();
    return -1;
}

ssize_t rt_utls_read(rt_utls *t, void *buf, size_t n)
{
    if (n > INT32_MAX) n = INT32_MAX;
    ERR_clear_error();
    int rc = SSL_read(t->ssl, buf, (int)n);
    if (rc > 0) return rc;
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (would_block(t, rc)) {
        errno = EAGAIN;
        return -1;
    }
    ERR_clear_error();
    if (e == SSL_ERROR_SYSCALL && errno == 0) return 0;     /* EOF without close_notify */
    if (!errno || errno == EAGAIN) errno = ECONNRESET;
    return -1;
}

ssize_t rt_utls_write2(rt_utls *t, const char *a, size_t an, const char *b, size_t bn)
{
    size_t done = 0;
    const char *p[2] = { a, b };
    size_t len[2] = { an, bn };
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        while (off < len[i]) {
            size_t k = len[i] - off;
            if (k > INT32_MAX) k = INT32_MAX;
            ERR_clear_error();
            int rc = SSL_write(t->ssl, p[i] + off, (int)k);
            if (rc > 0) {
                off += (size_t)rc;
                done += (size_t)rc;
                continue;
            }
            if (would_block(t, rc)) {
                if (done) return (ssize_t)done;
                errno = EAGAIN;
                return -1;
            }
            ERR_clear_error();
            if (!errno || errno == EAGAIN) errno = EPIPE;
            return -1;
        }
    }
    return (ssize_t)done;
}
