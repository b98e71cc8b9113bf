/*
** accesslog.c -- Envoy format strings -> op list -> lines; the
** non-blocking writer. Contracts in accesslog.h.
*/
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- presets ---- */

static const char istio_text[] =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    "\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% "
    "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% "
    "%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

static const char istio_10_text[] =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% "
    "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% "
    "%REQUESTED_SERVER_NAME%\n";

static const char *const istio_json[][2] = {
    { "start_time", "%START_TIME%" },
    { "route_name", "%ROUTE_NAME%" },
    { "method", "%REQ(:METHOD)%" },
    { "path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%" },
    { "protocol", "%PROTOCOL%" },
    { "response_code", "%RESPONSE_CODE%" },
    { "response_flags", "%RESPONSE_FLAGS%" },
    { "response_code_details", "%RESPONSE_CODE_DETAILS%" },
    { "connection_termination_details", "%CONNECTION_TERMINATION_DETAILS%" },
    { "bytes_received", "%BYTES_RECEIVED%" },
    { "bytes_sent", "%BYTES_SENT%" },
    { "duration", "%DURATION%" },
    { "upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%" },
    { "x_forwarded_for", "%REQ(X-FORWARDED-FOR)%" },
    { "user_agent", "%REQ(USER-AGENT)%" },
    { "request_id", "%REQ(X-REQUEST-ID)%" },
    { "authority", "%REQ(:AUTHORITY)%" },
    { "upstream_host", "%UPSTREAM_HOST%" },
    { "upstream_cluster", "%UPSTREAM_CLUSTER_RAW%" },
    { "upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%" },
    { "downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%" },
    { "downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%" },
    { "requested_server_name", "%REQUESTED_SERVER_NAME%" },
    { "upstream_transport_failure_reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%" },
};

/* ---- operators ---- */

enum opk {
    OP_LIT, OP_START_TIME, OP_REQ, OP_RESP, OP_REQ_NOQ, OP_CODE, OP_FLAGS, OP_DETAILS, OP_TERM,
    OP_UPFAIL, OP_BYTES_RX, OP_BYTES_TX, OP_DURATION, OP_REQ_DUR, OP_RESP_DUR, OP_RESP_TX_DUR,
    OP_PROTOCOL, OP_UP_HOST, OP_UP_CLUSTER, OP_UP_LOCAL, OP_DS_LOCAL, OP_DS_LOCAL_IP,
    OP_DS_REMOTE, OP_DS_REMOTE_IP, OP_SNI, OP_ROUTE, OP_ATTEMPTS, OP_CONN_ID, OP_HOSTNAME
};

enum { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

static const struct { const char *name; uint8_t kind, arg; } cmds[] = {
    { "START_TIME", OP_START_TIME, ARG_OPTIONAL },
    { "REQ", OP_REQ, ARG_REQUIRED },
    { "RESP", OP_RESP, ARG_REQUIRED },
    { "REQ_WITHOUT_QUERY", OP_REQ_NOQ, ARG_REQUIRED },
    { "RESPONSE_CODE", OP_CODE, ARG_NONE },
    { "RESPONSE_FLAGS", OP_FLAGS, ARG_NONE },
    { "RESPONSE_CODE_DETAILS", OP_DETAILS, ARG_NONE },
    { "CONNECTION_TERMINATION_DETAILS", OP_TERM, ARG_NONE },
    { "UPSTREAM_TRANSPORT_FAILURE_REASON", OP_UPFAIL, ARG_NONE },
    { "BYTES_RECEIVED", OP_BYTES_RX, ARG_NONE },
    { "BYTES_SENT", OP_BYTES_TX, ARG_NONE },
    { "DURATION", OP_DURATION, ARG_NONE },
    { "REQUEST_DURATION", OP_REQ_DUR, ARG_NONE },
    { "RESPONSE_DURATION", OP_RESP_DUR, ARG_NONE },
    { "RESPONSE_TX_DURATION", OP_RESP_TX_DUR, ARG_NONE },
    { "PROTOCOL", OP_PROTOCOL, ARG_NONE },
    { "UPSTREAM_HOST", OP_UP_HOST, ARG_NONE },
    { "UPSTREAM_REMOTE_ADDRESS", OP_UP_HOST, ARG_NONE },
    { "UPSTREAM_CLUSTER", OP_UP_CLUSTER, ARG_NONE },
    { "UPSTREAM_CLUSTER_RAW", OP_UP_CLUSTER, ARG_NONE },
    { "UPSTREAM_LOCAL_ADDRESS", OP_UP_LOCAL, ARG_NONE },
    { "DOWNSTREAM_LOCAL_ADDRESS", OP_DS_LOCAL, ARG_NONE },
    { "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", OP_DS_LOCAL_IP, ARG_NONE },
    { "DOWNSTREAM_REMOTE_ADDRESS", OP_DS_REMOTE, ARG_NONE },
    { "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", OP_DS_REMOTE_IP, ARG_NONE },
    { "DOWNSTREAM_DIRECT_REMOTE_ADDRESS", OP_DS_REMOTE, ARG_NONE },
    { "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT", OP_DS_REMOTE_IP, ARG_NONE },
    { "REQUESTED_SERVER_NAME", OP_SNI, ARG_NONE },
    { "ROUTE_NAME", OP_ROUTE, ARG_NONE },
    { "UPSTREAM_REQUEST_ATTEMPT_COUNT", OP_ATTEMPTS, ARG_NONE },
    { "CONNECTION_ID", OP_CONN_ID, ARG_NONE },
    { "HOSTNAME", OP_HOSTNAME, ARG_NONE },
};

typedef struct op {
    uint8_t kind;
    uint32_t trunc;             /* 0: whole value */
    char *a, *b;                /* literal / header X / format; header Y */
    size_t an, bn;
    const char *key;            /* JSON key */
} op;

struct rt_alog {
    op *ops;
    size_t n, cap;
    bool json;
};

static const char *const flag_names[] = {
#define X(f) #f,
    RT_RESPONSE_FLAGS(X)
#undef X
};

uint32_t rt_rf_from_name(const char *s, size_t n)
{
    for (int i = 0; i < RT_RF_COUNT; i++)
        if (strlen(flag_names[i]) == n && !memcmp(flag_names[i], s, n)) return 1u << i;
    return 0;
}

rt_str rt_str_c(const char *s)
{
    return (rt_str){ s, s ? strlen(s) : 0 };
}

void rt_log_rec_init(rt_log_rec *r)
{
    memset(r, 0, sizeof *r);
    r->duration_ms = r->request_duration_ms = r->response_duration_ms = r->response_tx_duration_ms = -1;
}

/* ---- compiling ---- */

__attribute__((format(printf, 2, 3)))
static void seterr(char *err, const char *fmt, ...)
{
    va_list ap;
    if (!err) return;
    va_start(ap, fmt);
    vsnprintf(err, RT_ERR_LEN, fmt, ap);
    va_end(ap);
}

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) { memcpy(p, s, n); p[n] = 0; }
    return p;
}

static op *add_op(rt_alog *f)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        op *o = realloc(f->ops, cap * sizeof *o);
        if (!o) return NULL;
        f->ops = o;
        f->cap = cap;
    }
    op *o = &f->ops[f->n++];
    memset(o, 0, sizeof *o);
    return o;
}

static bool add_lit(rt_alog *f, const char *s, size_t n)
{
    if (!n) return true;
    op *o = add_op(f);
    if (!o || !(o->a = dupn(s, n))) return false;
    o->kind = OP_LIT;
    o->an = n;
    return true;
}

/* Compile one Envoy format string into f. key (JSON) is attached to the
** ops it produces. */
static bool compile(rt_alog *f, const char *s, const char *key, char *err)
{
    size_t n = strlen(s), i = 0, lit = 0;
    while (i < n) {
        if (s[i] != '%') { i++; continue; }
        if (!add_lit(f, s + lit, i - lit)) goto oom;
        size_t at = i++, name = i;
        while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) i++;
        if (i == name) {
            seterr(err, "'%%' at column %zu does not start an operator", at + 1);
            return false;
        }
        int c = -1;
        for (size_t k = 0; k < sizeof cmds / sizeof *cmds; k++)
            if (strlen(cmds[k].name) == i - name && !memcmp(cmds[k].name, s + name, i - name)) { c = (int)k; break; }
        if (c < 0) {
            seterr(err, "unknown operator %%%.*s%% at column %zu", (int)(i - name), s + name, at + 1);
            return false;
        }
        op *o = add_op(f);
        if (!o) goto oom;
        o->kind = cmds[c].kind;
        o->key = key;
        if (i < n && s[i] == '(') {
            if (cmds[c].arg == ARG_NONE) {
                seterr(err, "%%%s%% at column %zu takes no argument", cmds[c].name, at + 1);
                return false;
            }
            size_t a = ++i, close = 0;
            for (; i < n; i++)
                if (s[i] == ')' && (i + 1 == n || s[i + 1] == '%' || s[i + 1] == ':')) { close = i; break; }
            if (!close) {
                seterr(err, "%%%s( at column %zu has no closing ')'", cmds[c].name, at + 1);
                return false;
            }
            const char *q = o->kind == OP_START_TIME ? NULL : memchr(s + a, '?', close - a);
            size_t an = q ? (size_t)(q - (s + a)) : close - a;
            if (an == 0 && o->kind != OP_START_TIME) {
                seterr(err, "%%%s() at column %zu needs a header name", cmds[c].name, at + 1);
                return false;
            }
            if (!(o->a = dupn(s + a, an))) goto oom;
            o->an = an;
            if (q) {
                if (!(o->b = dupn(q + 1, close - a - an - 1))) goto oom;
                o->bn = close - a - an - 1;
            }
            i = close + 1;
        } else if (cmds[c].arg == ARG_REQUIRED) {
            seterr(err, "%%%s%% at column %zu needs (HEADER)", cmds[c].name, at + 1);
            return false;
        }
        if (i < n && s[i] == ':') {
            size_t d = ++i;
            unsigned long v = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9' && v < 100000000) v = v * 10 + (unsigned long)(s[i++] - '0');
            if (i == d || v == 0) {
                seterr(err, "bad length after %%%s%%: at column %zu", cmds[c].name, d);
                return false;
            }
            o->trunc = (uint32_t)v;
        }
        if (i >= n || s[i] != '%') {
            seterr(err, "%%%s at column %zu is not closed by '%%'", cmds[c].name, at + 1);
            return false;
        }
        lit = ++i;
    }
    if (!add_lit(f, s + lit, n - lit)) goto oom;
    return true;
oom:
    seterr(err, "out of memory");
    return false;
}

rt_alog *rt_alog_new(const char *spec, char err[RT_ERR_LEN])
{
    rt_alog *f = calloc(1, sizeof *f);
    if (!f) { seterr(err, "out of memory"); return NULL; }
    bool good;
    if (!strcmp(spec, "istio")) {
        good = compile(f, istio_text, NULL, err);
    } else if (!strcmp(spec, "istio-1.0")) {
        good = compile(f, istio_10_text, NULL, err);
    } else if (!strcmp(spec, "json")) {
        f->json = true;
        good = true;
        for (size_t k = 0; good && k < sizeof istio_json / sizeof *istio_json; k++)
            good = compile(f, istio_json[k][1], istio_json[k][0], err);
    } else if (!*spec) {
        seterr(err, "empty access log format");
        good = false;
    } else {
        size_t n = strlen(spec);
        good = compile(f, spec, NULL, err);
        if (good && spec[n - 1] != '\n') good = add_lit(f, "\n", 1);
    }
    if (!good) { rt_alog_free(f); return NULL; }
    return f;
}

void rt_alog_free(rt_alog *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->ops[i].a);
        free(f->ops[i].b);
    }
    free(f->ops);
    free(f);
}

bool rt_alog_is_json(const rt_alog *f) { return f->json; }

/* ---- rendering ---- */

typedef struct out {
    char *p;
    size_t n, cap;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->n < o->cap) {
        size_t k = o->cap - o->n < n ? o->cap - o->n : n;
        memcpy(o->p + o->n, s, k);
    }
    o->n += n;
}

static void putc1(out *o, char c) { put(o, &c, 1); }

static const char HEX[] = "0123456789abcdef";

static void put_text(out *o, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            put(o, s + run, i - run);
            char e[4] = { '\\', 'x', HEX[c >> 4], HEX[c & 15] };
            put(o, e, 4);
            run = i + 1;
        }
    }
    put(o, s + run, n - run);
}

/* Length of a valid UTF-8 sequence at s (max n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k;
    uint32_t cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { k = 2; cp = s[0] & 0x1f; }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) { k = 3; cp = s[0] & 0x0f; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { k = 4; cp = s[0] & 0x07; }
    else return 0;
    if (k > n) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return k;
}

static void put_json_str(out *o, const char *s, size_t n)
{
    putc1(o, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { putc1(o, '\\'); putc1(o, (char)c); }
        else if (c == '\n') put(o, "\\n", 2);
        else if (c == '\r') put(o, "\\r", 2);
        else if (c == '\t') put(o, "\\t", 2);
        else if (c < 0x20 || c == 0x7f) {
            char e[6] = { '\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15] };
            put(o, e, 6);
        } else if (c < 0x80) {
            putc1(o, (char)c);
        } else {
            size_t k = utf8_len((const unsigned char *)s + i, n - i);
            if (k) { put(o, s + i, k); i += k - 1; }
            else {
                char e[6] = { '\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15] };
                put(o, e, 6);
            }
        }
    }
    putc1(o, '"');
}

/* Envoy START_TIME formatting (UTC). */
static size_t fmt_time(const char *fmt, size_t fn, int64_t ns, char *buf, size_t cap)
{
    if (ns < 0) ns = 0;
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    out o = { buf, 0, cap };
    for (size_t i = 0; i < fn; i++) {
        if (fmt[i] != '%' || i + 1 >= fn) { putc1(&o, fmt[i]); continue; }
        char c = fmt[++i];
        int digits = -1;
        if (c == 'E' && i + 2 < fn && fmt[i + 2] == 'S' && ((fmt[i + 1] >= '1' && fmt[i + 1] <= '9') || fmt[i + 1] == '*')) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%02d", tm.tm_sec);
            put(&o, tmp, 2);
            digits = fmt[i + 1] == '*' ? 9 : fmt[i + 1] - '0';
            char f9[16];
            snprintf(f9, sizeof f9, "%09ld", frac);
            size_t k = (size_t)digits;
            if (fmt[i + 1] == '*') while (k > 0 && f9[k - 1] == '0') k--;
            if (k) { putc1(&o, '.'); put(&o, f9, k); }
            i += 2;
            continue;
        }
        if (c >= '1' && c <= '9' && i + 1 < fn && fmt[i + 1] == 'f') { digits = c - '0'; i++; }
        else if (c == 'f') digits = 9;
        if (digits > 0) {
            char f9[16];
            snprintf(f9, sizeof f9, "%09ld", frac);
            put(&o, f9, (size_t)digits);
            continue;
        }
        if (c == 's') {
            char tmp[32];
            int k = snprintf(tmp, sizeof tmp, "%lld", (long long)sec);
            put(&o, tmp, (size_t)k);
            continue;
        }
        char spec[4] = { '%', c, 0, 0 };
        if ((c == 'E' || c == 'O') && i + 1 < fn) spec[2] = fmt[++i];
        char tmp[128];
        size_t k = strftime(tmp, sizeof tmp, spec, &tm);
        put(&o, tmp, k);
    }
    return o.n < cap ? o.n : cap;
}

enum { V_UNSET, V_STR, V_NUM };

typedef struct val {
    const char *p;
    size_t n;
    uint64_t num;
} val;

/* Find a request/response field: the proxy's set first, then as received. */
static int header(const rt_h1_header *set, size_t nset, const rt_h1_header *h, size_t nh,
                  const char *name, size_t nn, char *tmp, size_t tcap, val *v)
{
    int i = rt_h1_find(set, nset, name, nn, 0);
    const rt_h1_header *e = NULL;
    if (i >= 0) {
        if (!set[i].value) return V_UNSET;
        e = &set[i];
    } else if ((i = rt_h1_find(h, nh, name, nn, 0)) >= 0) {
        e = &h[i];
    }
    if (!e) return V_UNSET;
    if (e->flags & RT_H1_HF_FOLDED) {
        v->n = rt_h1_unfold(e, tmp, tcap);
        if (v->n > tcap) v->n = tcap;
        v->p = tmp;
    } else {
        v->p = e->value;
        v->n = e->value_len;
    }
    return V_STR;
}

static int str(rt_str s, val *v)
{
    if (!s.p) return V_UNSET;
    v->p = s.p;
    v->n = s.n;
    return V_STR;
}

static int req_field(const rt_log_rec *r, const char *name, size_t nn, char *tmp, size_t tcap, val *v)
{
    if (nn && name[0] == ':') {
        if (!strncasecmp(name, ":method", nn) && nn == 7) return str(r->method, v);
        if (!strncasecmp(name, ":path", nn) && nn == 5) return str(r->path, v);
        if (!strncasecmp(name, ":authority", nn) && nn == 10) return str(r->authority, v);
        if (!strncasecmp(name, ":scheme", nn) && nn == 7) return str(r->scheme, v);
        return V_UNSET;
    }
    return header(r->req_set, r->nreq_set, r->req, r->nreq, name, nn, tmp, tcap, v);
}

static int num(int64_t x, val *v)
{
    if (x < 0) return V_UNSET;
    v->num = (uint64_t)x;
    return V_NUM;
}

/* An "ip:port" / "[v6]:port" without the port. */
static int noport(rt_str s, val *v)
{
    if (!s.p) return V_UNSET;
    if (s.n && s.p[0] == '[') {
        const char *e = memchr(s.p, ']', s.n);
        v->p = s.p + 1;
        v->n = e ? (size_t)(e - s.p - 1) : s.n - 1;
        return V_STR;
    }
    const char *c = memrchr(s.p, ':', s.n);
    v->p = s.p;
    v->n = c ? (size_t)(c - s.p) : s.n;
    return V_STR;
}

static int value(const op *o, const rt_log_rec *r, char *tmp, size_t tcap, val *v)
{
    switch (o->kind) {
    case OP_START_TIME: {
        static const char def[] = "%Y-%m-%dT%H:%M:%E3SZ";
        v->n = o->an ? fmt_time(o->a, o->an, r->start_ns, tmp, tcap)
                     : fmt_time(def, sizeof def - 1, r->start_ns, tmp, tcap);
        v->p = tmp;
        return V_STR;
    }
    case OP_REQ:
    case OP_REQ_NOQ: {
        int k = req_field(r, o->a, o->an, tmp, tcap, v);
        if (k == V_UNSET && o->b) k = req_field(r, o->b, o->bn, tmp, tcap, v);
        if (k == V_STR && o->kind == OP_REQ_NOQ) {
            const char *q = memchr(v->p, '?', v->n);
            if (q) v->n = (size_t)(q - v->p);
        }
        return k;
    }
    case OP_RESP: {
        int k = header(r->resp_set, r->nresp_set, r->resp, r->nresp, o->a, o->an, tmp, tcap, v);
        if (k == V_UNSET && o->b) k = header(r->resp_set, r->nresp_set, r->resp, r->nresp, o->b, o->bn, tmp, tcap, v);
        return k;
    }
    case OP_CODE: v->num = r->response_code; return V_NUM;
    case OP_FLAGS: {
        out t = { tmp, 0, tcap };
        for (int i = 0; i < RT_RF_COUNT; i++) {
            if (!(r->flags & (1u << i))) continue;
            if (t.n) putc1(&t, ',');
            put(&t, flag_names[i], strlen(flag_names[i]));
        }
        if (!t.n) put(&t, "-", 1);
        v->p = tmp;
        v->n = t.n < tcap ? t.n : tcap;
        return V_STR;
    }
    case OP_DETAILS: return str(r->code_details, v);
    case OP_TERM: return str(r->termination_details, v);
    case OP_UPFAIL: return str(r->upstream_failure, v);
    case OP_BYTES_RX: v->num = r->bytes_received; return V_NUM;
    case OP_BYTES_TX: v->num = r->bytes_sent; return V_NUM;
    case OP_DURATION: return num(r->duration_ms, v);
    case OP_REQ_DUR: return num(r->request_duration_ms, v);
    case OP_RESP_DUR: return num(r->response_duration_ms, v);
    case OP_RESP_TX_DUR: return num(r->response_tx_duration_ms, v);
    case OP_PROTOCOL: return str(r->protocol, v);
    case OP_UP_HOST: return str(r->upstream_host, v);
    case OP_UP_CLUSTER: return str(r->upstream_cluster, v);
    case OP_UP_LOCAL: return str(r->upstream_local, v);
    case OP_DS_LOCAL: return str(r->downstream_local, v);
    case OP_DS_LOCAL_IP: return noport(r->downstream_local, v);
    case OP_DS_REMOTE: return str(r->downstream_remote, v);
    case OP_DS_REMOTE_IP: return noport(r->downstream_remote, v);
    case OP_SNI: return str(r->sni, v);
    case OP_ROUTE: return str(r->route_name, v);
    case OP_ATTEMPTS: return r->attempt_count ? (v->num = r->attempt_count, V_NUM) : V_UNSET;
    case OP_CONN_ID: v->num = r->connection_id; return V_NUM;
    case OP_HOSTNAME: return str(r->hostname, v);
    default: return V_UNSET;
    }
}

size_t rt_alog_render(const rt_alog *f, const rt_log_rec *r, char *buf, size_t cap)
{
    out o = { buf, 0, cap };
    char tmp[1024];
    const char *key = NULL;
    if (f->json) putc1(&o, '{');
    for (size_t i = 0; i < f->n; i++) {
        const op *p = &f->ops[i];
        if (f->json && p->key != key) {
            if (key) putc1(&o, ',');
            key = p->key;
            put_json_str(&o, key, strlen(key));
            putc1(&o, ':');
        }
        if (p->kind == OP_LIT) {
            if (f->json) put_json_str(&o, p->a, p->an);
            else put(&o, p->a, p->an);
            continue;
        }
        val v = { 0 };
        int k = value(p, r, tmp, sizeof tmp, &v);
        char nb[24];
        if (k == V_NUM) {
            if (f->json && !p->trunc) {
                int w = snprintf(nb, sizeof nb, "%llu", (unsigned long long)v.num);
                put(&o, nb, (size_t)w);
                continue;
            }
            v.n = (size_t)snprintf(nb, sizeof nb, "%llu", (unsigned long long)v.num);
            v.p = nb;
        }
        if (k != V_UNSET && p->trunc && v.n > p->trunc) v.n = p->trunc;
        if (f->json) {
            if (k == V_UNSET) put(&o, "null", 4);
            else put_json_str(&o, v.p, v.n);
        } else if (k == V_UNSET || v.n == 0) {
            putc1(&o, '-');
        } else {
            put_text(&o, v.p, v.n);
        }
    }
    if (f->json) put(&o, "}\n", 2);
    return o.n;
}

/* ---- writer ---- */

struct rt_logw {
    rt_loop *l;
    int fd;
    bool is_pipe, pollable, waiting;
    char *buf;
    size_t cap, head, tail;
    uint64_t dropped;
    unsigned flush_ms;
    rt_timer timer;
};

static void on_timer(rt_loop *l, rt_timer *t, void *ud);

static void schedule(rt_logw *w)
{
    if (!w->waiting && !rt_timer_active(&w->timer) && w->tail > w->head)
        rt_timer_start(w->l, &w->timer, w->flush_ms, on_timer, w);
}

static void on_writable(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)fd; (void)mask;
    rt_logw_flush(ud);
}

static void on_timer(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    rt_logw *w = ud;
    rt_logw_flush(w);
    schedule(w);
}

rt_logw *rt_logw_open(rt_loop *l, const char *path, size_t cap, unsigned flush_ms, char err[RT_ERR_LEN])
{
    int fd;
    if (!strcmp(path, "-")) {
        /* a private open file description of stdout, so O_NONBLOCK does not
        ** leak into the shell's; sockets cannot be reopened: dup them */
        fd = open("/proc/self/fd/1", O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0) fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    } else {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        seterr(err, "access log %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    fstat(fd, &st);
    rt_logw *w = calloc(1, sizeof *w);
    if (!w || !(w->buf = malloc(cap))) {
        seterr(err, "access log %s: out of memory", path);
        free(w);
        close(fd);
        return NULL;
    }
    w->l = l;
    w->fd = fd;
    w->cap = cap;
    w->flush_ms = flush_ms;
    w->is_pipe = S_ISFIFO(st.st_mode);
    w->pollable = !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
    if (w->pollable) {
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        if (rt_file_add(l, fd, RT_NONE, on_writable, w) < 0) w->pollable = false;
    }
    rt_timer_init(&w->timer, on_timer, w);
    return w;
}

static void compact(rt_logw *w)
{
    if (w->head == 0) return;
    memmove(w->buf, w->buf + w->head, w->tail - w->head);
    w->tail -= w->head;
    w->head = 0;
}

char *rt_logw_reserve(rt_logw *w, size_t max)
{
    if (w->cap - w->tail < max) compact(w);
    if (w->cap - w->tail < max) {
        w->dropped++;
        return NULL;
    }
    return w->buf + w->tail;
}

void rt_logw_commit(rt_logw *w, size_t len)
{
    w->tail += len;
    if (w->tail - w->head >= RT_LOGW_HIGH) rt_logw_flush(w);
    schedule(w);
}

bool rt_logw_write(rt_logw *w, const char *line, size_t len)
{
    char *p = rt_logw_reserve(w, len);
    if (!p) return false;
    memcpy(p, line, len);
    rt_logw_commit(w, len);
    return true;
}

bool rt_logw_log(rt_logw *w, const rt_alog *f, const rt_log_rec *r)
{
    if (w->cap - w->tail < 4096) compact(w);
    size_t room = w->cap - w->tail;
    size_t n = rt_alog_render(f, r, w->buf + w->tail, room);
    if (n > room) {
        w->dropped++;
        return false;
    }
    rt_logw_commit(w, n);
    return true;
}

static size_t count_lines(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += p[i] == '\n';
    return k;
}

int rt_logw_flush(rt_logw *w)
{
    while (w->tail > w->head) {
        size_t n = w->tail - w->head;
        if (w->is_pipe && n > PIPE_BUF) {
            const char *p = w->buf + w->head;
            const char *nl = memrchr(p, '\n', PIPE_BUF);
            if (nl) n = (size_t)(nl - p) + 1;
            else if ((nl = memchr(p, '\n', n))) n = (size_t)(nl - p) + 1;
        }
        ssize_t k = write(w->fd, w->buf + w->head, n);
        if (k > 0) {
            w->head += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (w->pollable && !w->waiting && rt_file_mod(w->l, w->fd, RT_WRITABLE) == 0) {
                w->waiting = true;
                rt_timer_stop(w->l, &w->timer);
            }
            return 0;
        }
        w->dropped += count_lines(w->buf + w->head, w->tail - w->head);
        w->head = w->tail = 0;
        return -1;
    }
    w->head = w->tail = 0;
    if (w->waiting) {
        rt_file_mod(w->l, w->fd, RT_NONE);
        w->waiting = false;
    }
    return 0;
}

int rt_logw_drain(rt_logw *w, int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (w->tail > w->head) {
        if (rt_logw_flush(w) < 0) return -1;
        if (w->tail == w->head) break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= timeout_ms) return -1;
        struct pollfd p = { .fd = w->fd, .events = POLLOUT };
        poll(&p, 1, (int)(timeout_ms - el));
    }
    return 0;
}

uint64_t rt_logw_dropped(const rt_logw *w) { return w->dropped; }
size_t rt_logw_pending(const rt_logw *w) { return w->tail - w->head; }

void rt_logw_close(rt_logw *w)
{
    if (!w) return;
    rt_logw_flush(w);
    rt_timer_stop(w->l, &w->timer);
    if (w->pollable) rt_file_del(w->l, w->fd);
    close(w->fd);
    free(w->buf);
    free(w);
}
