/*
** utls.h -- TLS origination to upstreams (DestinationRule tls.mode SIMPLE
** and MUTUAL), with OpenSSL, over non-blocking sockets.
**
** A context per cluster and worker holds the trust settings:
**   caCertificates      PEM file of trusted CAs; unset: the system's roots
**   insecureSkipVerify  no verification at all
**   subjectAltNames     the names the certificate must carry; unset: the
**                       SNI (Istio's auto SAN validation)
**   clientCertificate + privateKey   MUTUAL: presented to the upstream
** A connection sends the SNI it is given and verifies the peer during the
** handshake. Reads and writes follow recv/send conventions: -1 with errno
** EAGAIN when the socket must become ready (rt_utls_want says for what),
** any other errno when the connection failed.
**
** Decrypted bytes may wait inside OpenSSL after a read that filled the
** caller's buffer; the socket then shows no readiness for them, so the
** caller must look at rt_utls_pending() before waiting for the socket.
*/
#ifndef RT_UTLS_H
#define RT_UTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct rt_utls_ctx rt_utls_ctx;
typedef struct rt_utls rt_utls;

/* NULL with a message in err when a file cannot be loaded. Strings may be
** NULL or "" for unset; sans is a list of n names. */
rt_utls_ctx *rt_utls_ctx_new(const char *ca_file, const char *cert_file, const char *key_file, bool insecure,
                             const char *const *sans, unsigned nsans, char *err, size_t errlen);
void rt_utls_ctx_free(rt_utls_ctx *c);

/* A client session on connected socket fd; sni may be NULL or "". */
rt_utls *rt_utls_new(rt_utls_ctx *c, int fd, const char *sni, size_t sni_len);
void rt_utls_free(rt_utls *t);

/* Drive the handshake: 1 done, 0 in progress (wait per rt_utls_want),
** -1 failed with Envoy's transport failure text in err
** ("TLS_error:|...:TLS_error_end"). */
int rt_utls_handshake(rt_utls *t, char *err, size_t errlen);
/* RT_READABLE / RT_WRITABLE: what the last operation waits for. */
int rt_utls_want(const rt_utls *t);

ssize_t rt_utls_read(rt_utls *t, void *buf, size_t n);
/* Write a then b (either may be empty); returns bytes taken from a, then b. */
ssize_t rt_utls_write2(rt_utls *t, const char *a, size_t an, const char *b, size_t bn);
/* Decrypted bytes held inside OpenSSL. */
bool rt_utls_pending(const rt_utls *t);

#endif
