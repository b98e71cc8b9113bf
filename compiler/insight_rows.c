/*
** insight_rows.c -- route rows as Envoy matches them: when one row accepts
** every request another accepts (shadowing), a request one row accepts and
** none of a list does (a host's 404 gap), and the overlaps istioctl already
** reports (IST0130/IST0131, so the same problem is not reported twice).
**
** A row is a path condition plus header and query matchers, all ANDed
** (lower.h's mc_ir_route). Everything here proves or gives up: coverage is
** claimed only by rules that hold for every request; a gap only for a
** concrete request evaluated against every row. Regular expressions are
** compared as identical patterns, or run (RE2) on an exact value.
*/
#include "insight_int.h"
#include "image.h"
#include "regex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

in_row in_row_of(const mc_ir_route *r)
{
    in_row w = { r->path_kind, r->path, r->ignore_case, r->matchers, r->nmatchers, r->catch_all };
    return w;
}

/* ------------------------------------------------------------ raw matches */

/* lowering's strmatch + sm_matcher: kind and value of a StringMatch node */
typedef struct smatch { int kind; const char *value; } smatch;
enum { SM_NONE, SM_EXACT, SM_PREFIX, SM_REGEX, SM_PRESENT };

static smatch string_match(const mc_node *n)
{
    smatch r = { SM_NONE, "" };
    if (!n || n->type == MC_NULL) return r;
    r.kind = SM_PRESENT;
    if (n->type != MC_MAP) return r;
    static const char *const names[] = { "exact", "prefix", "regex" };
    const mc_node *f[3];
    in_fields(n, names, 3, f);
    const char *v;
    if ((v = mc_text(f[0]))) { r.kind = SM_EXACT; r.value = v; }
    else if ((v = mc_text(f[1]))) { r.kind = SM_PREFIX; r.value = v; }
    else if ((v = mc_text(f[2]))) { r.kind = SM_REGEX; r.value = v; }
    return r;
}

static void push_matcher(mc_vec *v, int target, const char *name, smatch m, bool invert)
{
    mc_ir_matcher *x = mc_vec_push(v);
    x->target = target;
    x->name = name;
    x->value = m.value;
    if (m.kind == SM_PRESENT || (m.kind == SM_REGEX && strcmp(m.value, "*") == 0)) {
        x->op = IMG_OP_PRESENT;
        x->value = "";
    } else {
        x->op = m.kind == SM_EXACT ? IMG_OP_EXACT : m.kind == SM_PREFIX ? IMG_OP_PREFIX : IMG_OP_REGEX;
    }
    if (invert) x->flags = IMG_M_INVERT | (m.kind != SM_PRESENT && x->op != IMG_OP_PRESENT ? IMG_M_MISSING_EMPTY : 0);
}

static void push_map(mc_vec *v, const mc_node *map, int target, bool invert)
{
    MC_MAP_EACH(map, i) {
        const char *name = mc_text(mc_key(map, i));
        smatch m = string_match(mc_val(map, i));
        if (!name) continue;
        if (m.kind == SM_NONE) m.kind = SM_PRESENT;
        push_matcher(v, target, name, m, invert);
    }
}

in_row in_row_raw(in_ctx *c, const mc_node *match, mc_vec *scratch)
{
    (void)c;
    in_row r = { IMG_PATH_PREFIX, "/", false, NULL, 0, true };
    if (!match) return r;
    /* the fields as lowering's parse_http_match reads them, in one pass */
    static const char *const names[] = { "uri", "ignoreUriCase", "headers", "withoutHeaders", "method",
                                         "authority", "scheme", "queryParams" };
    const mc_node *f[8];
    in_fields(match, names, 8, f);
    smatch uri = string_match(f[0]);
    if (uri.kind == SM_EXACT) { r.path_kind = IMG_PATH_EXACT; r.path = uri.value; }
    else if (uri.kind == SM_PREFIX) { r.path_kind = IMG_PATH_PREFIX; r.path = uri.value; }
    else if (uri.kind == SM_REGEX) { r.path_kind = IMG_PATH_REGEX; r.path = uri.value; }
    const mc_node *ci = f[1];
    r.ci = ci && (ci->type == MC_BOOL ? (ci->flags & MC_N_TRUE) != 0 : mc_str(ci) && strcmp(mc_str(ci), "true") == 0);
    push_map(scratch, f[2] && f[2]->type == MC_MAP ? f[2] : NULL, IMG_TARGET_HEADER, false);
    push_map(scratch, f[3] && f[3]->type == MC_MAP ? f[3] : NULL, IMG_TARGET_HEADER, true);
    static const char *const pseudo[] = { ":method", ":authority", ":scheme" };
    for (int i = 0; i < 3; i++) {
        smatch m = string_match(f[4 + i]);
        if (m.kind != SM_NONE) push_matcher(scratch, IMG_TARGET_HEADER, pseudo[i], m, false);
    }
    push_map(scratch, f[7] && f[7]->type == MC_MAP ? f[7] : NULL, IMG_TARGET_QUERY, false);
    r.m = scratch->v;
    r.nm = (uint32_t)scratch->n;
    r.catch_all = r.nm == 0 && ((r.path_kind == IMG_PATH_PREFIX && strcmp(r.path, "/") == 0) ||
                                (r.path_kind == IMG_PATH_REGEX && strcmp(r.path, ".*") == 0));
    return r;
}

/* ------------------------------------------------------------ coverage */

static bool starts(const char *s, const char *p, bool ci)
{
    size_t n = strlen(p);
    return ci ? strncasecmp(s, p, n) == 0 : strncmp(s, p, n) == 0;
}

static bool full_match(in_ctx *c, const char *pat, const char *s)
{
    const rx *r = in_regex(c, pat);
    return r && rx_full_match(r, s, strlen(s));
}

/* every path b accepts, a accepts (paths start with '/') */
static bool path_covers(in_ctx *c, const in_row *a, const in_row *b)
{
    if (a->path_kind == IMG_PATH_PREFIX && strcmp(a->path, "/") == 0) return true;
    if (a->path_kind == IMG_PATH_REGEX && (strcmp(a->path, ".*") == 0 || strcmp(a->path, "/.*") == 0)) return true;
    /* a case-sensitive a never covers a case-insensitive b */
    if (b->path_kind != IMG_PATH_REGEX && b->ci && !a->ci) return false;
    switch (a->path_kind) {
    case IMG_PATH_PREFIX:
        return b->path_kind != IMG_PATH_REGEX && starts(b->path, a->path, a->ci);
    case IMG_PATH_EXACT:
        return b->path_kind == IMG_PATH_EXACT && (a->ci ? strcasecmp(a->path, b->path) : strcmp(a->path, b->path)) == 0;
    default:
        if (b->path_kind == IMG_PATH_REGEX) return strcmp(a->path, b->path) == 0;
        return b->path_kind == IMG_PATH_EXACT && !b->ci && full_match(c, a->path, b->path);
    }
}

static bool same_name(const mc_ir_matcher *x, const mc_ir_matcher *y)
{
    if (x->target != y->target) return false;
    return x->target == IMG_TARGET_HEADER ? strcasecmp(x->name, y->name) == 0 : strcmp(x->name, y->name) == 0;
}

/* the value condition y (not inverted) implies x's inner condition */
static bool value_implies(in_ctx *c, const mc_ir_matcher *y, const mc_ir_matcher *x)
{
    switch (x->op) {
    case IMG_OP_PRESENT: return true;
    case IMG_OP_EXACT: return y->op == IMG_OP_EXACT && strcmp(y->value, x->value) == 0;
    case IMG_OP_PREFIX: return (y->op == IMG_OP_EXACT || y->op == IMG_OP_PREFIX) && starts(y->value, x->value, false);
    default:
        if (y->op == IMG_OP_REGEX) return strcmp(y->value, x->value) == 0;
        return y->op == IMG_OP_EXACT && full_match(c, x->value, y->value);
    }
}

/* the value condition y (not inverted) excludes x's inner condition */
static bool value_excludes(const mc_ir_matcher *y, const mc_ir_matcher *x)
{
    if (x->op == IMG_OP_EXACT) {
        if (y->op == IMG_OP_EXACT) return strcmp(y->value, x->value) != 0;
        if (y->op == IMG_OP_PREFIX) return !starts(x->value, y->value, false);
        return false;
    }
    if (x->op == IMG_OP_PREFIX) {
        if (y->op == IMG_OP_EXACT) return !starts(y->value, x->value, false);
        if (y->op == IMG_OP_PREFIX) return !starts(y->value, x->value, false) && !starts(x->value, y->value, false);
    }
    return false;
}

/* some matcher of b implies matcher x of a */
static bool implied(in_ctx *c, const mc_ir_matcher *x, const in_row *b)
{
    bool xinv = x->flags & IMG_M_INVERT;
    for (uint32_t i = 0; i < b->nm; i++) {
        const mc_ir_matcher *y = &b->m[i];
        if (!same_name(x, y)) continue;
        bool yinv = y->flags & IMG_M_INVERT;
        if (xinv) {
            if (yinv && y->op == x->op && y->flags == x->flags && strcmp(y->value, x->value) == 0) return true;
            if (!yinv && value_excludes(y, x)) return true;
        } else if (!yinv && value_implies(c, y, x)) {
            return true;
        }
    }
    return false;
}

bool in_row_covers(in_ctx *c, const in_row *a, const in_row *b)
{
    if (!path_covers(c, a, b)) return false;
    for (uint32_t i = 0; i < a->nm; i++)
        if (!implied(c, &a->m[i], b)) return false;
    return true;
}

/* ------------------------------------------------------------ witness requests */

#define W_MAX 24

typedef struct witness {
    const char *path;
    const char *method, *authority, *scheme;    /* NULL: not chosen */
    const char *hname[W_MAX], *hval[W_MAX];
    const char *qname[W_MAX], *qval[W_MAX];
    uint32_t nh, nq;
} witness;

enum { E_NO, E_YES, E_UNKNOWN };

static const char *w_value(const witness *w, const mc_ir_matcher *m, bool *known)
{
    *known = true;
    if (m->target == IMG_TARGET_QUERY) {
        for (uint32_t i = 0; i < w->nq; i++)
            if (strcmp(w->qname[i], m->name) == 0) return w->qval[i];
        return NULL;
    }
    if (strcasecmp(m->name, ":method") == 0) return w->method;
    if (strcasecmp(m->name, ":authority") == 0) return w->authority;
    if (strcasecmp(m->name, ":scheme") == 0) {
        *known = w->scheme != NULL;
        return w->scheme;
    }
    for (uint32_t i = 0; i < w->nh; i++)
        if (strcasecmp(w->hname[i], m->name) == 0) return w->hval[i];
    return NULL;
}

static int eval_matcher(in_ctx *c, const mc_ir_matcher *m, const witness *w)
{
    bool known;
    const char *v = w_value(w, m, &known);
    if (!known) return E_UNKNOWN;
    bool inv = m->flags & IMG_M_INVERT;
    if (!v) {
        if (!(m->flags & IMG_M_MISSING_EMPTY)) return m->op == IMG_OP_PRESENT ? (inv ? E_YES : E_NO) : (inv ? E_YES : E_NO);
        v = "";
    }
    bool r;
    switch (m->op) {
    case IMG_OP_PRESENT: r = true; break;
    case IMG_OP_EXACT: r = strcmp(v, m->value) == 0; break;
    case IMG_OP_PREFIX: r = starts(v, m->value, false); break;
    default: {
        const rx *x = in_regex(c, m->value);
        if (!x) return E_UNKNOWN;
        r = rx_full_match(x, v, strlen(v));
    }
    }
    return r != inv ? E_YES : E_NO;
}

static int eval_row(in_ctx *c, const in_row *r, const witness *w)
{
    bool path;
    switch (r->path_kind) {
    case IMG_PATH_PREFIX: path = starts(w->path, r->path, r->ci); break;
    case IMG_PATH_EXACT: path = (r->ci ? strcasecmp(w->path, r->path) : strcmp(w->path, r->path)) == 0; break;
    default: {
        const rx *x = in_regex(c, r->path);
        if (!x) return E_UNKNOWN;
        path = rx_full_match(x, w->path, strlen(w->path));
    }
    }
    if (!path) return E_NO;
    int res = E_YES;
    for (uint32_t i = 0; i < r->nm; i++) {
        int e = eval_matcher(c, &r->m[i], w);
        if (e == E_NO) return E_NO;
        if (e == E_UNKNOWN) res = E_UNKNOWN;
    }
    return res;
}

/* A request that r surely accepts, without regular expressions to satisfy;
** false when r's conditions cannot be met that simply. */
static bool build_witness(const in_row *r, const char *path, const char *host, witness *w)
{
    memset(w, 0, sizeof *w);
    w->path = path;
    w->method = "GET";
    w->authority = host;
    for (uint32_t i = 0; i < r->nm; i++) {
        const mc_ir_matcher *m = &r->m[i];
        if (m->flags & IMG_M_INVERT) continue;          /* satisfied by leaving it out */
        const char *v = m->op == IMG_OP_PRESENT ? "x" : m->value;
        if (m->op == IMG_OP_REGEX) return false;
        if (m->target == IMG_TARGET_QUERY) {
            if (w->nq == W_MAX) return false;
            w->qname[w->nq] = m->name;
            w->qval[w->nq++] = v;
        } else if (strcasecmp(m->name, ":method") == 0) {
            w->method = v;
        } else if (strcasecmp(m->name, ":authority") == 0) {
            /* the Host is the virtual host's; the row must accept it as is */
        } else if (strcasecmp(m->name, ":scheme") == 0) {
            w->scheme = v;
        } else {
            if (w->nh == W_MAX) return false;
            w->hname[w->nh] = m->name;
            w->hval[w->nh++] = v;
        }
    }
    return true;
}

static const char *witness_text(in_ctx *c, const witness *w)
{
    mc_buf b;
    mc_buf_init(&b);
    mc_buf_printf(&b, "%s %s", w->method, w->path);
    for (uint32_t i = 0; i < w->nq; i++) mc_buf_printf(&b, "%c%s=%s", i ? '&' : '?', w->qname[i], w->qval[i]);
    for (uint32_t i = 0; i < w->nh; i++) mc_buf_printf(&b, "%s%s: %s", i ? ", " : " with ", w->hname[i], w->hval[i]);
    const char *r = mc_arena_strdup(&c->a, b.s);
    mc_buf_free(&b);
    return r;
}

const char *in_row_gap(in_ctx *c, const in_row *r, const char *host, const in_row *rows, uint32_t n)
{
    const char *paths[2] = { NULL, NULL };
    if (r->path_kind == IMG_PATH_EXACT) {
        paths[0] = r->path;
    } else if (r->path_kind == IMG_PATH_PREFIX) {
        size_t l = strlen(r->path);
        paths[0] = l ? r->path : "/";
        paths[1] = mc_arena_printf(&c->a, "%s%s", r->path, l && r->path[l - 1] == '/' ? "x" : "/x");
    } else if (strcmp(r->path, ".*") == 0 || strcmp(r->path, "/.*") == 0) {
        paths[0] = "/";
        paths[1] = "/x";
    }
    for (int p = 0; p < 2 && paths[p]; p++) {
        if (paths[p][0] != '/') continue;
        witness w;
        if (!build_witness(r, paths[p], host, &w) || eval_row(c, r, &w) != E_YES) continue;
        bool gap = true;
        for (uint32_t i = 0; i < n && gap; i++) gap = eval_row(c, &rows[i], &w) == E_NO;
        if (gap) return witness_text(c, &w);
    }
    return NULL;
}

/* ------------------------------------------------------------ istioctl's overlaps */

/* A zero value Go's json.Marshal omits (omitempty): null, false, 0, "",
** empty lists and maps (the webhook's asJSON, validate_vs.c, reads it so). */
static bool zero(const mc_node *v)
{
    int64_t x;
    if (v->type == MC_INT) return mc_int(v, &x) && x == 0;
    return v->type == MC_NULL || (v->type == MC_BOOL && !(v->flags & MC_N_TRUE)) || (v->type >= MC_STR && !v->n);
}

/* equal as JSON; omit: zero-valued fields of this struct are left out,
** except the StringMatch messages of an HTTP match */
static bool json_equal(const mc_node *a, const mc_node *b, bool omit, bool top)
{
    if (a->type != b->type) {
        if (omit) return zero(a) && zero(b);
        return false;
    }
    if (a->type == MC_SEQ) {
        if (a->n != b->n) return false;
        for (uint32_t i = 0; i < a->n; i++)
            if (!json_equal(mc_item(a, i), mc_item(b, i), false, false)) return false;
        return true;
    }
    if (a->type != MC_MAP) return a->n == b->n && (a->n == 0 || memcmp(a->u.s, b->u.s, a->n) == 0);
    /* each kept field of a is in b and equal; b has no other kept field */
    for (int pass = 0; pass < 2; pass++) {
        const mc_node *x = pass ? b : a, *y = pass ? a : b;
        MC_MAP_EACH(x, i) {
            const char *k = mc_text(mc_key(x, i));
            const mc_node *v = mc_val(x, i);
            if (!k || (top && strcmp(k, "name") == 0)) continue;
            bool msg = top && v->type == MC_MAP && (!strcmp(k, "uri") || !strcmp(k, "scheme") || !strcmp(k, "method") ||
                                                   !strcmp(k, "authority"));
            const mc_node *w = mc_get(y, k);
            if (omit && !msg && zero(v) && (!w || zero(w))) continue;
            if (!w) return false;
            if (pass == 0) {
                bool sub = top && (!strcmp(k, "headers") || !strcmp(k, "queryParams") || !strcmp(k, "withoutHeaders") ||
                                   !strcmp(k, "sourceLabels") || msg);
                if (!json_equal(v, w, !sub, false)) return false;
            }
        }
    }
    return true;
}

/* assignExactOrPrefix: "exact:V", "prefix:V" or "" */
static const char *exact_or_prefix(const mc_node *sm, char *buf, size_t n)
{
    const char *e = mc_str(mc_get(sm, "exact")), *p = mc_str(mc_get(sm, "prefix"));
    if (sm && sm->type == MC_MAP && e && *e) snprintf(buf, n, "exact:%s", e);
    else if (sm && sm->type == MC_MAP && p && *p) snprintf(buf, n, "prefix:%s", p);
    else buf[0] = '\0';
    return buf;
}

/* coveredValidation's string test: equal, or the earlier one starts with the later */
static bool field_covers(const char *a, const char *b)
{
    return strcmp(a, b) == 0 || strncmp(a, b, strlen(b)) == 0;
}

static bool kv_covers(const mc_node *a, const mc_node *b)
{
    if (mc_len(a) != mc_len(b)) return false;
    char x[512], y[512];
    MC_MAP_EACH(a, i) {
        const char *k = mc_text(mc_key(a, i));
        const mc_node *w = k ? mc_get(b, k) : NULL;
        if (!w) return false;
        if (!field_covers(exact_or_prefix(mc_val(a, i), x, sizeof x), exact_or_prefix(w, y, sizeof y))) return false;
    }
    return true;
}

static const char *uri_prefix(const mc_node *m)
{
    const mc_node *uri = mc_get(m, "uri");
    const char *p = mc_str(mc_get(uri, "prefix"));
    if (!p || !*p || mc_get(uri, "exact") || mc_get(uri, "regex")) return NULL;
    return p;
}

bool in_ist_overlap(const mc_node *a, const mc_node *b)
{
    if (!a || !b || a->type != MC_MAP || b->type != MC_MAP) return false;
    if (json_equal(a, b, true, true)) return true;
    const char *pa = uri_prefix(a), *pb = uri_prefix(b);
    if (!pa || !pb || strcmp(pa, pb) == 0 || strncmp(pb, pa, strlen(pa)) != 0) return false;
    int64_t xa = 0, xb = 0;
    mc_int(mc_get(a, "port"), &xa);
    mc_int(mc_get(b, "port"), &xb);
    if (xa != xb) return false;
    char s1[512], s2[512];
    const char *ma = exact_or_prefix(mc_get(a, "method"), s1, sizeof s1);
    char d1[512], d2[512];
    snprintf(d1, sizeof d1, "%s", *ma ? ma : "exact:GET");
    const char *mb = exact_or_prefix(mc_get(b, "method"), s2, sizeof s2);
    snprintf(d2, sizeof d2, "%s", *mb ? mb : "exact:GET");
    if (!field_covers(d1, d2)) return false;
    if (!field_covers(exact_or_prefix(mc_get(a, "authority"), s1, sizeof s1), exact_or_prefix(mc_get(b, "authority"), s2, sizeof s2)))
        return false;
    return kv_covers(mc_get(a, "headers"), mc_get(b, "headers")) && kv_covers(mc_get(a, "queryParams"), mc_get(b, "queryParams")) &&
           kv_covers(mc_get(a, "withoutHeaders"), mc_get(b, "withoutHeaders"));
}
