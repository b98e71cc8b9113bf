/*
** load.c -- input arguments to sources, sources to resources (load.h).
*/
#include "load.h"
#include "parse.h"
#include "source.h"
#include "strmap.h"

#include <curl/curl.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MC_MAX_URL_BODY (64u << 20)

static const struct { const char *kind, *group; } kinds[] = {
#define X(id, kind, group) { kind, group },
    MC_KINDS(X)
#undef X
};

const char *mc_kind_name(mc_kind k) { return k < MC_NKINDS ? kinds[k].kind : "?"; }
const char *mc_kind_group(mc_kind k) { return k < MC_NKINDS ? kinds[k].group : "?"; }

void mc_input_init(mc_input *in)
{
    memset(in, 0, sizeof *in);
    mc_arena_init(&in->arena);
}

void mc_input_free(mc_input *in)
{
    free(in->objs);
    mc_arena_free(&in->arena);
    memset(in, 0, sizeof *in);
}

typedef struct load_ctx {
    mc_input *in;
    const mc_load_opts *opt;
} load_ctx;

static void add_obj(mc_input *in, mc_obj *o)
{
    if (in->nobjs == in->capobjs) {
        in->capobjs = in->capobjs ? in->capobjs * 2 : 64;
        in->objs = mc_xrealloc(in->objs, in->capobjs * sizeof *in->objs);
    }
    o->seq = in->nobjs;
    in->objs[in->nobjs++] = o;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void object(load_ctx *c, mc_node *root, int list_depth)
{
    if (root->type != MC_MAP) {
        mc_diag(MSH0011, NULL, root, "document is %s, not a Kubernetes object (a mapping with apiVersion and kind)",
                root->type == MC_SEQ ? "a sequence" : "a scalar");
        return;
    }
    mc_node *av = mc_get(root, "apiVersion"), *kn = mc_get(root, "kind");
    const char *kind = mc_str(kn);
    const char *api = mc_str(av);
    if (!kn || !kind || !*kind) {
        mc_diag(MSH0013, NULL, kn ? kn : root, kn ? "kind must be a non-empty string" : "object has no kind");
        return;
    }
    if (!av || !api || !*api) {
        mc_diag(MSH0012, NULL, av ? av : root, av ? "apiVersion must be a non-empty string" : "%s has no apiVersion", kind);
        if (!av) return;
        return;
    }
    /* kind: List (v1) and any *List kind hold their objects in items */
    if (ends_with(kind, "List") && list_depth < 4) {
        mc_node *items = mc_get(root, "items");
        if (items && items->type == MC_SEQ) {
            MC_SEQ_EACH(items, i) object(c, mc_item(items, i), list_depth + 1);
            return;
        }
        if (items || strcmp(kind, "List") == 0) {
            if (!items || items->type != MC_NULL)
                mc_diag(MSH0018, NULL, items ? items : root, "%s must hold its objects in a sequence named items", kind);
            return;
        }
    }
    const char *slash = strchr(api, '/');
    size_t glen = slash ? (size_t)(slash - api) : 0;
    const char *ver = slash ? slash + 1 : api;
    int k = -1;
    for (int i = 0; i < MC_NKINDS; i++) {
        if (strcmp(kinds[i].kind, kind) != 0) continue;
        if (strlen(kinds[i].group) != glen || strncmp(kinds[i].group, api, glen) != 0) continue;
        k = i;
        break;
    }
    mc_version version = MC_V_NONE;
    if (k >= 0 && strcmp(kinds[k].group, "networking.istio.io") == 0) {
        if (strcmp(ver, "v1") == 0) version = MC_V_V1;
        else if (strcmp(ver, "v1beta1") == 0) version = MC_V_V1BETA1;
        else if (strcmp(ver, "v1alpha3") == 0) version = MC_V_V1ALPHA3;
        else if (k <= MC_K_NETWORKING_LAST) {
            mc_diag(MSH0016, NULL, av, "no matches for kind \"%s\" in version \"%s\": use networking.istio.io/v1, v1beta1 or v1alpha3",
                    kind, api);
            return;
        }
    }
    if (k < 0) {
        if (c->opt->strict_kinds) {
            mc_node *nm = mc_path(root, "metadata", "name", NULL);
            mc_diag(MSH0015, NULL, kn, "%s %s (%s) is not a kind meshc reads", kind, mc_str(nm) ? mc_str(nm) : "", api);
        }
        c->in->skipped_kinds++;
        return;
    }
    mc_obj *o = mc_arena_zalloc(&c->in->arena, sizeof *o);
    o->kind = (mc_kind)k;
    o->version = version;
    o->api_version = api;
    o->root = root;
    o->meta = mc_get(root, "metadata");
    o->spec = mc_get(root, "spec");
    o->o.kind = kinds[k].kind;
    mc_node *name = mc_get(o->meta, "name");
    const char *ns = mc_str(mc_get(o->meta, "namespace"));
    if (ns && *ns) {
        o->o.ns = ns;
    } else {
        o->o.ns = c->opt->ns ? c->opt->ns : "default";
        o->ns_defaulted = true;
    }
    /* cluster-scoped kinds have no namespace */
    if (o->kind == MC_K_NAMESPACE || o->kind == MC_K_NODE) o->o.ns = "";
    o->o.name = mc_str(name) ? mc_str(name) : "";
    o->o.suppress = mc_str(mc_get(mc_get(o->meta, "annotations"), "galley.istio.io/analyze-suppress"));
    const char *ct = mc_text(mc_get(o->meta, "creationTimestamp"));
    o->created = ct && *ct ? ct : NULL;
    if (!mc_str(name) || !*mc_str(name)) {
        if (!mc_str(mc_get(o->meta, "generateName")))
            mc_diag(MSH0014, &o->o, name ? name : o->meta ? o->meta : root, "%s has no metadata.name", kind);
        if (k <= MC_K_NETWORKING_LAST) return;
    }
    add_obj(c->in, o);
    if (c->in->on_obj) c->in->on_obj(c->in->on_obj_ud, o);
}

static void on_doc(void *ud, mc_node *root)
{
    object(ud, root, 0);
}

static void parse_source(mc_input *in, const mc_load_opts *opt, int id)
{
    load_ctx c = { in, opt };
    in->nfiles++;
    mc_parse(&in->arena, true, (uint16_t)id, on_doc, &c);
}

static void io_error(const char *name, const char *what)
{
    mc_diag_global(MSH0002, "%s: %s", name, what);
}

/* ------------------------------------------------------------ URLs */

typedef struct body { mc_buf b; bool too_big; } body;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    body *b = ud;
    size_t len = sz * n;
    if (b->b.n + len > MC_MAX_URL_BODY) { b->too_big = true; return 0; }
    mc_buf_add(&b->b, p, len);
    return len;
}

/* libcurl is loaded only when a URL is given: it drags in some thirty
** libraries (TLS, Kerberos, LDAP, ...) whose loading would cost every run
** of meshc more than checking a small file does. */
static struct {
    bool tried, ok;
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
} cu;

static bool curl_load(char *why, size_t whylen)
{
    if (cu.tried) {
        if (!cu.ok) snprintf(why, whylen, "libcurl is not available");
        return cu.ok;
    }
    cu.tried = true;
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, whylen, "URL inputs need libcurl (apt-get install libcurl4): %s", dlerror());
        return false;
    }
#define SYM(f, name) (*(void **)&cu.f = dlsym(h, name))
    if (!SYM(global_init, "curl_global_init") || !SYM(easy_init, "curl_easy_init") ||
        !SYM(easy_setopt, "curl_easy_setopt") || !SYM(easy_perform, "curl_easy_perform") ||
        !SYM(easy_getinfo, "curl_easy_getinfo") || !SYM(easy_cleanup, "curl_easy_cleanup") ||
        !SYM(easy_strerror, "curl_easy_strerror")) {
        snprintf(why, whylen, "libcurl.so.4 lacks a function meshc needs");
        return false;
    }
#undef SYM
    cu.global_init(CURL_GLOBAL_DEFAULT);
    cu.ok = true;
    return true;
}

static void load_url(mc_input *in, const mc_load_opts *opt, const char *url)
{
    char why[512];
    if (!curl_load(why, sizeof why)) { io_error(url, why); return; }
    CURL *h = cu.easy_init();
    if (!h) mc_oom();
    body b;
    mc_buf_init(&b.b);
    b.too_big = false;
    char err[CURL_ERROR_SIZE] = "";
    long timeout = opt->url_timeout > 0 ? opt->url_timeout : 30;
    cu.easy_setopt(h, CURLOPT_URL, url);
    cu.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    cu.easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    cu.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cu.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    cu.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout < 10 ? timeout : 10L);
    cu.easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    cu.easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MC_MAX_URL_BODY);
    cu.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    cu.easy_setopt(h, CURLOPT_WRITEDATA, &b);
    cu.easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    cu.easy_setopt(h, CURLOPT_USERAGENT, "meshc/" MESH_VERSION);
    cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = cu.easy_perform(h);
    long status = 0;
    cu.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    cu.easy_cleanup(h);
    if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        mc_diag_global(MSH0006, "%s: response larger than %u bytes", url, MC_MAX_URL_BODY);
        mc_buf_free(&b.b);
        return;
    }
    if (rc != CURLE_OK) {
        char m[CURL_ERROR_SIZE + 64];
        snprintf(m, sizeof m, "fetch failed: %s", err[0] ? err : cu.easy_strerror(rc));
        io_error(url, m);
        mc_buf_free(&b.b);
        return;
    }
    if (status < 200 || status > 299) {
        char m[64];
        snprintf(m, sizeof m, "fetch failed: HTTP status %ld", status);
        io_error(url, m);
        mc_buf_free(&b.b);
        return;
    }
    int id = mc_src_adopt(url, b.b.s ? b.b.s : mc_xstrdup(""), b.b.n);
    if (id < 0) { io_error(url, "too many inputs"); mc_buf_free(&b.b); return; }
    parse_source(in, opt, id);
}

/* ------------------------------------------------------------ files */

static bool wanted_ext(const char *name)
{
    return ends_with(name, ".yaml") || ends_with(name, ".yml") || ends_with(name, ".json");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_path(mc_input *in, const mc_load_opts *opt, const char *path, bool top);

static void load_dir(mc_input *in, const mc_load_opts *opt, const char *path)
{
    DIR *d = opendir(path);
    if (!d) { io_error(path, strerror(errno)); return; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;   /* ., .., and hidden files, as kubectl */
        if (n == cap) { cap = cap ? cap * 2 : 32; names = mc_xrealloc(names, cap * sizeof *names); }
        names[n++] = mc_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    size_t pl = strlen(path);
    bool slash = pl > 0 && path[pl - 1] == '/';
    for (size_t i = 0; i < n; i++) {
        char *full = mc_xmalloc(pl + strlen(names[i]) + 2);
        sprintf(full, "%s%s%s", path, slash ? "" : "/", names[i]);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (opt->recursive) load_dir(in, opt, full);
        } else if (wanted_ext(names[i])) {
            load_path(in, opt, full, false);
        } else {
            fprintf(stderr, "meshc: skipping %s: recognized file extensions are .yaml, .yml and .json\n", full);
            in->skipped_files++;
        }
        free(full);
        free(names[i]);
    }
    free(names);
}

static void load_path(mc_input *in, const mc_load_opts *opt, const char *path, bool top)
{
    struct stat st;
    if (stat(path, &st) != 0) { io_error(path, strerror(errno)); return; }
    if (S_ISDIR(st.st_mode)) {
        if (top) load_dir(in, opt, path);
        return;
    }
    int id = mc_src_open(path, path);
    if (id < 0) { io_error(path, strerror(errno)); return; }
    parse_source(in, opt, id);
}

void mc_load(mc_input *in, const mc_load_opts *opt, const char *arg)
{
    if (strcmp(arg, "-") == 0) {
        mc_buf b;
        mc_buf_init(&b);
        char tmp[65536];
        for (;;) {
            ssize_t r = read(0, tmp, sizeof tmp);
            if (r < 0) {
                if (errno == EINTR) continue;
                io_error(opt->stdin_name ? opt->stdin_name : "<stdin>", strerror(errno));
                mc_buf_free(&b);
                return;
            }
            if (r == 0) break;
            if (b.n + (size_t)r > MC_MAX_URL_BODY) {
                mc_diag_global(MSH0006, "%s: input larger than %u bytes",
                            opt->stdin_name ? opt->stdin_name : "<stdin>", MC_MAX_URL_BODY);
                mc_buf_free(&b);
                return;
            }
            mc_buf_add(&b, tmp, (size_t)r);
        }
        int id = mc_src_adopt(opt->stdin_name ? opt->stdin_name : "<stdin>", b.s ? b.s : mc_xstrdup(""), b.n);
        if (id < 0) { mc_buf_free(&b); io_error("<stdin>", "too many inputs"); return; }
        parse_source(in, opt, id);
        return;
    }
    if (strncmp(arg, "http://", 7) == 0 || strncmp(arg, "https://", 8) == 0) {
        load_url(in, opt, arg);
        return;
    }
    load_path(in, opt, arg, true);
}

void mc_load_finish(mc_input *in)
{
    if (in->nobjs < 2) return;
    /* one pass in input order over an index by identity (kind, namespace,
    ** name): each resource links to the previous one with its identity;
    ** the last of each chain is the definition that wins */
    uint32_t n = in->nobjs;
    uint32_t *prev = mc_xmalloc(n * sizeof *prev);
    mc_strmap last;             /* identity -> index + 1 of its last resource */
    mc_strmap_init(&last);
    mc_arena keys;
    mc_arena_init(&keys);
    mc_buf k;
    mc_buf_init(&k);
    for (uint32_t i = 0; i < n; i++) {
        const mc_obj *o = in->objs[i];
        mc_buf_reset(&k);
        mc_buf_putc(&k, (char)o->kind);
        mc_buf_puts(&k, o->o.ns);
        mc_buf_add(&k, "", 1);              /* no text holds a NUL */
        mc_buf_puts(&k, o->o.name);
        bool found;
        void **slot = mc_strmap_put(&last, k.s, k.n, &found);
        if (found) {
            prev[i] = (uint32_t)((uintptr_t)*slot - 1);
        } else {
            prev[i] = UINT32_MAX;
            mc_strmap_rekey(&last, slot, memcpy(mc_arena_alloc(&keys, k.n), k.s, k.n));
        }
        *slot = (void *)(uintptr_t)(i + 1);
    }
    uint32_t *chain = mc_xmalloc(n * sizeof *chain);
    MC_STRMAP_EACH(&last, slot) {
        uint32_t w = (uint32_t)((uintptr_t)slot->val - 1), nc = 0;
        if (prev[w] == UINT32_MAX) continue;
        for (uint32_t x = prev[w]; x != UINT32_MAX; x = prev[x]) chain[nc++] = x;
        const mc_obj *later = in->objs[w];
        if (nc == 1)
            mc_diag(MSH0017, &later->o, later->root, "%s %s/%s is defined again; the earlier definition is ignored",
                    later->o.kind, later->o.ns, later->o.name);
        else
            mc_diag(MSH0017, &later->o, later->root, "%s %s/%s is defined %u times; the earlier definitions are ignored",
                    later->o.kind, later->o.ns, later->o.name, nc + 1);
        for (uint32_t x = nc; x-- > 0;) {      /* the earlier ones, in input order */
            mc_obj *e = in->objs[chain[x]];
            e->shadowed = true;
            mc_diag_note(e->root, x == nc - 1 ? "first defined here" : "defined again here");
        }
    }
    free(chain);
    free(prev);
    mc_buf_free(&k);
    mc_arena_free(&keys);
    mc_strmap_free(&last);
}
