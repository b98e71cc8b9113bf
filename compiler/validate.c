/*
** validate.c -- the validation stage: dispatch by kind, the metadata rules
** every kind shares, and the primitives of Istio's webhook used by several
** kinds (durations, ports, labels, regexes, string matches, exportTo,
** workload selectors, header operations, destinations, gateway names).
**
** Reference: istio/istio pkg/config/validation/{validation.go,
** virtualservice.go,header_value_validator.go} and agent/validation.go at
** 86c9f01f. Each rule keeps the webhook's condition, including its quirks;
** the comments name the Go function a rule comes from.
*/
#include "validate_int.h"
#include "host.h"
#include "regex.h"
#include "strmap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ lookups */

mc_node *mc_v_str(const mc_node *m, const char *k)
{
    mc_node *n = mc_get(m, k);
    return n && n->type == MC_STR ? n : NULL;
}

mc_node *mc_v_map(const mc_node *m, const char *k)
{
    mc_node *n = mc_get(m, k);
    return n && n->type == MC_MAP ? n : NULL;
}

mc_node *mc_v_seq(const mc_node *m, const char *k)
{
    mc_node *n = mc_get(m, k);
    return n && n->type == MC_SEQ && n->n > 0 ? n : NULL;
}

mc_node *mc_v_nmap(const mc_node *m, const char *k)
{
    mc_node *n = mc_get(m, k);
    return n && n->type == MC_MAP && n->n > 0 ? n : NULL;
}

mc_node *mc_v_int(const mc_node *m, const char *k, int64_t *v)
{
    mc_node *n = mc_get(m, k);
    int64_t x;
    if (!n || n->type != MC_INT || !mc_int(n, &x)) {
        *v = 0;
        return NULL;
    }
    *v = x;
    return n;
}

mc_node *mc_v_num(const mc_node *m, const char *k, double *v)
{
    mc_node *n = mc_get(m, k);
    if (!n || !mc_num(n, v)) {
        *v = 0;
        return NULL;
    }
    return n;
}

bool mc_v_true(const mc_node *m, const char *k)
{
    mc_node *n = mc_get(m, k);
    return n && n->type == MC_BOOL && (n->flags & MC_N_TRUE);
}

const char *mc_v_s(const mc_node *m, const char *k)
{
    mc_node *n = mc_v_str(m, k);
    return n ? n->u.s : "";
}

bool mc_v_has(const mc_node *m, const char *k)
{
    mc_node *n = mc_v_str(m, k);
    return n && n->n > 0;
}

bool mc_v_blank(const mc_node *m, const char *k)
{
    const mc_node *n = mc_get(m, k);
    return !n || n->type == MC_NULL || (n->type == MC_STR && n->n == 0);
}

bool mc_v_none(const mc_node *m, const char *k)
{
    const mc_node *n = mc_get(m, k);
    return !n || n->type == MC_NULL || ((n->type == MC_SEQ || n->type == MC_MAP) && n->n == 0);
}

bool mc_v_odd(const mc_node *m, const char *k, mc_type t)
{
    const mc_node *n = mc_get(m, k);
    return n && n->type != MC_NULL && n->type != t;
}

const mc_node *mc_v_keyat(const mc_node *m, const char *k, const mc_node *fallback)
{
    mc_node *n = mc_get_key(m, k);
    return n ? n : fallback;
}

/* ------------------------------------------------------------ reporting */

void mc_v_report(mc_vctx *c, mc_code code, const mc_node *at, const char *fmt, ...)
{
    if (!c->warn && mc_code_level(code) == MC_WARNING) return;
    /* The API server checks the schema (CEL rules included) before any
    ** webhook runs: a node it already refuses never reaches the webhook, so
    ** the same problem is not reported twice. */
    if (at && mc_diag_error_at(at->pos)) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mc_diag(code, &c->o->o, at ? at : c->at, "%s", buf);
}

/* Go's strconv.Quote escapes; past `limit` bytes the text is cut (at a
** UTF-8 boundary) and its length given. */
static const char *quote(mc_vctx *c, const char *s, size_t n, size_t limit)
{
    mc_buf b;
    mc_buf_init(&b);
    size_t lim = n > limit ? limit - 20 : n;
    while (lim < n && lim > 0 && ((unsigned char)s[lim] & 0xC0) == 0x80) lim--;
    mc_buf_putc(&b, '"');
    for (size_t i = 0; i < lim; i++) {
        unsigned char ch = (unsigned char)s[i];
        static const char from[] = "\"\\\a\b\f\n\r\t\v", to[] = "\"\\abfnrtv";
        const char *e = ch ? strchr(from, ch) : NULL;
        if (e) mc_buf_printf(&b, "\\%c", to[e - from]);
        else if (ch < 0x20 || ch == 0x7F) mc_buf_printf(&b, "\\x%02x", ch);
        else mc_buf_putc(&b, (char)ch);
    }
    if (lim < n) mc_buf_printf(&b, "...\" (%zu bytes)", n);
    else mc_buf_putc(&b, '"');
    char *r = mc_arena_strndup(c->scratch, b.s, b.n);
    mc_buf_free(&b);
    return r;
}

const char *mc_v_q(mc_vctx *c, const char *s, size_t n) { return quote(c, s, n, 120); }
const char *mc_v_goquote(mc_vctx *c, const char *s, size_t n) { return quote(c, s, n, SIZE_MAX); }

const char *mc_v_qn(mc_vctx *c, const mc_node *n)
{
    const char *s = mc_text(n);
    return s ? mc_v_q(c, s, n->n) : "\"\"";
}

/* ------------------------------------------------------------ durations */

/* time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ or "0", in int64
** nanoseconds; fractions go through float64 exactly as Go computes them. */
static int parse_duration(const char *s, size_t n, int64_t *out);

bool mc_v_parse_duration(const char *s, size_t n, int64_t *out)
{
    return parse_duration(s, n, out) == 0;
}

/* 0: parsed; 1: syntax error; 2: out of range */
static int parse_duration(const char *s, size_t n, int64_t *out)
{
    const uint64_t lim = (uint64_t)1 << 63;
    bool neg = false;
    size_t i = 0;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', i++;
    if (n - i == 1 && s[i] == '0') { *out = 0; return 0; }
    if (i == n) return 1;
    uint64_t d = 0;
    while (i < n) {
        uint64_t v = 0, f = 0;
        double scale = 1;
        if (!(s[i] == '.' || (s[i] >= '0' && s[i] <= '9'))) return 1;
        size_t st = i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (v > lim / 10) return 2;
            v = v * 10 + (uint64_t)(s[i] - '0');
            if (v > lim) return 2;
        }
        bool pre = i != st, post = false;
        if (i < n && s[i] == '.') {
            i++;
            size_t fs = i;
            bool ovf = false;
            for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
                if (ovf) continue;
                if (f > (lim - 1) / 10) { ovf = true; continue; }
                uint64_t y = f * 10 + (uint64_t)(s[i] - '0');
                if (y > lim) { ovf = true; continue; }
                f = y;
                scale *= 10;
            }
            post = i != fs;
        }
        if (!pre && !post) return 1;
        size_t us = i;
        while (i < n && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9')) i++;
        size_t ul = i - us;
        const char *u = s + us;
        uint64_t unit;
        if (ul == 2 && memcmp(u, "ns", 2) == 0) unit = 1;
        else if ((ul == 2 && memcmp(u, "us", 2) == 0) || (ul == 3 && memcmp(u, "\xC2\xB5s", 3) == 0) ||
                 (ul == 3 && memcmp(u, "\xCE\xBCs", 3) == 0)) unit = 1000;
        else if (ul == 2 && memcmp(u, "ms", 2) == 0) unit = 1000000;
        else if (ul == 1 && u[0] == 's') unit = 1000000000;
        else if (ul == 1 && u[0] == 'm') unit = 60000000000ull;
        else if (ul == 1 && u[0] == 'h') unit = 3600000000000ull;
        else return 1;
        if (v > lim / unit) return 2;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > lim) return 2;
        }
        d += v;
        if (d > lim) return 2;
    }
    if (neg) {
        *out = d == lim ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > lim - 1) return 2;
    *out = (int64_t)d;
    return 0;
}

/* agent.ValidateDuration */
bool mc_v_duration(mc_vctx *c, const mc_node *n, int64_t *out)
{
    int64_t d;
    int r = parse_duration(n->u.s, n->n, &d);
    if (r) {
        if (r == 1)
            mc_v_report(c, MSH0327, n, "invalid duration %s: expected numbers with units (ns, us, ms, s, m, h), "
                        "like 1.5s or 1h30m", mc_v_qn(c, n));
        else
            mc_v_report(c, MSH0327, n, "duration %s is out of range (over 292 years)", mc_v_qn(c, n));
        return false;
    }
    if (out) *out = d;
    if (d < 1000000) {
        mc_v_report(c, MSH0327, n, "duration %s is shorter than 1ms", mc_v_qn(c, n));
        return false;
    }
    if (d % 1000000 != 0) {
        mc_v_report(c, MSH0327, n, "duration %s is not a whole number of milliseconds", mc_v_qn(c, n));
        return false;
    }
    return true;
}

void mc_v_duration_at(mc_vctx *c, const mc_node *m, const char *k)
{
    mc_node *n = mc_v_str(m, k);
    if (n) mc_v_duration(c, n, NULL);
}

/* ------------------------------------------------------------ small rules */

/* agent.ValidatePort */
void mc_v_port(mc_vctx *c, const mc_node *at, int64_t port, const char *what)
{
    if (port >= 1 && port <= 65535) return;
    mc_v_report(c, MSH0210, at, "%s %lld is not a valid port number (1..65535)", what, (long long)port);
}

static bool qname_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.';
}

static bool alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* (?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool qualified_name(const char *s, size_t n)
{
    if (n == 0 || !alnum(s[0]) || !alnum(s[n - 1])) return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!qname_char(s[i])) return false;
    return true;
}

/* [a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.same)* with no length limit */
static bool dns_prefix(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t l = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (l == 0 || !alnum(p[0]) || !alnum(p[l - 1])) return false;
        for (size_t i = 1; i + 1 < l; i++)
            if (!alnum(p[i]) && p[i] != '-') return false;
        if (!dot) return true;
        p = dot + 1;
    }
}

/* labels.validateTagKey; NULL when valid, else why */
static const char *label_key_why(const char *k, size_t n)
{
    const char *slash = memchr(k, '/', n);
    const char *name = k;
    size_t nl = n;
    if (slash) {
        size_t pl = (size_t)(slash - k);
        if (!dns_prefix(k, pl)) return "invalid prefix";
        name = slash + 1;
        nl = n - pl - 1;
        if (!qualified_name(name, nl)) return "invalid name";
        if (pl > 253) return "the prefix is longer than 253 bytes";
    } else if (!qualified_name(name, nl)) {
        return n == 0 ? "empty key" : "invalid name";
    }
    if (nl > 63) return "the name is longer than 63 bytes";
    return NULL;
}

void mc_v_labels(mc_vctx *c, const mc_node *m, const char *what)
{
    if (!mc_is(m, MC_MAP)) return;
    MC_MAP_EACH(m, i) {
        const mc_node *k = mc_key(m, i), *v = mc_val(m, i);
        const char *ks = mc_text(k);
        if (!ks) continue;
        const char *why = label_key_why(ks, k->n);
        if (why)
            mc_v_report(c, MSH0318, k, "invalid label key %s in %s: %s (a name of letters, digits, '-', '_' and '.', "
                        "optionally after a DNS prefix and '/')", mc_v_q(c, ks, k->n), what, why);
        if (v->type != MC_STR || v->n == 0) continue;
        if (!qualified_name(v->u.s, v->n))
            mc_v_report(c, MSH0318, v, "invalid label value %s for key %s in %s: letters, digits, '-', '_' and '.', "
                        "starting and ending with a letter or digit", mc_v_qn(c, v), mc_v_q(c, ks, k->n), what);
    }
}

/* ------------------------------------------------------------ regexes */

/* Results of compiling each distinct pattern, for the run: the same
** pattern in many resources is compiled once. Value: NULL slot means
** unseen; OK_MARK valid; else the error text. */
static mc_strmap rx_cache;
static mc_arena rx_arena;
static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;     /* both: two threads validate at the end */
static char OK_MARK[] = "";

/* Go's regexp refuses \C (any byte), which RE2 accepts; the only syntax
** RE2 takes that Go does not. Look for it outside classes and \Q..\E. */
static bool has_backslash_c(const char *p, size_t n)
{
    bool quoted = false, cls = false;
    for (size_t i = 0; i < n; i++) {
        if (quoted) {
            if (p[i] == '\\' && i + 1 < n && p[i + 1] == 'E') quoted = false, i++;
            continue;
        }
        if (p[i] == '\\') {
            if (i + 1 >= n) break;
            if (p[i + 1] == 'Q' && !cls) quoted = true;
            else if (p[i + 1] == 'C' && !cls) return true;
            i++;
            continue;
        }
        if (!cls && p[i] == '[') {
            cls = true;
            if (i + 1 < n && p[i + 1] == '^') i++;
            if (i + 1 < n && p[i + 1] == ']') i++;
        } else if (cls && p[i] == '[' && i + 1 < n && p[i + 1] == ':') {
            const char *e = memmem(p + i + 2, n - i - 2, ":]", 2);
            if (e) i = (size_t)(e - p) + 1;
        } else if (cls && p[i] == ']') {
            cls = false;
        }
    }
    return false;
}

/* validateStringRegexp */
void mc_v_regex(mc_vctx *c, const mc_node *n, const char *where)
{
    if (n->n > 1024) {
        mc_v_report(c, MSH0316, n, "regex in %s is %u bytes long; Istio accepts at most 1024", where, n->n);
        return;
    }
    bool found;
    pthread_mutex_lock(&rx_lock);
    void **slot = mc_strmap_put(&rx_cache, n->u.s, n->n, &found);
    if (!found) {
        char err[RX_ERR_LEN];
        if (has_backslash_c(n->u.s, n->n)) {
            *slot = mc_arena_strdup(&rx_arena, "invalid escape sequence: \\C (Go's regexp, which Istio validates with, "
                                               "does not accept it)");
        } else {
            rx *r = rx_compile(n->u.s, n->n, err, sizeof err);
            if (r) *slot = OK_MARK;
            else *slot = mc_arena_strdup(&rx_arena, err);
            rx_free(r);
        }
    }
    const char *e = *slot;
    pthread_mutex_unlock(&rx_lock);
    if (e != OK_MARK)
        mc_v_report(c, MSH0317, n, "invalid regex %s in %s: %s", mc_v_qn(c, n), where, e);
}

const char *mc_v_sm_kind(const mc_node *sm, mc_node **val)
{
    MC_MAP_EACH(sm, i) {
        const char *k = mc_text(mc_key(sm, i));
        mc_node *v = mc_val(sm, i);
        if (!k || v->type != MC_STR) continue;
        if (strcmp(k, "exact") == 0 || strcmp(k, "prefix") == 0 || strcmp(k, "regex") == 0) {
            if (val) *val = v;
            return k;
        }
    }
    if (val) *val = NULL;
    return NULL;
}

/* validateStringMatch / validateStringMatchRegexp */
void mc_v_string_match(mc_vctx *c, const mc_node *sm, const char *where, bool uri_rules)
{
    if (!mc_is(sm, MC_MAP)) return;
    mc_node *v;
    const char *k = mc_v_sm_kind(sm, &v);
    if (!k) return;
    if (strcmp(k, "prefix") == 0 && !uri_rules && v->n == 0) {
        mc_v_report(c, MSH0315, v, "empty prefix match in %s: an empty prefix is only allowed for uri", where);
    } else if (strcmp(k, "regex") == 0) {
        if (v->n == 0) mc_v_report(c, MSH0315, v, "empty regex match in %s", where);
        else mc_v_regex(c, v, where);
    }
}

/* ------------------------------------------------------------ exportTo */

/* validateExportTo. The set holds the entries accepted so far, with '.'
** standing for the namespace; invalid entries are not added. */
void mc_v_export_to(mc_vctx *c, const mc_node *seq, bool is_se, bool dr_selector)
{
    if (!mc_is(seq, MC_SEQ) || seq->n == 0) return;
    mc_strmap set;
    mc_strmap_init(&set);
    size_t nsl = strlen(c->ns);
    MC_SEQ_EACH(seq, i) {
        const mc_node *e = mc_item(seq, i);
        if (e->type != MC_STR) continue;
        bool private_ = e->n == 1 && e->u.s[0] == '.';
        const char *key = private_ ? c->ns : e->u.s;
        size_t kl = private_ ? nsl : e->n;
        if (mc_strmap_get(&set, key, kl)) {
            if (private_)
                mc_v_report(c, MSH0359, e, "duplicate exportTo entry \".\": it is the resource's namespace %s, "
                            "already listed", mc_v_q(c, c->ns, nsl));
            else
                mc_v_report(c, MSH0359, e, "duplicate exportTo entry %s", mc_v_qn(c, e));
            continue;
        }
        bool none = kl == 1 && key[0] == '~';
        if (!(none && is_se)) {
            if (none) {
                mc_v_report(c, MSH0358, e, "exportTo \"~\" (no one) is only allowed on a ServiceEntry");
                continue;
            }
            bool pub = kl == 1 && (key[0] == '*' || key[0] == '.');
            if (!pub && !mc_istio_label(key, kl)) {
                if (private_)
                    mc_v_report(c, MSH0358, e, "exportTo \".\" stands for the namespace %s, which is not a valid "
                                "namespace name", mc_v_q(c, c->ns, nsl));
                else
                    mc_v_report(c, MSH0358, e, "invalid exportTo entry %s: only \".\", \"*\"%s or a namespace name "
                                "(a DNS-1123 label) are allowed", mc_v_qn(c, e), is_se ? ", \"~\"" : "");
                continue;
            }
        }
        *mc_strmap_put(&set, key, kl, NULL) = (void *)e;
    }
    if (dr_selector && set.n > 0) {
        if (mc_strmap_get(&set, c->ns, nsl)) {
            if (set.n > 1)
                mc_v_report(c, MSH0431, seq, "a DestinationRule with a workloadSelector may be exported to its own "
                            "namespace only, not to %zu entries", set.n);
        } else {
            mc_v_report(c, MSH0431, seq, "a DestinationRule with a workloadSelector cannot be exported beyond its "
                        "own namespace %s", mc_v_q(c, c->ns, nsl));
        }
    }
    if (mc_strmap_get(&set, "*", 1) && seq->n > 1)
        mc_v_report(c, MSH0360, seq, "exportTo lists \"*\" (everyone) together with other entries");
    if (mc_strmap_get(&set, "~", 1) && seq->n > 1)
        mc_v_report(c, MSH0361, seq, "exportTo lists \"~\" (no one) together with other entries");
    mc_strmap_free(&set);
}

/* ------------------------------------------------------------ selectors */

/* validateWorkloadSelector (DR: matchLabels) and ValidateAlphaWorkloadSelector
** (SE: labels) share their rules. */
bool mc_v_workload_selector(mc_vctx *c, const mc_node *sel, const char *key, const char *kind_note)
{
    if (!mc_is(sel, MC_MAP)) return true;
    const mc_node *labels = mc_get(sel, key);
    bool ok = true;
    if (mc_is(labels, MC_MAP)) {
        MC_MAP_EACH(labels, i) {
            const mc_node *k = mc_key(labels, i), *v = mc_val(labels, i);
            const char *ks = mc_text(k), *vs = mc_str(v);
            if (!ks) continue;
            if (k->n == 0) {
                mc_v_report(c, MSH0432, k, "empty label key in workloadSelector.%s", key);
                ok = false;
            }
            if (memchr(ks, '*', k->n) || (vs && memchr(vs, '*', v->n))) {
                mc_v_report(c, MSH0432, memchr(ks, '*', k->n) ? k : v, "wildcard in workloadSelector.%s %s=%s: "
                            "selectors match labels exactly", key, mc_v_q(c, ks, k->n), vs ? mc_v_qn(c, v) : "\"\"");
                ok = false;
            }
        }
    }
    if (ok && mc_len(labels) == 0)
        mc_v_report(c, MSH0433, mc_v_keyat(sel, key, sel), "workloadSelector has no %s%s", key, kind_note);
    return ok;
}

/* ------------------------------------------------------------ headers */

/* ValidateHTTPHeaderValue: no control characters but tab, and Envoy's
** %VARIABLE% syntax (header_value_validator.go, a port of Envoy's
** header_parser.cc). NULL when valid, else why. */
static const char *header_value_why(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch <= 0x08) || (ch >= 0x0A && ch <= 0x1F) || ch == 0x7F) return "control characters are not allowed";
    }
    enum { LIT, VAR, ARR, STR_OPEN, STR, DELIM, ARGS_END, VAR_END } st = LIT;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool next = i + 1 < n;
        switch (st) {
        case LIT:
            if (ch != '%') break;
            if (!next) return "a '%' at the end is not escaped (write %%)";
            if (s[i + 1] == '%') { i++; break; }
            st = VAR;
            break;
        case VAR:
            if (ch == '%') st = LIT;
            else if (ch == '(') st = ARR;
            break;
        case ARR:
            if (ch == '[') st = STR_OPEN;
            else if (ch != ' ') st = STR;
            break;
        case DELIM:
            if (ch == ',') st = STR_OPEN;
            else if (ch == ']') st = ARGS_END;
            else if (ch != ' ') return "expected ',', ']' or a space in a %VARIABLE(...)% argument list";
            break;
        case STR_OPEN:
            if (ch == '"') st = STR;
            else if (ch != ' ') return "expected '\"' to start a %VARIABLE(...)% argument";
            break;
        case STR:
            if (ch == '\\') {
                if (!next) return "unterminated backslash in a %VARIABLE(...)% argument";
                i++;
            } else if (ch == ')') st = VAR_END;
            else if (ch == '"') st = DELIM;
            break;
        case ARGS_END:
            if (ch == ')') st = VAR_END;
            else if (ch != ' ') return "expected ')' after a %VARIABLE(...)% argument list";
            break;
        case VAR_END:
            if (ch == '%') st = LIT;
            else if (ch != ' ') return "expected '%' to close a %VARIABLE(...)% expression";
            break;
        }
    }
    return st == LIT ? NULL : "unterminated %VARIABLE% expression (a literal '%' is written %%)";
}

static bool eqfold(const char *a, size_t n, const char *b)
{
    return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

/* ValidateHTTPHeaderWithAuthorityOperationName (request add/set, authority
** kept) or ValidateHTTPHeaderOperationName (the others). */
static void header_op_name(mc_vctx *c, const mc_node *k, bool authority_ok, const char *where)
{
    const char *s = mc_text(k);
    size_t n = k->n;
    if (!s) return;
    if (n == 0) {
        mc_v_report(c, MSH0320, k, "empty header name in %s", where);
        return;
    }
    bool internal = s[0] == ':' || eqfold(s, n, "host");
    bool authority = eqfold(s, n, ":authority") || eqfold(s, n, "host");
    if (authority_ok) {
        if (internal && !authority)
            mc_v_report(c, MSH0320, k, "header %s cannot be changed in %s: names starting with ':' are pseudo-headers",
                        mc_v_q(c, s, n), where);
    } else if (eqfold(s, n, "host")) {
        mc_v_report(c, MSH0320, k, "header %s cannot be changed in %s", mc_v_q(c, s, n), where);
    } else if (s[0] == ':') {
        mc_v_report(c, MSH0320, k, "header %s cannot be changed in %s: names starting with ':' are pseudo-headers",
                    mc_v_q(c, s, n), where);
    }
}

static void header_op_map(mc_vctx *c, const mc_node *m, bool authority_ok, const char *where)
{
    if (!mc_is(m, MC_MAP)) return;
    MC_MAP_EACH(m, i) {
        const mc_node *k = mc_key(m, i), *v = mc_val(m, i);
        header_op_name(c, k, authority_ok, where);
        if (v->type != MC_STR) continue;
        const char *why = header_value_why(v->u.s, v->n);
        if (why) mc_v_report(c, MSH0321, v, "invalid header value %s in %s: %s", mc_v_qn(c, v), where, why);
    }
}

static void header_op_list(mc_vctx *c, const mc_node *s, const char *where)
{
    if (!mc_is(s, MC_SEQ)) return;
    MC_SEQ_EACH(s, i) {
        const mc_node *k = mc_item(s, i);
        if (k->type == MC_STR) header_op_name(c, k, false, where);
    }
}

void mc_v_header_ops(mc_vctx *c, const mc_node *headers)
{
    const mc_node *req = mc_v_map(headers, "request"), *resp = mc_v_map(headers, "response");
    header_op_map(c, mc_get(req, "add"), true, "headers.request.add");
    header_op_map(c, mc_get(req, "set"), true, "headers.request.set");
    header_op_list(c, mc_get(req, "remove"), "headers.request.remove");
    header_op_map(c, mc_get(resp, "add"), false, "headers.response.add");
    header_op_map(c, mc_get(resp, "set"), false, "headers.response.set");
    header_op_list(c, mc_get(resp, "remove"), "headers.response.remove");
}

/* ------------------------------------------------------------ hosts */

const char *mc_v_dns_why(mc_vctx *c, const char *h, size_t n, bool wild)
{
    const char *bad = NULL;
    size_t bl = 0;
    switch (mc_dns_check(h, n, wild, &bad, &bl)) {
    case MC_DNS_OK: return "";
    case MC_DNS_EMPTY: return "the name is empty";
    case MC_DNS_TOO_LONG: return "the name is longer than 255 bytes";
    case MC_DNS_NUMERIC_TLD:
        return mc_arena_printf(c->scratch, "the last label %s is all digits", mc_v_q(c, bad, bl));
    case MC_DNS_BAD_LABEL:
        if (wild && bad == h)
            return mc_arena_printf(c->scratch, "the first label %s is neither '*', a DNS label, nor a DNS label after "
                                   "'*' or '*-'", mc_v_q(c, bad, bl));
        return mc_arena_printf(c->scratch, "label %s is not a DNS label (letters, digits and '-', 1..63 bytes, "
                               "starting and ending with a letter or digit)", mc_v_q(c, bad, bl));
    }
    return "";
}

bool mc_v_host(mc_vctx *c, const mc_node *at, const char *h, size_t n, bool wild, const char *what, bool report)
{
    if (mc_dns_check(h, n, wild, NULL, NULL) == MC_DNS_OK) return true;
    if (report)
        mc_v_report(c, MSH0207, at, "invalid host %s in %s: %s", mc_v_q(c, h, n), what, mc_v_dns_why(c, h, n, wild));
    return false;
}

/* validateSubsetName */
void mc_v_subset_name(mc_vctx *c, const mc_node *at, const char *name, size_t n)
{
    if (n == 0) mc_v_report(c, MSH0349, at, "empty subset name");
    else if (!mc_istio_label(name, n))
        mc_v_report(c, MSH0349, at, "invalid subset name %s: it must be a DNS label (letters, digits and '-', "
                    "at most 63 bytes)", mc_v_q(c, name, n));
}

/* validateDestination */
void mc_v_destination(mc_vctx *c, const mc_node *dest)
{
    if (!mc_is(dest, MC_MAP)) return;
    const mc_node *h = mc_v_str(dest, "host");
    if (h) {
        if (h->n == 1 && h->u.s[0] == '*')
            mc_v_report(c, MSH0348, h, "destination host \"*\" is not a service; name the host to route to");
        else
            mc_v_host(c, h, h->u.s, h->n, true, "destination.host", true);
    }
    const mc_node *sub = mc_v_str(dest, "subset");
    if (sub && sub->n) mc_v_subset_name(c, sub, sub->u.s, sub->n);
    const mc_node *port = mc_v_map(dest, "port");
    if (port && !mc_v_odd(port, "number", MC_INT)) {
        int64_t num;
        const mc_node *nn = mc_v_int(port, "number", &num);
        mc_v_port(c, nn ? nn : port, num, "destination port");
    }
}

/* validateGatewayNames. Quirk kept: the loop ends after the first name
** without a '/', so later names go unchecked. */
void mc_v_gateway_names(mc_vctx *c, const mc_node *seq)
{
    if (!mc_is(seq, MC_SEQ)) return;
    MC_SEQ_EACH(seq, i) {
        const mc_node *g = mc_item(seq, i);
        if (g->type != MC_STR) continue;
        const char *s = g->u.s;
        size_t n = g->n;
        const char *slash = memchr(s, '/', n);
        if (!slash) {
            const char *dot = memchr(s, '.', n);
            if (dot) {
                const char *ns = dot + 1;
                const char *dot2 = memchr(ns, '.', n - (size_t)(ns - s));
                size_t nsl = dot2 ? (size_t)(dot2 - ns) : n - (size_t)(ns - s);
                mc_v_report(c, MSH0302, g, "gateway %s uses the legacy name.namespace form; write \"%.*s/%.*s\"",
                            mc_v_qn(c, g), (int)nsl, ns, (int)(dot - s), s);
            }
            if (mc_dns_check(s, n, false, NULL, NULL) != MC_DNS_OK)
                mc_v_report(c, MSH0303, g, "invalid gateway %s: %s", mc_v_qn(c, g), mc_v_dns_why(c, s, n, false));
            return;
        }
        size_t nsl = (size_t)(slash - s), nml = n - nsl - 1;
        if (nsl == 0 || nml == 0)
            mc_v_report(c, MSH0303, g, "invalid gateway %s: the namespace and the name must both be set", mc_v_qn(c, g));
        if (!mc_istio_label(s, nsl))
            mc_v_report(c, MSH0303, g, "invalid gateway %s: namespace %s is not a DNS label", mc_v_qn(c, g),
                        mc_v_q(c, s, nsl));
        if (!mc_istio_label(slash + 1, nml) && !c->gw_semantics)
            mc_v_report(c, MSH0303, g, "invalid gateway %s: name %s is not a DNS label", mc_v_qn(c, g),
                        mc_v_q(c, slash + 1, nml));
    }
}

/* ------------------------------------------------------------ protocols */

mc_proto mc_v_proto(const char *s)
{
    static const struct { const char *n; mc_proto p; } t[] = {
        { "tcp", MC_P_TCP }, { "udp", MC_P_UDP }, { "grpc", MC_P_GRPC }, { "grpc-web", MC_P_GRPC_WEB },
        { "http", MC_P_HTTP }, { "http_proxy", MC_P_HTTP_PROXY }, { "http2", MC_P_HTTP2 },
        { "https", MC_P_HTTPS }, { "tls", MC_P_TLS }, { "mongo", MC_P_MONGO }, { "redis", MC_P_REDIS },
        { "mysql", MC_P_MYSQL },
    };
    if (!s) return MC_P_UNSUPPORTED;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(s, t[i].n) == 0) return t[i].p;
    return MC_P_UNSUPPORTED;
}

bool mc_v_proto_http(mc_proto p)
{
    return p == MC_P_HTTP || p == MC_P_HTTP2 || p == MC_P_HTTP_PROXY || p == MC_P_GRPC || p == MC_P_GRPC_WEB;
}

bool mc_v_proto_tls(mc_proto p) { return p == MC_P_HTTPS || p == MC_P_TLS; }

bool mc_v_proto_tcp(mc_proto p)
{
    return p == MC_P_TCP || p == MC_P_HTTPS || p == MC_P_TLS || p == MC_P_MONGO || p == MC_P_REDIS || p == MC_P_MYSQL;
}

/* ------------------------------------------------------------ dispatch */

/* validateMetadata: the first offending annotation rejects the resource
** and nothing else is checked, as in the webhook. */
static bool metadata_ok(mc_vctx *c)
{
    const mc_node *ann = mc_v_map(c->o->meta, "annotations");
    static const struct { const char *key; mc_code code; const char *why; } rules[] = {
        { "istio.io/dry-run", MSH0200, "is only supported on AuthorizationPolicy; remove it" },
        { "internal.istio.io/webhook-always-reject", MSH0201, "makes Istio's webhook reject the resource" },
        { "internal.istio.io/parent-namespace", MSH0201, "is set by Istio for generated resources and may not be set by users" },
        { "internal.istio.io/parents", MSH0201, "is set by Istio for generated resources and may not be set by users" },
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const mc_node *k = mc_get_key(ann, rules[i].key);
        if (!k) continue;
        mc_v_report(c, rules[i].code, k, "annotation \"%s\" %s", rules[i].key, rules[i].why);
        return false;
    }
    return true;
}

/* Each thread's scratch, emptied after each object: the objects may be
** validated on two threads at once (check.c). */
static _Thread_local mc_arena scratch;
static bool running;

void mc_validate_begin(void)
{
    mc_strmap_init(&rx_cache);
    mc_arena_init(&rx_arena);
    running = true;
}

void mc_validate_obj(mc_obj *o)
{
    if (!running || o->kind > MC_K_NETWORKING_LAST) return;
    mc_vctx c = { 0 };
    c.o = o;
    c.ns = o->o.ns ? o->o.ns : "";
    c.spec = mc_is(o->spec, MC_MAP) ? o->spec : NULL;
    c.at = mc_get_key(o->root, "spec");
    if (!c.at) c.at = mc_get(o->root, "kind");
    if (!c.at) c.at = o->root;
    c.scratch = &scratch;
    c.warn = true;
    /* a spec of the wrong type is the schema stage's finding */
    bool odd_spec = o->spec && o->spec->type != MC_MAP && o->spec->type != MC_NULL;
    if (metadata_ok(&c) && !odd_spec) {
        const mc_node *ann = mc_v_map(o->meta, "annotations");
        switch (o->kind) {
        case MC_K_GATEWAY:
            c.gw_semantics = strcmp(mc_v_s(ann, "internal.istio.io/gateway-semantics"), "gateway") == 0;
            mc_v_gateway(&c);
            break;
        case MC_K_VIRTUALSERVICE:
            c.gw_semantics = strcmp(mc_v_s(ann, "internal.istio.io/route-semantics"), "gateway") == 0;
            mc_v_virtualservice(&c);
            break;
        case MC_K_DESTINATIONRULE: mc_v_destinationrule(&c); break;
        case MC_K_SERVICEENTRY: mc_v_serviceentry(&c); break;
        default: break;
        }
    }
    mc_arena_free(&scratch);
}

void mc_validate_end(void)
{
    if (!running) return;
    mc_strmap_free(&rx_cache);
    mc_arena_free(&rx_arena);
    running = false;
}

void mc_validate(mc_input *in, const mc_check_opts *opt)
{
    (void)opt;
    mc_validate_begin();
    for (uint32_t i = 0; i < in->nobjs; i++) mc_validate_obj(in->objs[i]);
    mc_validate_end();
}
