/*
** admin.c -- the admin endpoints (admin.h).
*/
#include "admin.h"

#include "dns.h"
#include "regex.h"
#include "stats.h"
#include "table.h"
#include "upstream.h"

#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ADMIN_MAX_CONNS 64
#define ADMIN_TIMEOUT_MS 10000
#define ADMIN_HEAD_MAX 8192

typedef struct aconn {
    struct rt_admin *a;
    int fd;
    char in[ADMIN_HEAD_MAX];
    size_t inlen, last;
    rt_sbuf out;
    size_t off;
    bool writing;
    rt_timer timer;
    struct aconn *next, *prev;
} aconn;

struct rt_admin {
    rt_server *srv;
    rt_loop *l;
    int fd;
    char addr[RT_ADDR_STRLEN];
    aconn conns;                /* list head */
    uint32_t nconns;
};

/* ------------------------------------------------------------ connections */

static void ac_close(aconn *c)
{
    rt_admin *a = c->a;
    rt_timer_stop(a->l, &c->timer);
    rt_file_del(a->l, c->fd);
    close(c->fd);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    a->nconns--;
    rt_sbuf_free(&c->out);
    free(c);
    /* a /config_dump of a large image builds megabytes of JSON: give the
    ** freed memory back rather than keep it resident */
    malloc_trim(0);
}

static void on_ac_timer(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    ac_close(ud);
}

static void ac_flush(aconn *c)
{
    while (c->off < c->out.n) {
        ssize_t n = write(c->fd, c->out.p + c->off, c->out.n - c->off);
        if (n > 0) {
            c->off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            rt_file_mod(c->a->l, c->fd, RT_WRITABLE);
            return;
        }
        break;
    }
    ac_close(c);
}

static void respond(aconn *c, int status, const char *ctype, rt_sbuf *body, bool head)
{
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 503 ? "Service Unavailable" :
                         status == 405 ? "Method Not Allowed" : "Bad Request";
    rt_sbuf_printf(&c->out, "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\ncache-control: no-cache, max-age=0\r\n"
                   "x-content-type-options: nosniff\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n",
                   status, reason, ctype, body ? body->n : 0);
    if (body && body->n && !head) rt_sbuf_add(&c->out, body->p, body->n);
    if (c->out.oom) {
        ac_close(c);
        return;
    }
    c->writing = true;
    ac_flush(c);
}

/* A JSON document (consumed) as text, indented as Envoy's admin does. */
static void put_json(rt_sbuf *out, json_t *root)
{
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (s) {
        rt_sbuf_add(out, s, strlen(s));
        rt_sbuf_add(out, "\n", 1);
        free(s);
    }
    json_decref(root);
}

/* ------------------------------------------------------------ query strings */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The %-decoded value of parameter name in query q[0..n), into out. */
static bool query_param(const char *q, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name), i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && q[j] != '&') j++;
        if (j - i > nl && memcmp(q + i, name, nl) == 0 && q[i + nl] == '=') {
            size_t k = 0;
            for (size_t p = i + nl + 1; p < j && k + 1 < cap; p++) {
                if (q[p] == '%' && p + 2 < j && hexval(q[p + 1]) >= 0 && hexval(q[p + 2]) >= 0) {
                    out[k++] = (char)(hexval(q[p + 1]) * 16 + hexval(q[p + 2]));
                    p += 2;
                } else {
                    out[k++] = q[p] == '+' ? ' ' : q[p];
                }
            }
            out[k] = '\0';
            return true;
        }
        if (j - i == nl && memcmp(q + i, name, nl) == 0) {
            out[0] = '\0';
            return true;
        }
        i = j + 1;
    }
    return false;
}

/* ------------------------------------------------------------ /stats */

static void stats_filtered(rt_server *srv, rt_sbuf *out, bool json, const rx *filter)
{
    rt_sbuf all = { 0 };
    rt_stats_text(srv, &all);
    if (json) rt_sbuf_add(out, "{\"stats\":[", 10);
    bool first = true;
    const char *p = all.p ? all.p : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t nlen = colon ? (size_t)(colon - p) : len;
        if (!filter || rx_partial_match(filter, p, nlen)) {
            if (json) {
                const char *val = colon ? colon + 2 : "0";
                int vlen = colon ? (int)(len - nlen - 2) : 1;
                rt_sbuf_printf(out, "%s{\"name\":\"%.*s\",\"value\":%.*s}", first ? "" : ",", (int)nlen, p, vlen, val);
                first = false;
            } else {
                rt_sbuf_add(out, p, len);
                rt_sbuf_add(out, "\n", 1);
            }
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (json) rt_sbuf_add(out, "]}\n", 3);
    rt_sbuf_free(&all);
}

/* ------------------------------------------------------------ /clusters */

static void clusters_text(rt_server *srv, rt_sbuf *out, bool json)
{
    const rt_image *img = srv->img;
    uint32_t nc = rt_cluster_count(img);
    json_t *arr = json ? json_array() : NULL;
    for (uint32_t c = 0; c < nc; c++) {
        rt_cluster_info ci;
        rt_cluster_get(img, c, &ci);
        if (ci.kind == IMG_CLUSTER_MISSING) continue;
        bool used = false;
        /* hosts as the workers see them, summed by address */
        typedef struct hrow { char addr[RT_ADDR_STRLEN]; const char *hostname; uint32_t weight;
                              uint64_t cx_active, cx_fail, cx_total, rq_active, rq_error, rq_success, rq_timeout, rq_total;
                              bool ejected; } hrow;
        hrow *rows = NULL;
        size_t nrows = 0;
        for (uint32_t i = 0; i < srv->nworkers; i++) {
            rt_worker *w = &srv->workers[i];
            rt_ucluster *uc = rt_up_cluster_peek(w, c);
            if (!uc) continue;
            used = true;
            pthread_mutex_lock(&w->lock);
            for (uint32_t k = 0; k < uc->nhosts; k++) {
                rt_host *h = uc->hosts[k];
                size_t j = 0;
                while (j < nrows && strcmp(rows[j].addr, h->addr_str) != 0) j++;
                if (j == nrows) {
                    hrow *nr = realloc(rows, (nrows + 1) * sizeof *nr);
                    if (!nr) break;
                    rows = nr;
                    memset(&rows[j], 0, sizeof rows[j]);
                    snprintf(rows[j].addr, sizeof rows[j].addr, "%s", h->addr_str);
                    rows[j].hostname = h->hostname;
                    rows[j].weight = h->weight;
                    nrows++;
                }
                rows[j].cx_active += rt_ctr_get(&h->cx_active);
                rows[j].cx_fail += rt_ctr_get(&h->cx_connect_fail);
                rows[j].cx_total += rt_ctr_get(&h->cx_total);
                rows[j].rq_active += rt_ctr_get(&h->rq_active);
                rows[j].rq_error += rt_ctr_get(&h->rq_error);
                rows[j].rq_success += rt_ctr_get(&h->rq_success);
                rows[j].rq_timeout += rt_ctr_get(&h->rq_timeout);
                rows[j].rq_total += rt_ctr_get(&h->rq_total);
                /* ejected by outlier detection (in any worker: each detects on its own) */
                if (atomic_load_explicit(&h->ejected, memory_order_relaxed)) rows[j].ejected = true;
            }
            pthread_mutex_unlock(&w->lock);
        }
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(ci.name.p));
            json_object_set_new(o, "type", json_string(img_enum_name(IMG_E_CLUSTER, ci.kind)));
            json_object_set_new(o, "lb_policy", json_string(img_enum_name(IMG_E_LB, ci.lb)));
            json_object_set_new(o, "used", json_boolean(used));
            json_t *hs = json_array();
            for (size_t j = 0; j < nrows; j++) {
                json_t *h = json_object();
                json_object_set_new(h, "address", json_string(rows[j].addr));
                if (rows[j].hostname) json_object_set_new(h, "hostname", json_string(rows[j].hostname));
                json_object_set_new(h, "weight", json_integer(rows[j].weight));
                json_object_set_new(h, "health_status", json_string(rows[j].ejected ? "UNHEALTHY" : "HEALTHY"));
                if (rows[j].ejected) json_object_set_new(h, "failed_outlier_check", json_true());
                json_object_set_new(h, "cx_active", json_integer((json_int_t)rows[j].cx_active));
                json_object_set_new(h, "cx_connect_fail", json_integer((json_int_t)rows[j].cx_fail));
                json_object_set_new(h, "cx_total", json_integer((json_int_t)rows[j].cx_total));
                json_object_set_new(h, "rq_active", json_integer((json_int_t)rows[j].rq_active));
                json_object_set_new(h, "rq_error", json_integer((json_int_t)rows[j].rq_error));
                json_object_set_new(h, "rq_success", json_integer((json_int_t)rows[j].rq_success));
                json_object_set_new(h, "rq_timeout", json_integer((json_int_t)rows[j].rq_timeout));
                json_object_set_new(h, "rq_total", json_integer((json_int_t)rows[j].rq_total));
                json_array_append_new(hs, h);
            }
            json_object_set_new(o, "host_statuses", hs);
            json_array_append_new(arr, o);
        } else {
            rt_sbuf_printf(out, "%s::default_priority::max_connections::%u\n", ci.name.p, ci.max_connections);
            rt_sbuf_printf(out, "%s::default_priority::max_pending_requests::%u\n", ci.name.p, ci.max_pending_requests);
            rt_sbuf_printf(out, "%s::default_priority::max_requests::%u\n", ci.name.p, ci.max_requests);
            rt_sbuf_printf(out, "%s::default_priority::max_retries::%u\n", ci.name.p, ci.max_retries);
            rt_sbuf_printf(out, "%s::added_via_api::true\n", ci.name.p);
            for (size_t j = 0; j < nrows; j++) {
                const char *n = ci.name.p, *a = rows[j].addr;
                rt_sbuf_printf(out, "%s::%s::cx_active::%llu\n", n, a, (unsigned long long)rows[j].cx_active);
                rt_sbuf_printf(out, "%s::%s::cx_connect_fail::%llu\n", n, a, (unsigned long long)rows[j].cx_fail);
                rt_sbuf_printf(out, "%s::%s::cx_total::%llu\n", n, a, (unsigned long long)rows[j].cx_total);
                rt_sbuf_printf(out, "%s::%s::rq_active::%llu\n", n, a, (unsigned long long)rows[j].rq_active);
                rt_sbuf_printf(out, "%s::%s::rq_error::%llu\n", n, a, (unsigned long long)rows[j].rq_error);
                rt_sbuf_printf(out, "%s::%s::rq_success::%llu\n", n, a, (unsigned long long)rows[j].rq_success);
                rt_sbuf_printf(out, "%s::%s::rq_timeout::%llu\n", n, a, (unsigned long long)rows[j].rq_timeout);
                rt_sbuf_printf(out, "%s::%s::rq_total::%llu\n", n, a, (unsigned long long)rows[j].rq_total);
                rt_sbuf_printf(out, "%s::%s::hostname::%s\n", n, a, rows[j].hostname ? rows[j].hostname : "");
                rt_sbuf_printf(out, "%s::%s::health_flags::%s\n", n, a, rows[j].ejected ? "/failed_outlier_check" : "healthy");
                rt_sbuf_printf(out, "%s::%s::weight::%u\n", n, a, rows[j].weight);
            }
        }
        free(rows);
    }
    if (json) {
        json_t *root = json_object();
        json_object_set_new(root, "cluster_statuses", arr);
        put_json(out, root);
    }
}

/* ------------------------------------------------------------ /config_dump */

static json_t *jstr(rt_str s) { return json_stringn(s.p, s.n); }

/* A cluster's DestinationRule settings, with Envoy's field names. */
static void policy_json(const rt_image *img, uint32_t c, const rt_cluster_info *ci, json_t *o)
{
    json_t *cb = json_object();
    json_object_set_new(cb, "max_connections", json_integer(ci->max_connections));
    json_object_set_new(cb, "max_pending_requests", json_integer(ci->max_pending_requests));
    json_object_set_new(cb, "max_requests", json_integer(ci->max_requests));
    json_object_set_new(cb, "max_retries", json_integer(ci->max_retries));
    json_object_set_new(o, "circuit_breakers", cb);
    if (ci->max_requests_per_connection) json_object_set_new(o, "max_requests_per_connection", json_integer(ci->max_requests_per_connection));
    if (ci->idle_timeout_set) json_object_set_new(o, "idle_timeout_ms", json_integer(ci->idle_timeout_ms));
    if (ci->max_connection_duration_set) json_object_set_new(o, "max_connection_duration_ms", json_integer(ci->max_connection_duration_ms));
    if (ci->outlier) {
        json_t *od = json_object();
        json_object_set_new(od, "consecutive_5xx", json_integer(ci->consecutive_5xx));
        json_object_set_new(od, "enforcing_consecutive_5xx", json_integer(ci->enforcing_5xx));
        json_object_set_new(od, "consecutive_gateway_failure", json_integer(ci->consecutive_gateway));
        json_object_set_new(od, "enforcing_consecutive_gateway_failure", json_integer(ci->enforcing_gateway));
        json_object_set_new(od, "interval_ms", json_integer(ci->interval_ms));
        json_object_set_new(od, "base_ejection_time_ms", json_integer(ci->base_ejection_ms));
        json_object_set_new(od, "max_ejection_percent", json_integer(ci->max_ejection_percent));
        json_object_set_new(od, "healthy_panic_threshold", json_integer(ci->min_health_percent));
        json_object_set_new(o, "outlier_detection", od);
    }
    if (ci->hash_kind != IMG_HASH_NONE) {
        json_t *h = json_object();
        json_object_set_new(h, "kind", json_string(img_enum_name(IMG_E_HASH, ci->hash_kind)));
        if (ci->hash_name.n) json_object_set_new(h, "name", jstr(ci->hash_name));
        json_object_set_new(h, ci->lb == IMG_LB_MAGLEV ? "table_size" : "minimum_ring_size", json_integer(ci->ring_size));
        json_object_set_new(o, "hash_policy", h);
    }
    if (ci->tls != IMG_CTLS_NONE) {
        json_t *t = json_object();
        json_object_set_new(t, "mode", json_string(img_enum_name(IMG_E_CTLS, ci->tls)));
        if (ci->sni.n) json_object_set_new(t, "sni", jstr(ci->sni));
        if (ci->ca_certificates.n) json_object_set_new(t, "ca_certificates", jstr(ci->ca_certificates));
        if (ci->insecure_skip_verify) json_object_set_new(t, "insecure_skip_verify", json_true());
        json_t *sans = json_array();
        for (uint32_t i = 0; i < ci->nsans; i++) json_array_append_new(sans, jstr(rt_cluster_san(img, c, i)));
        json_object_set_new(t, "subject_alt_names", sans);
        json_object_set_new(o, "transport_socket", t);
    }
}


/* A route's or chain's destinations: one cluster, or a weighted split. */
static json_t *clusters_json(const rt_image *img, uint32_t cluster, uint32_t target)
{
    json_t *cs = json_array();
    uint32_t n = target != IMG_NONE ? rt_target_count(img, target) : cluster != IMG_NONE;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t c = cluster, w = 1;
        if (target != IMG_NONE) {
            rt_weighted wt = rt_target_at(img, target, k);
            c = wt.cluster;
            w = wt.weight;
        }
        rt_cluster_info ci;
        rt_cluster_get(img, c, &ci);
        json_t *o = json_object();
        json_object_set_new(o, "name", jstr(ci.name));
        json_object_set_new(o, "weight", json_integer(w));
        json_array_append_new(cs, o);
    }
    return cs;
}

/* The routes of one virtual host, from the image's records: the row
** shapes of its row set and its own target words (image.h, format 2).
** This is the only place that reads row records directly (table.h has no
** iterator over a virtual host's rows). */
static json_t *dump_routes(const rt_image *img, uint32_t vhost)
{
    json_t *arr = json_array();
    uint32_t n = 0;
    const img_vhost *vh = (const img_vhost *)rt_section(img, IMG_S_VHOSTS, &n) + vhost;
    const img_rowset *rs = (const img_rowset *)rt_section(img, IMG_S_ROWSETS, &n) + vh->rowset;
    const img_row *rows = rt_section(img, IMG_S_ROWS, &n);
    const uint32_t *words = rt_section(img, IMG_S_ROUTES, &n);
    const img_matcher *ms = rt_section(img, IMG_S_MATCHERS, &n);
    const img_action *acts = rt_section(img, IMG_S_ACTIONS, &n);
    const img_str *regexes = rt_section(img, IMG_S_REGEXES, &n);
    const img_src *origins = rt_section(img, IMG_S_ORIGINS, &n);
    for (uint32_t i = 0; i < rs->rows.count; i++) {
        const img_row *r = &rows[rs->rows.first + i];
        uint32_t ri = vh->routes + i, kind = r->flags & IMG_ROW_KIND_MASK;
        json_t *o = json_object();
        json_t *m = json_object();
        rt_str path = kind == IMG_PATH_REGEX ? rt_string(img, regexes[r->path]) : rt_string(img, (img_str){ r->path, r->path_len });
        json_object_set_new(m, img_enum_name(IMG_E_PATH, kind), jstr(path));
        if (r->flags & IMG_ROW_IGNORE_CASE) json_object_set_new(m, "case_sensitive", json_false());
        if (r->nmatchers) {
            json_t *hs = json_array();
            for (uint32_t k = 0; k < r->nmatchers; k++) {
                const img_matcher *x = &ms[r->matchers + k];
                json_t *h = json_object();
                json_object_set_new(h, x->target == IMG_TARGET_QUERY ? "query_parameter" : "header", jstr(rt_string(img, x->name)));
                json_object_set_new(h, img_enum_name(IMG_E_OP, x->op), jstr(rt_string(img, x->value)));
                if (x->flags & IMG_M_INVERT) json_object_set_new(h, "invert_match", json_true());
                json_array_append_new(hs, h);
            }
            json_object_set_new(m, "matchers", hs);
        }
        json_object_set_new(o, "match", m);
        rt_str name = rt_string(img, origins[r->src].name);
        if (name.n) json_object_set_new(o, "name", jstr(name));
        const img_action *a = &acts[r->action];
        json_object_set_new(o, "action", json_string(img_enum_name(IMG_E_ACTION, a->kind)));
        rt_decision d;
        memset(&d, 0, sizeof d);
        d.action_rec = r->action;
        d.route = ri;
        d.vhost = vhost;
        d.vs = vh->vs;
        d.src = &origins[r->src];
        d.target = IMG_NONE;
        d.wcluster = IMG_NONE;
        uint32_t w = words[ri];
        if (a->kind == IMG_ACTION_ROUTE && w != IMG_NONE) {
            bool split = IMG_TW_TAG(w) == IMG_TW_SPLIT;
            if (split) d.target = IMG_TW_INDEX(w);
            json_object_set_new(o, "clusters", clusters_json(img, split ? IMG_NONE : IMG_TW_INDEX(w), d.target));
            rt_policy p;
            rt_policy_get(img, &d, &p);
            json_object_set_new(o, "timeout_ms", json_integer(p.timeout_ms));
            if (p.retry.enabled) {
                json_t *rp = json_object();
                json_object_set_new(rp, "num_retries", json_integer(p.retry.num_retries));
                json_object_set_new(rp, "retry_on", jstr(p.retry.retry_on));
                if (p.retry.per_try_timeout_ms) json_object_set_new(rp, "per_try_timeout_ms", json_integer(p.retry.per_try_timeout_ms));
                json_object_set_new(o, "retry_policy", rp);
            }
            if (p.nreq_headers || p.nresp_headers) {
                json_t *hr = json_array();
                for (uint32_t k = 0; k < p.nreq_headers + p.nresp_headers; k++) {
                    bool resp = k >= p.nreq_headers;
                    rt_header_op op = resp ? rt_resp_header_op(img, &d, k - p.nreq_headers) : rt_req_header_op(img, &d, k);
                    json_t *h = json_object();
                    json_object_set_new(h, "on", json_string(resp ? "response" : "request"));
                    json_object_set_new(h, "op", json_string(img_enum_name(IMG_E_HOP, op.op)));
                    json_object_set_new(h, "name", jstr(op.name));
                    if (op.op != IMG_HOP_REMOVE) json_object_set_new(h, "value", jstr(op.value));
                    json_array_append_new(hr, h);
                }
                json_object_set_new(o, "headers", hr);
            }
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static void config_dump(rt_server *srv, rt_sbuf *out)
{
    const rt_image *img = srv->img;
    json_t *root = json_object();
    rt_image_info ii;
    rt_image_info_get(img, &ii);
    json_t *im = json_object();
    json_object_set_new(im, "path", json_string(srv->o.image_path));
    json_object_set_new(im, "build_id", json_string(ii.build_id));
    char ver[16];
    snprintf(ver, sizeof ver, "%u.%u", ii.major, ii.minor);
    json_object_set_new(im, "format", json_string(ver));
    json_object_set_new(im, "size", json_integer((json_int_t)ii.size));
    json_object_set_new(root, "image", im);
    rt_view_info vi;
    rt_view_info_get(img, srv->view, &vi);
    json_t *v = json_object();
    json_object_set_new(v, "kind", json_string(img_enum_name(IMG_E_VIEW, vi.kind)));
    json_object_set_new(v, "name", jstr(vi.name));
    json_object_set_new(v, "namespace", jstr(vi.ns));
    json_t *labels = json_object();
    for (uint32_t i = 0; i < vi.nlabels; i++) {
        rt_label lb = rt_view_label(img, srv->view, i);
        json_object_set_new(labels, lb.key, json_string(lb.value));
    }
    json_object_set_new(v, "labels", labels);
    json_t *gws = json_array();
    for (uint32_t i = 0; i < vi.ngateways; i++) json_array_append_new(gws, jstr(rt_view_gateway_name(img, srv->view, i)));
    json_object_set_new(v, "gateways", gws);
    json_object_set_new(root, "view", v);
    /* listeners and their filter chains; route tables they use */
    json_t *ls = json_array();
    uint32_t ntables = 0;
    const img_route_table *tables = rt_section(img, IMG_S_ROUTETABLES, &ntables);
    bool *used = calloc(ntables ? ntables : 1, sizeof *used);
    for (uint32_t i = 0; i < srv->nls; i++) {
        const rt_lspec *sp = &srv->ls[i];
        rt_listener_info li;
        rt_listener_info_get(img, sp->il, &li);
        json_t *l = json_object();
        json_object_set_new(l, "port", json_integer(li.port));
        json_object_set_new(l, "kind", json_string(img_enum_name(IMG_E_LISTENER, li.kind)));
        json_object_set_new(l, "address", json_string(sp->addr_str));
        json_object_set_new(l, "bind", jstr(li.bind));
        json_t *chains = json_array();
        for (uint32_t k = 0; k < li.nchains; k++) {
            const rt_chain *c = rt_listener_chain_at(img, sp->il, k);
            rt_chain_info ci;
            rt_chain_info_get(img, c, &ci);
            json_t *co = json_object();
            json_object_set_new(co, "kind", json_string(img_enum_name(IMG_E_CHAIN, ci.kind)));
            json_object_set_new(co, "tls", json_string(img_enum_name(IMG_E_TLS, ci.tls)));
            json_object_set_new(co, "protocol", json_string(img_enum_name(IMG_E_PROTO, ci.protocol)));
            if (ci.server.n) json_object_set_new(co, "server", jstr(ci.server));
            json_t *sni = json_array();
            for (uint32_t j = 0; j < ci.nsni; j++) json_array_append_new(sni, jstr(rt_chain_sni(img, c, j)));
            json_object_set_new(co, "server_names", sni);
            if (ci.kind == IMG_CHAIN_HTTP) {
                json_object_set_new(co, "route_config", jstr(ci.route_table));
                for (uint32_t t = 0; t < ntables; t++)
                    if (rt_string(img, tables[t].name).p == ci.route_table.p) used[t] = true;
            } else {
                rt_decision d;
                rt_route_tcp(img, c, 0, &d);
                json_object_set_new(co, "tcp_proxy", clusters_json(img, d.target == IMG_NONE ? d.cluster : IMG_NONE, d.target));
            }
            json_array_append_new(chains, co);
        }
        json_object_set_new(l, "filter_chains", chains);
        json_array_append_new(ls, l);
    }
    json_object_set_new(root, "listeners", ls);
    json_t *rts = json_array();
    for (uint32_t t = 0; t < ntables; t++) {
        if (!used[t]) continue;
        json_t *rt = json_object();
        json_object_set_new(rt, "name", jstr(rt_string(img, tables[t].name)));
        json_t *vhs = json_array();
        for (uint32_t k = 0; k < tables[t].vhosts.count; k++) {
            uint32_t vh = tables[t].vhosts.first + k;
            uint32_t port = 0;
            rt_str dom = rt_vhost_domain(img, vh, &port);
            json_t *vo = json_object();
            char nm[600];
            snprintf(nm, sizeof nm, "%.*s:%u", (int)dom.n, dom.p, port);
            json_object_set_new(vo, "name", json_string(nm));
            json_t *doms = json_array();
            json_array_append_new(doms, jstr(dom));
            json_object_set_new(vo, "domains", doms);
            json_object_set_new(vo, "routes", dump_routes(img, vh));
            json_array_append_new(vhs, vo);
        }
        json_object_set_new(rt, "virtual_hosts", vhs);
        json_array_append_new(rts, rt);
    }
    free(used);
    json_object_set_new(root, "route_configs", rts);
    json_t *cls = json_array();
    for (uint32_t c = 0; c < rt_cluster_count(img); c++) {
        rt_cluster_info ci;
        rt_cluster_get(img, c, &ci);
        json_t *o = json_object();
        json_object_set_new(o, "name", jstr(ci.name));
        json_object_set_new(o, "type", json_string(img_enum_name(IMG_E_CLUSTER, ci.kind)));
        if (ci.kind != IMG_CLUSTER_MISSING) {
            json_object_set_new(o, "lb_policy", json_string(img_enum_name(IMG_E_LB, ci.lb)));
            json_object_set_new(o, "connect_timeout_ms", json_integer(ci.connect_timeout_ms));
            json_object_set_new(o, "protocol", json_string(img_enum_name(IMG_E_PROTO, ci.protocol)));
            policy_json(img, c, &ci, o);
            json_t *eps = json_array();
            for (uint32_t i = 0; i < ci.nendpoints; i++) {
                rt_endpoint_info e;
                rt_endpoint_get(img, c, i, &e);
                json_t *eo = json_object();
                json_object_set_new(eo, "kind", json_string(img_enum_name(IMG_E_EP, e.kind)));
                json_object_set_new(eo, "address", jstr(e.address));
                json_object_set_new(eo, "port", json_integer(e.port));
                json_object_set_new(eo, "weight", json_integer(e.weight));
                json_array_append_new(eps, eo);
            }
            json_object_set_new(o, "endpoints", eps);
        }
        json_array_append_new(cls, o);
    }
    json_object_set_new(root, "clusters", cls);
    put_json(out, root);
}

/* ------------------------------------------------------------ dispatch */

static void server_info(rt_server *srv, rt_sbuf *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string("meshrt " MESH_VERSION));
    json_object_set_new(o, "state", json_string(atomic_load(&srv->ready) ? "LIVE" : "PRE_INITIALIZING"));
    json_object_set_new(o, "hot_restart_version", json_string("disabled"));
    char up[32];
    snprintf(up, sizeof up, "%llus", (unsigned long long)((now - srv->start_mono_ms) / 1000));
    json_object_set_new(o, "uptime_current_epoch", json_string(up));
    json_object_set_new(o, "concurrency", json_integer(srv->nworkers));
    json_object_set_new(o, "command_line", json_string(srv->cmdline));
    json_object_set_new(o, "local_address", json_string(srv->local_ip));
    json_object_set_new(o, "node", json_string(srv->workload));
    put_json(out, o);
}

static void handle(aconn *c, const rt_h1_request *r)
{
    rt_server *srv = c->a->srv;
    bool head = r->method_id == RT_H1_M_HEAD;
    rt_sbuf body = { 0 };
    if (r->method_id != RT_H1_M_GET && !head) {
        rt_sbuf_printf(&body, "method not allowed\n");
        respond(c, 405, "text/plain", &body, false);
        rt_sbuf_free(&body);
        return;
    }
    const char *p = r->path;
    size_t pn = r->path_len;
    const char *q = memchr(p, '?', pn);
    size_t qn = 0;
    if (q) {
        qn = pn - (size_t)(q - p) - 1;
        pn = (size_t)(q - p);
        q++;
    }
    char fmt[32] = "", filt[512] = "";
    if (q) {
        query_param(q, qn, "format", fmt, sizeof fmt);
        query_param(q, qn, "filter", filt, sizeof filt);
    }
    bool json = !strcmp(fmt, "json");
#define IS(lit) (pn == sizeof(lit) - 1 && memcmp(p, lit, pn) == 0)
    if (IS("/ready")) {
        bool ready = atomic_load(&srv->ready);
        rt_sbuf_printf(&body, ready ? "LIVE\n" : "PRE_INITIALIZING\n");
        respond(c, ready ? 200 : 503, "text/plain; charset=UTF-8", &body, head);
    } else if (IS("/stats")) {
        rx *re = NULL;
        if (filt[0]) {
            char err[RX_ERR_LEN];
            re = rx_compile(filt, strlen(filt), err, sizeof err);
            if (!re) {
                rt_sbuf_printf(&body, "Invalid regex: %s\n", err);
                respond(c, 400, "text/plain; charset=UTF-8", &body, head);
                rt_sbuf_free(&body);
                return;
            }
        }
        stats_filtered(srv, &body, json, re);
        rx_free(re);
        respond(c, 200, json ? "application/json" : "text/plain; charset=UTF-8", &body, head);
    } else if (IS("/stats/prometheus")) {
        rt_stats_prometheus(srv, &body);
        respond(c, 200, "text/plain; version=0.0.4", &body, head);
    } else if (IS("/config_dump")) {
        config_dump(srv, &body);
        respond(c, 200, "application/json", &body, head);
    } else if (IS("/clusters")) {
        clusters_text(srv, &body, json);
        respond(c, 200, json ? "application/json" : "text/plain; charset=UTF-8", &body, head);
    } else if (IS("/server_info")) {
        server_info(srv, &body);
        respond(c, 200, "application/json", &body, head);
    } else if (IS("/listeners")) {
        for (uint32_t i = 0; i < srv->nls; i++) rt_sbuf_printf(&body, "%u::%s\n", srv->ls[i].port, srv->ls[i].addr_str);
        respond(c, 200, "text/plain; charset=UTF-8", &body, head);
    } else {
        rt_sbuf_printf(&body, "admin commands are:\n  /clusters\n  /config_dump\n  /listeners\n  /ready\n  /server_info\n"
                              "  /stats\n  /stats/prometheus\n");
        respond(c, IS("/") ? 200 : 404, "text/plain; charset=UTF-8", &body, head);
    }
#undef IS
    rt_sbuf_free(&body);
}

static void on_ac(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l;
    aconn *c = ud;
    if (c->writing) {
        if (mask & (RT_WRITABLE | RT_ERROR | RT_HUP)) ac_flush(c);
        return;
    }
    ssize_t n = read(fd, c->in + c->inlen, sizeof c->in - c->inlen);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        ac_close(c);
        return;
    }
    c->inlen += (size_t)n;
    rt_h1_header hdrs[32];
    rt_h1_request r;
    rt_h1_request_init(&r, hdrs, 32);
    int rc = rt_h1_parse_request(&r, c->in, c->inlen, c->last, sizeof c->in);
    if (rc == -2) {
        c->last = c->inlen;
        if (c->inlen < sizeof c->in) return;
        rc = -1;
    }
    if (rc < 0) {
        rt_sbuf body = { 0 };
        rt_sbuf_printf(&body, "bad request\n");
        respond(c, 400, "text/plain", &body, false);
        rt_sbuf_free(&body);
        return;
    }
    rt_file_mod(c->a->l, c->fd, RT_NONE);
    handle(c, &r);
}

static void on_accept(rt_loop *l, int lfd, void *ud, int mask)
{
    (void)mask;
    rt_admin *a = ud;
    for (int i = 0; i < 16; i++) {
        int fd = rt_net_accept(lfd, NULL, NULL);
        if (fd < 0) return;
        if (a->nconns >= ADMIN_MAX_CONNS) {
            close(fd);
            continue;
        }
        aconn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->a = a;
        c->fd = fd;
        if (rt_file_add(l, fd, RT_READABLE, on_ac, c) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = a->conns.next;
        c->prev = &a->conns;
        a->conns.next->prev = c;
        a->conns.next = c;
        a->nconns++;
        rt_timer_init(&c->timer, on_ac_timer, c);
        rt_timer_start(l, &c->timer, ADMIN_TIMEOUT_MS, on_ac_timer, c);
    }
}

rt_admin *rt_admin_start(rt_server *srv, rt_loop *l, const rt_addr *addr, char err[RT_ERR_LEN])
{
    rt_admin *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, RT_ERR_LEN, "out of memory");
        return NULL;
    }
    a->srv = srv;
    a->l = l;
    a->conns.next = a->conns.prev = &a->conns;
    char e2[RT_ERR_LEN];
    a->fd = rt_net_listen(addr, 128, 0, e2);
    if (a->fd < 0) {
        snprintf(err, RT_ERR_LEN, "admin: %.240s", e2);
        free(a);
        return NULL;
    }
    rt_addr bound;
    if (rt_net_local_addr(a->fd, &bound, NULL) == 0) rt_addr_format(&bound, a->addr, sizeof a->addr);
    if (rt_file_add(l, a->fd, RT_READABLE, on_accept, a) < 0) {
        snprintf(err, RT_ERR_LEN, "admin: cannot watch the listener");
        close(a->fd);
        free(a);
        return NULL;
    }
    return a;
}

const char *rt_admin_addr(const rt_admin *a) { return a->addr; }

void rt_admin_free(rt_admin *a)
{
    if (!a) return;
    while (a->conns.next != &a->conns) ac_close(a->conns.next);
    rt_file_del(a->l, a->fd);
    close(a->fd);
    free(a);
}
