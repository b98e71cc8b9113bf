/*
** table.c -- lookups over a verified route image (table.h). Nothing here
** checks bounds: img_verify() (image.c) checked every index and range
** once, when the image was opened. Nothing here allocates.
**
** HTTP: Envoy's RouteMatcher::findVirtualHost (Host lowercased, :port
** stripped, exact hash, suffix wildcards longest first, "*"), then
** VirtualHostImpl::getRouteFromEntries with first-match-wins, except that
** the candidate rows come from the row set's index instead of a scan: the
** exact-path list, the prefix lists met while walking the trie along the
** path, and the rows without a literal. Each candidate list is ascending;
** the lowest fully matching row over all lists is the answer, and a list
** is abandoned as soon as its rows pass the best row found so far.
*/
#include "table.h"
#include "regex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct rt_image {
    img_map m;
    struct rx **rx;         /* one per REGEXES record */
    void *map;              /* our mmap, or NULL for rt_image_open_mem */
    size_t maplen;
    char *cnames;           /* cluster names, outbound|PORT|SUBSET|HOST, NUL-separated */
    uint32_t *cname_off;    /* per cluster: offset into cnames (one more: the end) */
};

#define SEC(img, NAME, type) ((const type *)(img)->m.sec[IMG_S_##NAME])
#define CNT(img, NAME) ((img)->m.count[IMG_S_##NAME])

static const char *S(const rt_image *img, img_str s) { return (const char *)img->m.sec[IMG_S_STRINGS] + s.off; }
static const char *SZ(const rt_image *img, uint32_t off) { return (const char *)img->m.sec[IMG_S_STRINGS] + off; }
static rt_str sz_str(const rt_image *img, uint32_t off)
{
    const char *p = SZ(img, off);
    rt_str r = { p, (uint32_t)strlen(p) };
    return r;
}

rt_str rt_string(const rt_image *img, img_str s)
{
    rt_str r = { S(img, s), s.len };
    return r;
}

/* ------------------------------------------------------------ open / close */

/* Cluster names are not stored: they are outbound|PORT|SUBSET|HOST of
** each cluster's host and shape. They are written out once here, so that
** rt_cluster_get can hand out strings that live as long as the image. */
static bool cluster_names(rt_image *img)
{
    uint32_t n = CNT(img, CLUSTERS);
    const img_cluster *cs = SEC(img, CLUSTERS, img_cluster);
    const img_cluster_shape *sh = SEC(img, CSHAPES, img_cluster_shape);
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += sizeof "outbound|65535||" + strlen(SZ(img, sh[cs[i].shape].subset)) + strlen(SZ(img, cs[i].host));
    img->cnames = malloc(total + 1);
    img->cname_off = malloc(((size_t)n + 1) * sizeof *img->cname_off);
    if (!img->cnames || !img->cname_off) return false;
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        const img_cluster_shape *s = &sh[cs[i].shape];
        img->cname_off[i] = (uint32_t)at;
        char *p = img->cnames + at;
        memcpy(p, "outbound|", 9);
        p += 9;
        char digits[8];
        int nd = 0;
        uint32_t port = s->port;
        do digits[nd++] = (char)('0' + port % 10); while ((port /= 10) && nd < 8);
        while (nd) *p++ = digits[--nd];
        *p++ = '|';
        const char *sub = SZ(img, s->subset), *host = SZ(img, cs[i].host);
        size_t sl = strlen(sub), hl = strlen(host);
        memcpy(p, sub, sl);
        p += sl;
        *p++ = '|';
        memcpy(p, host, hl + 1);
        p += hl + 1;
        at = (size_t)(p - img->cnames);
    }
    img->cname_off[n] = (uint32_t)at;
    return at < UINT32_MAX;
}

static void free_image(rt_image *img)
{
    img_free_regexes(img->rx, CNT(img, REGEXES));
    free(img->cnames);
    free(img->cname_off);
    free(img);
}

static rt_image *open_verified(const void *p, size_t n, char *err, size_t errlen)
{
    rt_image *img = calloc(1, sizeof *img);
    if (!img) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!img_verify(p, n, &img->m, &img->rx, err, errlen)) {
        free(img);
        return NULL;
    }
    if (!cluster_names(img)) {
        snprintf(err, errlen, "out of memory");
        free_image(img);
        return NULL;
    }
    return img;
}

rt_image *rt_image_open_mem(const void *p, size_t n, char *err, size_t errlen)
{
    return open_verified(p, n, err, errlen);
}

/* Verify a mapping the image then owns (unmapped by rt_image_close). */
static rt_image *open_mapped(void *p, size_t n, char *err, size_t errlen)
{
    rt_image *img = open_verified(p, n, err, errlen);
    if (!img) {
        munmap(p, n);
        return NULL;
    }
    img->map = p;
    img->maplen = n;
    return img;
}

/* Open an image file: its descriptor and size, or -1 with err. */
static int open_file(const char *path, size_t *size, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        snprintf(err, errlen, "at offset 0: truncated image: 0 bytes, the header alone is %u", IMG_HEADER_SIZE);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > IMG_MAX_SIZE) {
        snprintf(err, errlen, "at offset 0: image larger than 4 GiB");
        close(fd);
        return -1;
    }
    *size = (size_t)st.st_size;
    return fd;
}

rt_image *rt_image_open(const char *path, char *err, size_t errlen)
{
    size_t n;
    int fd = open_file(path, &n, err, errlen);
    if (fd < 0) return NULL;
    void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map: %s", strerror(errno));
        return NULL;
    }
    return open_mapped(p, n, err, errlen);
}

rt_image *rt_image_read(const char *path, char *err, size_t errlen)
{
    size_t n;
    int fd = open_file(path, &n, err, errlen);
    if (fd < 0) return NULL;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot allocate %zu bytes: %s", n, strerror(errno));
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    int rerr = errno;
    close(fd);
    if (got < n) {
        snprintf(err, errlen, "read %zu of %zu bytes: %s", got, n, got ? "the file shrank while read" : strerror(rerr));
        munmap(p, n);
        return NULL;
    }
    mprotect(p, n, PROT_READ);
    return open_mapped(p, n, err, errlen);
}

void rt_image_close(rt_image *img)
{
    if (!img) return;
    if (img->map) munmap(img->map, img->maplen);
    free_image(img);
}

void rt_image_info_get(const rt_image *img, rt_image_info *out)
{
    const img_header *h = (const img_header *)img->m.base;
    memset(out, 0, sizeof *out);
    out->size = img->m.size;
    out->major = h->major;
    out->minor = h->minor;
    for (int i = 0; i < 16; i++) snprintf(out->build_id + 2 * i, 3, "%02x", h->build_id[i]);
    for (int s = 0; s < IMG_NSECTIONS; s++) out->counts[s] = img->m.count[s];
}

const void *rt_image_base(const rt_image *img) { return img->m.base; }

const void *rt_section(const rt_image *img, img_sec s, uint32_t *count)
{
    if (count) *count = img->m.count[s];
    return img->m.sec[s];
}

/* ------------------------------------------------------------ host tables */

/* key[0..n) equals the NUL-terminated string at off: the same n bytes, no
** NUL among them, the NUL right after. Whole-block compares when n bytes
** after off are still string bytes, else byte by byte up to the NUL. */
static bool key_eq(const rt_image *img, uint32_t off, const char *key, size_t n)
{
    const char *s = SZ(img, off);
    if ((uint64_t)off + n < CNT(img, STRINGS)) return s[n] == 0 && memcmp(s, key, n) == 0 && !memchr(key, 0, n);
    for (size_t i = 0; i < n; i++)
        if (s[i] != key[i] || !s[i]) return false;
    return s[n] == 0;
}

/* One cache line per bucket: the tags of its used slots compared at once
** (no branch per slot), then the key of each slot whose tag matched. */
static uint32_t ht_probe(const rt_image *img, const img_host_table *ht, const char *key, size_t n, uint32_t kind, uint64_t h)
{
    uint32_t nb = ht->buckets.count, want = kind == IMG_HOST_SUFFIX ? IMG_HB_SUFFIX : 0;
    uint16_t tag = (uint16_t)(h >> 48);
    const img_hbucket *bk = SEC(img, HBUCKETS, img_hbucket) + ht->buckets.first;
    for (uint32_t b = img_home(h, nb);; b = b + 1 == nb ? 0 : b + 1) {
        const img_hbucket *k = &bk[b];
        unsigned m = 0;
        for (unsigned i = 0; i < IMG_HB_SLOTS; i++) m |= (unsigned)(k->tag[i] == tag) << i;
        m &= (1u << k->count) - 1;
        while (m) {
            unsigned i = (unsigned)__builtin_ctz(m);
            m &= m - 1;
            if ((k->target[i] & IMG_HB_SUFFIX) == want && key_eq(img, k->key[i], key, n)) return k->target[i] & ~IMG_HB_SUFFIX;
        }
        if (!(k->flags & IMG_HB_OVERFLOW)) return IMG_NONE;
    }
}

static uint32_t ht_get(const rt_image *img, const img_host_table *ht, const char *key, size_t n, uint32_t kind)
{
    return ht_probe(img, ht, key, n, kind, img_hash(key, n, kind));
}

/* exact name, then suffix wildcards longest first (shorter than the name), then "*" */
static uint32_t ht_find_hashed(const rt_image *img, const img_host_table *ht, const char *name, size_t n, uint64_t h)
{
    uint32_t t = ht_probe(img, ht, name, n, IMG_HOST_EXACT, h);
    if (t != IMG_NONE) return t;
    const uint32_t *lens = SEC(img, U32LIST, uint32_t) + ht->lens.first;
    for (uint32_t i = 0; i < ht->lens.count; i++) {
        if (lens[i] >= n) continue;
        t = ht_get(img, ht, name + n - lens[i], lens[i], IMG_HOST_SUFFIX);
        if (t != IMG_NONE) return t;
    }
    return ht->dflt;
}

static uint32_t ht_find(const rt_image *img, uint32_t table, const char *name, size_t n)
{
    const img_host_table *ht = SEC(img, HOSTTABLES, img_host_table) + table;
    return ht_find_hashed(img, ht, name, n, img_hash(name, n, IMG_HOST_EXACT));
}

/* Host header to the key Envoy matches: port stripped (IPv6 aware), lowercase.
** Returns the length, or SIZE_MAX when longer than the buffer. */
static size_t host_key(const char *h, size_t n, char *buf, size_t cap)
{
    /* the last ':' starts the port unless a ']' (IPv6 literal) follows it */
    const char *colon = n ? memrchr(h, ':', n) : NULL;
    if (colon && !memchr(colon, ']', n - (size_t)(colon - h))) n = (size_t)(colon - h);
    if (n >= cap) return SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        buf[i] = (char)(c + ((unsigned)(c - 'A') < 26u ? 32 : 0));     /* no branch: the loop vectorizes */
    }
    buf[n] = '\0';
    return n;
}

/* ------------------------------------------------------------ views, listeners, chains */

uint32_t rt_view_count(const rt_image *img) { return CNT(img, VIEWS); }
const rt_view *rt_view_at(const rt_image *img, uint32_t i) { return i < CNT(img, VIEWS) ? SEC(img, VIEWS, img_view) + i : NULL; }

static bool str_eq(const rt_image *img, img_str s, const char *z)
{
    return z && strlen(z) == s.len && memcmp(S(img, s), z, s.len) == 0;
}

static bool view_has_label(const rt_image *img, const img_view *v, const rt_label *l)
{
    const img_label *ls = SEC(img, LABELS, img_label) + v->labels.first;
    for (uint32_t i = 0; i < v->labels.count; i++)
        if (str_eq(img, ls[i].key, l->key)) return str_eq(img, ls[i].value, l->value);
    return false;
}

const rt_view *rt_view_workload(const rt_image *img, const char *ns, const rt_label *labels, uint32_t n)
{
    const img_view *found = NULL;
    uint32_t nsuper = 0;
    for (uint32_t i = 0; i < CNT(img, VIEWS); i++) {
        const img_view *v = SEC(img, VIEWS, img_view) + i;
        if (v->kind != IMG_VIEW_WORKLOAD || !str_eq(img, v->ns, ns)) continue;
        bool all = true;
        for (uint32_t k = 0; k < n && all; k++) all = view_has_label(img, v, &labels[k]);
        if (!all) continue;
        if (v->labels.count == n) return v;         /* exactly these labels (no duplicates in input) */
        found = v;
        nsuper++;
    }
    return nsuper == 1 ? found : NULL;
}

const rt_view *rt_view_gateway(const rt_image *img, const char *ns_name)
{
    for (uint32_t i = 0; i < CNT(img, VIEWS); i++) {
        const img_view *v = SEC(img, VIEWS, img_view) + i;
        if (v->kind == IMG_VIEW_GATEWAY && str_eq(img, v->name, ns_name)) return v;
    }
    return NULL;
}

const rt_view *rt_view_mesh(const rt_image *img)
{
    for (uint32_t i = 0; i < CNT(img, VIEWS); i++) {
        const img_view *v = SEC(img, VIEWS, img_view) + i;
        if (v->kind == IMG_VIEW_MESH) return v;
    }
    return NULL;
}

const rt_view *rt_view_select(const rt_image *img, bool mesh, const char *gateway, const char *ns,
                              const rt_label *labels, uint32_t n)
{
    if (mesh) return rt_view_mesh(img);
    if (gateway) return rt_view_gateway(img, gateway);
    return rt_view_workload(img, ns ? ns : "istio-system", labels, n);
}

void rt_view_list(const rt_image *img, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < rt_view_count(img) && n + 1 < cap; i++) {
        rt_view_info vi;
        rt_view_info_get(img, rt_view_at(img, i), &vi);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s %s", i ? "; " : "", img_enum_name(IMG_E_VIEW, vi.kind), vi.name.p);
        if (n >= cap) n = cap - 1;
    }
}

bool rt_labels_parse(char *spec, rt_label *labels, uint32_t *n)
{
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || *n == RT_MAX_LABELS) return false;
        *eq = '\0';
        labels[*n].key = tok;
        labels[*n].value = eq + 1;
        (*n)++;
    }
    return *n > 0;
}

void rt_view_info_get(const rt_image *img, const rt_view *v, rt_view_info *out)
{
    out->kind = v->kind;
    out->name = rt_string(img, v->name);
    out->ns = rt_string(img, v->ns);
    out->nlabels = v->labels.count;
    out->ngateways = v->gateways.count;
    out->nlisteners = v->listeners.count;
}

rt_label rt_view_label(const rt_image *img, const rt_view *v, uint32_t i)
{
    const img_label *l = SEC(img, LABELS, img_label) + v->labels.first + i;
    rt_label r = { S(img, l->key), S(img, l->value) };
    return r;
}

rt_str rt_view_gateway_name(const rt_image *img, const rt_view *v, uint32_t i)
{
    return rt_string(img, SEC(img, STRLIST, img_str)[v->gateways.first + i]);
}

const rt_listener *rt_view_listener(const rt_image *img, const rt_view *v, uint32_t i)
{
    return i < v->listeners.count ? SEC(img, LISTENERS, img_listener) + v->listeners.first + i : NULL;
}

const rt_listener *rt_listener_find(const rt_image *img, const rt_view *v, uint32_t port, const char *bind)
{
    const img_listener *any = NULL;
    for (uint32_t i = 0; i < v->listeners.count; i++) {
        const img_listener *l = SEC(img, LISTENERS, img_listener) + v->listeners.first + i;
        if (l->port != port) continue;
        if (bind && str_eq(img, l->bind, bind)) return l;
        if (l->bind.len == 0) any = l;
    }
    return any;
}

void rt_listener_info_get(const rt_image *img, const rt_listener *l, rt_listener_info *out)
{
    out->port = l->port;
    out->kind = l->kind;
    out->bind = rt_string(img, l->bind);
    out->nchains = l->chains.count;
}

const rt_chain *rt_listener_chain(const rt_image *img, const rt_listener *l, const char *sni, size_t sni_len)
{
    if (l->kind != IMG_LISTENER_TLS) return l->chain == IMG_NONE ? NULL : SEC(img, CHAINS, img_chain) + l->chain;
    char key[256];
    size_t n = 0;
    if (sni && sni_len) {
        if (sni_len >= sizeof key) sni_len = SIZE_MAX;
        else {
            for (size_t i = 0; i < sni_len; i++) key[i] = sni[i] >= 'A' && sni[i] <= 'Z' ? (char)(sni[i] + 32) : sni[i];
            n = sni_len;
        }
    }
    uint32_t t;
    if (sni_len == SIZE_MAX) t = SEC(img, HOSTTABLES, img_host_table)[l->sni].dflt;
    else if (n == 0) t = SEC(img, HOSTTABLES, img_host_table)[l->sni].dflt;
    else t = ht_find(img, l->sni, key, n);
    return t == IMG_NONE ? NULL : SEC(img, CHAINS, img_chain) + l->chains.first + t;
}

const rt_chain *rt_listener_chain_at(const rt_image *img, const rt_listener *l, uint32_t i)
{
    return i < l->chains.count ? SEC(img, CHAINS, img_chain) + l->chains.first + i : NULL;
}

static const img_chain_shape *shape_of(const rt_image *img, const rt_chain *c)
{
    return SEC(img, CHAINSHAPES, img_chain_shape) + c->shape;
}

void rt_chain_info_get(const rt_image *img, const rt_chain *c, rt_chain_info *out)
{
    const img_chain_shape *s = shape_of(img, c);
    out->kind = s->kind;
    out->tls = s->tls;
    out->protocol = s->protocol;
    out->server = rt_string(img, s->server);
    out->credential = rt_string(img, s->credential);
    if (s->kind == IMG_CHAIN_HTTP) out->route_table = rt_string(img, SEC(img, ROUTETABLES, img_route_table)[c->next].name);
    else out->route_table = (rt_str){ "", 0 };
    out->nsni = s->nsni;
}

/* one server name is stored in the chain itself, more in STRLIST */
rt_str rt_chain_sni(const rt_image *img, const rt_chain *c, uint32_t i)
{
    if (shape_of(img, c)->nsni == 1) return sz_str(img, c->sni);
    return rt_string(img, SEC(img, STRLIST, img_str)[c->sni + i]);
}

/* ------------------------------------------------------------ route rows */

typedef struct req_view {
    const rt_request *req;
    const char *path;           /* without query and fragment */
    size_t path_len;
    const char *query;          /* after '?', up to '#' */
    size_t query_len;
} req_view;

static bool str_match(const rt_image *img, const img_matcher *m, const char *v, size_t n)
{
    switch (m->op) {
    case IMG_OP_EXACT: return n == m->value.len && memcmp(v, S(img, m->value), n) == 0;
    case IMG_OP_PREFIX: return n >= m->value.len && memcmp(v, S(img, m->value), m->value.len) == 0;
    case IMG_OP_REGEX: return rx_full_match(img->rx[m->regex], v, n);
    default: return true;   /* PRESENT */
    }
}

static const char *header_value(const req_view *rv, const img_matcher *m, const char *name, size_t *vn)
{
    const rt_request *r = rv->req;
    if (m->name.len && name[0] == ':') {
        if (m->name.len == 7 && memcmp(name, ":method", 7) == 0) { *vn = r->method_len; return r->method; }
        if (m->name.len == 10 && memcmp(name, ":authority", 10) == 0) { *vn = r->authority_len; return r->authority; }
        if (m->name.len == 7 && memcmp(name, ":scheme", 7) == 0) { *vn = r->scheme_len; return r->scheme; }
        if (m->name.len == 5 && memcmp(name, ":path", 5) == 0) { *vn = r->path_len; return r->path; }
    }
    if (m->name.len == 4 && memcmp(name, "host", 4) == 0) { *vn = r->authority_len; return r->authority; }
    if (!r->header) return NULL;
    return r->header(r->header_ud, name, m->name.len, vn);
}

/* first occurrence of a query parameter, not %-decoded (Envoy's parseQueryString) */
static const char *query_value(const req_view *rv, const char *name, size_t nn, size_t *vn)
{
    const char *q = rv->query, *end = q + rv->query_len;
    while (q && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pe - q));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - q) == nn && memcmp(q, name, nn) == 0) {
            *vn = eq ? (size_t)(pe - eq - 1) : 0;
            return eq ? eq + 1 : pe;
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static bool matchers_ok(const rt_image *img, const img_row *r, const req_view *rv)
{
    const img_matcher *ms = SEC(img, MATCHERS, img_matcher) + r->matchers;
    for (uint32_t i = 0; i < r->nmatchers; i++) {
        const img_matcher *m = &ms[i];
        const char *name = S(img, m->name);
        size_t vn = 0;
        if (m->target == IMG_TARGET_QUERY) {
            const char *v = query_value(rv, name, m->name.len, &vn);
            if (!v || !str_match(img, m, v, vn)) return false;
            continue;
        }
        const char *v = header_value(rv, m, name, &vn);
        bool invert = m->flags & IMG_M_INVERT;
        if (!v && !(m->flags & IMG_M_MISSING_EMPTY)) {
            /* Envoy: a missing header matches only an inverted presence check */
            if (!(invert && m->op == IMG_OP_PRESENT)) return false;
            continue;
        }
        if (!v) { v = ""; vn = 0; }
        if (str_match(img, m, v, vn) == invert) return false;
    }
    return true;
}

/* Rows the index found through the trie or the exact-path table matched
** their literal already; the others (regex, ignoreUriCase) check it here. */
static bool path_ok(const rt_image *img, const img_row *r, const req_view *rv)
{
    uint32_t kind = r->flags & IMG_ROW_KIND_MASK;
    bool ci = r->flags & IMG_ROW_IGNORE_CASE;
    const char *p = SZ(img, r->path);
    switch (kind) {
    case IMG_PATH_PREFIX:
        if (rv->path_len < r->path_len) return false;
        return ci ? strncasecmp(rv->path, p, r->path_len) == 0 : memcmp(rv->path, p, r->path_len) == 0;
    case IMG_PATH_EXACT:
        if (rv->path_len != r->path_len) return false;
        return ci ? strncasecmp(rv->path, p, r->path_len) == 0 : memcmp(rv->path, p, r->path_len) == 0;
    default:
        return rx_full_match(img->rx[r->path], rv->path, rv->path_len);
    }
}

/* Lowest row of list (relative numbers) below *best that matches fully;
** `literal`: the index matched the row's path already. */
static void try_list(const rt_image *img, const img_row *rows, uint32_t list, const req_view *rv, uint32_t *best, bool literal)
{
    const img_range *l = SEC(img, ROWLISTS, img_range) + list;
    const uint32_t *rl = SEC(img, ROWLIST, uint32_t) + l->first;
    for (uint32_t i = 0; i < l->count; i++) {
        uint32_t row = rl[i];
        if (row >= *best) return;
        if ((literal || path_ok(img, &rows[row], rv)) && matchers_ok(img, &rows[row], rv)) {
            *best = row;
            return;
        }
    }
}

/* a row reference (image.h) from the trie or an exact or prefix table:
** the index matched the rows' literal already */
static void try_ref(const rt_image *img, const img_row *rows, uint32_t r, const req_view *rv, uint32_t *best)
{
    if (!(r & IMG_ROWS_ONE)) {
        try_list(img, rows, r, rv, best, true);
        return;
    }
    r &= ~IMG_ROWS_ONE;
    if (r < *best && matchers_ok(img, &rows[r], rv)) *best = r;
}

static uint32_t find_row(const rt_image *img, const img_rowset *rs, const req_view *rv)
{
    const img_index *x = SEC(img, INDEXES, img_index) + rs->index;
    const img_row *rows = SEC(img, ROWS, img_row) + rs->rows.first;
    uint32_t best = IMG_NONE;
    if (x->exact != IMG_NONE) {
        const img_host_table *ht = SEC(img, HOSTTABLES, img_host_table) + x->exact;
        uint32_t l = ht_get(img, ht, rv->path, rv->path_len, IMG_HOST_EXACT);
        if (l != IMG_NONE) try_ref(img, rows, l, rv, &best);
    }
    if (x->prefix != IMG_NONE) {
        /* the path's head of each literal length, longest first */
        const img_host_table *ht = SEC(img, HOSTTABLES, img_host_table) + x->prefix;
        const uint32_t *lens = SEC(img, U32LIST, uint32_t) + ht->lens.first;
        for (uint32_t i = 0; i < ht->lens.count && best; i++) {
            if (lens[i] > rv->path_len) continue;
            uint32_t l = ht_get(img, ht, rv->path, lens[i], IMG_HOST_EXACT);
            if (l != IMG_NONE) try_ref(img, rows, l, rv, &best);
        }
    }
    if (x->trie != IMG_NONE) {
        const img_trie_node *trie = SEC(img, TRIE, img_trie_node);
        const uint8_t *keys = SEC(img, TRIEKEYS, uint8_t);
        const img_trie_node *node = &trie[x->trie];
        size_t at = 0;
        for (;;) {
            if (node->rows != IMG_NONE) try_ref(img, rows, node->rows, rv, &best);
            if (at >= rv->path_len || node->nkids == 0) break;
            /* children sorted by first byte: a few are compared all at once
            ** (no branch on the path's bytes), many by binary search */
            const uint8_t *k = keys + node->kids;
            uint32_t n = node->nkids, hit = n;
            unsigned char b = (unsigned char)rv->path[at];
            if (n <= 16) {
                for (uint32_t i = 0; i < n; i++) hit = k[i] == b ? i : hit;
            } else {
                uint32_t lo = 0, hi = n;
                while (lo < hi) {
                    uint32_t mid = (lo + hi) / 2;
                    if (k[mid] == b) { hit = mid; break; }
                    if (k[mid] < b) lo = mid + 1;
                    else hi = mid;
                }
            }
            if (hit == n) break;
            const img_trie_node *next = &trie[node->kids + hit];
            uint32_t len = next->label_len;
            if (rv->path_len - at < len) break;
            const char *label = SZ(img, next->label), *p = rv->path + at;
            /* the first byte matched; short labels compared in line */
            bool same = true;
            if (len <= 8) {
                for (uint32_t i = 1; i < len; i++) same &= label[i] == p[i];
            } else {
                same = memcmp(p, label, len) == 0;
            }
            if (!same) break;
            at += len;
            node = next;
        }
    }
    if (x->rest != IMG_NONE) try_list(img, rows, x->rest, rv, &best, false);
    return best;
}

static void decision_init(rt_decision *d)
{
    memset(d, 0, sizeof *d);
    d->cluster = d->target = d->wcluster = d->route = d->action_rec = d->vhost = d->vs = IMG_NONE;
    d->src = NULL;
    d->route_name = (rt_str){ "", 0 };
}

/* what a cluster answers: 0 (upstream), NC (missing) or UH (no endpoints) */
static uint32_t cluster_status(const rt_image *img, uint32_t cluster)
{
    const img_cluster_shape *s = SEC(img, CSHAPES, img_cluster_shape) + SEC(img, CLUSTERS, img_cluster)[cluster].shape;
    if (s->kind == IMG_CLUSTER_MISSING) return IMG_TW_NC;
    if (s->endpoints.count == 0 && !(s->flags & IMG_CLUSTER_SELF_ENDPOINT) && s->kind != IMG_CLUSTER_ORIGINAL_DST) return IMG_TW_UH;
    return IMG_TW_OK;
}

/* A target word: a single cluster (its status in the word), or a weighted
** split: Envoy takes random_value % total over the cumulative [begin, end)
** ranges. */
static void pick_target(const rt_image *img, uint32_t word, uint64_t random, rt_decision *d)
{
    uint32_t status = IMG_TW_TAG(word);
    if (status != IMG_TW_SPLIT) {
        d->cluster = IMG_TW_INDEX(word);
    } else {
        uint32_t target = IMG_TW_INDEX(word);
        const img_target *t = SEC(img, TARGETS, img_target) + target;
        const img_wcluster *w = SEC(img, WCLUSTERS, img_wcluster) + t->clusters.first;
        uint32_t pick = 0;
        uint64_t sel = random % t->total, end = 0;
        for (uint32_t i = 0; i < t->clusters.count; i++) {
            end += t->weighted ? w[i].weight : 1;
            if (sel < end) { pick = i; break; }
        }
        d->target = target;
        d->wcluster = t->clusters.first + pick;
        d->cluster = w[pick].cluster;
        status = cluster_status(img, d->cluster);
    }
    if (status == IMG_TW_NC) {
        d->status = 503;
        d->flags |= RT_FLAG_NC;
        d->details = "cluster_not_found";
    } else if (status == IMG_TW_UH) {
        d->status = 503;
        d->flags |= RT_FLAG_UH;
        d->details = "no_healthy_upstream";
    } else {
        d->details = "via_upstream";
    }
}

/* the origin record of a row or chain, and the VirtualService it names */
static void set_origin(const rt_image *img, uint32_t src, uint32_t self_vs, rt_decision *d)
{
    const img_src *o = SEC(img, ORIGINS, img_src) + src;
    d->vs = o->vs == IMG_VS_SELF ? self_vs : o->vs;
    d->src = d->vs != IMG_NONE ? o : NULL;
}

static void split_path(const rt_request *req, req_view *rv)
{
    rv->req = req;
    const char *p = req->path;
    size_t n = req->path_len;
    const char *q = memchr(p, '?', n);
    const char *h = memchr(p, '#', n);
    size_t pe = q ? (size_t)(q - p) : n;
    if (h && (size_t)(h - p) < pe) pe = (size_t)(h - p);
    rv->path = p;
    rv->path_len = pe;
    if (q && (!h || h > q)) {
        rv->query = q + 1;
        rv->query_len = (size_t)((h ? h : p + n) - (q + 1));
    } else {
        rv->query = NULL;
        rv->query_len = 0;
    }
}

/* Envoy's answer when no virtual host or no route matches */
static void no_route(rt_decision *d)
{
    d->action = RT_ACT_NO_ROUTE;
    d->status = 404;
    d->flags = RT_FLAG_NR;
    d->details = "route_not_found";
}

void rt_route_http(const rt_image *img, const rt_chain *c, const rt_request *req, rt_decision *d)
{
    decision_init(d);
    const img_route_table *rt = SEC(img, ROUTETABLES, img_route_table) + c->next;
    const img_host_table *ht = SEC(img, HOSTTABLES, img_host_table) + rt->hosts;
    char host[1024];
    size_t hn = host_key(req->authority ? req->authority : "", req->authority ? req->authority_len : 0, host, sizeof host);
    uint64_t h = hn == SIZE_MAX ? 0 : img_hash(host, hn, IMG_HOST_EXACT);
    /* the host's bucket is fetched while the path is taken apart */
    __builtin_prefetch(SEC(img, HBUCKETS, img_hbucket) + ht->buckets.first + img_home(h, ht->buckets.count));
    req_view rv;
    split_path(req, &rv);
    uint32_t vh = hn == SIZE_MAX ? ht->dflt : ht_find_hashed(img, ht, host, hn, h);
    if (vh == IMG_NONE) {
        no_route(d);
        return;
    }
    d->vhost = rt->vhosts.first + vh;
    const img_vhost *v = SEC(img, VHOSTS, img_vhost) + d->vhost;
    /* the row's target word is read last, after the path walk: fetch its
    ** line now so the walk hides the wait */
    __builtin_prefetch(SEC(img, ROUTES, uint32_t) + v->routes);
    const img_rowset *rs = SEC(img, ROWSETS, img_rowset) + v->rowset;
    if ((rs->flags & IMG_VHOST_REQUIRE_TLS) && !(req->scheme_len == 5 && strncasecmp(req->scheme, "https", 5) == 0)) {
        d->action = RT_ACT_REDIRECT;
        d->status = 301;
        d->tls_redirect = true;
        d->details = "direct_response";
        return;
    }
    uint32_t row = rs->rows.count ? find_row(img, rs, &rv) : IMG_NONE;
    if (row == IMG_NONE) {
        no_route(d);
        return;
    }
    d->route = v->routes + row;
    const img_row *r = SEC(img, ROWS, img_row) + rs->rows.first + row;
    /* the row's flags say when the shared origin record need not be read */
    if ((r->flags & (IMG_ROW_SELF_VS | IMG_ROW_NAMED)) == IMG_ROW_SELF_VS) {
        d->vs = v->vs;
        d->src = SEC(img, ORIGINS, img_src) + r->src;
    } else {
        set_origin(img, r->src, v->vs, d);
        if (r->flags & IMG_ROW_NAMED) d->route_name = rt_string(img, SEC(img, ORIGINS, img_src)[r->src].name);
    }
    d->action_rec = r->action;
    uint32_t kind = r->flags & IMG_ROW_KIND_MASK;
    d->path_match_len = (uint32_t)(kind == IMG_PATH_REGEX ? rv.path_len : r->path_len);
    const img_action *a = SEC(img, ACTIONS, img_action) + r->action;
    switch (a->kind) {
    case IMG_ACTION_ROUTE:
        d->action = RT_ACT_ROUTE;
        pick_target(img, SEC(img, ROUTES, uint32_t)[d->route], req->random, d);
        break;
    case IMG_ACTION_REDIRECT:
        d->action = RT_ACT_REDIRECT;
        d->status = (uint16_t)SEC(img, REDIRECTS, img_redirect)[a->detail].code;
        d->details = "direct_response";
        break;
    default:
        d->action = RT_ACT_DIRECT_RESPONSE;
        d->status = (uint16_t)SEC(img, DIRECTS, img_direct)[a->detail].status;
        d->details = "direct_response";
        break;
    }
}

void rt_route_tcp(const rt_image *img, const rt_chain *c, uint64_t random, rt_decision *d)
{
    decision_init(d);
    const img_chain_shape *s = shape_of(img, c);
    if (s->kind != IMG_CHAIN_TCP) {
        d->action = RT_ACT_CLOSE;
        d->flags = RT_FLAG_NR;
        d->details = "filter_chain_not_found";
        return;
    }
    d->action = RT_ACT_ROUTE;
    if (s->src != IMG_NONE) set_origin(img, s->src, c->vs, d);
    pick_target(img, c->next, random, d);
    if (d->status) d->status = 0;   /* TCP has no status; flags tell */
}

/* ------------------------------------------------------------ rewrites */

typedef struct obuf { char *p; size_t cap, n; bool over; } obuf;

static void put(obuf *o, const char *s, size_t n)
{
    if (o->over || n >= o->cap - o->n) { o->over = true; return; }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static int finish(obuf *o)
{
    if (o->over || o->cap == 0) return -1;
    o->p[o->n] = '\0';
    return (int)o->n;
}

static const img_policy *policy_of(const rt_image *img, const rt_decision *d)
{
    if (d->action_rec == IMG_NONE) return NULL;
    const img_action *a = SEC(img, ACTIONS, img_action) + d->action_rec;
    return a->kind == IMG_ACTION_ROUTE ? SEC(img, POLICIES, img_policy) + a->detail : NULL;
}

int rt_rewrite_path(const rt_image *img, const rt_decision *d, const rt_request *req, char *buf, size_t cap)
{
    obuf o = { buf, cap, 0, cap == 0 };
    const img_policy *p = d->action == RT_ACT_ROUTE ? policy_of(img, d) : NULL;
    if (p && p->rewrite_regex != IMG_NONE) {
        req_view rv;
        split_path(req, &rv);
        long n = rx_replace_all(img->rx[p->rewrite_regex], rv.path, rv.path_len, S(img, p->regex_substitution),
                                p->regex_substitution.len, buf, cap);
        if (n < 0) return -1;
        o.n = (size_t)n;
        put(&o, req->path + rv.path_len, req->path_len - rv.path_len);
        return finish(&o);
    }
    if (p && p->prefix_rewrite.len && d->path_match_len <= req->path_len) {
        put(&o, S(img, p->prefix_rewrite), p->prefix_rewrite.len);
        put(&o, req->path + d->path_match_len, req->path_len - d->path_match_len);
        return finish(&o);
    }
    put(&o, req->path, req->path_len);
    return finish(&o);
}

int rt_rewrite_authority(const rt_image *img, const rt_decision *d, const rt_request *req, char *buf, size_t cap)
{
    obuf o = { buf, cap, 0, cap == 0 };
    const img_policy *p = d->action == RT_ACT_ROUTE ? policy_of(img, d) : NULL;
    if (p && p->authority.len) put(&o, S(img, p->authority), p->authority.len);
    else if (p && d->wcluster != IMG_NONE && SEC(img, WCLUSTERS, img_wcluster)[d->wcluster].authority.len) {
        img_str a = SEC(img, WCLUSTERS, img_wcluster)[d->wcluster].authority;
        put(&o, S(img, a), a.len);
    } else put(&o, req->authority, req->authority_len);
    return finish(&o);
}

static bool scheme_is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(s, want, n) == 0;
}

/* Envoy's newUri(): scheme, host (request port dropped when a port is
** given or when it is the default of the request's scheme and the scheme
** changes), port, path (path_redirect keeps the request's query unless it
** has its own; prefix_rewrite splices the matched prefix). */
int rt_redirect_location(const rt_image *img, const rt_decision *d, const rt_request *req, char *buf, size_t cap)
{
    obuf o = { buf, cap, 0, cap == 0 };
    if (d->action != RT_ACT_REDIRECT) return finish(&o);
    const img_redirect *rd = NULL;
    if (!d->tls_redirect && d->action_rec != IMG_NONE) {
        const img_action *a = SEC(img, ACTIONS, img_action) + d->action_rec;
        rd = SEC(img, REDIRECTS, img_redirect) + a->detail;
    }
    const char *scheme = req->scheme;
    size_t scheme_len = req->scheme_len;
    if (d->tls_redirect) { scheme = "https"; scheme_len = 5; }
    else if (rd && rd->scheme.len) { scheme = S(img, rd->scheme); scheme_len = rd->scheme.len; }
    char port[16] = "";
    if (rd && rd->port) snprintf(port, sizeof port, ":%u", rd->port);
    put(&o, scheme, scheme_len);
    put(&o, "://", 3);
    if (rd && rd->host.len) {
        put(&o, S(img, rd->host), rd->host.len);
    } else {
        const char *h = req->authority;
        size_t hn = req->authority_len, end = hn;
        if (hn && h[0] == '[') {
            for (size_t i = hn; i-- > 1;)
                if (h[i] == ':' && h[i - 1] == ']') { end = i; break; }
        } else {
            for (size_t i = hn; i-- > 0;)
                if (h[i] == ':') { end = i; break; }
        }
        if (end < hn) {
            const char *rp = h + end;
            size_t rpn = hn - end;
            bool remove = port[0] != '\0';
            bool same = scheme_len == req->scheme_len && memcmp(scheme, req->scheme, scheme_len) == 0;
            if (!same) {
                remove |= scheme_is(req->scheme, req->scheme_len, "https") && rpn == 4 && memcmp(rp, ":443", 4) == 0;
                remove |= scheme_is(req->scheme, req->scheme_len, "http") && rpn == 3 && memcmp(rp, ":80", 3) == 0;
            }
            if (remove) hn = end;
        }
        put(&o, h, hn);
    }
    put(&o, port, strlen(port));
    if (rd && rd->path.len) {
        const char *rp = S(img, rd->path);
        if (rp[0] != '/') put(&o, "/", 1);
        put(&o, rp, rd->path.len);
        if (!memchr(rp, '?', rd->path.len)) {
            const char *q = memchr(req->path, '?', req->path_len);
            if (q) put(&o, q, req->path_len - (size_t)(q - req->path));
        }
    } else if (rd && rd->prefix.len && d->path_match_len <= req->path_len) {
        const char *pp = S(img, rd->prefix);
        if (pp[0] != '/') put(&o, "/", 1);
        put(&o, pp, rd->prefix.len);
        put(&o, req->path + d->path_match_len, req->path_len - d->path_match_len);
    } else {
        if (!req->path_len || req->path[0] != '/') put(&o, "/", 1);
        put(&o, req->path, req->path_len);
    }
    return finish(&o);
}

rt_str rt_direct_body(const rt_image *img, const rt_decision *d)
{
    if (d->action != RT_ACT_DIRECT_RESPONSE || d->action_rec == IMG_NONE) return (rt_str){ "", 0 };
    const img_action *a = SEC(img, ACTIONS, img_action) + d->action_rec;
    return rt_string(img, SEC(img, DIRECTS, img_direct)[a->detail].body);
}

/* ------------------------------------------------------------ action records */

void rt_policy_get(const rt_image *img, const rt_decision *d, rt_policy *out)
{
    memset(out, 0, sizeof *out);
    out->cors.credentials = -1;
    if (d->action_rec == IMG_NONE) return;
    const img_action *a = SEC(img, ACTIONS, img_action) + d->action_rec;
    out->action = a->kind;
    out->nreq_headers = a->req_headers.count;
    out->nresp_headers = a->resp_headers.count;
    if (a->fault != IMG_NONE) {
        const img_fault *f = SEC(img, FAULTS, img_fault) + a->fault;
        out->fault.delay = f->flags & IMG_FAULT_DELAY;
        out->fault.abort = f->flags & IMG_FAULT_ABORT;
        out->fault.grpc = f->flags & IMG_FAULT_GRPC;
        out->fault.delay_ms = f->delay_ms;
        out->fault.delay_per_million = f->delay_per_million;
        out->fault.abort_status = f->abort_status;
        out->fault.abort_per_million = f->abort_per_million;
    }
    if (a->cors != IMG_NONE) {
        const img_cors *c = SEC(img, CORSES, img_cors) + a->cors;
        out->cors.present = true;
        out->cors.methods = rt_string(img, c->methods);
        out->cors.headers = rt_string(img, c->headers);
        out->cors.expose = rt_string(img, c->expose);
        out->cors.max_age_set = c->flags & IMG_CORS_MAX_AGE;
        out->cors.max_age = c->max_age;
        out->cors.credentials = (c->flags & IMG_CORS_CREDENTIALS_SET) ? !!(c->flags & IMG_CORS_CREDENTIALS) : -1;
        out->cors.forward_unmatched = c->flags & IMG_CORS_FORWARD_UNMATCHED;
        out->cors.norigins = c->origins.count;
    }
    if (a->kind != IMG_ACTION_ROUTE) return;
    const img_policy *p = SEC(img, POLICIES, img_policy) + a->detail;
    out->timeout_ms = p->timeout_ms;
    out->nmirrors = p->mirrors.count;
    if (p->retry != IMG_NONE) {
        const img_retry *r = SEC(img, RETRIES, img_retry) + p->retry;
        out->retry.enabled = true;
        out->retry.num_retries = r->num_retries;
        out->retry.retry_on = rt_string(img, r->retry_on);
        out->retry.per_try_timeout_ms = r->per_try_timeout_ms;
        out->retry.backoff_ms = r->backoff_ms;
        out->retry.host_selection_attempts = r->host_selection_attempts;
        out->retry.previous_hosts = r->flags & IMG_RETRY_PREVIOUS_HOSTS;
        out->retry.remote_localities = r->flags & IMG_RETRY_REMOTE_LOCALITIES;
        out->retry.ncodes = r->codes.count;
    }
}

uint32_t rt_retry_code(const rt_image *img, const rt_decision *d, uint32_t i)
{
    const img_policy *p = policy_of(img, d);
    const img_retry *r = SEC(img, RETRIES, img_retry) + p->retry;
    return SEC(img, U32LIST, uint32_t)[r->codes.first + i];
}

static rt_header_op hop(const rt_image *img, uint32_t i)
{
    const img_header_op *h = SEC(img, HEADEROPS, img_header_op) + i;
    rt_header_op r = { h->op, rt_string(img, h->name), rt_string(img, h->value) };
    return r;
}

rt_header_op rt_req_header_op(const rt_image *img, const rt_decision *d, uint32_t i)
{
    return hop(img, SEC(img, ACTIONS, img_action)[d->action_rec].req_headers.first + i);
}

rt_header_op rt_resp_header_op(const rt_image *img, const rt_decision *d, uint32_t i)
{
    return hop(img, SEC(img, ACTIONS, img_action)[d->action_rec].resp_headers.first + i);
}

rt_mirror rt_mirror_get(const rt_image *img, const rt_decision *d, uint32_t i)
{
    const img_mirror *m = SEC(img, MIRRORS, img_mirror) + policy_of(img, d)->mirrors.first + i;
    rt_mirror r = { m->cluster, m->per_million };
    return r;
}

rt_match rt_cors_origin(const rt_image *img, const rt_decision *d, uint32_t i)
{
    const img_cors *c = SEC(img, CORSES, img_cors) + SEC(img, ACTIONS, img_action)[d->action_rec].cors;
    const img_matcher *m = SEC(img, MATCHERS, img_matcher) + c->origins.first + i;
    rt_match r = { m->op, rt_string(img, m->value), false };
    return r;
}

bool rt_cors_origin_allowed(const rt_image *img, const rt_decision *d, const char *origin, size_t len)
{
    if (d->action_rec == IMG_NONE) return false;
    uint32_t ci = SEC(img, ACTIONS, img_action)[d->action_rec].cors;
    if (ci == IMG_NONE) return false;
    const img_cors *c = SEC(img, CORSES, img_cors) + ci;
    for (uint32_t i = 0; i < c->origins.count; i++) {
        const img_matcher *m = SEC(img, MATCHERS, img_matcher) + c->origins.first + i;
        if (str_match(img, m, origin, len)) return true;
    }
    return false;
}

uint32_t rt_target_count(const rt_image *img, uint32_t target)
{
    return target == IMG_NONE ? 0 : SEC(img, TARGETS, img_target)[target].clusters.count;
}

rt_weighted rt_target_at(const rt_image *img, uint32_t target, uint32_t i)
{
    const img_target *t = SEC(img, TARGETS, img_target) + target;
    const img_wcluster *w = SEC(img, WCLUSTERS, img_wcluster) + t->clusters.first + i;
    rt_weighted r = { w->cluster, t->weighted ? w->weight : 0, w->req_headers.count, w->resp_headers.count, rt_string(img, w->authority) };
    return r;
}

rt_header_op rt_wcluster_req_header_op(const rt_image *img, uint32_t wcluster, uint32_t i)
{
    return hop(img, SEC(img, WCLUSTERS, img_wcluster)[wcluster].req_headers.first + i);
}

rt_header_op rt_wcluster_resp_header_op(const rt_image *img, uint32_t wcluster, uint32_t i)
{
    return hop(img, SEC(img, WCLUSTERS, img_wcluster)[wcluster].resp_headers.first + i);
}

bool rt_origin_get(const rt_image *img, const rt_decision *d, rt_origin_info *out)
{
    memset(out, 0, sizeof *out);
    if (!d->src || d->vs == IMG_NONE) return false;
    const img_src *o = d->src;
    const img_vs *vs = SEC(img, VSES, img_vs) + d->vs;
    out->vs_ns = sz_str(img, vs->ns);
    out->vs_name = sz_str(img, vs->name);
    out->kind = o->kind;
    out->entry = o->entry;
    out->match = o->match == 0xffff ? UINT32_MAX : o->match;
    if (o->delegate != IMG_NONE) {
        const img_vs *dv = SEC(img, VSES, img_vs) + o->delegate;
        out->delegate_ns = sz_str(img, dv->ns);
        out->delegate_name = sz_str(img, dv->name);
    } else {
        out->delegate_ns = out->delegate_name = (rt_str){ "", 0 };
    }
    return true;
}

int rt_route_label(const rt_image *img, const rt_decision *d, char *buf, size_t cap)
{
    if (cap == 0) return -1;
    int n;
    rt_origin_info o;
    if (d->route_name.n) {
        n = snprintf(buf, cap, "%s", d->route_name.p);
    } else if (rt_origin_get(img, d, &o)) {
        const char *kind = img_enum_name(IMG_E_ENTRY, o.kind);
        if (o.match == UINT32_MAX) n = snprintf(buf, cap, "%s/%s.%s[%u]", o.vs_ns.p, o.vs_name.p, kind, o.entry);
        else n = snprintf(buf, cap, "%s/%s.%s[%u].match[%u]", o.vs_ns.p, o.vs_name.p, kind, o.entry, o.match);
    } else {
        buf[0] = '\0';
        n = 0;
    }
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

rt_str rt_vhost_domain(const rt_image *img, uint32_t vhost, uint32_t *port)
{
    const img_vhost *v = SEC(img, VHOSTS, img_vhost) + vhost;
    if (port) *port = SEC(img, ROWSETS, img_rowset)[v->rowset].port;
    return sz_str(img, v->domain);
}

/* ------------------------------------------------------------ clusters */

uint32_t rt_cluster_count(const rt_image *img) { return CNT(img, CLUSTERS); }

static const img_cluster_shape *cshape(const rt_image *img, uint32_t cluster)
{
    return SEC(img, CSHAPES, img_cluster_shape) + SEC(img, CLUSTERS, img_cluster)[cluster].shape;
}

void rt_cluster_get(const rt_image *img, uint32_t cluster, rt_cluster_info *out)
{
    memset(out, 0, sizeof *out);
    const img_cluster *c = SEC(img, CLUSTERS, img_cluster) + cluster;
    const img_cluster_shape *s = cshape(img, cluster);
    out->name.p = img->cnames + img->cname_off[cluster];
    out->name.n = img->cname_off[cluster + 1] - img->cname_off[cluster] - 1;
    out->host = sz_str(img, c->host);
    out->subset = sz_str(img, s->subset);
    out->port = s->port;
    out->kind = s->kind;
    out->protocol = s->protocol;
    out->mesh_external = s->flags & IMG_CLUSTER_MESH_EXTERNAL;
    out->nendpoints = (s->flags & IMG_CLUSTER_SELF_ENDPOINT) ? 1 : s->endpoints.count;
    rt_str empty = { "", 0 };
    out->sni = out->ca_certificates = out->client_certificate = out->private_key = out->credential = empty;
    out->hash_name = out->cookie_path = empty;
    if (s->policy == IMG_NONE) return;
    const img_cpolicy *p = SEC(img, CPOLICIES, img_cpolicy) + s->policy;
    out->lb = p->lb;
    out->connect_timeout_ms = p->connect_timeout_ms;
    out->max_connections = p->max_connections;
    out->max_pending_requests = p->max_pending_requests;
    out->max_requests = p->max_requests;
    out->max_retries = p->max_retries;
    out->max_requests_per_connection = p->max_requests_per_connection;
    out->idle_timeout_set = p->flags & IMG_CP_IDLE_SET;
    out->idle_timeout_ms = p->idle_timeout_ms;
    out->max_connection_duration_set = p->flags & IMG_CP_DURATION_SET;
    out->max_connection_duration_ms = p->max_connection_duration_ms;
    out->h2 = p->flags & IMG_CP_H2;
    out->use_client_protocol = p->flags & IMG_CP_USE_CLIENT_PROTOCOL;
    out->outlier = p->flags & IMG_OUTLIER_SET;
    out->consecutive_5xx = p->consecutive_5xx;
    out->enforcing_5xx = p->enforcing_5xx;
    out->consecutive_gateway = p->consecutive_gateway;
    out->enforcing_gateway = p->enforcing_gateway;
    out->interval_ms = p->interval_ms;
    out->base_ejection_ms = p->base_ejection_ms;
    out->max_ejection_percent = p->max_ejection_percent;
    out->min_health_percent = p->min_health_percent;
    out->tls = p->tls;
    out->sni = rt_string(img, p->sni);
    out->ca_certificates = rt_string(img, p->ca_certificates);
    out->client_certificate = rt_string(img, p->client_certificate);
    out->private_key = rt_string(img, p->private_key);
    out->credential = rt_string(img, p->credential);
    out->insecure_skip_verify = p->flags & IMG_TLS_INSECURE;
    out->nsans = p->sans.count;
    if (p->hash != IMG_NONE) {
        const img_chash *h = SEC(img, CHASHES, img_chash) + p->hash;
        out->hash_kind = h->kind;
        out->hash_name = rt_string(img, h->name);
        out->cookie_path = rt_string(img, h->cookie_path);
        out->cookie_ttl_ms = h->cookie_ttl_ms;
        out->cookie_ttl_set = h->flags & IMG_CHASH_TTL;
        out->ring_size = h->ring_size;
    }
}

/* three-way order of clusters: host, port, subset (as the image sorts them) */
static int cluster_key_cmp(const rt_image *img, uint32_t cluster, const char *host, size_t hn, uint32_t port, const char *subset, size_t sn)
{
    const char *h = SZ(img, SEC(img, CLUSTERS, img_cluster)[cluster].host);
    size_t n = strlen(h);
    int r = memcmp(h, host, n < hn ? n : hn);
    if (r || n != hn) return r ? r : n < hn ? -1 : 1;
    const img_cluster_shape *s = cshape(img, cluster);
    if (s->port != port) return s->port < port ? -1 : 1;
    const char *ss = SZ(img, s->subset);
    n = strlen(ss);
    r = memcmp(ss, subset, n < sn ? n : sn);
    return r ? r : n < sn ? -1 : n > sn;
}

/* "outbound|PORT|SUBSET|HOST" taken apart (PORT in canonical decimal,
** HOST after the last '|'), then a binary search */
uint32_t rt_cluster_find(const rt_image *img, const char *name, size_t len)
{
    static const char pre[] = "outbound|";
    if (len < sizeof pre - 1 || memcmp(name, pre, sizeof pre - 1) != 0) return IMG_NONE;
    const char *p = name + sizeof pre - 1, *end = name + len;
    uint32_t port = 0;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 6) port = port * 10 + (uint32_t)(*p++ - '0');
    if (p == digits || p >= end || *p != '|' || port > 65535 || (digits[0] == '0' && p - digits > 1)) return IMG_NONE;
    const char *subset = ++p;
    const char *bar = memrchr(subset, '|', (size_t)(end - subset));
    if (!bar) return IMG_NONE;
    const char *host = bar + 1;
    if (memchr(host, '\0', (size_t)(end - host)) || memchr(subset, '\0', (size_t)(bar - subset))) return IMG_NONE;
    uint32_t lo = 0, hi = CNT(img, CLUSTERS);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int cmp = cluster_key_cmp(img, mid, host, (size_t)(end - host), port, subset, (size_t)(bar - subset));
        if (cmp == 0) return mid;
        if (cmp < 0) lo = mid + 1;
        else hi = mid;
    }
    return IMG_NONE;
}

void rt_endpoint_get(const rt_image *img, uint32_t cluster, uint32_t i, rt_endpoint_info *out)
{
    const img_cluster_shape *s = cshape(img, cluster);
    if (s->flags & IMG_CLUSTER_SELF_ENDPOINT) {
        out->kind = s->ep_kind;
        out->address = sz_str(img, SEC(img, CLUSTERS, img_cluster)[cluster].host);
        out->port = s->ep_port;
        out->weight = 1;
        return;
    }
    const img_endpoint *e = SEC(img, ENDPOINTS, img_endpoint) + s->endpoints.first + i;
    out->kind = e->kind;
    out->address = sz_str(img, e->address);
    out->port = e->port;
    out->weight = e->weight;
}

rt_str rt_cluster_san(const rt_image *img, uint32_t cluster, uint32_t i)
{
    const img_cpolicy *p = SEC(img, CPOLICIES, img_cpolicy) + cshape(img, cluster)->policy;
    return rt_string(img, SEC(img, STRLIST, img_str)[p->sans.first + i]);
}

int rt_flags_string(uint32_t flags, char *buf, size_t cap)
{
    static const char *const names[] = { "NR", "NC", "UH" };
    obuf o = { buf, cap, 0, cap == 0 };
    for (unsigned i = 0; i < 3; i++) {
        if (!(flags & (1u << i))) continue;
        if (o.n) put(&o, ",", 1);
        put(&o, names[i], 2);
    }
    if (o.n == 0) put(&o, "-", 1);
    return finish(&o);
}

const char *rt_action_name(rt_action a)
{
    switch (a) {
    case RT_ACT_ROUTE: return "route";
    case RT_ACT_REDIRECT: return "redirect";
    case RT_ACT_DIRECT_RESPONSE: return "direct_response";
    case RT_ACT_NO_ROUTE: return "no_route";
    case RT_ACT_CLOSE: return "close";
    }
    return "?";
}
