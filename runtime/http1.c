/*
** http1.c -- strict zero-copy HTTP/1.1 parsers. Contracts and the
** accepted grammar are in http1.h.
*/
#include "http1.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- character classes ---- */

#define C_TCHAR  1              /* RFC 9110 token */
#define C_VALUE  2              /* field-value byte other than HTAB: SP..~ and obs-text */
#define C_TARGET 4              /* request-target byte: 0x21..0x7E */
#define C_HEX    8
#define C_AUTH   16             /* RFC 3986 authority byte (nghttp2_check_authority) */

static unsigned char cls[256];
static unsigned char lowered[256];

__attribute__((constructor))
static void init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned char k = 0;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c && strchr("!#$%&'*+-.^_`|~", c)))
            k |= C_TCHAR;
        if ((c >= 0x20 && c != 0x7f) || c == '\t') k |= C_VALUE;
        if (c > 0x20 && c < 0x7f) k |= C_TARGET;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) k |= C_HEX;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c && strchr("-._~!$&'()*+,;=:@[]%", c)))
            k |= C_AUTH;
        cls[c] = k;
        lowered[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
}

#define IS(c, k) (cls[(unsigned char)(c)] & (k))

static inline int lower(int c) { return lowered[c & 0xff]; }

static inline bool eq_nocase(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn) return false;
    for (size_t i = 0; i < an; i++)
        if (lowered[(unsigned char)a[i]] != lowered[(unsigned char)b[i]]) return false;
    return true;
}

/* First byte in [p, end) that is not a plain value byte (SP..~, obs-text):
** controls (HTAB, CR, LF included) and DEL stop the scan. */
static const char *scan_value(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f), zero = _mm_setzero_si128();
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ctl = _mm_andnot_si128(_mm_cmplt_epi8(v, zero), _mm_cmplt_epi8(v, sp));
        int m = _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));
        if (m) return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
#endif
    while (p < end && (unsigned char)*p >= 0x20 && *p != 0x7f) p++;
    return p;
}

/* First byte in [p, end) outside 0x21..0x7E. */
static const char *scan_target(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i bang = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, bang), _mm_cmpeq_epi8(v, del)));
        if (m) return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
#endif
    while (p < end && IS(*p, C_TARGET)) p++;
    return p;
}

/* ---- error table ---- */

static const struct { int status; const char *flag, *details, *text, *name; } errtab[] = {
#define X(id, st, fl, det, txt) { st, fl, det, txt, #id },
    RT_H1_ERRORS(X)
#undef X
};

static unsigned eidx(rt_h1_err e) { return (unsigned)e < RT_H1_E_COUNT ? (unsigned)e : 0; }
int rt_h1_err_status(rt_h1_err e) { return errtab[eidx(e)].status; }
const char *rt_h1_err_flag(rt_h1_err e) { return errtab[eidx(e)].flag; }
const char *rt_h1_err_details(rt_h1_err e) { return errtab[eidx(e)].details; }
const char *rt_h1_err_text(rt_h1_err e) { return errtab[eidx(e)].text; }
const char *rt_h1_err_name(rt_h1_err e) { return errtab[eidx(e)].name; }

/* ---- names ---- */

static const struct { const char *name; uint8_t len; } fields[] = {
#define X(id, name) { name, sizeof name - 1 },
    RT_H1_FIELDS(X)
#undef X
};

/* Field ids bucketed by name length (built once). */
#define MAX_FIELD_LEN 29
static uint8_t by_len[MAX_FIELD_LEN + 1][4];

__attribute__((constructor))
static void init_fields(void)
{
    for (int i = 1; i < RT_H1_HDR_COUNT; i++) {
        uint8_t *slot = by_len[fields[i].len];
        while (*slot) slot++;
        *slot = (uint8_t)i;
    }
}

int rt_h1_field_id(const char *name, size_t len)
{
    if (len > MAX_FIELD_LEN) return RT_H1_HDR_OTHER;
    int c = lower((unsigned char)name[0]);
    for (const uint8_t *id = by_len[len]; *id; id++)
        if (fields[*id].name[0] == c && eq_nocase(name, len, fields[*id].name, len)) return *id;
    return RT_H1_HDR_OTHER;
}

/* Envoy's method list (balsa_parser.cc isMethodValid), sorted. */
static const char *const methods[] = {
    "ACL", "BIND", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LINK", "LOCK",
    "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "MSEARCH", "NOTIFY", "OPTIONS",
    "PATCH", "POST", "PROPFIND", "PROPPATCH", "PURGE", "PUT", "REBIND", "REPORT", "SEARCH",
    "SOURCE", "SUBSCRIBE", "TRACE", "UNBIND", "UNLINK", "UNLOCK", "UNSUBSCRIBE",
};
#define MAX_METHOD 11

/* -1 unknown, else the method id */
static int lookup_method(const char *m, size_t len)
{
    switch (len) {
    case 3:
        if (!memcmp(m, "GET", 3)) return RT_H1_M_GET;
        if (!memcmp(m, "PUT", 3)) return RT_H1_M_PUT;
        break;
    case 4:
        if (!memcmp(m, "POST", 4)) return RT_H1_M_POST;
        if (!memcmp(m, "HEAD", 4)) return RT_H1_M_HEAD;
        break;
    case 5:
        if (!memcmp(m, "PATCH", 5)) return RT_H1_M_PATCH;
        if (!memcmp(m, "TRACE", 5)) return RT_H1_M_TRACE;
        break;
    case 6:
        if (!memcmp(m, "DELETE", 6)) return RT_H1_M_DELETE;
        break;
    case 7:
        if (!memcmp(m, "OPTIONS", 7)) return RT_H1_M_OPTIONS;
        if (!memcmp(m, "CONNECT", 7)) return RT_H1_M_CONNECT;
        break;
    default:
        break;
    }
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (strlen(methods[i]) == len && !memcmp(methods[i], m, len)) return RT_H1_M_OTHER;
    return -1;
}

int rt_h1_method_id(const char *m, size_t len)
{
    int id = lookup_method(m, len);
    return id < 0 ? RT_H1_M_OTHER : id;
}

/* Could m[0..len) still grow into a known method? */
static bool method_prefix(const char *m, size_t len)
{
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (strlen(methods[i]) >= len && !memcmp(methods[i], m, len)) return true;
    return false;
}

/* ---- shared field-section parser ---- */

typedef struct pstate {
    const char *buf;
    size_t len;
    rt_h1_header *hs;
    uint32_t max, n;
    uint32_t flags;
    uint8_t err;
    bool in_fields;             /* the error, if any, is in a field line */
    uint32_t erroff;
} pstate;

#define FAIL(ps, e, at) do { (ps)->err = (uint8_t)(e); (ps)->erroff = (uint32_t)(at); return -1; } while (0)

/* Find the end of the line whose content starts at pos, validating
** value bytes. Returns the index of the line terminator's first byte
** and sets *next to the first byte after it; -2 incomplete; -1 error. */
static long line_end(pstate *ps, size_t pos, size_t *next)
{
    const char *b = ps->buf, *end = b + ps->len;
    const char *p = b + pos;
    for (;;) {
        p = scan_value(p, end);
        if (p == end) return -2;
        if (*p == '\t') { p++; continue; }
        if (*p == '\n') {
            ps->flags |= RT_H1_F_BARE_LF;
            *next = (size_t)(p - b) + 1;
            return p - b;
        }
        if (*p == '\r') {
            if (p + 1 == end) return -2;
            if (p[1] != '\n') FAIL(ps, RT_H1_E_BARE_CR, p - b);
            *next = (size_t)(p - b) + 2;
            return p - b;
        }
        FAIL(ps, RT_H1_E_HEADER_VALUE, p - b);
    }
}

static size_t trim_end(const char *b, size_t from, size_t to)
{
    while (to > from && (b[to - 1] == ' ' || b[to - 1] == '\t')) to--;
    return to;
}

/* Parse field lines from pos to the empty line. Returns the index just
** past the empty line, -2 or -1. */
static long parse_fields(pstate *ps, size_t pos)
{
    const char *b = ps->buf;
    size_t len = ps->len;
    for (;;) {
        if (pos >= len) return -2;
        char c = b[pos];
        if (c == '\r') {
            if (pos + 1 >= len) return -2;
            if (b[pos + 1] != '\n') FAIL(ps, RT_H1_E_BARE_CR, pos);
            return (long)pos + 2;
        }
        if (c == '\n') {
            ps->flags |= RT_H1_F_BARE_LF;
            return (long)pos + 1;
        }
        size_t next;
        if (c == ' ' || c == '\t') {
            /* obs-fold: continues the previous field's value */
            if (ps->n == 0) FAIL(ps, RT_H1_E_HEADER_NAME, pos);
            size_t v = pos;
            while (v < len && (b[v] == ' ' || b[v] == '\t')) v++;
            long e = line_end(ps, v, &next);
            if (e < 0) return e;
            size_t ve = trim_end(b, v, (size_t)e);
            rt_h1_header *h = &ps->hs[ps->n - 1];
            ps->flags |= RT_H1_F_FOLDED;
            if (ve > v) {
                if (h->value_len == 0) {
                    h->value = b + v;
                } else {
                    h->flags |= RT_H1_HF_FOLDED;
                }
                h->value_len = (uint32_t)(b + ve - h->value);
            }
            pos = next;
            continue;
        }
        size_t name = pos;
        while (pos < len && IS(b[pos], C_TCHAR)) pos++;
        if (pos >= len) return -2;
        if (b[pos] != ':' || pos == name) FAIL(ps, RT_H1_E_HEADER_NAME, pos);
        if (ps->n >= ps->max) FAIL(ps, RT_H1_E_TOO_MANY_HEADERS, name);
        rt_h1_header *h = &ps->hs[ps->n];
        h->name = b + name;
        h->name_len = (uint32_t)(pos - name);
        h->id = (uint16_t)rt_h1_field_id(h->name, h->name_len);
        h->flags = 0;
        pos++;
        while (pos < len && (b[pos] == ' ' || b[pos] == '\t')) pos++;
        long e = line_end(ps, pos, &next);
        if (e < 0) return e;
        h->value = b + pos;
        h->value_len = (uint32_t)(trim_end(b, pos, (size_t)e) - pos);
        ps->n++;
        pos = next;
    }
}

/* ---- value helpers ---- */

size_t rt_h1_unfold(const rt_h1_header *h, char *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < h->value_len; i++) {
        char c = h->value[i];
        if (c == '\r' || c == '\n') continue;
        if (n < cap) out[n] = c;
        n++;
    }
    return n;
}

/* Compare a (possibly folded) value with s ignoring case, CR and LF. */
static bool value_is(const rt_h1_header *h, const char *s)
{
    size_t j = 0, sl = strlen(s);
    for (uint32_t i = 0; i < h->value_len; i++) {
        char c = h->value[i];
        if (c == '\r' || c == '\n') continue;
        if (j >= sl || lower((unsigned char)c) != s[j]) return false;
        j++;
    }
    return j == sl;
}

bool rt_h1_list_has(const char *list, size_t len, const char *tok, size_t toklen)
{
    size_t i = 0;
    while (i <= len) {
        size_t s = i;
        while (i < len && list[i] != ',') i++;
        size_t e = i;
        while (s < e && (list[s] == ' ' || list[s] == '\t' || list[s] == '\r' || list[s] == '\n')) s++;
        while (e > s && (list[e - 1] == ' ' || list[e - 1] == '\t' || list[e - 1] == '\r' || list[e - 1] == '\n')) e--;
        if (eq_nocase(list + s, e - s, tok, toklen)) return true;
        i++;
    }
    return false;
}

#define HAS(h, lit) rt_h1_list_has((h)->value, (h)->value_len, lit, sizeof lit - 1)

int rt_h1_find(const rt_h1_header *h, size_t n, const char *name, size_t len, size_t from)
{
    for (size_t i = from; i < n; i++)
        if (eq_nocase(h[i].name, h[i].name_len, name, len)) return (int)i;
    return -1;
}

int rt_h1_find_id(const rt_h1_header *h, size_t n, int id, size_t from)
{
    for (size_t i = from; i < n; i++)
        if (h[i].id == id) return (int)i;
    return -1;
}

/* Content-Length value: 1*DIGIT (read unfolded), no overflow. */
static bool parse_cl(const rt_h1_header *h, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    for (uint32_t i = 0; i < h->value_len; i++) {
        char c = h->value[i];
        if (c == '\r' || c == '\n') continue;
        if (c < '0' || c > '9') return false;
        unsigned d = (unsigned)(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        digits++;
    }
    *out = v;
    return digits > 0;
}

/* Each token of every Connection field: fn returns false to stop. */
typedef bool tok_fn(const char *t, size_t n, void *ud);
static bool each_token(const rt_h1_header *hs, size_t n, tok_fn *fn, void *ud)
{
    for (size_t k = 0; k < n; k++) {
        if (hs[k].id != RT_H1_HDR_CONNECTION) continue;
        const char *v = hs[k].value;
        size_t len = hs[k].value_len, i = 0;
        while (i < len) {
            size_t s = i;
            while (i < len && v[i] != ',') i++;
            size_t e = i++;
            while (s < e && (v[s] == ' ' || v[s] == '\t' || v[s] == '\r' || v[s] == '\n')) s++;
            while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == '\r' || v[e - 1] == '\n')) e--;
            if (e > s && !fn(v + s, e - s, ud)) return false;
        }
    }
    return true;
}

typedef struct conn_check {
    const rt_h1_header *hs;
    size_t n;
    int count;
    bool bad;
} conn_check;

#define TOK_IS(t, n, lit) eq_nocase(t, n, lit, sizeof lit - 1)

static bool check_token(const char *t, size_t n, void *ud)
{
    conn_check *cc = ud;
    if (++cc->count >= 10) { cc->bad = true; return false; }
    if (TOK_IS(t, n, "close") || TOK_IS(t, n, "http2-settings") || TOK_IS(t, n, "keep-alive") ||
        TOK_IS(t, n, "upgrade") || TOK_IS(t, n, "connection"))
        return true;
    if (TOK_IS(t, n, "x-forwarded-for") || TOK_IS(t, n, "x-forwarded-host") ||
        TOK_IS(t, n, "x-forwarded-proto") || t[0] == ':') {
        cc->bad = true;
        return false;
    }
    if (TOK_IS(t, n, "te")) {
        int i = rt_h1_find_id(cc->hs, cc->n, RT_H1_HDR_TE, 0);
        if (i >= 0 && cc->hs[i].value_len >= 256) { cc->bad = true; return false; }
    }
    return true;
}

/* RFC 3986 authority bytes as nghttp2_check_authority accepts them. */
static bool authority_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!IS(s[i], C_AUTH)) return false;
    return true;
}

/* The framing/semantic checks shared by requests and responses, in
** Envoy's order (Balsa's CL checks, then CL+TE, then TE). */
static int check_framing(pstate *ps, bool is_connect, uint64_t *cl_out, uint8_t *body)
{
    int cl = -1, te_last = -1, n_te = 0;
    for (uint32_t i = 0; i < ps->n; i++) {
        const rt_h1_header *h = &ps->hs[i];
        if (h->id == RT_H1_HDR_CONTENT_LENGTH) {
            if (cl >= 0) FAIL(ps, RT_H1_E_DUP_CONTENT_LENGTH, h->name - ps->buf);
            cl = (int)i;
        } else if (h->id == RT_H1_HDR_TRANSFER_ENCODING) {
            te_last = (int)i;
            n_te++;
        }
    }
    uint64_t v = 0;
    bool cl_ok = cl >= 0 && parse_cl(&ps->hs[cl], &v);
    bool balsa_chunked = te_last >= 0 && value_is(&ps->hs[te_last], "chunked");
    if (cl >= 0) ps->flags |= RT_H1_F_HAS_CL;
    if (n_te) ps->flags |= RT_H1_F_HAS_TE;
    if (cl >= 0 && !cl_ok && !balsa_chunked) FAIL(ps, RT_H1_E_CONTENT_LENGTH, ps->hs[cl].value - ps->buf);
    if (cl >= 0 && n_te) FAIL(ps, RT_H1_E_CL_AND_TE, ps->hs[cl].name - ps->buf);
    if (n_te && (n_te > 1 || !balsa_chunked || is_connect))
        FAIL(ps, RT_H1_E_TRANSFER_ENCODING, ps->hs[te_last].value - ps->buf);
    *cl_out = v;
    *body = n_te ? RT_H1_BODY_CHUNKED : v ? RT_H1_BODY_LENGTH : RT_H1_BODY_NONE;
    return 0;
}

static bool terminator_since(const char *b, size_t len, size_t last_len)
{
    size_t from = last_len >= 3 ? last_len - 3 : 0;
    for (const char *p = b + from; (p = memchr(p, '\n', len - (size_t)(p - b))) != NULL; p++) {
        size_t i = (size_t)(p - b);
        if (i + 1 < len && b[i + 1] == '\n') return true;
        if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n') return true;
        if (i + 1 >= len) break;
    }
    return false;
}

/* The last_len shortcut: a long block whose end has not arrived yet is
** not parsed again. Returns -2, -1 (too large) or 0 (parse it). */
static int still_incomplete(const char *buf, size_t len, size_t last_len, size_t max_bytes,
                            uint8_t *err, uint32_t *erroff)
{
    if (last_len < RT_H1_RESCAN || len <= last_len || terminator_since(buf, len, last_len)) return 0;
    if (len < max_bytes) return -2;
    *err = RT_H1_E_HEADERS_TOO_LARGE;
    *erroff = (uint32_t)max_bytes;
    return -1;
}

/* Map a parse result onto the header-block size limit as Balsa does: it
** reads up to max_bytes looking for the end of the block, judges the
** start line as soon as it is complete, and the field lines only once
** the whole block is in. So an error in a field line counts only when
** the block ends within the limit; until its end arrives the answer is
** "read more", and a block running past the limit is "too large". */
static int limit(pstate *ps, long r, size_t max_bytes, uint8_t *err, uint32_t *erroff)
{
    if (r == -1 && ps->in_fields) {
        const char *b = ps->buf, *end = NULL;
        for (const char *p = b + ps->erroff; (p = memchr(p, '\n', ps->len - (size_t)(p - b))) != NULL; p++) {
            size_t i = (size_t)(p - b);
            if (i + 1 < ps->len && b[i + 1] == '\n') { end = p + 2; break; }
            if (i + 2 < ps->len && b[i + 1] == '\r' && b[i + 2] == '\n') { end = p + 3; break; }
            if (i + 1 >= ps->len) break;
        }
        if (!end) r = -2;
        else if ((size_t)(end - b) > max_bytes) r = (long)max_bytes + 1;
    }
    if ((r == -2 && ps->len >= max_bytes) || (r > 0 && (size_t)r > max_bytes) ||
        (r == -1 && ps->erroff >= max_bytes)) {
        *err = RT_H1_E_HEADERS_TOO_LARGE;
        *erroff = (uint32_t)max_bytes;
        return -1;
    }
    if (r == -1) { *err = ps->err; *erroff = ps->erroff; }
    return (int)r;
}

void rt_h1_request_init(rt_h1_request *req, rt_h1_header *headers, size_t max_headers)
{
    memset(req, 0, sizeof *req);
    req->headers = headers;
    req->max_headers = (uint32_t)max_headers;
}

void rt_h1_response_init(rt_h1_response *resp, rt_h1_header *headers, size_t max_headers)
{
    memset(resp, 0, sizeof *resp);
    resp->headers = headers;
    resp->max_headers = (uint32_t)max_headers;
}

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* request-line = method SP request-target SP HTTP-version CRLF
** Returns the index after the line, -2, or -1; *nover set for 0.9. */
static long request_line(pstate *ps, rt_h1_request *req, size_t pos, bool *nover)
{
    const char *b = ps->buf;
    size_t len = ps->len, m = pos;
    if (len - pos >= 1 && b[pos] == 'P' && (len - pos < 3 || !memcmp(b + pos, "PRI", 3))) {
        size_t k = len - pos < sizeof h2_preface - 1 ? len - pos : sizeof h2_preface - 1;
        if (!memcmp(b + pos, h2_preface, k)) {
            if (k < sizeof h2_preface - 1) return -2;
            FAIL(ps, RT_H1_E_H2_PREFACE, pos);
        }
    }
    while (pos < len && IS(b[pos], C_TCHAR) && pos - m <= MAX_METHOD) pos++;
    if (pos - m > MAX_METHOD) FAIL(ps, RT_H1_E_METHOD, m);
    if (pos >= len) {
        if (!method_prefix(b + m, pos - m)) FAIL(ps, RT_H1_E_METHOD, m);
        return -2;
    }
    if (pos == m) FAIL(ps, b[pos] == ' ' || b[pos] == '\t' ? RT_H1_E_REQUEST_LINE : RT_H1_E_METHOD, pos);
    if (b[pos] != ' ') FAIL(ps, RT_H1_E_METHOD, pos);
    int id = lookup_method(b + m, pos - m);
    if (id < 0) FAIL(ps, RT_H1_E_METHOD, m);
    req->method = b + m;
    req->method_len = (uint32_t)(pos - m);
    req->method_id = (uint8_t)id;

    size_t t = ++pos;
    const char *te = scan_target(b + pos, b + len);
    pos = (size_t)(te - b);
    if (pos >= len) return -2;
    if (pos == t) FAIL(ps, RT_H1_E_REQUEST_LINE, pos);
    char c = b[pos];
    if (c != ' ' && c != '\r' && c != '\n') FAIL(ps, RT_H1_E_TARGET, pos);
    req->target = b + t;
    req->target_len = (uint32_t)(pos - t);

    if (c != ' ') {                     /* HTTP/0.9: "GET /" CRLF */
        if (c == '\r') {
            if (pos + 1 >= len) return -2;
            if (b[pos + 1] != '\n') FAIL(ps, RT_H1_E_BARE_CR, pos);
            pos++;
        } else {
            ps->flags |= RT_H1_F_BARE_LF;
        }
        *nover = true;
        req->major_version = 0;
        req->minor_version = -1;
        return (long)pos + 1;
    }
    pos++;
    static const char http[] = "HTTP/";
    for (size_t i = 0; i < 8; i++) {
        if (pos + i >= len) return -2;
        char v = b[pos + i];
        bool okc = i < 5 ? v == http[i] : i == 6 ? v == '.' : (v >= '0' && v <= '9');
        if (!okc) FAIL(ps, RT_H1_E_VERSION, pos + i);
    }
    req->major_version = b[pos + 5] - '0';
    req->minor_version = b[pos + 7] - '0';
    pos += 8;
    if (pos >= len) return -2;
    if (b[pos] == '\n') { ps->flags |= RT_H1_F_BARE_LF; return (long)pos + 1; }
    if (b[pos] != '\r') FAIL(ps, RT_H1_E_REQUEST_LINE, pos);
    if (pos + 1 >= len) return -2;
    if (b[pos + 1] != '\n') FAIL(ps, RT_H1_E_BARE_CR, pos);
    return (long)pos + 2;
}

/* Classify the request-target; absolute-form is split into scheme,
** authority and path. Form errors are reported later, in Envoy's order,
** through *form_err. */
static int classify_target(rt_h1_request *req, int *form_err)
{
    const char *t = req->target;
    size_t n = req->target_len;
    *form_err = 0;
    req->path = t;
    req->path_len = (uint32_t)n;
    if (req->method_id == RT_H1_M_CONNECT && t[0] != '/') {
        req->form = RT_H1_FORM_AUTHORITY;
        req->authority = t;
        req->authority_len = (uint32_t)n;
        return 0;
    }
    if (t[0] == '/') { req->form = RT_H1_FORM_ORIGIN; return 0; }
    if (t[0] == '*') {
        if (n != 1) return RT_H1_E_TARGET;
        req->form = RT_H1_FORM_ASTERISK;
        if (req->method_id != RT_H1_M_OPTIONS) *form_err = RT_H1_E_ABSOLUTE_URL;
        return 0;
    }
    /* scheme "://" authority [ path-abempty [ "?" query ] ] */
    size_t i = 0;
    if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) return RT_H1_E_TARGET;
    while (i < n && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                     (t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' || t[i] == '.'))
        i++;
    if (n - i < 3 || memcmp(t + i, "://", 3)) return RT_H1_E_TARGET;
    req->form = RT_H1_FORM_ABSOLUTE;
    req->scheme = t;
    req->scheme_len = (uint32_t)i;
    size_t a = i + 3, e = a;
    while (e < n && t[e] != '/' && t[e] != '?' && t[e] != '#') e++;
    req->authority = t + a;
    req->authority_len = (uint32_t)(e - a);
    if (e == n) {
        req->path = "/";
        req->path_len = 1;
    } else {
        req->path = t + e;
        req->path_len = (uint32_t)(n - e);
    }
    if (!eq_nocase(t, i, "http", 4) && !eq_nocase(t, i, "https", 5)) *form_err = RT_H1_E_SCHEME;
    else if (e == a || (e < n && t[e] != '/') ||
             !authority_ok(t + a, e - a) || memchr(t + a, '@', e - a))
        *form_err = RT_H1_E_ABSOLUTE_URL;
    return 0;
}

int rt_h1_parse_request(rt_h1_request *req, const char *buf, size_t len,
                        size_t last_len, size_t max_bytes)
{
    rt_h1_header *hs = req->headers;
    uint32_t max = req->max_headers;
    memset(req, 0, sizeof *req);
    req->headers = hs;
    req->max_headers = max;
    int quick = still_incomplete(buf, len, last_len, max_bytes, &req->err, &req->err_offset);
    if (quick) return quick;
    pstate ps = { .buf = buf, .len = len, .hs = hs, .max = max };
    size_t pos = 0;
    int empty = 0;
    while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n')) {
        if (buf[pos] == '\n' && ++empty > RT_H1_MAX_EMPTY_LINES) {
            ps.err = RT_H1_E_REQUEST_LINE;
            ps.erroff = (uint32_t)pos;
            return limit(&ps, -1, max_bytes, &req->err, &req->err_offset);
        }
        if (buf[pos] == '\r' && pos + 1 < len && buf[pos + 1] != '\n') {
            ps.err = RT_H1_E_BARE_CR;
            ps.erroff = (uint32_t)pos;
            return limit(&ps, -1, max_bytes, &req->err, &req->err_offset);
        }
        pos++;
    }
    bool nover = false;
    long r = request_line(&ps, req, pos, &nover);
    int form_err = 0;
    if (r > 0) {
        int e = classify_target(req, &form_err);
        if (e) { ps.err = (uint8_t)e; ps.erroff = (uint32_t)(req->target - buf); r = -1; }
    }
    if (r > 0 && !nover) {
        ps.in_fields = true;
        r = parse_fields(&ps, (size_t)r);
    }
    req->num_headers = ps.n;
    req->flags = ps.flags;
    int rc = limit(&ps, r, max_bytes, &req->err, &req->err_offset);
    if (rc < 0) return rc;

#define REJECT(e, at) do { req->err = (uint8_t)(e); req->err_offset = (uint32_t)(at); return -1; } while (0)
    if (nover) REJECT(RT_H1_E_HTTP10, req->target - buf);
    uint64_t cl;
    uint8_t body;
    if (check_framing(&ps, req->method_id == RT_H1_M_CONNECT, &cl, &body) < 0)
        REJECT(ps.err, ps.erroff);
    req->flags = ps.flags;
    req->content_length = cl;
    req->body = body;

    int up = rt_h1_find_id(hs, ps.n, RT_H1_HDR_UPGRADE, 0);
    bool upgrade = false;
    for (uint32_t i = 0; i < ps.n; i++) {
        const rt_h1_header *h = &hs[i];
        if (h->id == RT_H1_HDR_CONNECTION) {
            if (HAS(h, "close")) req->flags |= RT_H1_F_CLOSE;
            if (HAS(h, "upgrade") && up >= 0 && !value_is(&hs[up], "h2c")) upgrade = true;
        } else if (h->id == RT_H1_HDR_EXPECT) {
            if (value_is(h, "100-continue")) req->flags |= RT_H1_F_EXPECT_100;
        } else if (h->id == RT_H1_HDR_TE) {
            if (HAS(h, "trailers")) req->flags |= RT_H1_F_TE_TRAILERS;
        }
    }
    if (upgrade) req->flags |= RT_H1_F_UPGRADE;
    else {
        conn_check cc = { .hs = hs, .n = ps.n };
        each_token(hs, ps.n, check_token, &cc);
        if (cc.bad) REJECT(RT_H1_E_CONNECTION, hs[rt_h1_find_id(hs, ps.n, RT_H1_HDR_CONNECTION, 0)].value - buf);
    }
    if (form_err) REJECT(form_err, req->target - buf);
    if (req->major_version != 1 || req->minor_version != 1) REJECT(RT_H1_E_HTTP10, req->target_len + (req->target - buf) + 1);
    if (req->form != RT_H1_FORM_ABSOLUTE && req->form != RT_H1_FORM_AUTHORITY) {
        int h = rt_h1_find_id(hs, ps.n, RT_H1_HDR_HOST, 0);
        if (h < 0) REJECT(RT_H1_E_NO_HOST, rc);
        if (rt_h1_find_id(hs, ps.n, RT_H1_HDR_HOST, (size_t)h + 1) >= 0 ||
            !authority_ok(hs[h].value, hs[h].value_len))
            REJECT(RT_H1_E_HOST, hs[h].name - buf);
        req->authority = hs[h].value;
        req->authority_len = hs[h].value_len;
    }
    if (req->method_id == RT_H1_M_CONNECT) REJECT(RT_H1_E_CONNECT, 0);
#undef REJECT
    return rc;
}

/* status-line = HTTP-version SP status-code [ SP [ reason-phrase ] ] CRLF */
static long status_line(pstate *ps, rt_h1_response *resp)
{
    const char *b = ps->buf;
    size_t len = ps->len, pos = 0;
    static const char http[] = "HTTP/";
    for (size_t i = 0; i < 8; i++) {
        if (i >= len) return -2;
        char v = b[i];
        bool okc = i < 5 ? v == http[i] : i == 6 ? v == '.' : (v >= '0' && v <= '9');
        if (!okc) FAIL(ps, RT_H1_E_STATUS_LINE, i);
    }
    resp->major_version = b[5] - '0';
    resp->minor_version = b[7] - '0';
    pos = 8;
    if (pos >= len) return -2;
    if (b[pos] != ' ') FAIL(ps, RT_H1_E_STATUS_LINE, pos);
    pos++;
    int st = 0;
    for (int i = 0; i < 3; i++, pos++) {
        if (pos >= len) return -2;
        if (b[pos] < '0' || b[pos] > '9') FAIL(ps, RT_H1_E_STATUS, pos);
        st = st * 10 + (b[pos] - '0');
    }
    if (st < 100 || st > 599) FAIL(ps, RT_H1_E_STATUS, pos - 3);
    resp->status = st;
    if (pos >= len) return -2;
    size_t rs = pos;
    if (b[pos] == ' ') rs = ++pos;
    else if (b[pos] != '\r' && b[pos] != '\n') FAIL(ps, RT_H1_E_STATUS, pos);
    size_t next;
    long e = line_end(ps, pos, &next);
    if (e == -1) ps->err = ps->err == RT_H1_E_HEADER_VALUE ? RT_H1_E_STATUS_LINE : ps->err;
    if (e < 0) return e;
    resp->reason = b + rs;
    resp->reason_len = (uint32_t)((size_t)e - rs);
    return (long)next;
}

int rt_h1_parse_response(rt_h1_response *resp, const char *buf, size_t len,
                         size_t last_len, size_t max_bytes, bool head_request)
{
    rt_h1_header *hs = resp->headers;
    uint32_t max = resp->max_headers;
    memset(resp, 0, sizeof *resp);
    resp->headers = hs;
    resp->max_headers = max;
    int quick = still_incomplete(buf, len, last_len, max_bytes, &resp->err, &resp->err_offset);
    if (quick) return quick;
    pstate ps = { .buf = buf, .len = len, .hs = hs, .max = max };
    long r = status_line(&ps, resp);
    if (r > 0) {
        ps.in_fields = true;
        r = parse_fields(&ps, (size_t)r);
    }
    resp->num_headers = ps.n;
    resp->flags = ps.flags;
    int rc = limit(&ps, r, max_bytes, &resp->err, &resp->err_offset);
    if (rc < 0) return rc;
    uint64_t cl;
    uint8_t body;
    if (check_framing(&ps, false, &cl, &body) < 0) {
        resp->err = ps.err;
        resp->err_offset = ps.erroff;
        return -1;
    }
    resp->flags = ps.flags;
    int st = resp->status;
    if ((st < 200 || st == 204) && ((ps.flags & RT_H1_F_HAS_TE) || cl)) {
        resp->err = RT_H1_E_RESP_BODY_FIELDS;
        return -1;
    }
    bool keep = resp->major_version == 1 && resp->minor_version == 1;
    for (uint32_t i = 0; i < ps.n; i++) {
        const rt_h1_header *h = &hs[i];
        if (h->id != RT_H1_HDR_CONNECTION) continue;
        if (HAS(h, "close")) keep = false;
        else if (HAS(h, "keep-alive") && resp->major_version == 1 && resp->minor_version == 0) keep = true;
    }
    if (st == 101) resp->flags |= RT_H1_F_UPGRADE;
    if (head_request || st < 200 || st == 204 || st == 304) {
        resp->body = RT_H1_BODY_NONE;
    } else if (body == RT_H1_BODY_CHUNKED || (ps.flags & RT_H1_F_HAS_CL)) {
        resp->body = body;
        resp->content_length = cl;
    } else {
        resp->body = RT_H1_BODY_CLOSE;
        keep = false;
    }
    if (!keep) resp->flags |= RT_H1_F_CLOSE;
    return rc;
}

/* ---- chunked decoder ---- */

enum {
    CS_SIZE, CS_BWS, CS_EXT, CS_SIZE_LF, CS_DATA, CS_DATA_CR, CS_DATA_LF,
    CS_TRAILER, CS_TNAME, CS_TVALUE, CS_TLF, CS_END_LF, CS_DONE
};

void rt_h1_chunked_init(rt_h1_chunked *d) { memset(d, 0, sizeof *d); }
bool rt_h1_chunked_done(const rt_h1_chunked *d) { return d->state == CS_DONE; }

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

ssize_t rt_h1_chunked_decode(rt_h1_chunked *d, const char *buf, size_t len,
                             const char **data, size_t *data_len)
{
    size_t i = 0;
    *data = NULL;
    *data_len = 0;
#define CFAIL(e) do { d->err = (uint8_t)(e); return -1; } while (0)
    while (i < len) {
        char c = buf[i];
        switch (d->state) {
        case CS_SIZE:
            if (IS(c, C_HEX)) {
                if (d->digits >= 16 || (d->left >> 59)) CFAIL(RT_H1_E_CHUNK_SIZE);
                d->left = d->left * 16 + (uint64_t)hexval(c);
                d->digits++;
            } else if (d->digits == 0) {
                CFAIL(RT_H1_E_CHUNK_SIZE);
            } else if (c == ';') {
                d->state = CS_EXT;
            } else if (c == ' ' || c == '\t') {
                d->state = CS_BWS;
            } else if (c == '\r') {
                d->state = CS_SIZE_LF;
            } else {
                CFAIL(RT_H1_E_CHUNK_SIZE);
            }
            break;
        case CS_BWS:
            if (c == ';') d->state = CS_EXT;
            else if (c != ' ' && c != '\t') CFAIL(RT_H1_E_CHUNK_SIZE);
            break;
        case CS_EXT:
            if (d->quote == 2) {
                if (c != '\t' && ((unsigned char)c < 0x20 || c == 0x7f)) CFAIL(RT_H1_E_CHUNK_EXT);
                d->quote = 1;
            } else if (d->quote == 1) {
                if (c == '"') d->quote = 0;
                else if (c == '\\') d->quote = 2;
                else if (c != '\t' && ((unsigned char)c < 0x20 || c == 0x7f)) CFAIL(RT_H1_E_CHUNK_EXT);
            } else if (c == '\r') {
                d->state = CS_SIZE_LF;
            } else if (c == '"') {
                d->quote = 1;
            } else if (!IS(c, C_TCHAR) && c != '=' && c != ';' && c != ' ' && c != '\t') {
                CFAIL(RT_H1_E_CHUNK_EXT);
            }
            break;
        case CS_SIZE_LF:
            if (c != '\n') CFAIL(RT_H1_E_CHUNK_SIZE);
            d->line = 0;
            d->digits = 0;
            d->state = d->left ? CS_DATA : CS_TRAILER;
            i++;
            continue;
        case CS_DATA: {
            size_t n = len - i;
            if (n > d->left) n = (size_t)d->left;
            *data = buf + i;
            *data_len = n;
            d->left -= n;
            d->total += n;
            if (!d->left) d->state = CS_DATA_CR;
            return (ssize_t)(i + n);
        }
        case CS_DATA_CR:
            if (c != '\r') CFAIL(RT_H1_E_CHUNK_CRLF);
            d->state = CS_DATA_LF;
            break;
        case CS_DATA_LF:
            if (c != '\n') CFAIL(RT_H1_E_CHUNK_CRLF);
            d->state = CS_SIZE;
            i++;
            continue;
        case CS_TRAILER:
            if (c == '\r') d->state = CS_END_LF;
            else if (IS(c, C_TCHAR)) d->state = CS_TNAME;
            else CFAIL(RT_H1_E_TRAILER);
            break;
        case CS_TNAME:
            if (c == ':') d->state = CS_TVALUE;
            else if (!IS(c, C_TCHAR)) CFAIL(RT_H1_E_TRAILER);
            break;
        case CS_TVALUE:
            if (c == '\r') d->state = CS_TLF;
            else if (!IS(c, C_VALUE)) CFAIL(RT_H1_E_TRAILER);
            break;
        case CS_TLF:
            if (c != '\n') CFAIL(RT_H1_E_TRAILER);
            d->state = CS_TRAILER;
            break;
        case CS_END_LF:
            if (c != '\n') CFAIL(RT_H1_E_TRAILER);
            d->state = CS_DONE;
            return (ssize_t)(i + 1);
        case CS_DONE:
        default:
            return (ssize_t)i;
        }
        if (d->state <= CS_SIZE_LF && ++d->line > RT_H1_MAX_CHUNK_LINE) CFAIL(RT_H1_E_CHUNK_EXT);
        if (d->state >= CS_TRAILER && ++d->trailer_bytes > RT_H1_MAX_HEADER_BYTES)
            CFAIL(RT_H1_E_TRAILERS_TOO_LARGE);
        i++;
    }
#undef CFAIL
    return (ssize_t)i;
}

/* ---- hop-by-hop ---- */

typedef struct nominate {
    const rt_h1_header *hs;
    size_t n;
    uint8_t *drop;
    bool keep_upgrade;
} nominate;

static bool nominate_token(const char *t, size_t n, void *ud)
{
    nominate *nm = ud;
    if (TOK_IS(t, n, "close") || TOK_IS(t, n, "connection") || TOK_IS(t, n, "te") ||
        (nm->keep_upgrade && TOK_IS(t, n, "upgrade")))
        return true;
    for (size_t i = 0; i < nm->n; i++)
        if (eq_nocase(nm->hs[i].name, nm->hs[i].name_len, t, n)) nm->drop[i] = 1;
    return true;
}

size_t rt_h1_hop_by_hop(const rt_h1_header *h, size_t n, bool keep_upgrade, uint8_t *drop)
{
    for (size_t i = 0; i < n; i++) {
        switch (h[i].id) {
        case RT_H1_HDR_CONNECTION:
        case RT_H1_HDR_KEEP_ALIVE:
        case RT_H1_HDR_PROXY_CONNECTION:
        case RT_H1_HDR_TRANSFER_ENCODING:
            drop[i] = 1;
            break;
        case RT_H1_HDR_UPGRADE:
            drop[i] = keep_upgrade ? 0 : 1;
            break;
        case RT_H1_HDR_TE:
            drop[i] = HAS(&h[i], "trailers") ? 2 : 1;
            break;
        default:
            drop[i] = 0;
        }
    }
    nominate nm = { h, n, drop, keep_upgrade };
    each_token(h, n, nominate_token, &nm);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += drop[i] == 1;
    return k;
}
