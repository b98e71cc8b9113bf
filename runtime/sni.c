/*
** sni.c -- ClientHello peek. Contract in sni.h.
**
** A cursor reads the handshake byte stream through the record layer:
** each record's 5-byte header is checked when the cursor enters it, so
** a message split over any number of records reads like one buffer.
** Running out of input anywhere is "need more".
*/
#include "sni.h"

#include <string.h>

enum { NEED = -2, BAD = -1 };

typedef struct cur {
    const uint8_t *b;
    size_t len;
    size_t pos;                 /* next byte in b */
    size_t rec_left;            /* payload bytes left in the current record */
    size_t hs_read;             /* handshake bytes read so far */
    int err;                    /* rt_sni_err once BAD */
} cur;

static int enter_record(cur *c)
{
    if (c->pos + 5 > RT_SNI_MAX_HELLO) { c->err = RT_SNI_E_TOO_LARGE; return BAD; }
    if (c->pos + 5 > c->len) return NEED;
    const uint8_t *h = c->b + c->pos;
    size_t n = (size_t)h[3] << 8 | h[4];
    if (h[0] != 22 || h[1] != 3 || n == 0 || n > 16384) { c->err = RT_SNI_E_MALFORMED; return BAD; }
    c->pos += 5;
    c->rec_left = n;
    return 0;
}

/* Read n bytes (dst may be NULL to skip). */
static int take(cur *c, uint8_t *dst, size_t n)
{
    while (n) {
        if (!c->rec_left) {
            int r = enter_record(c);
            if (r) return r;
        }
        if (c->pos >= RT_SNI_MAX_HELLO) { c->err = RT_SNI_E_TOO_LARGE; return BAD; }
        size_t k = n < c->rec_left ? n : c->rec_left;
        if (c->pos + k > c->len) k = c->len - c->pos;
        if (!k) return NEED;
        if (dst) { memcpy(dst, c->b + c->pos, k); dst += k; }
        c->pos += k;
        c->rec_left -= k;
        c->hs_read += k;
        n -= k;
    }
    return 0;
}

static int u8(cur *c, size_t *v)
{
    uint8_t x;
    int r = take(c, &x, 1);
    *v = x;
    return r;
}

static int u16(cur *c, size_t *v)
{
    uint8_t x[2];
    int r = take(c, x, 2);
    *v = (size_t)x[0] << 8 | x[1];
    return r;
}

static int u24(cur *c, size_t *v)
{
    uint8_t x[3];
    int r = take(c, x, 3);
    *v = (size_t)x[0] << 16 | (size_t)x[1] << 8 | x[2];
    return r;
}

#define TRY(e) do { int r_ = (e); if (r_) return r_; } while (0)
#define MALFORMED() do { c->err = RT_SNI_E_MALFORMED; return BAD; } while (0)

static int server_name(cur *c, size_t ext_len, rt_sni_info *out)
{
    size_t list, type, n;
    if (ext_len < 5) MALFORMED();
    TRY(u16(c, &list));
    if (list != ext_len - 2) MALFORMED();
    TRY(u8(c, &type));
    TRY(u16(c, &n));
    if (type != 0 || n == 0 || n > RT_SNI_HOST_MAX || n != list - 3) MALFORMED();
    TRY(take(c, (uint8_t *)out->host, n));
    if (memchr(out->host, 0, n)) MALFORMED();
    out->host[n] = 0;
    out->host_len = (uint16_t)n;
    return 0;
}

static int alpn(cur *c, size_t ext_len, rt_sni_info *out)
{
    size_t list, n;
    if (ext_len < 2) MALFORMED();
    TRY(u16(c, &list));
    if (list != ext_len - 2 || list < 2) MALFORMED();
    while (list) {
        TRY(u8(c, &n));
        if (n == 0 || n + 1 > list) MALFORMED();
        if (out->alpn_len + 1 + n <= RT_SNI_ALPN_MAX) {
            out->alpn[out->alpn_len] = (uint8_t)n;
            TRY(take(c, out->alpn + out->alpn_len + 1, n));
            out->alpn_len = (uint16_t)(out->alpn_len + 1 + n);
        } else {
            out->alpn_truncated = true;
            TRY(take(c, NULL, n));
        }
        list -= n + 1;
    }
    return 0;
}

/* The ClientHello after its 4-byte handshake header; msg_len bytes. */
static int client_hello(cur *c, size_t msg_len, rt_sni_info *out, int *has_sni)
{
    size_t start = c->hs_read, v, n;
#define LEFT() (msg_len - (c->hs_read - start))
    if (msg_len < 2 + 32 + 1 + 2 + 1) MALFORMED();
    TRY(u16(c, &v));
    out->legacy_version = (uint16_t)v;
    TRY(take(c, NULL, 32));
    TRY(u8(c, &n));
    if (n > 32 || n + 3 > LEFT()) MALFORMED();
    TRY(take(c, NULL, n));
    TRY(u16(c, &n));
    if (n < 2 || n % 2 || n + 1 > LEFT()) MALFORMED();
    TRY(take(c, NULL, n));
    TRY(u8(c, &n));
    if (n < 1 || n > LEFT()) MALFORMED();
    TRY(take(c, NULL, n));
    *has_sni = 0;
    if (LEFT() == 0) return 0;              /* no extensions at all */
    if (LEFT() < 2) MALFORMED();
    size_t ext_total;
    TRY(u16(c, &ext_total));
    if (ext_total != LEFT()) MALFORMED();
    bool seen_alpn = false;
    while (LEFT()) {
        size_t type, len;
        if (LEFT() < 4) MALFORMED();
        TRY(u16(c, &type));
        TRY(u16(c, &len));
        if (len > LEFT()) MALFORMED();
        if (type == 0) {
            if (*has_sni) MALFORMED();
            TRY(server_name(c, len, out));
            *has_sni = 1;
        } else if (type == 16) {
            if (seen_alpn) MALFORMED();
            seen_alpn = true;
            TRY(alpn(c, len, out));
        } else {
            TRY(take(c, NULL, len));
        }
    }
#undef LEFT
    return 0;
}

int rt_sni_peek(const uint8_t *buf, size_t len, rt_sni_info *out)
{
    memset(out, 0, sizeof *out);
    out->need = 1;
    if (len == 0) return NEED;
    /* SSLv2-compatible hello: 2-byte header with the top bit set, then
    ** msg type 1 (client-hello) and a 3.x version */
    if (buf[0] & 0x80) {
        if (len < 3) { out->need = 3; return NEED; }
        out->err = buf[2] == 1 ? RT_SNI_E_SSLV2 : RT_SNI_E_NOT_TLS;
        return BAD;
    }
    if (buf[0] != 22 || (len >= 2 && buf[1] != 3)) {
        out->err = RT_SNI_E_NOT_TLS;
        return BAD;
    }
    cur cc = { .b = buf, .len = len }, *c = &cc;
    size_t type = 0, mlen = 0;
    int has_sni = 0;
    int r = u8(c, &type);
    if (!r && type != 1) { c->err = RT_SNI_E_MALFORMED; r = BAD; }
    if (!r) r = u24(c, &mlen);
    if (!r && mlen + 4 > RT_SNI_MAX_HELLO - 5) { c->err = RT_SNI_E_TOO_LARGE; r = BAD; }
    if (!r) r = client_hello(c, mlen, out, &has_sni);
    if (r == BAD) {
        out->err = (uint8_t)c->err;
        return BAD;
    }
    if (r == NEED) {
        /* lower bound: what was read, the rest of the message if known,
        ** and a record header if the current record is used up */
        size_t want = c->pos + 1;
        if (c->hs_read < 4 && want < 9) want = 9;     /* record + handshake headers */
        if (c->hs_read >= 4) {
            size_t rest = mlen + 4 - c->hs_read;
            want = c->pos + rest + (rest > c->rec_left ? 5 : 0);
        }
        if (want <= len) want = len + 1;
        out->need = (uint32_t)(want > RT_SNI_MAX_HELLO ? RT_SNI_MAX_HELLO : want);
        return NEED;
    }
    out->hello_bytes = (uint32_t)c->pos;
    out->need = 0;
    return has_sni;
}

bool rt_sni_alpn_next(const rt_sni_info *in, size_t *off, const char **proto, size_t *len)
{
    if (*off >= in->alpn_len) return false;
    size_t n = in->alpn[*off];
    *proto = (const char *)in->alpn + *off + 1;
    *len = n;
    *off += n + 1;
    return true;
}

bool rt_sni_alpn_has(const rt_sni_info *in, const char *proto)
{
    size_t off = 0, n, pl = strlen(proto);
    const char *p;
    while (rt_sni_alpn_next(in, &off, &p, &n))
        if (n == pl && !memcmp(p, proto, n)) return true;
    return false;
}

const char *rt_sni_err_text(rt_sni_err e)
{
    switch (e) {
    case RT_SNI_E_NONE: return "no error";
    case RT_SNI_E_NOT_TLS: return "not a TLS handshake";
    case RT_SNI_E_SSLV2: return "SSLv2-compatible ClientHello";
    case RT_SNI_E_MALFORMED: return "malformed ClientHello";
    case RT_SNI_E_TOO_LARGE: return "ClientHello too large";
    }
    return "?";
}
