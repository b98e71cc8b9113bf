/*
** t_http1.c -- the HTTP/1 parsers, picohttpparser style: one line per
** case; every input is copied to end exactly at a PROT_NONE guard page
** (any overread faults) and is parsed all at once and fed one byte at a
** time (each prefix again at the guard page, with last_len set as a
** server would), and both ways must agree.
*/
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http1.h"
#include "t.h"

/* ---- guard page ---- */

static char *region;
static size_t region_len;

static char *at_guard(const char *s, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t need = ((n + pg - 1) / pg) * pg + pg;
    if (need < 3 * pg) need = 3 * pg;
    if (need > region_len) {
        if (region) munmap(region, region_len);
        region = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (region == MAP_FAILED) { perror("mmap"); exit(2); }
        if (mprotect(region + need - pg, pg, PROT_NONE) < 0) { perror("mprotect"); exit(2); }
        region_len = need;
    }
    char *p = region + region_len - pg - n;
    memcpy(p, s, n);
    return p;
}

/* ---- requests ---- */

#define FULL 0                  /* expected rc: the whole input */

static rt_h1_header hdrs[RT_H1_MAX_HEADERS];
static rt_h1_request R;         /* result of the last all-at-once parse */
static const char *Rbuf;

static int parse_req(const char *in, size_t n, size_t last, size_t max)
{
    rt_h1_request_init(&R, hdrs, RT_H1_MAX_HEADERS);
    Rbuf = at_guard(in, n);
    return rt_h1_parse_request(&R, Rbuf, n, last, max);
}

/* want_rc: FULL, a byte count, -1 or -2; want_err for -1. */
static int req_case(const char *in, size_t n, int want_rc, int want_err, const char *what)
{
    if (want_rc == FULL) want_rc = (int)n;
    size_t step = n > 8192 ? 977 : 1;
    /* per-byte (or per-977 for huge inputs): the first decisive result must be the answer */
    int first_rc = -2, first_err = 0;
    size_t last = 0;
    for (size_t k = step; k < n + step; k += step) {
        size_t m = k > n ? n : k;
        int rc = parse_req(in, m, last, RT_H1_MAX_HEADER_BYTES);
        if (rc != -2) { first_rc = rc; first_err = R.err; break; }
        last = m;
    }
    int rc = parse_req(in, n, 0, RT_H1_MAX_HEADER_BYTES);
    int good = rc == want_rc && (rc != -1 || R.err == want_err) &&
               first_rc == rc && (rc != -1 || first_err == R.err);
    if (!ok(good, "request: %s", what))
        printf("#   all-at-once rc %d err %s; piecewise rc %d err %s; want rc %d err %s\n", rc,
               rt_h1_err_name(R.err), first_rc, rt_h1_err_name(first_err), want_rc,
               rt_h1_err_name(want_err));
    return good;
}

#define REQ(s, rc, err, what) req_case(s, sizeof s - 1, rc, RT_H1_E_##err, what)
#define REQOK(s, what) req_case(s, sizeof s - 1, FULL, 0, what)

static int span_is(const char *p, size_t n, const char *want)
{
    return p && strlen(want) == n && !memcmp(p, want, n);
}

static const char *hv(const char *name)
{
    static char buf[256];
    int i = rt_h1_find(R.headers, R.num_headers, name, strlen(name), 0);
    if (i < 0) return NULL;
    size_t n = rt_h1_unfold(&R.headers[i], buf, sizeof buf - 1);
    buf[n] = 0;
    return buf;
}

#define H "Host: a\r\n"

static void test_valid(void)
{
    REQOK("GET / HTTP/1.1\r\n" H "\r\n", "minimal");
    ok(span_is(R.method, R.method_len, "GET") && R.method_id == RT_H1_M_GET && span_is(R.path, R.path_len, "/") &&
       span_is(R.authority, R.authority_len, "a") && R.num_headers == 1 && R.minor_version == 1 &&
       R.body == RT_H1_BODY_NONE && R.form == RT_H1_FORM_ORIGIN && !(R.flags & RT_H1_F_CLOSE),
       "minimal: fields");
    REQOK("\r\n\r\nGET /x?y=1 HTTP/1.1\r\n" H "\r\n", "leading empty lines skipped");
    ok(span_is(R.target, R.target_len, "/x?y=1"), "target with query");
    REQOK("GET / HTTP/1.1\n" "Host: a\n" "\n", "bare LF line ends (Balsa accepts)");
    ok(R.flags & RT_H1_F_BARE_LF, "bare LF flagged");
    REQOK("GET / HTTP/1.1\r\nHost: a\n\r\n", "LF then CRLF ends the block");
    REQOK("GET / HTTP/1.1\r\n" H "X: 1\r\n 2\r\n\t 3 \r\n\r\n", "obs-fold accepted");
    ok(R.headers[1].flags & RT_H1_HF_FOLDED && !strcmp(hv("x"), "1 2\t 3") && (R.flags & RT_H1_F_FOLDED),
       "obs-fold unfolds as Envoy: CR/LF gone, whitespace kept (got '%s')", hv("x"));
    REQOK("GET / HTTP/1.1\r\n" H "X:\r\n   v\r\n\r\n", "fold after an empty value");
    ok(!(R.headers[1].flags & RT_H1_HF_FOLDED) && span_is(R.headers[1].value, R.headers[1].value_len, "v"),
       "value starts on the continuation line");
    REQOK("GET / HTTP/1.1\r\n" H "X:   v  \t\r\nEmpty:\r\n\r\n", "OWS trimmed, empty value");
    ok(!strcmp(hv("x"), "v") && R.headers[2].value_len == 0, "trimmed values");
    REQOK("GET / HTTP/1.1\r\n" H "X: a\tb \xe2\x82\xac\x80\xff\r\n\r\n", "HTAB and obs-text in values");
    REQOK("POST /u HTTP/1.1\r\n" H "Transfer-Encoding: Chunked\r\n\r\n", "TE chunked, any case");
    ok(R.body == RT_H1_BODY_CHUNKED && R.method_id == RT_H1_M_POST, "chunked framing");
    REQOK("POST /u HTTP/1.1\r\n" H "Transfer-Encoding:\r\n chunked\r\n\r\n", "TE value on a continuation line (read unfolded)");
    ok(R.body == RT_H1_BODY_CHUNKED, "folded TE is chunked as in Envoy");
    REQOK("PUT /u HTTP/1.1\r\n" H "Content-Length: 12345\r\n\r\n", "Content-Length");
    ok(R.body == RT_H1_BODY_LENGTH && R.content_length == 12345, "length framing");
    REQOK("PUT /u HTTP/1.1\r\n" H "Content-Length:  007 \r\n\r\n", "CL with OWS and leading zeros");
    ok(R.content_length == 7, "CL 7");
    REQOK("PUT /u HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n", "CL 0");
    ok(R.body == RT_H1_BODY_NONE && (R.flags & RT_H1_F_HAS_CL), "CL 0 means no body");
    REQOK("PUT /u HTTP/1.1\r\n" H "Content-Length: 18446744073709551615\r\n\r\n", "CL 2^64-1");
    REQOK("GET http://Example.COM:8080/p/q?x HTTP/1.1\r\nHost: other\r\n\r\n", "absolute-form");
    ok(R.form == RT_H1_FORM_ABSOLUTE && span_is(R.authority, R.authority_len, "Example.COM:8080") &&
       span_is(R.path, R.path_len, "/p/q?x") && span_is(R.scheme, R.scheme_len, "http"),
       "absolute-form: authority replaces Host, path split off");
    REQOK("GET HTTPS://h HTTP/1.1\r\n\r\n", "absolute-form without path or Host");
    ok(span_is(R.path, R.path_len, "/") && span_is(R.authority, R.authority_len, "h"), "empty path is /");
    REQOK("OPTIONS * HTTP/1.1\r\n" H "\r\n", "asterisk-form");
    ok(R.form == RT_H1_FORM_ASTERISK && span_is(R.path, R.path_len, "*"), "asterisk path");
    REQOK("POST / HTTP/1.1\r\n" H "Expect: 100-Continue\r\nConnection: keep-alive, Close\r\n\r\n", "Expect and close");
    ok((R.flags & RT_H1_F_EXPECT_100) && (R.flags & RT_H1_F_CLOSE), "flags EXPECT_100 and CLOSE");
    REQOK("GET /ws HTTP/1.1\r\n" H "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "websocket upgrade");
    ok(R.flags & RT_H1_F_UPGRADE, "upgrade flag");
    REQOK("GET / HTTP/1.1\r\n" H "TE: trailers\r\nConnection: te\r\n\r\n", "TE trailers");
    ok(R.flags & RT_H1_F_TE_TRAILERS, "TE trailers flag");
    REQOK("MKCALENDAR /c HTTP/1.1\r\n" H "\r\n", "a rare method from Envoy's list");
    ok(R.method_id == RT_H1_M_OTHER, "rare method id");
    REQOK("GET /%zz/..;x=1/a'b HTTP/1.1\r\n" H "\r\n", "any 0x21-0x7E in the target (normalization decides later)");
    REQOK("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "IPv6 Host");

    /* pipelining: only the first message is consumed */
    static const char two[] = "GET /1 HTTP/1.1\r\n" H "\r\nGET /2 HTTP/1.1\r\n" H "\r\n";
    int rc = parse_req(two, sizeof two - 1, 0, RT_H1_MAX_HEADER_BYTES);
    ok(rc == (int)(sizeof two - 1) / 2 && span_is(R.path, R.path_len, "/1"), "pipelined: first request only (%d)", rc);
    rc = rt_h1_parse_request(&R, Rbuf + rc, sizeof two - 1 - (size_t)rc, 0, RT_H1_MAX_HEADER_BYTES);
    ok(rc > 0 && span_is(R.path, R.path_len, "/2"), "pipelined: then the second");
}

static void test_smuggling(void)
{
    static const char *P = "POST / HTTP/1.1\r\n" H;
    (void)P;
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -1, CL_AND_TE, "CL + TE");
    ok(rt_h1_err_status(R.err) == 400 && !strcmp(rt_h1_err_details(R.err), "http1.content_length_and_chunked_not_allowed"), "CL+TE: 400 with Envoy's details");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", -1, CL_AND_TE, "TE + CL");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n", -1, CL_AND_TE, "TE gzip + CL is 400 first, as Envoy");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", -1, DUP_CONTENT_LENGTH, "duplicate CL, identical");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", -1, DUP_CONTENT_LENGTH, "duplicate CL, different");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", -1, CONTENT_LENGTH, "CL with sign");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", -1, CONTENT_LENGTH, "CL negative");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: 1 0\r\n\r\n", -1, CONTENT_LENGTH, "CL with inner space");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", -1, CONTENT_LENGTH, "CL in hex");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: 5,5\r\n\r\n", -1, CONTENT_LENGTH, "CL as a list");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", -1, CONTENT_LENGTH, "CL empty");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: 18446744073709551616\r\n\r\n", -1, CONTENT_LENGTH, "CL overflow");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length: 1\r\n 0\r\n\r\n", -1, CONTENT_LENGTH, "CL continued by obs-fold");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", -1, TRANSFER_ENCODING, "TE chunked, gzip");
    ok(rt_h1_err_status(R.err) == 501 && !strcmp(rt_h1_err_details(R.err), "http1.invalid_transfer_encoding"), "TE: 501 invalid_transfer_encoding");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", -1, TRANSFER_ENCODING, "TE gzip, chunked (Envoy: only exactly chunked)");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", -1, TRANSFER_ENCODING, "TE gzip");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n", -1, TRANSFER_ENCODING, "TE identity");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", -1, TRANSFER_ENCODING, "duplicate TE");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n , gzip\r\n\r\n", -1, TRANSFER_ENCODING, "TE chunked continued by obs-fold");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n" "0\r\n\r\n", (int)(sizeof("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n") - 1), NONE, "header block ends before the body");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n", -1, HEADER_NAME, "space before colon");
    REQ("POST / HTTP/1.1\r\n" H "Transfer-Encoding\t: chunked\r\n\r\n", -1, HEADER_NAME, "tab before colon");
    REQ("POST / HTTP/1.1\r\n" H "Content-Length : 5\r\n\r\n", -1, HEADER_NAME, "CL with space before colon");
    REQ("GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", -1, BARE_CR, "bare CR inside a value");
    REQ("GET / HTTP/1.1\r\n" H "X: a\r\r\n\r\n", -1, BARE_CR, "CR CR LF");
    REQ("GET / HTTP/1.1\r" H "\r\n", -1, BARE_CR, "bare CR ending the request line");
    REQ("GET / HTTP/1.1\r\n" H "\r\r\n\r\n", -1, BARE_CR, "bare CR in the empty line (judged when the block ends)");
    REQ("GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n", -1, HEADER_VALUE, "NUL in a value");
    REQ("GET / HTTP/1.1\r\n" H "X\0: a\r\n\r\n", -1, HEADER_NAME, "NUL in a name");
    REQ("GET / HTTP/1.1\r\n" H "X: a\x01\r\n\r\n", -1, HEADER_VALUE, "SOH in a value");
    REQ("GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", -1, HEADER_VALUE, "DEL in a value");
    REQ("GET / HTTP/1.1\r\n" H "X: a\x0b" "b\r\n\r\n", -1, HEADER_VALUE, "VT in a value");
    REQ("GET / HTTP/1.1\r\n" H "X: 0123456789012345678\x1b" "9\r\n\r\n", -1, HEADER_VALUE, "ESC found by the wide scan");
    ok(!strcmp(rt_h1_err_details(R.err), "http1.invalid_characters"), "invalid_characters details");
    REQ("GET / HTTP/1.1\r\n" H "X(y): a\r\n\r\n", -1, HEADER_NAME, "separator in a name");
    REQ("GET / HTTP/1.1\r\n" H ": a\r\n\r\n", -1, HEADER_NAME, "empty name");
    REQ("GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n", -1, HEADER_NAME, "missing colon");
    REQ("GET / HTTP/1.1\r\n Host: a\r\n\r\n", -1, HEADER_NAME, "obs-fold on the first field line");
    REQ("GET / HTTP/1.1\r\n" H "X: \x80\r\n\r\n", FULL, NONE, "obs-text alone is a value");
    REQ("FOOBAR / HTTP/1.1\r\n" H "\r\n", -1, METHOD, "unknown method");
    REQ("get / HTTP/1.1\r\n" H "\r\n", -1, METHOD, "lower-case method");
    REQ("GETGETGETGETGETGET / HTTP/1.1\r\n" H "\r\n", -1, METHOD, "absurd method, rejected early");
    REQ("G@T / HTTP/1.1\r\n" H "\r\n", -1, METHOD, "non-token in method");
    REQ(" GET / HTTP/1.1\r\n" H "\r\n", -1, REQUEST_LINE, "leading space");
    REQ("GET  / HTTP/1.1\r\n" H "\r\n", -1, REQUEST_LINE, "two spaces (Envoy tolerates; we refuse)");
    REQ("GET / HTTP/1.1 \r\n" H "\r\n", -1, REQUEST_LINE, "space after the version");
    REQ("GET /a b HTTP/1.1\r\n" H "\r\n", -1, VERSION, "space in the target");
    REQ("GET /\x01 HTTP/1.1\r\n" H "\r\n", -1, TARGET, "control in the target");
    REQ("GET /\xc3\xa9 HTTP/1.1\r\n" H "\r\n", -1, TARGET, "non-ASCII in the target");
    REQ("GET example.com:80 HTTP/1.1\r\n" H "\r\n", -1, TARGET, "authority-form without CONNECT");
    REQ("GET *x HTTP/1.1\r\n" H "\r\n", -1, TARGET, "asterisk with junk");
    REQ("GET * HTTP/1.1\r\n" H "\r\n", -1, ABSOLUTE_URL, "asterisk with GET (Envoy: invalid_url)");
    REQ("GET ftp://a/ HTTP/1.1\r\n\r\n", -1, SCHEME, "absolute-form, ftp");
    REQ("GET http:///x HTTP/1.1\r\n\r\n", -1, ABSOLUTE_URL, "absolute-form, empty authority");
    REQ("GET http://u:p@h/x HTTP/1.1\r\n\r\n", -1, ABSOLUTE_URL, "absolute-form with userinfo");
    REQ("GET http://h?x HTTP/1.1\r\n\r\n", -1, ABSOLUTE_URL, "absolute-form query without path");
    REQ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", -1, CONNECT, "CONNECT authority-form");
    ok(rt_h1_err_status(R.err) == 404 && !strcmp(rt_h1_err_flag(R.err), "NR") && R.form == RT_H1_FORM_AUTHORITY,
       "CONNECT: 404 NR like an unrouted request");
    REQ("CONNECT h:1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", -1, TRANSFER_ENCODING, "CONNECT with TE: 501");
    REQ("GET / HTTP/1.0\r\n\r\n", -1, HTTP10, "HTTP/1.0");
    ok(rt_h1_err_status(R.err) == 426 && !strcmp(rt_h1_err_details(R.err), "low_version") && R.minor_version == 0 &&
       span_is(R.method, R.method_len, "GET"), "HTTP/1.0: 426 low_version, request line kept for the log");
    REQ("GET /\r\n", -1, HTTP10, "HTTP/0.9 is refused like 1.0");
    REQ("GET / HTTP/2.0\r\n" H "\r\n", -1, HTTP10, "HTTP/2.0 in an HTTP/1 request line is not 1.1");
    REQ("GET / HTTP/1.2\r\n" H "\r\n", -1, HTTP10, "HTTP/1.2 is not 1.1 either");
    REQ("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", -1, TRANSFER_ENCODING, "TE checked before the version, as Envoy");
    REQ("GET / HTTP/1.10\r\n" H "\r\n", -1, REQUEST_LINE, "two-digit minor");
    REQ("GET / HTTP/1\r\n" H "\r\n", -1, VERSION, "short version");
    REQ("GET / http/1.1\r\n" H "\r\n", -1, VERSION, "lower-case HTTP");
    REQ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", -1, H2_PREFACE, "HTTP/2 connection preface");
    ok(rt_h1_err_status(R.err) == 0, "preface: no HTTP/1 reply, close");
    REQ("PRI * HTTP/1.1\r\n" H "\r\n", -1, METHOD, "PRI without the preface is just an unknown method");
    REQ("GET / HTTP/1.1\r\n\r\n", -1, NO_HOST, "HTTP/1.1 without Host");
    REQ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -1, HOST, "two Host fields");
    REQ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -1, HOST, "space in Host");
    REQ("GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", -1, HOST, "quote in Host");
    REQ("GET / HTTP/1.1\r\n" H "Connection: X-Forwarded-For\r\n\r\n", -1, CONNECTION, "Connection nominates XFF");
    ok(!strcmp(rt_h1_err_details(R.err), "http1.connection_header_rejected"), "connection_header_rejected");
    REQ("GET / HTTP/1.1\r\n" H "Connection: :path\r\n\r\n", -1, CONNECTION, "Connection nominates a pseudo-header");
    REQ("GET / HTTP/1.1\r\n" H "Connection: a,b,c,d,e,f,g,h,i,j\r\n\r\n", -1, CONNECTION, "ten Connection tokens");
    REQ("GET / HTTP/1.1\r\n" H "Connection: a,b,c,d,e,f,g,h,i\r\n\r\n", FULL, NONE, "nine Connection tokens");
    REQ("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", -1, REQUEST_LINE, "too many empty lines first");
    REQ("\r\rGET / HTTP/1.1\r\n" H "\r\n", -1, BARE_CR, "bare CR before the request line");
}

static void test_limits(void)
{
    enum { BIG = 70 * 1024 };
    char *b = malloc(BIG + 256);
    size_t n;

    /* 100 fields pass, 101 are 431 too_many_headers */
    n = (size_t)sprintf(b, "GET / HTTP/1.1\r\n" H);
    for (int i = 1; i < 100; i++) n += (size_t)sprintf(b + n, "X-%d: v\r\n", i);
    n += (size_t)sprintf(b + n, "\r\n");
    req_case(b, n, FULL, 0, "100 header fields");
    n -= 2;
    n += (size_t)sprintf(b + n, "X-100: v\r\n\r\n");
    req_case(b, n, -1, RT_H1_E_TOO_MANY_HEADERS, "101 header fields");
    ok(rt_h1_err_status(R.err) == 431 && !strcmp(rt_h1_err_details(R.err), "http1.too_many_headers"), "101 fields: 431");

    /* a block of exactly 60 KiB passes; one byte more is 431 */
    n = (size_t)sprintf(b, "GET / HTTP/1.1\r\n" H "X: ");
    size_t fill = RT_H1_MAX_HEADER_BYTES - n - 4;
    memset(b + n, 'a', fill);
    n += fill;
    n += (size_t)sprintf(b + n, "\r\n\r\n");
    req_case(b, n, FULL, 0, "header block of exactly 60 KiB");
    memmove(b + 20, b + 19, n - 19);
    req_case(b, n + 1, -1, RT_H1_E_HEADERS_TOO_LARGE, "60 KiB + 1");

    /* 61 KiB of headers in many fields */
    n = (size_t)sprintf(b, "GET / HTTP/1.1\r\n" H);
    for (int i = 0; n < 61 * 1024; i++) n += (size_t)sprintf(b + n, "X-%02d: %0600d\r\n", i, 0);
    n += (size_t)sprintf(b + n, "\r\n");
    req_case(b, n, -1, RT_H1_E_HEADERS_TOO_LARGE, "61 KiB of headers");
    ok(rt_h1_err_status(R.err) == 431 && !strcmp(rt_h1_err_details(R.err), "http1.headers_too_large"), "too large: 431 headers_too_large");
    /* never terminated: 431 as soon as 60 KiB arrived */
    int rc = parse_req(b, RT_H1_MAX_HEADER_BYTES, 0, RT_H1_MAX_HEADER_BYTES);
    ok(rc == -1 && R.err == RT_H1_E_HEADERS_TOO_LARGE, "incomplete at the limit: 431");
    rc = parse_req(b, RT_H1_MAX_HEADER_BYTES - 1, 0, RT_H1_MAX_HEADER_BYTES);
    ok(rc == -2, "incomplete below the limit: read more");

    /* an overlong request line */
    n = (size_t)sprintf(b, "GET /");
    memset(b + n, 'p', BIG);
    n += BIG;
    n += (size_t)sprintf(b + n, " HTTP/1.1\r\n" H "\r\n");
    req_case(b, n, -1, RT_H1_E_HEADERS_TOO_LARGE, "70 KiB request line");

    /* re-parse economy: after RT_H1_RESCAN bytes without an end, a call
    ** with last_len set only looks at the new bytes; errors beyond
    ** RESCAN are then reported once the block ends */
    n = (size_t)sprintf(b, "GET / HTTP/1.1\r\n" H "X: ");
    memset(b + n, 'a', 2000);
    n += 2000;
    b[1500] = 0;
    rc = parse_req(b, n, 1800, RT_H1_MAX_HEADER_BYTES);
    ok(rc == -2, "long incomplete block with last_len: -2 without re-parse");
    n += (size_t)sprintf(b + n, "\r\n\r\n");
    rc = parse_req(b, n, 2010, RT_H1_MAX_HEADER_BYTES);
    ok(rc == -1 && R.err == RT_H1_E_HEADER_VALUE && R.err_offset == 1500, "then the full parse finds the NUL at 1500");
    free(b);
}

/* ---- responses ---- */

static rt_h1_response S;

static int resp_case(const char *in, size_t n, bool head, int want_rc, int want_err, const char *what)
{
    if (want_rc == FULL) want_rc = (int)n;
    int first_rc = -2, first_err = 0;
    size_t last = 0;
    for (size_t k = 1; k <= n; k++) {
        rt_h1_response_init(&S, hdrs, RT_H1_MAX_HEADERS);
        int rc = rt_h1_parse_response(&S, at_guard(in, k), k, last, RT_H1_MAX_RESP_BYTES, head);
        if (rc != -2) { first_rc = rc; first_err = S.err; break; }
        last = k;
    }
    rt_h1_response_init(&S, hdrs, RT_H1_MAX_HEADERS);
    int rc = rt_h1_parse_response(&S, at_guard(in, n), n, 0, RT_H1_MAX_RESP_BYTES, head);
    int good = rc == want_rc && (rc != -1 || S.err == want_err) && first_rc == rc && (rc != -1 || first_err == S.err);
    if (!ok(good, "response: %s", what))
        printf("#   rc %d err %s; piecewise rc %d err %s; want %d %s\n", rc, rt_h1_err_name(S.err), first_rc,
               rt_h1_err_name(first_err), want_rc, rt_h1_err_name(want_err));
    return good;
}

#define RESP(s, head, rc, err, what) resp_case(s, sizeof s - 1, head, rc, RT_H1_E_##err, what)

static void test_responses(void)
{
    RESP("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, FULL, NONE, "content-length");
    ok(S.status == 200 && S.body == RT_H1_BODY_LENGTH && S.content_length == 5 && !(S.flags & RT_H1_F_CLOSE) &&
       span_is(S.reason, S.reason_len, "OK"), "200 with length, keep-alive");
    RESP("HTTP/1.1 418 I'm a teapot\r\nTransfer-Encoding: chunked\r\n\r\n", false, FULL, NONE, "chunked");
    ok(S.status == 418 && S.body == RT_H1_BODY_CHUNKED, "418 chunked");
    RESP("HTTP/1.1 200 OK\r\n\r\n", false, FULL, NONE, "no framing: until close");
    ok(S.body == RT_H1_BODY_CLOSE && (S.flags & RT_H1_F_CLOSE), "close-delimited");
    RESP("HTTP/1.1 204 No Content\r\n\r\n", false, FULL, NONE, "204");
    ok(S.body == RT_H1_BODY_NONE, "204 has no body");
    RESP("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false, FULL, NONE, "304 with CL");
    ok(S.body == RT_H1_BODY_NONE, "304 has no body whatever CL says");
    RESP("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true, FULL, NONE, "response to HEAD");
    ok(S.body == RT_H1_BODY_NONE, "HEAD response has no body");
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    RESP("HTTP/1.1 100 Continue\r\n\r\n", false, FULL, NONE, "100 Continue");
    ok(S.status == 100 && S.body == RT_H1_BODY_NONE, "interim 100");
    rt_h1_response_init(&S, hdrs, RT_H1_MAX_HEADERS);
    const char *g = at_guard(cont, sizeof cont - 1);
    int rc = rt_h1_parse_response(&S, g, sizeof cont - 1, 0, RT_H1_MAX_RESP_BYTES, false);
    int rc2 = rt_h1_parse_response(&S, g + rc, sizeof cont - 1 - (size_t)rc, 0, RT_H1_MAX_RESP_BYTES, false);
    ok(rc == 25 && rc2 == (int)sizeof cont - 1 - 25 && S.status == 201, "100 then the final response");
    RESP("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false, FULL, NONE, "101");
    ok((S.flags & RT_H1_F_UPGRADE) && S.body == RT_H1_BODY_NONE, "101 upgrade");
    RESP("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, FULL, NONE, "HTTP/1.0 response");
    ok(S.flags & RT_H1_F_CLOSE, "1.0 closes by default");
    RESP("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n", false, FULL, NONE, "1.0 keep-alive");
    ok(!(S.flags & RT_H1_F_CLOSE), "1.0 keep-alive kept");
    RESP("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false, FULL, NONE, "Connection: close");
    ok(S.flags & RT_H1_F_CLOSE, "close flagged");
    RESP("HTTP/1.1 200\r\n\r\n", false, FULL, NONE, "no reason phrase");
    RESP("HTTP/1.1 200 \r\n\r\n", false, FULL, NONE, "empty reason phrase");
    RESP("HTTP/1.1 20 OK\r\n\r\n", false, -1, STATUS, "two-digit status");
    RESP("HTTP/1.1 600 X\r\n\r\n", false, -1, STATUS, "status 600");
    RESP("HTTP/1.1 099 X\r\n\r\n", false, -1, STATUS, "status 099");
    RESP("HTTP/1.1 2000 X\r\n\r\n", false, -1, STATUS, "four-digit status");
    RESP("XTTP/1.1 200 OK\r\n\r\n", false, -1, STATUS_LINE, "not HTTP");
    RESP("HTTP/1.1 200 O\x01K\r\n\r\n", false, -1, STATUS_LINE, "control in the reason");
    RESP("HTTP/1.1 200 O\rK\r\n\r\n", false, -1, BARE_CR, "bare CR in the reason");
    RESP("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", false, -1, DUP_CONTENT_LENGTH, "duplicate CL");
    RESP("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", false, -1, CL_AND_TE, "CL + TE");
    RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, -1, TRANSFER_ENCODING, "TE gzip");
    RESP("HTTP/1.1 204 X\r\nContent-Length: 5\r\n\r\n", false, -1, RESP_BODY_FIELDS, "204 with CL 5");
    RESP("HTTP/1.1 204 X\r\nContent-Length: 0\r\n\r\n", false, FULL, NONE, "204 with CL 0");
    RESP("HTTP/1.1 204 X\r\nTransfer-Encoding: chunked\r\n\r\n", false, -1, RESP_BODY_FIELDS, "204 with TE");
    RESP("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", false, -1, HEADER_NAME, "space before colon in a response");
}

/* ---- chunked decoder ---- */

static int chunk_case(const char *in, size_t n, size_t step, const char *want_data, long want_consumed,
                      int want_err, const char *what)
{
    rt_h1_chunked d;
    rt_h1_chunked_init(&d);
    static char out[16384];
    size_t outn = 0, pos = 0;
    int err = 0;
    /* the decoder must cope with any split: feed step bytes more each time */
    size_t avail = 0;
    while (pos < n && !rt_h1_chunked_done(&d)) {
        avail = avail + step > n ? n : avail + step;
        const char *g = at_guard(in + pos, avail - pos);
        const char *data;
        size_t dl;
        ssize_t c = rt_h1_chunked_decode(&d, g, avail - pos, &data, &dl);
        if (c < 0) { err = d.err; break; }
        if (dl) {
            if (!(data >= g && data + dl == g + c)) { err = -1; break; }   /* span must end the consumed bytes */
            memcpy(out + outn, data, dl);
            outn += dl;
        }
        pos += (size_t)c;
        if (c == 0 && avail == n) break;
    }
    out[outn] = 0;
    int good;
    if (want_err) good = err == want_err;
    else good = !err && rt_h1_chunked_done(&d) && (long)pos == want_consumed && !strcmp(out, want_data) &&
                d.total == strlen(want_data);
    if (!ok(good, "chunked (%s): %s", step == 1 ? "per byte" : "at once", what))
        printf("#   err %s data '%s' consumed %zu done %d\n", rt_h1_err_name(err), out, pos, rt_h1_chunked_done(&d));
    return good;
}

#define CHUNK(s, data, consumed, err, what) do { \
        chunk_case(s, sizeof s - 1, sizeof s - 1, data, consumed, RT_H1_E_##err, what); \
        chunk_case(s, sizeof s - 1, 1, data, consumed, RT_H1_E_##err, what); } while (0)
#define CHUNKOK(s, data, what) CHUNK(s, data, (long)sizeof s - 1, NONE, what)

static void test_chunked(void)
{
    CHUNKOK("5\r\nhello\r\n0\r\n\r\n", "hello", "one chunk");
    CHUNKOK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", "two chunks");
    CHUNKOK("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij", "hex digits both cases");
    CHUNKOK("0005\r\nhello\r\n000\r\n\r\n", "hello", "leading zeros");
    CHUNKOK("5;name=value;flag\r\nhello\r\n0;last\r\n\r\n", "hello", "extensions");
    CHUNKOK("5 ;a = \"q\\\"; x\"\r\nhello\r\n0\r\n\r\n", "hello", "BWS and a quoted extension value");
    CHUNKOK("3\r\n\r\n\n\r\n0\r\n\r\n", "\r\n\n", "CR/LF bytes as data");
    CHUNKOK("0\r\nX-Trailer: 1\r\nChecksum: abc\r\n\r\n", "", "trailers validated and dropped");
    CHUNK("2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hi", 12, NONE, "stops at the end: pipelined bytes stay");
    CHUNK("10000000000000000\r\n", "", 0, CHUNK_SIZE, "17 hex digits");
    CHUNK("8000000000000000\r\n", "", 0, CHUNK_SIZE, "2^63 overflows");
    CHUNK("FFFFFFFFFFFFFFFF\r\n", "", 0, CHUNK_SIZE, "2^64-1 overflows");
    CHUNK(" 5\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "leading space");
    CHUNK("+5\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "sign");
    CHUNK("0x5\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "0x prefix");
    CHUNK("5x\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "trailing junk");
    CHUNK("5 x\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "junk after whitespace");
    CHUNK("5 \r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "trailing whitespace (Balsa tolerates)");
    CHUNK("\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "empty size");
    CHUNK("5\nhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "bare LF after the size");
    CHUNK("5\rhello\r\n0\r\n\r\n", "", 0, CHUNK_SIZE, "bare CR after the size");
    CHUNK("5\r\nhelloX\r\n0\r\n\r\n", "", 0, CHUNK_CRLF, "data longer than the size");
    CHUNK("5\r\nhello\n0\r\n\r\n", "", 0, CHUNK_CRLF, "bare LF after data");
    CHUNK("5;a\x01\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_EXT, "control in an extension");
    CHUNK("5;a=\"x\ry\"\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_EXT, "CR inside a quoted extension");
    CHUNK("5;a@b\r\nhello\r\n0\r\n\r\n", "", 0, CHUNK_EXT, "separator in an extension");
    CHUNK("0\r\nX: 1\n\r\n", "", 0, TRAILER, "bare LF in trailers");
    CHUNK("0\r\nX: 1\r\n 2\r\n\r\n", "", 0, TRAILER, "obs-fold in trailers");
    CHUNK("0\r\nX : 1\r\n\r\n", "", 0, TRAILER, "space before colon in a trailer");
    CHUNK("0\r\nX: \x7f\r\n\r\n", "", 0, TRAILER, "DEL in a trailer");
    CHUNK("0\r\n\r\r\n", "", 0, TRAILER, "bad final CRLF");

    /* a chunk-size line beyond the limit */
    static char longext[RT_H1_MAX_CHUNK_LINE + 64];
    size_t n = (size_t)sprintf(longext, "1;x=");
    memset(longext + n, 'a', RT_H1_MAX_CHUNK_LINE);
    n += RT_H1_MAX_CHUNK_LINE;
    memcpy(longext + n, "\r\na\r\n", 5);
    chunk_case(longext, n + 5, n + 5, "", 0, RT_H1_E_CHUNK_EXT, "chunk line over the limit");
    /* trailers beyond 60 KiB */
    static char bigtr[RT_H1_MAX_HEADER_BYTES + 1024];
    n = (size_t)sprintf(bigtr, "0\r\n");
    while (n < RT_H1_MAX_HEADER_BYTES + 100) n += (size_t)sprintf(bigtr + n, "T: %0100d\r\n", 1);
    n += (size_t)sprintf(bigtr + n, "\r\n");
    chunk_case(bigtr, n, n, "", 0, RT_H1_E_TRAILERS_TOO_LARGE, "trailers over 60 KiB");

    /* a large body streamed in odd pieces keeps every byte */
    static char body[3 * 4096 + 64], want[3 * 4096 + 1];
    n = 0;
    size_t w = 0;
    for (int i = 0; i < 3; i++) {
        n += (size_t)sprintf(body + n, "1000\r\n");
        for (int j = 0; j < 4096; j++) body[n++] = want[w++] = (char)('a' + (i * 7 + j) % 26);
        n += (size_t)sprintf(body + n, "\r\n");
    }
    n += (size_t)sprintf(body + n, "0\r\n\r\n");
    want[w] = 0;
    chunk_case(body, n, 333, want, (long)n, 0, "three 4 KiB chunks in 333-byte reads");
}

static void test_helpers(void)
{
    REQOK("GET / HTTP/1.1\r\n" H "Connection: keep-alive, X-Foo, Upgrade, te\r\nKeep-Alive: 5\r\nX-Foo: 1\r\n"
          "TE: trailers, deflate\r\nUpgrade: websocket\r\nX-Bar: 2\r\nProxy-Connection: x\r\n\r\n", "hop-by-hop input");
    uint8_t drop[16];
    size_t k = rt_h1_hop_by_hop(R.headers, R.num_headers, false, drop);
    ok(k == 5 && drop[0] == 0 && drop[1] == 1 && drop[2] == 1 && drop[3] == 1 && drop[4] == 2 && drop[5] == 1 &&
       drop[6] == 0 && drop[7] == 1, "hop-by-hop: Connection, Keep-Alive, nominated X-Foo, Upgrade, Proxy-Connection dropped; TE kept as trailers");
    k = rt_h1_hop_by_hop(R.headers, R.num_headers, true, drop);
    ok(k == 4 && drop[5] == 0, "Upgrade kept while upgrading");
    ok(rt_h1_find(R.headers, R.num_headers, "x-bar", 5, 0) == 6 && rt_h1_find(R.headers, R.num_headers, "X-BAZ", 5, 0) == -1,
       "case-insensitive find");
    ok(rt_h1_find_id(R.headers, R.num_headers, RT_H1_HDR_KEEP_ALIVE, 0) == 2, "find by id");
    ok(rt_h1_field_id("Content-Length", 14) == RT_H1_HDR_CONTENT_LENGTH &&
       rt_h1_field_id("x-envoy-upstream-service-time", 29) == RT_H1_HDR_X_ENVOY_UPSTREAM_SERVICE_TIME &&
       rt_h1_field_id("content-lengt", 13) == RT_H1_HDR_OTHER && rt_h1_field_id("TE", 2) == RT_H1_HDR_TE,
       "well-known ids");
    ok(rt_h1_list_has("a, b ,C", 7, "c", 1) && !rt_h1_list_has("ab, b", 5, "a", 1) && rt_h1_list_has("x,,y", 4, "y", 1),
       "list membership");
    ok(rt_h1_method_id("DELETE", 6) == RT_H1_M_DELETE && rt_h1_method_id("PROPFIND", 8) == RT_H1_M_OTHER, "method ids");
    int statuses_ok = 1;
    for (int e = 0; e < RT_H1_E_COUNT; e++)
        if (!rt_h1_err_name((rt_h1_err)e)[0] || (e && !rt_h1_err_details((rt_h1_err)e)[0])) statuses_ok = 0;
    ok(statuses_ok && !strcmp(rt_h1_err_name(RT_H1_E_COUNT), "NONE"), "error table complete, out-of-range safe");
}

/* Random mutations of valid messages: never a crash or an overread (the
** guard page), always a decision consistent between all-at-once and
** byte-by-byte feeding, and the chunked decoder agreeing across splits. */
static void test_mutations(void)
{
    static const char *seeds[] = {
        "GET /a/b?c=d HTTP/1.1\r\nHost: a.example\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n",
        "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        "PUT http://h:1/p HTTP/1.1\r\nContent-Length: 12\r\nX: a\r\n b\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
    };
    static const char alphabet[] = "\r\n :\t\0\x7f\x80,;=\"aZ0/?%";
    uint32_t x = 2463534242u;
    int cases = 0, agree = 0;
    for (size_t si = 0; si < sizeof seeds / sizeof *seeds; si++) {
        for (int m = 0; m < 250; m++) {
            char buf[256];
            size_t n = strlen(seeds[si]);
            memcpy(buf, seeds[si], n);
            int edits = 1 + m % 3;
            for (int e = 0; e < edits; e++) {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5;
                size_t at = x % n;
                buf[at] = (x >> 8) & 1 ? alphabet[(x >> 9) % (sizeof alphabet - 1)] : (char)(x >> 16);
            }
            int first_rc = -2, first_err = 0;
            size_t last = 0;
            for (size_t k = 1; k <= n; k++) {
                int rc = parse_req(buf, k, last, RT_H1_MAX_HEADER_BYTES);
                if (rc != -2) { first_rc = rc; first_err = R.err; break; }
                last = k;
            }
            int rc = parse_req(buf, n, 0, RT_H1_MAX_HEADER_BYTES);
            cases++;
            if (rc == first_rc && (rc != -1 || first_err == R.err)) agree++;
            else printf("#   mutation of seed %zu differs: %d/%s vs %d/%s\n", si, rc, rt_h1_err_name(R.err), first_rc,
                        rt_h1_err_name(first_err));
        }
    }
    ok(cases == agree, "%d mutated requests: no crash, all-at-once == byte-by-byte", cases);

    static const char body[] = "5;a=b\r\nhello\r\n3\r\nxyz\r\n0\r\nT: v\r\n\r\n";
    int bad = 0;
    for (int m = 0; m < 600; m++) {
        char b[64];
        size_t n = sizeof body - 1;
        memcpy(b, body, n);
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        b[x % n] = alphabet[(x >> 8) % (sizeof alphabet - 1)];
        long res[2];
        for (int pass = 0; pass < 2; pass++) {
            rt_h1_chunked d;
            rt_h1_chunked_init(&d);
            size_t pos = 0, step = pass ? 1 : n, avail = 0;
            long r = 0;
            while (pos < n && !rt_h1_chunked_done(&d)) {
                avail = avail + step > n ? n : avail + step;
                const char *data;
                size_t dl;
                ssize_t c = rt_h1_chunked_decode(&d, at_guard(b + pos, avail - pos), avail - pos, &data, &dl);
                if (c < 0) { r = -1000 - d.err; break; }
                pos += (size_t)c;
                r = (long)(d.total * 1000 + pos);
                if (c == 0 && avail == n) break;
            }
            res[pass] = rt_h1_chunked_done(&d) ? r : r < 0 ? r : -1;
        }
        if (res[0] != res[1]) bad++;
    }
    ok(bad == 0, "600 mutated chunked bodies: same outcome at once and per byte (%d differ)", bad);
}

int main(void)
{
    test_valid();
    test_mutations();
    test_smuggling();
    test_limits();
    test_responses();
    test_chunked();
    test_helpers();
    return t_done();
}
