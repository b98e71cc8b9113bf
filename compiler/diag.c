/*
** diag.c -- collect, suppress, sort and print findings.
*/
#include "diag.h"
#include "arena.h"
#include "source.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { LVL_FATAL = -1 };

static const struct code_row {
    const char *id;
    int level;
    const char *istio;
    const char *name;
    const char *summary;
    const char *explain;
} codes[] = {
#define FATAL LVL_FATAL
#define ERROR MC_ERROR
#define WARNING MC_WARNING
#define INFO MC_INFO
#define MC_CODE(id, lvl, istio, name, summary, explain) { #id, lvl, istio, name, summary, explain },
#include "codes_load.def"
#include "codes_schema.def"
#include "codes_validate.def"
#include "codes_analyze.def"
#include "codes_insight.def"
#include "codes_build.def"
#undef MC_CODE
#undef FATAL
#undef ERROR
#undef WARNING
#undef INFO
};

typedef struct note {
    struct note *next;
    uint16_t file;
    uint32_t line, col;
    const char *msg;
} note;

typedef struct finding {
    mc_code code;
    mc_level level;
    uint16_t file;
    uint32_t line, col;
    uint32_t seq;           /* emission order, last sort key */
    bool has_pos;
    const char *msg;
    mc_origin o;
    note *notes;
} finding;

static mc_arena A;
static bool A_init;
static mc_vec F = { NULL, 0, 0, sizeof(finding) };
static uint32_t seqno;
/* Stages may report from two threads at once (check.c checks resources
** on a second thread while the loader reads on): every entry point that
** touches the findings holds `lock`. Output does not depend on the
** interleaving: findings are sorted by position, code and text, and two
** threads never report the same finding. `tl_last` is the thread's last
** kept finding, the one mc_diag_note attaches to. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local size_t tl_last = SIZE_MAX;
/* A thread's hold (see diag.h): its findings go to h->F instead of F, the
** positions of its errors to h->errs, and tl_last indexes h->F. */
struct mc_diag_hold {
    mc_vec F;               /* finding */
    mc_vec errs;            /* uint32_t positions */
    mc_vec asked;           /* asked: mc_diag_error_at's questions and answers */
    bool fatal;
};
typedef struct asked { uint32_t pos; bool answer; } asked;
static _Thread_local mc_diag_hold *tl_hold;
static bool had_fatal;
static const bool *only;

typedef struct supp { const char *code; const char *glob; } supp;
static mc_vec S = { NULL, 0, 0, sizeof(supp) };

const char *mc_code_id(mc_code c) { return codes[c].id; }
const char *mc_code_name(mc_code c) { return codes[c].name; }
const char *mc_code_summary(mc_code c) { return codes[c].summary; }
const char *mc_code_explain(mc_code c) { return codes[c].explain; }
const char *mc_code_istio(mc_code c) { return codes[c].istio; }
mc_level mc_code_level(mc_code c) { return codes[c].level == LVL_FATAL ? MC_ERROR : (mc_level)codes[c].level; }
bool mc_code_fatal(mc_code c) { return codes[c].level == LVL_FATAL; }

int mc_code_lookup(const char *id)
{
    for (int i = 0; i < MC_NCODES; i++)
        if (strcasecmp(codes[i].id, id) == 0) return i;
    return -1;
}

const char *mc_level_name(mc_level l)
{
    return l == MC_ERROR ? "error" : l == MC_WARNING ? "warning" : "info";
}

static void ensure_arena(void)
{
    if (!A_init) { mc_arena_init(&A); A_init = true; }
}

/* '*' matches any run of characters; everything else literally. */
static bool glob_match(const char *g, const char *s)
{
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*g == '*') { star = g++; ss = s; continue; }
        if (*g == *s) { g++; s++; continue; }
        if (star) { g = star + 1; s = ++ss; continue; }
        return false;
    }
    while (*g == '*') g++;
    return *g == '\0';
}

static bool list_has_code(const char *list, const char *id)
{
    /* comma-separated codes, '*' for all */
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        size_t n = (size_t)(t - p);
        if ((n == 1 && *p == '*') || (n == strlen(id) && strncasecmp(p, id, n) == 0)) return true;
        p = e;
    }
    return false;
}

static bool suppressed(mc_code c, const mc_origin *o)
{
    if (mc_code_fatal(c)) return false;
    if (only && !only[c]) return true;
    if (!o || !o->kind) return false;
    if (o->suppress && list_has_code(o->suppress, codes[c].id)) return true;
    if (S.n == 0) return false;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s %s%s%s", o->kind, o->ns ? o->ns : "", o->ns && *o->ns ? "/" : "", o->name ? o->name : "");
    snprintf(b, sizeof b, "%s %s%s%s", o->kind, o->name ? o->name : "", o->ns && *o->ns ? "." : "", o->ns ? o->ns : "");
    for (size_t i = 0; i < S.n; i++) {
        supp *s = &MC_VEC_AT(&S, supp, i);
        if (!glob_match(s->code, codes[c].id)) continue;
        if (glob_match(s->glob, a) || glob_match(s->glob, b)) return true;
    }
    return false;
}

bool mc_diag_suppress(const char *spec, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        snprintf(err, errlen, "bad suppression '%s': expected CODE=Kind ns/name", spec);
        return false;
    }
    ensure_arena();
    supp *s = mc_vec_push(&S);
    s->code = mc_arena_strndup(&A, spec, (size_t)(eq - spec));
    s->glob = mc_arena_strdup(&A, eq + 1);
    if (!strchr(s->code, '*') && mc_code_lookup(s->code) < 0)
        snprintf(err, errlen, "warning: suppression names unknown code '%s'", s->code);
    else if (err && errlen)
        err[0] = '\0';
    return true;
}

void mc_diag_only(const bool *c) { only = c; }

static const char *copy_origin_str(const char *s)
{
    return s ? mc_arena_strdup(&A, s) : NULL;
}

/* positions of error findings: open addressing over uint32, 0 = empty */
static uint32_t *errpos;
static size_t errcap, errn;

static void errpos_add(uint32_t pos)
{
    if (pos == 0) return;
    if ((errn + 1) * 2 > errcap) {
        uint32_t *old = errpos;
        size_t oldcap = errcap;
        errcap = errcap ? errcap * 2 : 64;
        errpos = mc_xcalloc(errcap, sizeof *errpos);
        errn = 0;
        for (size_t i = 0; i < oldcap; i++) if (old[i]) errpos_add(old[i]);
        free(old);
    }
    size_t i = (pos * 2654435761u) & (errcap - 1);
    while (errpos[i] && errpos[i] != pos) i = (i + 1) & (errcap - 1);
    if (!errpos[i]) { errpos[i] = pos; errn++; }
}

static bool error_at_locked(uint32_t pos)
{
    if (errcap) {
        size_t i = (pos * 2654435761u) & (errcap - 1);
        while (errpos[i]) {
            if (errpos[i] == pos) return true;
            i = (i + 1) & (errcap - 1);
        }
    }
    return false;
}

bool mc_diag_error_at(uint32_t pos)
{
    if (pos == 0) return false;
    pthread_mutex_lock(&lock);
    bool found = error_at_locked(pos);
    pthread_mutex_unlock(&lock);
    if (tl_hold) {
        asked *q = mc_vec_push(&tl_hold->asked);
        q->pos = pos;
        q->answer = found;
    }
    return found;
}

static void add(mc_code c, mc_level l, const mc_origin *o, uint16_t file, uint32_t line,
                uint32_t col, bool has_pos, const char *fmt, va_list ap)
{
    ensure_arena();
    if (mc_code_fatal(c)) {
        if (tl_hold) tl_hold->fatal = true;
        else had_fatal = true;
    }
    tl_last = SIZE_MAX;
    if (suppressed(c, o)) return;
    mc_vec *to = tl_hold ? &tl_hold->F : &F;
    finding *f = mc_vec_push(to);
    tl_last = to->n - 1;
    f->code = c;
    f->level = l;
    f->file = file;
    f->line = line;
    f->col = col;
    f->has_pos = has_pos;
    f->seq = seqno++;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *m = mc_arena_alloc(&A, (size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(m, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    f->msg = m;
    if (o) {
        f->o.kind = copy_origin_str(o->kind);
        f->o.ns = copy_origin_str(o->ns);
        f->o.name = copy_origin_str(o->name);
    }
}

static void add_at(mc_code c, mc_level l, const mc_origin *o, const mc_node *at, const char *fmt, va_list ap)
{
    uint16_t file = 0;
    uint32_t line = 0, col = 0;
    bool has = at && mc_src_locate(at->pos, &file, &line, &col);
    pthread_mutex_lock(&lock);
    if (l == MC_ERROR && at && at->pos) {
        if (tl_hold) *(uint32_t *)mc_vec_push(&tl_hold->errs) = at->pos;
        else errpos_add(at->pos);
    }
    add(c, l, o, file, line, col, has, fmt, ap);
    pthread_mutex_unlock(&lock);
}

static void add_locked(mc_code c, mc_level l, const mc_origin *o, uint16_t file, uint32_t line,
                       uint32_t col, bool has_pos, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&lock);
    add(c, l, o, file, line, col, has_pos, fmt, ap);
    pthread_mutex_unlock(&lock);
}

void mc_diag(mc_code c, const mc_origin *o, const mc_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_at(c, mc_code_level(c), o, at, fmt, ap);
    va_end(ap);
}

void mc_diag_l(mc_code c, mc_level l, const mc_origin *o, const mc_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_at(c, l, o, at, fmt, ap);
    va_end(ap);
}

void mc_diag_pos(mc_code c, mc_level l, const mc_origin *o, uint16_t file, uint32_t line,
                 uint32_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_locked(c, l, o, file, line, col, true, fmt, ap);
    va_end(ap);
}

void mc_diag_global(mc_code c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_locked(c, mc_code_level(c), NULL, 0, 0, 0, false, fmt, ap);
    va_end(ap);
}

void mc_diag_note(const mc_node *at, const char *fmt, ...)
{
    /* only when this thread's last report was kept */
    if (!at || tl_last == SIZE_MAX) return;
    uint16_t file;
    uint32_t line, col;
    if (!mc_src_locate(at->pos, &file, &line, &col)) return;
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&lock);
    mc_vec *in = tl_hold ? &tl_hold->F : &F;
    if (tl_last < in->n) {
        finding *f = &MC_VEC_AT(in, finding, tl_last);
        note *n = mc_arena_zalloc(&A, sizeof *n);
        n->file = file;
        n->line = line;
        n->col = col;
        n->msg = mc_arena_strdup(&A, tmp);
        note **pp = &f->notes;
        while (*pp) pp = &(*pp)->next;
        *pp = n;
    }
    pthread_mutex_unlock(&lock);
}

void mc_diag_hold_begin(void)
{
    mc_diag_hold *h = mc_xcalloc(1, sizeof *h);
    mc_vec_init(&h->F, sizeof(finding));
    mc_vec_init(&h->errs, sizeof(uint32_t));
    mc_vec_init(&h->asked, sizeof(asked));
    tl_hold = h;
    tl_last = SIZE_MAX;
}

mc_diag_hold *mc_diag_hold_end(void)
{
    mc_diag_hold *h = tl_hold;
    tl_hold = NULL;
    tl_last = SIZE_MAX;
    return h;
}

bool mc_diag_hold_stale(const mc_diag_hold *h)
{
    bool stale = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < h->asked.n && !stale; i++) {
        const asked *q = &MC_VEC_AT(&h->asked, asked, i);
        stale = error_at_locked(q->pos) != q->answer;
    }
    pthread_mutex_unlock(&lock);
    return stale;
}

void mc_diag_hold_commit(mc_diag_hold *h, bool keep)
{
    if (!h) return;
    if (keep) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < h->F.n; i++) {
            finding *f = mc_vec_push(&F);
            *f = MC_VEC_AT(&h->F, finding, i);
            f->seq = seqno++;
        }
        for (size_t i = 0; i < h->errs.n; i++) errpos_add(MC_VEC_AT(&h->errs, uint32_t, i));
        if (h->fatal) had_fatal = true;
        pthread_mutex_unlock(&lock);
    }
    /* texts of forgotten findings stay in the findings' arena until reset */
    mc_vec_free(&h->F);
    mc_vec_free(&h->errs);
    mc_vec_free(&h->asked);
    free(h);
}

static int cmp_finding(const void *pa, const void *pb)
{
    const finding *a = pa, *b = pb;
    if (a->has_pos != b->has_pos) return a->has_pos ? 1 : -1;
    if (a->file != b->file) {
        const mc_source *sa = mc_src_get(a->file), *sb = mc_src_get(b->file);
        int c = strcmp(sa ? sa->name : "", sb ? sb->name : "");
        if (c) return c;
        return a->file < b->file ? -1 : 1;
    }
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    if (a->col != b->col) return a->col < b->col ? -1 : 1;
    int c = strcmp(codes[a->code].id, codes[b->code].id);
    if (c) return c;
    c = strcmp(a->msg, b->msg);
    if (c) return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void sort_dedupe(void)
{
    if (F.n > 1) qsort(F.v, F.n, sizeof(finding), cmp_finding);
    size_t w = 0;
    for (size_t i = 0; i < F.n; i++) {
        finding *f = &MC_VEC_AT(&F, finding, i);
        if (w > 0) {
            finding *p = &MC_VEC_AT(&F, finding, w - 1);
            if (p->code == f->code && p->file == f->file && p->line == f->line &&
                p->col == f->col && p->has_pos == f->has_pos && strcmp(p->msg, f->msg) == 0 &&
                p->level == f->level)
                continue;
        }
        if (w != i) MC_VEC_AT(&F, finding, w) = *f;
        w++;
    }
    F.n = w;
}

unsigned mc_diag_count(mc_level l)
{
    unsigned n = 0;
    for (size_t i = 0; i < F.n; i++)
        if (MC_VEC_AT(&F, finding, i).level == l) n++;
    return n;
}

bool mc_diag_had_fatal(void) { return had_fatal; }

static const char *file_name(uint16_t id, bool has_pos)
{
    const mc_source *s = has_pos ? mc_src_get(id) : NULL;
    return s ? s->name : "meshc";
}

/* ------------------------------------------------------------------ text */

/* Width in characters of the token starting at byte p of a source line:
** a quoted scalar to its closing quote, or a plain scalar up to a flow
** indicator, a comment or ": ". At least 1. */
static size_t token_width(const char *p, size_t n)
{
    if (n == 0) return 1;
    size_t i = 0, w = 0;
    if (p[0] == '"' || p[0] == '\'') {
        char q = p[0];
        for (i = 1, w = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) w++;
            if (q == '"' && p[i] == '\\') { i++; if (i < n) w++; continue; }
            if (p[i] == q) {
                if (q == '\'' && i + 1 < n && p[i + 1] == '\'') { i++; w++; continue; }
                return w;
            }
        }
        return 1;
    }
    if (p[0] == '{' || p[0] == '[' || p[0] == '-' || p[0] == '|' || p[0] == '>' || p[0] == '&' || p[0] == '*')
        return 1;
    size_t last = 0, lw = 0;
    for (i = 0; i < n; i++) {
        char c = p[i];
        if (c == ',' || c == ']' || c == '}') break;
        if (c == ':' && (i + 1 == n || p[i + 1] == ' ')) break;
        if (c == '#' && i > 0 && p[i - 1] == ' ') break;
        if ((c & 0xC0) != 0x80) w++;
        if (c != ' ' && c != '\t') { last = i; lw = w; }
    }
    (void)last;
    return lw ? lw : 1;
}

typedef struct colors { const char *bold, *err, *warn, *info, *note, *caret, *off; } colors;

static void print_snippet(FILE *out, const colors *k, uint16_t file, uint32_t line, uint32_t col)
{
    const char *p;
    size_t n;
    if (line == 0 || !mc_src_line(file, line, &p, &n)) return;
    /* skip a UTF-8 byte order mark on the first line */
    if (line == 1 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) { p += 3; n -= 3; }
    if (n > 4096) n = 4096;
    fprintf(out, "%5u | ", line);
    /* tabs become one space so the caret lines up */
    for (size_t i = 0; i < n; i++) fputc(p[i] == '\t' ? ' ' : p[i], out);
    fputc('\n', out);
    /* byte offset of column col */
    size_t off = 0;
    uint32_t c = 1;
    while (off < n && c < col) {
        off++;
        while (off < n && ((unsigned char)p[off] & 0xC0) == 0x80) off++;
        c++;
    }
    size_t w = token_width(p + off, n - off);
    fputs("      | ", out);
    for (uint32_t i = 1; i < col; i++) fputc(' ', out);
    fputs(k->caret, out);
    fputc('^', out);
    for (size_t i = 1; i < w && i < 512; i++) fputc('~', out);
    fputs(k->off, out);
    fputc('\n', out);
}

static void print_text(FILE *out, const mc_diag_opts *opt)
{
    bool color = opt->color == 1;
    if (opt->color == -1) {
        const char *nc = getenv("NO_COLOR");
        const char *term = getenv("TERM");
        color = isatty(fileno(out)) && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);
    }
    colors k = { "", "", "", "", "", "", "" };
    if (color) k = (colors){ "\033[1m", "\033[1;31m", "\033[33m", "\033[36m", "\033[1;36m", "\033[32m", "\033[0m" };
    for (size_t i = 0; i < F.n; i++) {
        finding *f = &MC_VEC_AT(&F, finding, i);
        if (f->level > opt->output) continue;
        const char *lc = f->level == MC_ERROR ? k.err : f->level == MC_WARNING ? k.warn : k.info;
        if (f->has_pos && f->line)
            fprintf(out, "%s%s:%u:%u:%s ", k.bold, file_name(f->file, true), f->line, f->col, k.off);
        else
            fprintf(out, "%s%s:%s ", k.bold, file_name(f->file, f->has_pos), k.off);
        fprintf(out, "%s%s:%s %s [%s]\n", lc, mc_level_name(f->level), k.off, f->msg, codes[f->code].id);
        if (opt->snippet && f->has_pos) print_snippet(out, &k, f->file, f->line, f->col);
        for (note *n = f->notes; n; n = n->next) {
            fprintf(out, "%s%s:%u:%u:%s %snote:%s %s\n", k.bold, file_name(n->file, true), n->line, n->col,
                    k.off, k.note, k.off, n->msg);
            if (opt->snippet) print_snippet(out, &k, n->file, n->line, n->col);
        }
    }
}

/* ------------------------------------------------------------------ json */

static json_t *finding_json(const finding *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(codes[f->code].id));
    json_object_set_new(o, "level", json_string(mc_level_name(f->level)));
    json_object_set_new(o, "message", json_string(f->msg));
    json_object_set_new(o, "file", f->has_pos ? json_string(file_name(f->file, true)) : json_null());
    json_object_set_new(o, "line", json_integer(f->has_pos ? f->line : 0));
    json_object_set_new(o, "column", json_integer(f->has_pos ? f->col : 0));
    json_object_set_new(o, "kind", f->o.kind ? json_string(f->o.kind) : json_null());
    json_object_set_new(o, "namespace", f->o.kind ? json_string(f->o.ns ? f->o.ns : "") : json_null());
    json_object_set_new(o, "name", f->o.kind ? json_string(f->o.name ? f->o.name : "") : json_null());
    const char *ist = codes[f->code].istio;
    if (!ist && codes[f->code].id[0] == 'I') ist = codes[f->code].id;
    json_object_set_new(o, "istio_code", ist ? json_string(ist) : json_null());
    if (f->notes) {
        json_t *a = json_array();
        for (note *n = f->notes; n; n = n->next) {
            json_t *j = json_object();
            json_object_set_new(j, "message", json_string(n->msg));
            json_object_set_new(j, "file", json_string(file_name(n->file, true)));
            json_object_set_new(j, "line", json_integer(n->line));
            json_object_set_new(j, "column", json_integer(n->col));
            json_array_append_new(a, j);
        }
        json_object_set_new(o, "notes", a);
    }
    return o;
}

static void dump_json(FILE *out, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!s) mc_oom();
    fputs(s, out);
    fputc('\n', out);
    free(s);
}

static void print_json(FILE *out, const mc_diag_opts *opt)
{
    json_t *a = json_array();
    for (size_t i = 0; i < F.n; i++) {
        finding *f = &MC_VEC_AT(&F, finding, i);
        if (f->level > opt->output) continue;
        json_array_append_new(a, finding_json(f));
    }
    dump_json(out, a);
    json_decref(a);
}

static void print_sarif(FILE *out, const mc_diag_opts *opt)
{
    json_t *rules = json_array(), *results = json_array();
    int *ruleidx = mc_xmalloc(sizeof(int) * MC_NCODES);
    for (int i = 0; i < MC_NCODES; i++) ruleidx[i] = -1;
    for (size_t i = 0; i < F.n; i++) {
        finding *f = &MC_VEC_AT(&F, finding, i);
        if (f->level > opt->output) continue;
        if (ruleidx[f->code] < 0) {
            ruleidx[f->code] = (int)json_array_size(rules);
            json_t *r = json_object();
            json_object_set_new(r, "id", json_string(codes[f->code].id));
            json_object_set_new(r, "name", json_string(codes[f->code].name));
            json_object_set_new(r, "shortDescription", json_pack("{s:s}", "text", codes[f->code].summary));
            json_object_set_new(r, "fullDescription", json_pack("{s:s}", "text", codes[f->code].explain));
            char help[64];
            snprintf(help, sizeof help, "Run `meshc explain %s`.", codes[f->code].id);
            json_object_set_new(r, "help", json_pack("{s:s}", "text", help));
            json_object_set_new(r, "defaultConfiguration", json_pack("{s:s}", "level",
                mc_code_level(f->code) == MC_ERROR ? "error" : mc_code_level(f->code) == MC_WARNING ? "warning" : "note"));
            json_array_append_new(rules, r);
        }
        json_t *res = json_object();
        json_object_set_new(res, "ruleId", json_string(codes[f->code].id));
        json_object_set_new(res, "ruleIndex", json_integer(ruleidx[f->code]));
        json_object_set_new(res, "level", json_string(f->level == MC_ERROR ? "error" : f->level == MC_WARNING ? "warning" : "note"));
        json_object_set_new(res, "message", json_pack("{s:s}", "text", f->msg));
        if (f->has_pos) {
            json_t *region = json_object();
            if (f->line) {
                json_object_set_new(region, "startLine", json_integer(f->line));
                json_object_set_new(region, "startColumn", json_integer(f->col ? f->col : 1));
            }
            json_t *loc = json_pack("{s:{s:{s:s,s:s},s:o}}", "physicalLocation", "artifactLocation",
                                    "uri", file_name(f->file, true), "uriBaseId", "%SRCROOT%", "region", region);
            json_object_set_new(res, "locations", json_pack("[o]", loc));
        }
        if (f->o.kind) {
            char fp[512];
            snprintf(fp, sizeof fp, "%s/%s/%s", f->o.kind, f->o.ns ? f->o.ns : "", f->o.name ? f->o.name : "");
            json_object_set_new(res, "partialFingerprints", json_pack("{s:s}", "meshcResource/v1", fp));
        }
        json_array_append_new(results, res);
    }
    free(ruleidx);
    json_t *doc = json_pack("{s:s,s:s,s:[{s:{s:{s:s,s:s,s:s,s:o}},s:{s:s},s:o}]}",
        "$schema", "https://json.schemastore.org/sarif-2.1.0.json",
        "version", "2.1.0",
        "runs",
        "tool", "driver", "name", "meshc", "version", MESH_VERSION,
        "informationUri", "https://istio.io/latest/docs/reference/config/analysis/",
        "rules", rules,
        "automationDetails", "id", "meshc/",
        "results", results);
    dump_json(out, doc);
    json_decref(doc);
}

static void gh_escape(FILE *out, const char *s, bool prop)
{
    for (; *s; s++) {
        if (*s == '%') fputs("%25", out);
        else if (*s == '\r') fputs("%0D", out);
        else if (*s == '\n') fputs("%0A", out);
        else if (prop && *s == ':') fputs("%3A", out);
        else if (prop && *s == ',') fputs("%2C", out);
        else fputc(*s, out);
    }
}

static void print_github(FILE *out, const mc_diag_opts *opt)
{
    for (size_t i = 0; i < F.n; i++) {
        finding *f = &MC_VEC_AT(&F, finding, i);
        if (f->level > opt->output) continue;
        fprintf(out, "::%s ", f->level == MC_ERROR ? "error" : f->level == MC_WARNING ? "warning" : "notice");
        if (f->has_pos) {
            fputs("file=", out);
            gh_escape(out, file_name(f->file, true), true);
            if (f->line) fprintf(out, ",line=%u,col=%u,", f->line, f->col);
            else fputc(',', out);
        }
        fprintf(out, "title=%s::", codes[f->code].id);
        gh_escape(out, f->msg, false);
        fputc('\n', out);
    }
}

static void xml_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc('?', out);
            else fputc(*s, out);
        }
    }
}

/* One testcase per input file; each finding at or above the failure
** threshold is a <failure>, the others go to <system-out>. */
static void print_junit(FILE *out, const mc_diag_opts *opt)
{
    uint32_t nf = mc_src_count();
    unsigned failures = 0;
    for (size_t i = 0; i < F.n; i++) {
        finding *f = &MC_VEC_AT(&F, finding, i);
        if (f->level <= opt->failure) failures++;
    }
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<testsuites name=\"meshc\" tests=\"%u\" failures=\"%u\">\n", nf ? nf : 1, failures);
    fprintf(out, "  <testsuite name=\"meshc check\" tests=\"%u\" failures=\"%u\">\n", nf ? nf : 1, failures);
    for (uint32_t fi = 0; fi <= nf; fi++) {
        /* fi == nf: findings without a file */
        bool any = false;
        for (size_t i = 0; i < F.n; i++) {
            finding *f = &MC_VEC_AT(&F, finding, i);
            if (fi < nf ? (f->has_pos && f->file == fi) : !f->has_pos) { any = true; break; }
        }
        if (fi == nf && (!any && nf)) break;
        fputs("    <testcase classname=\"meshc\" name=\"", out);
        xml_escape(out, fi < nf ? mc_src_get((uint16_t)fi)->name : "meshc");
        fputs("\">\n", out);
        mc_buf sysout;
        mc_buf_init(&sysout);
        for (size_t i = 0; i < F.n; i++) {
            finding *f = &MC_VEC_AT(&F, finding, i);
            if (!(fi < nf ? (f->has_pos && f->file == fi) : !f->has_pos)) continue;
            if (f->level > opt->output) continue;
            if (f->level <= opt->failure) {
                fprintf(out, "      <failure type=\"%s\" message=\"", codes[f->code].id);
                xml_escape(out, f->msg);
                fprintf(out, "\">%s:%u:%u: %s: ", file_name(f->file, f->has_pos), f->line, f->col, mc_level_name(f->level));
                xml_escape(out, f->msg);
                fprintf(out, " [%s]</failure>\n", codes[f->code].id);
            } else {
                mc_buf_printf(&sysout, "%s:%u:%u: %s: %s [%s]\n", file_name(f->file, f->has_pos), f->line, f->col,
                              mc_level_name(f->level), f->msg, codes[f->code].id);
            }
        }
        if (sysout.n) {
            fputs("      <system-out>", out);
            xml_escape(out, sysout.s);
            fputs("</system-out>\n", out);
        }
        mc_buf_free(&sysout);
        fputs("    </testcase>\n", out);
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
}

int mc_diag_print(const mc_diag_opts *opt, FILE *out, unsigned nfiles, unsigned nres)
{
    sort_dedupe();
    switch (opt->format) {
    case MC_FMT_TEXT: print_text(out, opt); break;
    case MC_FMT_JSON: print_json(out, opt); break;
    case MC_FMT_SARIF: print_sarif(out, opt); break;
    case MC_FMT_GITHUB: print_github(out, opt); break;
    case MC_FMT_JUNIT: print_junit(out, opt); break;
    }
    fflush(out);
    unsigned ne = mc_diag_count(MC_ERROR), nw = mc_diag_count(MC_WARNING), ni = mc_diag_count(MC_INFO);
    fprintf(stderr, "%u error%s, %u warning%s, %u info in %u file%s (%u resource%s)\n",
            ne, ne == 1 ? "" : "s", nw, nw == 1 ? "" : "s", ni, nfiles, nfiles == 1 ? "" : "s",
            nres, nres == 1 ? "" : "s");
    if (had_fatal) return 2;
    for (size_t i = 0; i < F.n; i++)
        if (MC_VEC_AT(&F, finding, i).level <= opt->failure) return 1;
    return 0;
}

void mc_diag_reset(void)
{
    mc_vec_free(&F);
    if (A_init) mc_arena_free(&A);
    A_init = false;
    had_fatal = false;
    seqno = 0;
    tl_last = SIZE_MAX;
    free(errpos);
    errpos = NULL;
    errcap = errn = 0;
}
