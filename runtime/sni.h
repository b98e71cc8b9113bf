/*
** sni.h -- peek at a TLS ClientHello for the server name (SNI) and the
** ALPN list, without consuming anything: the caller MSG_PEEKs (or keeps)
** the bytes received so far and calls rt_sni_peek() on all of them; the
** connection is then spliced upstream from byte 0. This is what Envoy's
** TLS inspector does for Istio's PASSTHROUGH servers.
**
** Returns
**     1  a complete ClientHello with a server_name: out->host
**     0  a complete ClientHello without server_name (or with ALPN only)
**    -2  need more bytes: read at least out->need bytes in total before
**        calling again (a lower bound, so a peer dribbling one byte per
**        segment costs O(n), not O(n^2))
**    -1  not TLS or not acceptable: out->err says which
**
** Handled: ClientHellos split across TCP segments (any split) and across
** several TLS records (the handshake message is reassembled across
** record boundaries; interleaved non-handshake records are refused),
** ClientHellos over 16 KiB (more than one record), an SSLv2-compatible
** hello (RT_SNI_E_SSLV2: not TLS for us, as for BoringSSL), plaintext
** (RT_SNI_E_NOT_TLS after the first byte). At most RT_SNI_MAX_HELLO
** bytes of records are ever examined (Envoy's TLS inspector limit):
** beyond that RT_SNI_E_TOO_LARGE, so a hostile peer cannot make the
** caller buffer forever.
**
** Validation follows BoringSSL's ClientHello parser where it matters for
** picking a route: record type 22 and version 3.x, record length 1..2^14,
** handshake type client_hello, every length field consistent with its
** container, session id <= 32 bytes, an even non-empty cipher list, a
** non-empty compression list, extensions exactly filling the message,
** no duplicate server_name or ALPN extension; server_name must hold
** exactly one host_name entry of 1..255 bytes without NUL; ALPN entries
** are non-empty. The host name is copied as sent (no case folding, no
** further syntax check): compare it ASCII-case-insensitively.
*/
#ifndef RT_SNI_H
#define RT_SNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_SNI_MAX_HELLO (64 * 1024)    /* bytes of records examined at most */
#define RT_SNI_HOST_MAX  255
#define RT_SNI_ALPN_MAX  256            /* wire-format ALPN bytes kept */

typedef enum rt_sni_err {
    RT_SNI_E_NONE,
    RT_SNI_E_NOT_TLS,           /* first bytes are not a TLS handshake record */
    RT_SNI_E_SSLV2,             /* SSLv2-compatible ClientHello */
    RT_SNI_E_MALFORMED,         /* TLS, but a length or field is wrong */
    RT_SNI_E_TOO_LARGE          /* ClientHello beyond RT_SNI_MAX_HELLO */
} rt_sni_err;

typedef struct rt_sni_info {
    char host[RT_SNI_HOST_MAX + 1];     /* NUL-terminated server name */
    uint16_t host_len;
    uint16_t legacy_version;            /* ClientHello.legacy_version, e.g. 0x0303 */
    uint8_t alpn[RT_SNI_ALPN_MAX];      /* protocol_name_list as on the wire */
    uint16_t alpn_len;
    bool alpn_truncated;                /* the list was longer than RT_SNI_ALPN_MAX */
    uint8_t err;                        /* rt_sni_err, on -1 */
    uint32_t hello_bytes;               /* record bytes up to the end of the ClientHello */
    uint32_t need;                      /* on -2: total bytes to have before retrying */
} rt_sni_info;

int rt_sni_peek(const uint8_t *buf, size_t len, rt_sni_info *out);

/* Iterate out->alpn: *off starts at 0; returns false at the end. */
bool rt_sni_alpn_next(const rt_sni_info *in, size_t *off, const char **proto, size_t *len);
/* Does the ALPN list offer proto (e.g. "h2", "http/1.1")? */
bool rt_sni_alpn_has(const rt_sni_info *in, const char *proto);
const char *rt_sni_err_text(rt_sni_err e);

#endif
