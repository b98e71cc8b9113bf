/*
** t_sni.c -- ClientHello peek on real ClientHellos made by OpenSSL's
** client in memory BIOs (nothing committed as binary), re-framed into
** many records, fed one byte at a time, padded over 16 KiB, truncated
** and corrupted; plus plaintext and an SSLv2-style hello.
*/
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sni.h"
#include "t.h"

static const unsigned char *big_ext_data;
static size_t big_ext_len;

static int add_big(SSL *s, unsigned int type, const unsigned char **out, size_t *outlen, int *al, void *arg)
{
    (void)s; (void)type; (void)al; (void)arg;
    *out = big_ext_data;
    *outlen = big_ext_len;
    return 1;
}

/* ClientHello bytes as OpenSSL's client sends them. */
static size_t hello(const char *sni, const char *alpn, size_t alpn_len, size_t pad, uint8_t *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (pad) {
        big_ext_len = pad;
        big_ext_data = calloc(1, pad);
        SSL_CTX_add_client_custom_ext(ctx, 0xfde8, add_big, NULL, NULL, NULL, NULL);
    }
    SSL *s = SSL_new(ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(s, rb, wb);
    if (sni) SSL_set_tlsext_host_name(s, sni);
    if (alpn) SSL_set_alpn_protos(s, (const unsigned char *)alpn, (unsigned)alpn_len);
    SSL_connect(s);
    int n = BIO_read(wb, out, (int)cap);
    SSL_free(s);
    SSL_CTX_free(ctx);
    if (pad) free((void *)big_ext_data);
    return n > 0 ? (size_t)n : 0;
}

/* Re-frame the handshake bytes of in into records of at most frag bytes. */
static size_t reframe(const uint8_t *in, size_t len, size_t frag, uint8_t *out)
{
    static uint8_t hs[80000];
    size_t h = 0, pos = 0, o = 0;
    while (pos + 5 <= len) {
        size_t n = (size_t)in[pos + 3] << 8 | in[pos + 4];
        memcpy(hs + h, in + pos + 5, n);
        h += n;
        pos += 5 + n;
    }
    for (size_t i = 0; i < h; i += frag) {
        size_t n = h - i < frag ? h - i : frag;
        out[o++] = 22; out[o++] = 3; out[o++] = 1;
        out[o++] = (uint8_t)(n >> 8); out[o++] = (uint8_t)n;
        memcpy(out + o, hs + i, n);
        o += n;
    }
    return o;
}

/* A copy ending at a PROT_NONE page, so any overread faults. */
static const uint8_t *guard(const uint8_t *s, size_t n)
{
    static uint8_t *region;
    static size_t rlen;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), need = ((n + pg - 1) / pg + 1) * pg;
    if (need > rlen) {
        if (region) munmap(region, rlen);
        region = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(region + need - pg, pg, PROT_NONE);
        rlen = need;
    }
    uint8_t *p = region + rlen - pg - n;
    memcpy(p, s, n);
    return p;
}

static rt_sni_info I;

static int peek(const uint8_t *b, size_t n) { return rt_sni_peek(guard(b, n), n, &I); }

/* every proper prefix says -2 (with a growing lower bound), the whole says want */
static int per_byte(const uint8_t *b, size_t n, int want, const char *host)
{
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        int r = peek(b, k);
        if (r != -2 || I.need <= k || I.need > n) { bad++; if (bad < 3) printf("#   prefix %zu: rc %d need %u\n", k, r, I.need); }
    }
    int r = peek(b, n);
    return !bad && r == want && (!host || !strcmp(I.host, host)) && I.hello_bytes == n;
}

/* A server reading only when it has `need` bytes: how many calls? */
static int calls_with_hints(const uint8_t *b, size_t n)
{
    size_t have = 0;
    int calls = 0;
    for (;;) {
        calls++;
        int r = peek(b, have);
        if (r != -2) return calls;
        have = I.need;                  /* the lower bound is all we wait for */
        if (have > n) return -1;
    }
}

/* Hand-made ClientHello: exts (raw extension bytes) inside one record. */
static size_t handmade(const uint8_t *exts, size_t elen, bool with_exts, uint8_t *out)
{
    uint8_t body[1024];
    size_t b = 0;
    body[b++] = 3; body[b++] = 3;
    memset(body + b, 0x42, 32); b += 32;
    body[b++] = 0;                              /* session id */
    body[b++] = 0; body[b++] = 2; body[b++] = 0x13; body[b++] = 0x01;
    body[b++] = 1; body[b++] = 0;               /* compression */
    if (with_exts) {
        body[b++] = (uint8_t)(elen >> 8); body[b++] = (uint8_t)elen;
        memcpy(body + b, exts, elen); b += elen;
    }
    size_t o = 0;
    out[o++] = 22; out[o++] = 3; out[o++] = 1;
    out[o++] = (uint8_t)((b + 4) >> 8); out[o++] = (uint8_t)(b + 4);
    out[o++] = 1; out[o++] = 0; out[o++] = (uint8_t)(b >> 8); out[o++] = (uint8_t)b;
    memcpy(out + o, body, b);
    return o + b;
}

int main(void)
{
    static uint8_t ch[70000], alt[400000];
    static const char alpn[] = "\x02h2\x08http/1.1";

    size_t n = hello("www.google.com", alpn, sizeof alpn - 1, 0, ch, sizeof ch);
    ok(n > 100, "OpenSSL made a ClientHello (%zu bytes)", n);
    int r = peek(ch, n);
    ok(r == 1 && !strcmp(I.host, "www.google.com") && I.host_len == 14, "SNI found: %s", I.host);
    ok(rt_sni_alpn_has(&I, "h2") && rt_sni_alpn_has(&I, "http/1.1") && !rt_sni_alpn_has(&I, "h3") && I.alpn_len == 12,
       "ALPN list h2, http/1.1");
    ok(I.hello_bytes == n && I.legacy_version == 0x0303, "whole record used, legacy version 1.2");
    ok(per_byte(ch, n, 1, "www.google.com"), "fed one byte at a time");
    int calls = calls_with_hints(ch, n);
    ok(calls > 0 && calls <= 4, "size hints: %d calls for a dribbling peer", calls);

    static uint8_t both[70100];
    memcpy(both, ch, n);
    memcpy(both + n, "\x17\x03\x03\x00\x01X", 6);
    ok(peek(both, n + 6) == 1 && I.hello_bytes == n, "bytes after the ClientHello are left alone");

    size_t m = hello(NULL, NULL, 0, 0, alt, sizeof alt);
    ok(peek(alt, m) == 0 && I.host_len == 0 && I.host[0] == 0, "no SNI: 0");
    ok(per_byte(alt, m, 0, NULL), "no SNI, per byte");
    m = hello(NULL, alpn, sizeof alpn - 1, 0, alt, sizeof alt);
    ok(peek(alt, m) == 0 && rt_sni_alpn_has(&I, "h2"), "ALPN without SNI");

    /* across TLS records */
    static const size_t frags[] = { 1, 2, 7, 100, 511 };
    for (size_t i = 0; i < sizeof frags / sizeof *frags; i++) {
        m = reframe(ch, n, frags[i], alt);
        r = peek(alt, m);
        ok(r == 1 && !strcmp(I.host, "www.google.com") && rt_sni_alpn_has(&I, "h2"),
           "handshake in %zu-byte records (%zu bytes of records)", frags[i], m);
    }
    m = reframe(ch, n, 7, alt);
    ok(per_byte(alt, m, 1, "www.google.com"), "7-byte records, fed one byte at a time");

    /* over 16 KiB: OpenSSL splits it over two records itself */
    m = hello("big.example", alpn, sizeof alpn - 1, 20000, alt, sizeof alt);
    ok(m > 20000 && alt[0] == 22 && ((size_t)alt[3] << 8 | alt[4]) == 16384, "padded ClientHello spans records (%zu bytes)", m);
    r = peek(alt, m);
    ok(r == 1 && !strcmp(I.host, "big.example") && I.hello_bytes == m, "SNI of a ClientHello over 16 KiB");
    static uint8_t big1[400000];
    size_t m1 = reframe(alt, m, 1000, big1);
    ok(peek(big1, m1) == 1 && !strcmp(I.host, "big.example"), "over 16 KiB in 1000-byte records");
    calls = calls_with_hints(alt, m);
    ok(calls > 0 && calls <= 6, "size hints over two records: %d calls", calls);

    /* limits: 1-byte records blow the 64 KiB budget long before the end */
    m1 = reframe(alt, m, 1, big1);
    r = peek(big1, m1);
    ok(r == -1 && I.err == RT_SNI_E_TOO_LARGE, "20 KB hello in 1-byte records: too large (%s)", rt_sni_err_text(I.err));
    uint8_t hdr[9] = { 22, 3, 1, 0x40, 0x00, 1, 0x01, 0x11, 0x70 };   /* handshake length 70000 */
    ok(peek(hdr, 9) == -1 && I.err == RT_SNI_E_TOO_LARGE, "declared length over 64 KiB: too large at once");

    /* truncated and corrupted real hellos */
    ok(peek(ch, 0) == -2 && peek(ch, n - 1) == -2, "truncated: need more");
    memcpy(alt, ch, n);
    alt[3] = 0x40; alt[4] = 0x01;                     /* record length 16385 */
    ok(peek(alt, n) == -1 && I.err == RT_SNI_E_MALFORMED, "record over 2^14");
    memcpy(alt, ch, n);
    alt[5] = 2;                                       /* ServerHello */
    ok(peek(alt, n) == -1 && I.err == RT_SNI_E_MALFORMED, "not a client_hello");
    memcpy(alt, ch, n);
    alt[1] = 2;
    ok(peek(alt, n) == -1 && I.err == RT_SNI_E_NOT_TLS, "record version 2.x");
    memcpy(alt, ch, n);
    alt[0] = 21;
    ok(peek(alt, n) == -1 && I.err == RT_SNI_E_NOT_TLS, "alert record first");
    memcpy(alt, ch, n);
    alt[8]++;                                          /* handshake length one too big: reads past the record */
    r = peek(alt, n);
    ok(r == -2 || (r == -1 && I.err == RT_SNI_E_MALFORMED), "handshake longer than its record waits or fails (%d)", r);
    /* find the server_name extension and break its inner length */
    size_t at = 0;
    for (size_t i = 9; i + 4 < n; i++)
        if (!memcmp(ch + i, "www.google.com", 14)) { at = i; break; }
    ok(at > 0, "found the name in the hello");
    memcpy(alt, ch, n);
    alt[at - 1]++;                                     /* host_name length */
    ok(peek(alt, n) == -1 && I.err == RT_SNI_E_MALFORMED, "host_name length inconsistent");
    memcpy(alt, ch, n);
    alt[at - 3] = 1;                                   /* name_type not host_name */
    ok(peek(alt, n) == -1 && I.err == RT_SNI_E_MALFORMED, "name_type other than host_name");
    memcpy(alt, ch, n);
    alt[at + 3] = 0;                                   /* NUL inside the name */
    ok(peek(alt, n) == -1 && I.err == RT_SNI_E_MALFORMED, "NUL in the host name");
    /* an alert record between two fragments of the handshake */
    m = reframe(ch, n, 100, alt);
    memmove(alt + 105 + 7, alt + 105, m - 105);
    memcpy(alt + 105, "\x15\x03\x03\x00\x02\x02\x28", 7);
    ok(peek(alt, m + 7) == -1 && I.err == RT_SNI_E_MALFORMED, "non-handshake record interleaved");
    m = reframe(ch, n, 100, alt);
    alt[108] = 0; alt[109] = 0;                        /* second record of length 0 */
    ok(peek(alt, m) == -1 && I.err == RT_SNI_E_MALFORMED, "empty handshake record");

    /* hand-made hellos */
    uint8_t hb[2048];
    m = handmade(NULL, 0, false, hb);
    ok(peek(hb, m) == 0, "minimal hello without extensions: no SNI");
    static const uint8_t sni_ext[] = { 0, 0, 0, 6, 0, 4, 0, 0, 1, 'a' };
    uint8_t two[sizeof sni_ext * 2];
    memcpy(two, sni_ext, sizeof sni_ext);
    memcpy(two + sizeof sni_ext, sni_ext, sizeof sni_ext);
    m = handmade(sni_ext, sizeof sni_ext, true, hb);
    ok(peek(hb, m) == 1 && !strcmp(I.host, "a"), "hand-made SNI 'a'");
    m = handmade(two, sizeof two, true, hb);
    ok(peek(hb, m) == -1 && I.err == RT_SNI_E_MALFORMED, "duplicate server_name extension");
    static const uint8_t two_names[] = { 0, 0, 0, 10, 0, 8, 0, 0, 1, 'a', 0, 0, 1, 'b' };
    m = handmade(two_names, sizeof two_names, true, hb);
    ok(peek(hb, m) == -1 && I.err == RT_SNI_E_MALFORMED, "two host_name entries");
    static const uint8_t empty_alpn[] = { 0, 16, 0, 3, 0, 1, 0 };
    m = handmade(empty_alpn, sizeof empty_alpn, true, hb);
    ok(peek(hb, m) == -1 && I.err == RT_SNI_E_MALFORMED, "empty ALPN protocol");
    static const uint8_t short_ext[] = { 0, 5, 0, 9, 1 };
    m = handmade(short_ext, sizeof short_ext, true, hb);
    ok(peek(hb, m) == -1 && I.err == RT_SNI_E_MALFORMED, "extension longer than the message");

    /* random corruption of the real hello: never an overread, and no
    ** prefix decides differently from the whole */
    uint32_t x = 88172645u;
    int incons = 0, outcomes[4] = { 0 };
    for (int k = 0; k < 3000; k++) {
        memcpy(alt, ch, n);
        for (int e = 0; e < 1 + k % 3; e++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            alt[x % n] = (uint8_t)(x >> 11);
        }
        int whole = peek(alt, n);
        uint8_t werr = I.err;
        outcomes[whole + 2]++;
        for (int j = 0; j < 4; j++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            size_t cut = x % n;
            int r2 = peek(alt, cut);
            if (r2 != -2 && !(r2 == -1 && whole == -1 && I.err == werr)) incons++;
        }
    }
    ok(incons == 0, "3000 corrupted hellos: prefixes agree with the whole (-2:%d -1:%d 0:%d 1:%d)",
       outcomes[0], outcomes[1], outcomes[2], outcomes[3]);

    /* not TLS at all */
    static const char get[] = "GET / HTTP/1.1\r\nHost: www.google.com\r\n\r\n";
    ok(peek((const uint8_t *)get, sizeof get - 1) == -1 && I.err == RT_SNI_E_NOT_TLS, "plaintext HTTP: not TLS");
    ok(peek((const uint8_t *)get, 1) == -1, "plaintext: decided on the first byte");
    static const uint8_t v2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10 };
    ok(peek(v2, sizeof v2) == -1 && I.err == RT_SNI_E_SSLV2, "SSLv2-compatible hello");
    ok(peek(v2, 2) == -2, "SSLv2 header needs its third byte");
    return t_done();
}
