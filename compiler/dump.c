/*
** dump.c -- print a verified image (dump.h). Layout of the text:
**   header line; section counts;
**   views with their listeners, filter chains and SNI tables;
**   route tables with virtual hosts and host tables;
**   row sets with their rows (matchers, action, target, origin) and index;
**   actions (policies, redirects, direct responses, faults, CORS);
**   targets; clusters with settings and endpoints; regexes.
*/
#include "dump.h"
#include "image.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct D {
    const rt_image *img;
    FILE *o;
    const char *strs;
} D;

#define SEC(d, NAME, type) ((const type *)rt_section((d)->img, IMG_S_##NAME, NULL))
static uint32_t cnt(const D *d, img_sec s) { uint32_t n; rt_section(d->img, s, &n); return n; }

/* strings printed quoted, with C escapes for anything not printable */
static void pstr(D *d, img_str s)
{
    const unsigned char *p = (const unsigned char *)d->strs + s.off;
    fputc('"', d->o);
    for (uint32_t i = 0; i < s.len; i++) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') fprintf(d->o, "\\%c", c);
        else if (c == '\n') fputs("\\n", d->o);
        else if (c == '\t') fputs("\\t", d->o);
        else if (c < 0x20 || c == 0x7f) fprintf(d->o, "\\x%02x", c);
        else fputc((int)c, d->o);
    }
    fputc('"', d->o);
}

static const char *S(const D *d, img_str s) { return d->strs + s.off; }
static const char *Z(const D *d, uint32_t off) { return d->strs + off; }

static void pms(D *d, uint32_t ms) { fprintf(d->o, "%ums", ms); }

static void header_ops(D *d, const char *what, img_range r, const char *indent)
{
    const img_header_op *h = SEC(d, HEADEROPS, img_header_op);
    for (uint32_t i = 0; i < r.count; i++) {
        const img_header_op *x = &h[r.first + i];
        fprintf(d->o, "%s%s %s %s", indent, what, img_enum_name(IMG_E_HOP, x->op), S(d, x->name));
        if (x->op != IMG_HOP_REMOVE) {
            fputs(" ", d->o);
            pstr(d, x->value);
        }
        fputc('\n', d->o);
    }
}

static void matcher(D *d, const img_matcher *m)
{
    fprintf(d->o, "%s%s %s %s", (m->flags & IMG_M_INVERT) ? "not " : "", img_enum_name(IMG_E_TARGET, m->target), S(d, m->name),
            img_enum_name(IMG_E_OP, m->op));
    if (m->op != IMG_OP_PRESENT) {
        fputc(' ', d->o);
        pstr(d, m->value);
    }
    if (m->flags & IMG_M_MISSING_EMPTY) fputs(" (missing as \"\")", d->o);
}

/* an origin; IMG_VS_SELF is the instance's VirtualService `self` */
static void origin(D *d, uint32_t src, uint32_t self)
{
    const img_src *o = SEC(d, ORIGINS, img_src) + src;
    uint32_t v = o->vs == IMG_VS_SELF ? self : o->vs;
    if (v == IMG_NONE) return;
    const img_vs *vs = SEC(d, VSES, img_vs) + v;
    fprintf(d->o, "  [%s/%s %s[%u]", Z(d, vs->ns), Z(d, vs->name), img_enum_name(IMG_E_ENTRY, o->kind), o->entry);
    if (o->match != 0xffff) fprintf(d->o, " match[%u]", o->match);
    if (o->delegate != IMG_NONE) {
        const img_vs *dv = SEC(d, VSES, img_vs) + o->delegate;
        fprintf(d->o, " via %s/%s", Z(d, dv->ns), Z(d, dv->name));
    }
    fputc(']', d->o);
}

static void rowlist(D *d, uint32_t l)
{
    const img_range *r = SEC(d, ROWLISTS, img_range) + l;
    const uint32_t *rows = SEC(d, ROWLIST, uint32_t) + r->first;
    fputs("rows", d->o);
    for (uint32_t i = 0; i < r->count; i++) fprintf(d->o, " %u", rows[i]);
}

static void rowref(D *d, uint32_t r)
{
    if (r & IMG_ROWS_ONE) fprintf(d->o, "rows %u", r & ~IMG_ROWS_ONE);
    else rowlist(d, r);
}

typedef struct hent { uint32_t target, suffix; const char *key; } hent;

static int cmp_hent(const void *a, const void *b)
{
    const hent *x = a, *y = b;
    if (x->target != y->target) return x->target < y->target ? -1 : 1;
    if (x->suffix != y->suffix) return x->suffix < y->suffix ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* entries by target, then kind, then key (the slots' order is the hash's) */
static void host_table(D *d, uint32_t t, const char *indent, const char *what)
{
    const img_host_table *ht = SEC(d, HOSTTABLES, img_host_table) + t;
    const img_hbucket *bk = SEC(d, HBUCKETS, img_hbucket) + ht->buckets.first;
    const uint32_t *lens = SEC(d, U32LIST, uint32_t) + ht->lens.first;
    uint32_t over = 0;
    for (uint32_t b = 0; b < ht->buckets.count; b++) over += bk[b].flags & IMG_HB_OVERFLOW;
    fprintf(d->o, "%shost table %u: %u buckets (%u overflowed), %u entries", indent, t, ht->buckets.count, over, ht->nentries);
    if (ht->lens.count) {
        fputs(what ? ", suffix lengths" : ", literal lengths", d->o);
        for (uint32_t i = 0; i < ht->lens.count; i++) fprintf(d->o, " %u", lens[i]);
    }
    fputc('\n', d->o);
    hent *es = malloc((ht->nentries + 1) * sizeof *es);
    uint32_t n = 0;
    for (uint32_t b = 0; b < ht->buckets.count; b++)
        for (uint32_t i = 0; i < bk[b].count && n < ht->nentries; i++) {
            es[n].target = bk[b].target[i] & ~IMG_HB_SUFFIX;
            es[n].suffix = bk[b].target[i] & IMG_HB_SUFFIX;
            es[n].key = Z(d, bk[b].key[i]);
            n++;
        }
    if (n > 1) qsort(es, n, sizeof *es, cmp_hent);
    for (uint32_t i = 0; i < n; i++) {
        fprintf(d->o, "%s  %s ", indent, es[i].suffix ? "*" : " ");
        img_str k = { (uint32_t)(es[i].key - d->strs), (uint32_t)strlen(es[i].key) };
        pstr(d, k);
        if (what) fprintf(d->o, " -> %s %u\n", what, es[i].target);
        else {
            fputs(" -> ", d->o);
            rowref(d, es[i].target);
            fputc('\n', d->o);
        }
    }
    free(es);
    if (ht->dflt != IMG_NONE) fprintf(d->o, "%s  default -> %s %u\n", indent, what, ht->dflt);
}

static void cluster_name(D *d, uint32_t c)
{
    rt_cluster_info ci;
    rt_cluster_get(d->img, c, &ci);
    fputs(ci.name.p, d->o);
}

/* a target word */
static void target(D *d, uint32_t w)
{
    if (IMG_TW_TAG(w) != IMG_TW_SPLIT) {
        fputs(" cluster ", d->o);
        cluster_name(d, IMG_TW_INDEX(w));
        return;
    }
    const img_target *x = SEC(d, TARGETS, img_target) + IMG_TW_INDEX(w);
    const img_wcluster *wc = SEC(d, WCLUSTERS, img_wcluster) + x->clusters.first;
    fprintf(d->o, " target %u: ", IMG_TW_INDEX(w));
    for (uint32_t i = 0; i < x->clusters.count; i++) {
        if (i) fputs(", ", d->o);
        cluster_name(d, wc[i].cluster);
        if (x->weighted) fprintf(d->o, " weight %u", wc[i].weight);
    }
}

static void dump_views(D *d)
{
    const img_view *vs = SEC(d, VIEWS, img_view);
    const img_listener *ls = SEC(d, LISTENERS, img_listener);
    const img_chain *cs = SEC(d, CHAINS, img_chain);
    const img_chain_shape *shapes = SEC(d, CHAINSHAPES, img_chain_shape);
    const img_label *lb = SEC(d, LABELS, img_label);
    const img_str *sl = SEC(d, STRLIST, img_str);
    for (uint32_t i = 0; i < cnt(d, IMG_S_VIEWS); i++) {
        const img_view *v = &vs[i];
        fprintf(d->o, "\nview %u: %s %s\n  namespace %s\n  labels", i, img_enum_name(IMG_E_VIEW, v->kind), S(d, v->name), S(d, v->ns));
        for (uint32_t k = 0; k < v->labels.count; k++) fprintf(d->o, " %s=%s", S(d, lb[v->labels.first + k].key), S(d, lb[v->labels.first + k].value));
        fputs("\n  gateways", d->o);
        for (uint32_t k = 0; k < v->gateways.count; k++) fprintf(d->o, " %s", S(d, sl[v->gateways.first + k]));
        fputc('\n', d->o);
        for (uint32_t k = 0; k < v->listeners.count; k++) {
            uint32_t li = v->listeners.first + k;
            const img_listener *l = &ls[li];
            fprintf(d->o, "  listener %u: port %u %s", li, l->port, img_enum_name(IMG_E_LISTENER, l->kind));
            if (l->bind.len) fprintf(d->o, " bind %s", S(d, l->bind));
            for (uint32_t s = 0; s < l->servers.count; s++) fprintf(d->o, "%s%s", s ? ", " : " (", S(d, sl[l->servers.first + s]));
            fputs(l->servers.count ? ")\n" : "\n", d->o);
            for (uint32_t c = 0; c < l->chains.count; c++) {
                uint32_t ci = l->chains.first + c;
                const img_chain *ch = &cs[ci];
                const img_chain_shape *sh = &shapes[ch->shape];
                fprintf(d->o, "    chain %u (shape %u): %s tls %s protocol %s", ci, ch->shape, img_enum_name(IMG_E_CHAIN, sh->kind),
                        img_enum_name(IMG_E_TLS, sh->tls), img_enum_name(IMG_E_PROTO, sh->protocol));
                if (sh->server.len) fprintf(d->o, " server %s", S(d, sh->server));
                if (sh->credential.len) fprintf(d->o, " credential %s", S(d, sh->credential));
                fputc('\n', d->o);
                if (sh->nsni) {
                    fputs("      sni", d->o);
                    for (uint32_t s = 0; s < sh->nsni; s++) fprintf(d->o, " %s", sh->nsni == 1 ? Z(d, ch->sni) : S(d, sl[ch->sni + s]));
                    fputc('\n', d->o);
                }
                if (sh->kind == IMG_CHAIN_HTTP) {
                    fprintf(d->o, "      -> route table %u\n", ch->next);
                } else {
                    fputs("      ->", d->o);
                    target(d, ch->next);
                    if (sh->src != IMG_NONE) origin(d, sh->src, ch->vs);
                    fputc('\n', d->o);
                }
            }
            if (l->sni != IMG_NONE) host_table(d, l->sni, "    sni ", "chain");
        }
    }
}

static void dump_route_tables(D *d)
{
    const img_route_table *rts = SEC(d, ROUTETABLES, img_route_table);
    const img_vhost *vh = SEC(d, VHOSTS, img_vhost);
    const img_rowset *rs = SEC(d, ROWSETS, img_rowset);
    for (uint32_t i = 0; i < cnt(d, IMG_S_ROUTETABLES); i++) {
        const img_route_table *rt = &rts[i];
        fprintf(d->o, "\nroute table %u: %s\n", i, S(d, rt->name));
        for (uint32_t k = 0; k < rt->vhosts.count; k++) {
            const img_vhost *v = &vh[rt->vhosts.first + k];
            const img_rowset *r = &rs[v->rowset];
            fprintf(d->o, "  vhost %u: %s:%u -> routes %u+%u rowset %u index %u%s\n", rt->vhosts.first + k, Z(d, v->domain), r->port,
                    v->routes, r->rows.count, v->rowset, r->index, (r->flags & IMG_VHOST_REQUIRE_TLS) ? " (require TLS)" : "");
        }
        host_table(d, rt->hosts, "  ", "vhost");
    }
}

static void trie(D *d, uint32_t n, int depth)
{
    const img_trie_node *t = SEC(d, TRIE, img_trie_node) + n;
    fprintf(d->o, "      %*s", depth * 2, "");
    img_str label = { t->label, t->label_len };
    pstr(d, label);
    if (t->rows != IMG_NONE) {
        fputs(": ", d->o);
        rowref(d, t->rows);
    }
    fputc('\n', d->o);
    for (uint32_t i = 0; i < t->nkids; i++) trie(d, t->kids + i, depth + 1);
}

static int cmp_routes(const void *a, const void *b)
{
    const img_vhost *x = *(const img_vhost *const *)a, *y = *(const img_vhost *const *)b;
    return x->routes < y->routes ? -1 : x->routes > y->routes;
}

/* the rows of the virtual hosts, each route range once, in ROUTES order:
** each row's shape with the virtual host's target word and VirtualService */
static void dump_rowsets(D *d)
{
    const img_vhost *vh = SEC(d, VHOSTS, img_vhost);
    const img_rowset *sets = SEC(d, ROWSETS, img_rowset);
    const img_row *rows = SEC(d, ROWS, img_row);
    const uint32_t *words = SEC(d, ROUTES, uint32_t);
    const img_matcher *ms = SEC(d, MATCHERS, img_matcher);
    const img_action *acts = SEC(d, ACTIONS, img_action);
    const img_src *origins = SEC(d, ORIGINS, img_src);
    uint32_t nv = cnt(d, IMG_S_VHOSTS);
    const img_vhost **order = malloc((nv + 1) * sizeof *order);
    uint32_t no = 0;
    for (uint32_t i = 0; i < nv; i++)
        if (sets[vh[i].rowset].rows.count) order[no++] = &vh[i];
    if (no > 1) qsort(order, no, sizeof *order, cmp_routes);
    for (uint32_t oi = 0; oi < no; oi++) {
        const img_vhost *v = order[oi];
        const img_rowset *rs = &sets[v->rowset];
        if (oi && v->routes == order[oi - 1]->routes) continue;   /* shared route range */
        fprintf(d->o, "\nroutes %u+%u (rowset %u: rows %u+%u, index %u)\n", v->routes, rs->rows.count, v->rowset, rs->rows.first,
                rs->rows.count, rs->index);
        for (uint32_t k = 0; k < rs->rows.count; k++) {
            const img_row *r = &rows[rs->rows.first + k];
            uint32_t kind = r->flags & IMG_ROW_KIND_MASK;
            fprintf(d->o, "  row %u (route %u): %s%s ", k, v->routes + k, img_enum_name(IMG_E_PATH, kind),
                    (r->flags & IMG_ROW_IGNORE_CASE) ? " ignore-case" : "");
            if (kind == IMG_PATH_REGEX) pstr(d, SEC(d, REGEXES, img_str)[r->path]);
            else pstr(d, (img_str){ r->path, r->path_len });
            fprintf(d->o, " -> action %u %s", r->action, img_enum_name(IMG_E_ACTION, acts[r->action].kind));
            if (words[v->routes + k] != IMG_NONE) target(d, words[v->routes + k]);
            if (r->flags & IMG_ROW_CATCH_ALL) fputs(" (catch-all)", d->o);
            if (origins[r->src].name.len) fprintf(d->o, " name %s", S(d, origins[r->src].name));
            origin(d, r->src, v->vs);
            fputc('\n', d->o);
            for (uint32_t m = 0; m < r->nmatchers; m++) {
                fputs("      and ", d->o);
                matcher(d, &ms[r->matchers + m]);
                fputc('\n', d->o);
            }
        }
    }
    free(order);
    const img_index *xs = SEC(d, INDEXES, img_index);
    for (uint32_t i = 0; i < cnt(d, IMG_S_INDEXES); i++) {
        fprintf(d->o, "\nindex %u: %u rows\n", i, xs[i].nrows);
        if (xs[i].trie != IMG_NONE) {
            fputs("    prefix trie:\n", d->o);
            trie(d, xs[i].trie, 0);
        }
        if (xs[i].prefix != IMG_NONE) host_table(d, xs[i].prefix, "    prefixes ", NULL);
        if (xs[i].exact != IMG_NONE) host_table(d, xs[i].exact, "    exact paths ", NULL);
        if (xs[i].rest != IMG_NONE) {
            fputs("    always tried: ", d->o);
            rowlist(d, xs[i].rest);
            fputc('\n', d->o);
        }
    }
    if (cnt(d, IMG_S_ROWLISTS)) fputs("\nrowlists:\n", d->o);
    for (uint32_t i = 0; i < cnt(d, IMG_S_ROWLISTS); i++) {
        fprintf(d->o, "  rowlist %u: ", i);
        rowlist(d, i);
        fputc('\n', d->o);
    }
}

static void dump_actions(D *d)
{
    const img_action *acts = SEC(d, ACTIONS, img_action);
    for (uint32_t i = 0; i < cnt(d, IMG_S_ACTIONS); i++) {
        const img_action *a = &acts[i];
        fprintf(d->o, "\naction %u: %s\n", i, img_enum_name(IMG_E_ACTION, a->kind));
        if (a->kind == IMG_ACTION_ROUTE) {
            const img_policy *p = SEC(d, POLICIES, img_policy) + a->detail;
            fputs("  timeout ", d->o);
            if (p->flags & IMG_POLICY_TIMEOUT) pms(d, p->timeout_ms);
            else fputs("none", d->o);
            if (p->timeout_ms == 0) fputs(" (disabled)", d->o);
            fputc('\n', d->o);
            if (p->retry == IMG_NONE) fputs("  retries none\n", d->o);
            else {
                const img_retry *r = SEC(d, RETRIES, img_retry) + p->retry;
                fprintf(d->o, "  retries %u on %s", r->num_retries, S(d, r->retry_on));
                if (r->codes.count) {
                    fputs(" codes", d->o);
                    for (uint32_t k = 0; k < r->codes.count; k++) fprintf(d->o, " %u", SEC(d, U32LIST, uint32_t)[r->codes.first + k]);
                }
                if (r->per_try_timeout_ms) fprintf(d->o, " per-try %ums", r->per_try_timeout_ms);
                if (r->backoff_ms) fprintf(d->o, " backoff %ums", r->backoff_ms);
                fprintf(d->o, " host-selection-attempts %u%s%s\n", r->host_selection_attempts,
                        (r->flags & IMG_RETRY_PREVIOUS_HOSTS) ? " previous-hosts" : "",
                        (r->flags & IMG_RETRY_REMOTE_LOCALITIES) ? " remote-localities" : "");
            }
            if (p->prefix_rewrite.len) { fputs("  rewrite prefix ", d->o); pstr(d, p->prefix_rewrite); fputc('\n', d->o); }
            if (p->rewrite_regex != IMG_NONE) {
                fprintf(d->o, "  rewrite regex %u ", p->rewrite_regex);
                pstr(d, SEC(d, REGEXES, img_str)[p->rewrite_regex]);
                fputs(" -> ", d->o);
                pstr(d, p->regex_substitution);
                fputc('\n', d->o);
            }
            if (p->authority.len) { fputs("  rewrite authority ", d->o); pstr(d, p->authority); fputc('\n', d->o); }
            const img_mirror *m = SEC(d, MIRRORS, img_mirror);
            for (uint32_t k = 0; k < p->mirrors.count; k++) {
                fputs("  mirror ", d->o);
                cluster_name(d, m[p->mirrors.first + k].cluster);
                fprintf(d->o, " %u/1000000\n", m[p->mirrors.first + k].per_million);
            }
        } else if (a->kind == IMG_ACTION_REDIRECT) {
            const img_redirect *r = SEC(d, REDIRECTS, img_redirect) + a->detail;
            fprintf(d->o, "  redirect %u scheme ", r->code);
            pstr(d, r->scheme);
            fputs(" host ", d->o);
            pstr(d, r->host);
            fprintf(d->o, " port %u path ", r->port);
            pstr(d, r->path);
            fputs(" prefix ", d->o);
            pstr(d, r->prefix);
            fputc('\n', d->o);
        } else {
            const img_direct *x = SEC(d, DIRECTS, img_direct) + a->detail;
            fprintf(d->o, "  status %u body ", x->status);
            pstr(d, x->body);
            fputc('\n', d->o);
        }
        header_ops(d, "request", a->req_headers, "  ");
        header_ops(d, "response", a->resp_headers, "  ");
        if (a->fault != IMG_NONE) {
            const img_fault *f = SEC(d, FAULTS, img_fault) + a->fault;
            if (f->flags & IMG_FAULT_DELAY) fprintf(d->o, "  fault delay %ums %u/1000000\n", f->delay_ms, f->delay_per_million);
            if (f->flags & IMG_FAULT_ABORT)
                fprintf(d->o, "  fault abort %s %u %u/1000000\n", (f->flags & IMG_FAULT_GRPC) ? "grpc" : "http", f->abort_status, f->abort_per_million);
        }
        if (a->cors != IMG_NONE) {
            const img_cors *c = SEC(d, CORSES, img_cors) + a->cors;
            fputs("  cors methods ", d->o);
            pstr(d, c->methods);
            fputs(" headers ", d->o);
            pstr(d, c->headers);
            fputs(" expose ", d->o);
            pstr(d, c->expose);
            if (c->flags & IMG_CORS_MAX_AGE) fprintf(d->o, " max-age %u", c->max_age);
            if (c->flags & IMG_CORS_CREDENTIALS_SET) fprintf(d->o, " credentials %s", (c->flags & IMG_CORS_CREDENTIALS) ? "true" : "false");
            fprintf(d->o, " unmatched-preflights %s\n", (c->flags & IMG_CORS_FORWARD_UNMATCHED) ? "forward" : "ignore");
            const img_matcher *ms = SEC(d, MATCHERS, img_matcher);
            for (uint32_t k = 0; k < c->origins.count; k++) {
                fputs("    allow ", d->o);
                matcher(d, &ms[c->origins.first + k]);
                fputc('\n', d->o);
            }
        }
    }
}

static void dump_targets(D *d)
{
    const img_target *ts = SEC(d, TARGETS, img_target);
    const img_wcluster *w = SEC(d, WCLUSTERS, img_wcluster);
    if (cnt(d, IMG_S_TARGETS)) fputs("\ntargets:\n", d->o);
    for (uint32_t i = 0; i < cnt(d, IMG_S_TARGETS); i++) {
        fprintf(d->o, "  target %u: %s", i, ts[i].weighted ? "weighted " : "");
        for (uint32_t k = 0; k < ts[i].clusters.count; k++) {
            if (k) fputs(", ", d->o);
            cluster_name(d, w[ts[i].clusters.first + k].cluster);
            if (ts[i].weighted) fprintf(d->o, " weight %u", w[ts[i].clusters.first + k].weight);
        }
        if (ts[i].weighted) fprintf(d->o, " (total %u)", ts[i].total);
        fputc('\n', d->o);
        for (uint32_t k = 0; k < ts[i].clusters.count; k++) {
            const img_wcluster *x = &w[ts[i].clusters.first + k];
            header_ops(d, "request", x->req_headers, "    ");
            header_ops(d, "response", x->resp_headers, "    ");
            if (x->authority.len) { fputs("    rewrite authority ", d->o); pstr(d, x->authority); fputc('\n', d->o); }
        }
    }
}

static void dump_clusters(D *d)
{
    const img_cluster *cs = SEC(d, CLUSTERS, img_cluster);
    const img_cluster_shape *shapes = SEC(d, CSHAPES, img_cluster_shape);
    const img_endpoint *es = SEC(d, ENDPOINTS, img_endpoint);
    const img_str *sl = SEC(d, STRLIST, img_str);
    for (uint32_t i = 0; i < cnt(d, IMG_S_CLUSTERS); i++) {
        const img_cluster *c = &cs[i];
        const img_cluster_shape *s = &shapes[c->shape];
        fprintf(d->o, "\ncluster %u: ", i);
        cluster_name(d, i);
        fprintf(d->o, " (shape %u) %s", c->shape, img_enum_name(IMG_E_CLUSTER, s->kind));
        if (s->kind == IMG_CLUSTER_MISSING) {
            fputs(" (503 NC)\n", d->o);
            continue;
        }
        fprintf(d->o, " %s%s\n", img_enum_name(IMG_E_PROTO, s->protocol), (s->flags & IMG_CLUSTER_MESH_EXTERNAL) ? " mesh-external" : "");
        const img_cpolicy *p = SEC(d, CPOLICIES, img_cpolicy) + s->policy;
        fprintf(d->o, "  lb %s connect-timeout %ums max-connections %u max-pending %u max-requests %u max-retries %u", img_enum_name(IMG_E_LB, p->lb),
                p->connect_timeout_ms, p->max_connections, p->max_pending_requests, p->max_requests, p->max_retries);
        if (p->max_requests_per_connection) fprintf(d->o, " max-requests-per-connection %u", p->max_requests_per_connection);
        if (p->flags & IMG_CP_IDLE_SET) fprintf(d->o, " idle-timeout %ums", p->idle_timeout_ms);
        if (p->flags & IMG_CP_DURATION_SET) fprintf(d->o, " max-connection-duration %ums", p->max_connection_duration_ms);
        if (p->flags & IMG_CP_H2) fputs(" h2", d->o);
        if (p->flags & IMG_CP_USE_CLIENT_PROTOCOL) fputs(" use-client-protocol", d->o);
        fputc('\n', d->o);
        if (p->flags & IMG_OUTLIER_SET)
            fprintf(d->o, "  outlier consecutive-5xx %u (%u%%) consecutive-gateway %u (%u%%) interval %ums base-ejection %ums max-ejection %u%% min-health %u%%\n",
                    p->consecutive_5xx, p->enforcing_5xx, p->consecutive_gateway, p->enforcing_gateway, p->interval_ms,
                    p->base_ejection_ms, p->max_ejection_percent, p->min_health_percent);
        if (p->hash != IMG_NONE) {
            const img_chash *h = SEC(d, CHASHES, img_chash) + p->hash;
            fprintf(d->o, "  hash %s", img_enum_name(IMG_E_HASH, h->kind));
            if (h->name.len) fprintf(d->o, " %s", S(d, h->name));
            if (h->cookie_path.len) fprintf(d->o, " path %s", S(d, h->cookie_path));
            if (h->flags & IMG_CHASH_TTL) fprintf(d->o, " ttl %ums", h->cookie_ttl_ms);
            fprintf(d->o, " %s %u\n", p->lb == IMG_LB_MAGLEV ? "table-size" : "min-ring-size", h->ring_size);
        }
        if (p->tls != IMG_CTLS_NONE) {
            fprintf(d->o, "  tls %s", img_enum_name(IMG_E_CTLS, p->tls));
            if (p->sni.len) fprintf(d->o, " sni %s", S(d, p->sni));
            if (p->ca_certificates.len) fprintf(d->o, " ca %s", S(d, p->ca_certificates));
            if (p->client_certificate.len) fprintf(d->o, " cert %s", S(d, p->client_certificate));
            if (p->private_key.len) fprintf(d->o, " key %s", S(d, p->private_key));
            if (p->credential.len) fprintf(d->o, " credential %s", S(d, p->credential));
            if (p->flags & IMG_TLS_INSECURE) fputs(" insecure-skip-verify", d->o);
            for (uint32_t k = 0; k < p->sans.count; k++) fprintf(d->o, " san %s", S(d, sl[p->sans.first + k]));
            fputc('\n', d->o);
        }
        if (s->flags & IMG_CLUSTER_SELF_ENDPOINT) {
            fprintf(d->o, "  endpoint %s %s:%u (its own host)\n", img_enum_name(IMG_E_EP, s->ep_kind), Z(d, c->host), s->ep_port);
            continue;
        }
        if (!s->endpoints.count) fputs("  no endpoints (503 UH)\n", d->o);
        for (uint32_t k = 0; k < s->endpoints.count; k++) {
            const img_endpoint *e = &es[s->endpoints.first + k];
            fprintf(d->o, "  endpoint %s %s", img_enum_name(IMG_E_EP, e->kind), Z(d, e->address));
            if (e->kind != IMG_EP_UNIX) fprintf(d->o, ":%u", e->port);
            if (e->weight != 1) fprintf(d->o, " weight %u", e->weight);
            fputc('\n', d->o);
        }
    }
}

void mc_dump(const rt_image *img, FILE *out)
{
    D d = { img, out, rt_section(img, IMG_S_STRINGS, NULL) };
    rt_image_info info;
    rt_image_info_get(img, &info);
    fprintf(out, "route image format %u.%u, %" PRIu64 " bytes, build %s\n", info.major, info.minor, info.size, info.build_id);
    fputs("sections:", out);
    for (int s = 0; s < IMG_NSECTIONS; s++) fprintf(out, "%s %s %u", s ? "," : "", img_section_name((img_sec)s), info.counts[s]);
    fputc('\n', out);
    dump_views(&d);
    dump_route_tables(&d);
    dump_rowsets(&d);
    dump_actions(&d);
    dump_targets(&d);
    dump_clusters(&d);
    uint32_t nr = cnt(&d, IMG_S_REGEXES);
    if (nr) fputs("\nregexes:\n", out);
    for (uint32_t i = 0; i < nr; i++) {
        fprintf(out, "  regex %u: ", i);
        pstr(&d, SEC(&d, REGEXES, img_str)[i]);
        fputc('\n', out);
    }
}
