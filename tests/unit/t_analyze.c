/*
** t_analyze.c -- the analysis stage's helpers, and a differential test of
** gateway.ConflictingGatewayAnalyzer: meshc's bucketed version (which logs
** model.CheckDuplicates' side effect instead of copying hosts into every
** gateway) must report exactly what a direct model of Istio's algorithm
** reports, on random gateway sets built to collide.
*/
#include "analyze_int.h"
#include "load.h"
#include "source.h"
#include "t.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ the model */

enum { MAXG = 8, MAXS = 3, MAXH = 2, MAXMAP = 64 };

static const char *const sels[] = { "istio=ingressgateway", "app=a,istio=ingressgateway", "app=a", "" };
static const char *const pods[] = { "app=a,istio=ingressgateway", "istio=ingressgateway", "app=a" };
static const char *const hostpool[] = { "a.com", "b.com", "*.com", "ns/a.com" };
static const char *const binds[] = { "", "10.0.0.1" };

typedef struct server { int port; const char *bind; const char *hosts[MAXH]; int nh; } server;
typedef struct gw { char name[16]; int sel; server s[MAXS]; int ns; } gw;

/* host -> bind, as a Go map */
typedef struct hmap { const char *h[MAXMAP]; const char *b[MAXMAP]; int n; } hmap;

static const char *hget(const hmap *m, const char *h)
{
    for (int i = 0; i < m->n; i++) if (!strcmp(m->h[i], h)) return m->b[i];
    return NULL;
}

static void hset(hmap *m, const char *h, const char *b)
{
    for (int i = 0; i < m->n; i++) if (!strcmp(m->h[i], h)) { m->b[i] = b; return; }
    if (m->n < MAXMAP) { m->h[m->n] = h; m->b[m->n++] = b; }
}

/* does a pod with labels `pod` (k=v,...) match selector string s */
static bool matches(const char *s, const char *pod)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        char pat[70];
        snprintf(pat, sizeof pat, ",%s,", t);
        char pl[70];
        snprintf(pl, sizeof pl, ",%s,", pod);
        if (!strstr(pl, pat)) return false;
    }
    return true;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Istio's analyzer, literally: maps[selector][port][gateway] -> host map. */
static int model(const gw *g, int ng, const int *podset, int npods, char out[][1024])
{
    static hmap maps[4][2][MAXG];
    static bool has[4][2][MAXG];
    memset(has, 0, sizeof has);
    for (int i = 0; i < ng; i++)
        for (int s = 0; s < g[i].ns; s++) {
            int p = g[i].s[s].port == 443;
            hmap *m = &maps[g[i].sel][p][i];
            m->n = 0;   /* the last server on a port replaces the map */
            for (int h = 0; h < g[i].s[s].nh; h++) hset(m, g[i].s[s].hosts[h], g[i].s[s].bind);
            has[g[i].sel][p][i] = true;
        }
    int nout = 0;
    for (int i = 0; i < ng; i++) {
        const char *sg = sels[g[i].sel];
        bool hit[4] = { false };
        bool any = false;
        for (int x = 0; x < 4; x++) {
            bool keys = false;
            for (int p = 0; p < 2; p++) for (int j = 0; j < ng; j++) keys = keys || has[x][p][j];
            if (!keys) continue;
            const char *sx = sels[x];
            if (!strcmp(sx, sg)) hit[x] = true;
            else if (strstr(sx, sg) || strstr(sg, sx))
                for (int k = 0; k < npods; k++)
                    if (matches(sg, pods[podset[k]]) && matches(sx, pods[podset[k]])) hit[x] = true;
            any = any || hit[x];
        }
        if (*sg && !any) {
            snprintf(out[nout++], 1024, "%.15s|Referenced selector not found: \"%.63s\"", g[i].name, sg);
            continue;
        }
        for (int s = 0; s < g[i].ns; s++) {
            const server *sv = &g[i].s[s];
            int p = sv->port == 443;
            const char *names[MAXG * 4];
            int nn = 0;
            for (int x = 0; x < 4; x++) {
                if (!hit[x]) continue;
                for (int j = 0; j < ng; j++) {
                    if (!has[x][p][j] || j == i) continue;
                    hmap *m = &maps[x][p][j];
                    bool dup = false;
                    for (int h = 0; h < sv->nh; h++) {
                        const char *b = hget(m, sv->hosts[h]);
                        if (b && !strcmp(b, sv->bind)) dup = true;
                    }
                    if (dup) names[nn++] = g[j].name;
                    else for (int h = 0; h < sv->nh; h++) hset(m, sv->hosts[h], sv->bind);
                }
            }
            if (!nn) continue;
            qsort(names, (size_t)nn, sizeof *names, cmp_str);
            char list[256] = "", hosts[128] = "";
            for (int k = 0; k < nn; k++) { strcat(list, k ? "," : ""); strcat(list, names[k]); }
            for (int h = 0; h < sv->nh; h++) { strcat(hosts, h ? "," : ""); strcat(hosts, sv->hosts[h]); }
            snprintf(out[nout], 1024, "%.15s|Conflict with gateways %.255s (workload selector %.63s, port %d, hosts %.127s).",
                     g[i].name, list, sg, sv->port, hosts);
            bool seen = false;  /* istioctl's deduplication */
            for (int k = 0; k < nout; k++) seen = seen || !strcmp(out[k], out[nout]);
            if (!seen) nout++;
        }
    }
    return nout;
}

/* ------------------------------------------------------------ meshc */

static void write_yaml(FILE *f, const gw *g, int ng, const int *podset, int npods)
{
    for (int k = 0; k < npods; k++) {
        fprintf(f, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod%d\n  namespace: ns\n  labels:\n", k);
        char buf[64];
        snprintf(buf, sizeof buf, "%s", pods[podset[k]]);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            char *eq = strchr(t, '=');
            *eq = '\0';
            fprintf(f, "    %s: %s\n", t, eq + 1);
        }
        fprintf(f, "---\n");
    }
    for (int i = 0; i < ng; i++) {
        fprintf(f, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: %s\n  namespace: ns\nspec:\n",
                g[i].name);
        char buf[64];
        snprintf(buf, sizeof buf, "%s", sels[g[i].sel]);
        fprintf(f, "  selector:%s\n", *buf ? "" : " {}");
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            char *eq = strchr(t, '=');
            *eq = '\0';
            fprintf(f, "    %s: %s\n", t, eq + 1);
        }
        fprintf(f, "  servers:%s\n", g[i].ns ? "" : " []");
        for (int s = 0; s < g[i].ns; s++) {
            fprintf(f, "  - port: {number: %d, name: p%d, protocol: HTTP}\n    bind: \"%s\"\n    hosts:%s\n",
                    g[i].s[s].port, s, g[i].s[s].bind, g[i].s[s].nh ? "" : " []");
            for (int h = 0; h < g[i].s[s].nh; h++) fprintf(f, "    - \"%s\"\n", g[i].s[s].hosts[h]);
        }
        fprintf(f, "---\n");
    }
}

static int meshc(const char *path, char out[][1024])
{
    static const char *an[] = { "gateway.ConflictingGatewayAnalyzer" };
    mc_check_opts opt;
    memset(&opt, 0, sizeof opt);
    opt.load.ns = "default";
    opt.analyzers = an;
    opt.nanalyzers = 1;
    opt.cluster_domain = "cluster.local";
    opt.diag.format = MC_FMT_JSON;
    opt.diag.output = MC_INFO;
    mc_input in;
    mc_input_init(&in);
    mc_load(&in, &opt.load, path);
    mc_load_finish(&in);
    mc_analyze(&in, &opt);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    /* the summary line goes to stderr */
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    mc_diag_print(&opt.diag, m, 1, in.nobjs);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(null);
    fclose(m);
    json_t *j = json_loads(buf, 0, NULL);
    int n = 0;
    size_t i;
    json_t *f;
    json_array_foreach(j, i, f)
        snprintf(out[n++], 1024, "%.100s|%.900s", json_string_value(json_object_get(f, "name")),
                 json_string_value(json_object_get(f, "message")));
    json_decref(j);
    free(buf);
    mc_diag_reset();
    mc_input_free(&in);
    mc_src_free_all();
    return n;
}

static void differential(void)
{
    unsigned seed = 4242;
    char path[] = "/tmp/t_analyze_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { ok(0, "mkstemp"); return; }
    close(fd);
    static char want[256][1024], got[256][1024];
    int rounds = 0, bad = 0, reports = 0;
    for (; rounds < 300 && bad < 3; rounds++) {
        gw g[MAXG];
        int ng = 2 + rand_r(&seed) % (MAXG - 1);
        for (int i = 0; i < ng; i++) {
            snprintf(g[i].name, sizeof g[i].name, "ns/g%d", i);
            g[i].sel = rand_r(&seed) % 4;
            g[i].ns = rand_r(&seed) % 8 == 0 ? 0 : 1 + rand_r(&seed) % MAXS;
            for (int s = 0; s < g[i].ns; s++) {
                g[i].s[s].port = rand_r(&seed) % 3 ? 80 : 443;
                g[i].s[s].bind = binds[rand_r(&seed) % 5 == 0];
                g[i].s[s].nh = rand_r(&seed) % 6 == 0 ? 0 : 1 + rand_r(&seed) % MAXH;
                for (int h = 0; h < g[i].s[s].nh; h++) g[i].s[s].hosts[h] = hostpool[rand_r(&seed) % 4];
            }
        }
        int podset[4] = { 0, 0, 0, 0 }, npods = rand_r(&seed) % 3;
        bool gwpod = false;
        for (int k = 0; k < npods; k++) {
            podset[k] = rand_r(&seed) % 3;
            gwpod = gwpod || matches("istio=ingressgateway", pods[podset[k]]);
        }
        FILE *f = fopen(path, "w");
        /* names in the YAML drop the "ns/" the model's names carry */
        gw y[MAXG];
        memcpy(y, g, sizeof y);
        for (int i = 0; i < ng; i++) memmove(y[i].name, y[i].name + 3, strlen(y[i].name + 3) + 1);
        write_yaml(f, y, ng, podset, npods);
        fclose(f);
        /* meshc assumes Istio's default ingress gateway Pod when no input
        ** workload carries istio=ingressgateway */
        int mpods[5];
        memcpy(mpods, podset, sizeof podset);
        int nm = npods;
        if (!gwpod) mpods[nm++] = 1;
        int nw = model(g, ng, mpods, nm, want), ngot = meshc(path, got);
        for (int k = 0; k < ngot; k++) {
            /* meshc's origin names have no namespace prefix: add it */
            char tmp[1024];
            snprintf(tmp, sizeof tmp, "ns/%.1000s", got[k]);
            memcpy(got[k], tmp, sizeof tmp);
        }
        qsort(want, (size_t)nw, sizeof want[0], (int (*)(const void *, const void *))strcmp);
        qsort(got, (size_t)ngot, sizeof got[0], (int (*)(const void *, const void *))strcmp);
        bool same = nw == ngot;
        for (int k = 0; same && k < nw; k++) same = !strcmp(want[k], got[k]);
        reports += nw;
        if (!same) {
            bad++;
            printf("# round %d differs; model:\n", rounds);
            for (int k = 0; k < nw; k++) printf("#   %s\n", want[k]);
            printf("# meshc:\n");
            for (int k = 0; k < ngot; k++) printf("#   %s\n", got[k]);
            FILE *in = fopen(path, "r");
            char line[256];
            while (in && fgets(line, sizeof line, in)) printf("#   | %s", line);
            if (in) fclose(in);
        }
    }
    unlink(path);
    ok(bad == 0, "IST0145 agrees with Istio's algorithm on %d random gateway sets (%d findings)", rounds, reports);
    ok(reports > 100, "the random sets produce conflicts (%d)", reports);
}

/* ------------------------------------------------------------ helpers */

static void helpers(void)
{
    mc_buf b;
    mc_buf_init(&b);
    mc_an_goquote(&b, "a\"b\\c\n\t\x01\xff" "é\xc2\xad");
    is_str(b.s, "\"a\\\"b\\\\c\\n\\t\\x01\\xffé\\u00ad\"", "%q escapes as Go's strconv.Quote");
    mc_buf_free(&b);

    mc_an_ctx c;
    memset(&c, 0, sizeof c);
    mc_arena_init(&c.a);
    c.domain = "cluster.local";
    c.svc_suffix = ".svc.cluster.local";
    static const struct { const char *ns, *host, *want; } rn[] = {
        { "shop", "reviews", "shop\x1freviews" },
        { "shop", "reviews.other.svc.cluster.local", "other\x1freviews" },
        { "shop", "a.b.c.svc.cluster.local", "c\x1f" "a.b" },      /* greedy first group */
        { "shop", "reviews.other", "shop\x1freviews.other" },      /* not expanded */
        { "shop", ".svc.cluster.local", "shop\x1f.svc.cluster.local" },
        { "", "x.y.svc.cluster.local", "y\x1fx" },
    };
    for (size_t i = 0; i < sizeof rn / sizeof rn[0]; i++) {
        mc_buf_init(&b);
        mc_an_resource_name(&c, &b, rn[i].ns, rn[i].host);
        char what[128];
        snprintf(what, sizeof what, "GetResourceNameFromHost(%s, %s)", rn[i].ns, rn[i].host);
        is_str(b.s, rn[i].want, what);
        mc_buf_free(&b);
    }
    is_str(mc_an_fqdn(&c, "shop", "reviews"), "reviews.shop.svc.cluster.local", "FQDN of a short name");
    is_str(mc_an_fqdn(&c, "", "reviews"), "reviews..svc.cluster.local", "FQDN in the empty namespace");
    is_str(mc_an_fqdn(&c, "shop", "*"), "*", "wildcards are left alone");
    ok(mc_an_cluster_local(&c, "reviews") && mc_an_cluster_local(&c, "a.b.svc.cluster.local") &&
       mc_an_cluster_local(&c, "a.b.svc") && !mc_an_cluster_local(&c, "api.example.com"),
       "cluster-local hosts");
    const char *items[] = { "a", "b c" };
    is_str(mc_an_list_v(&c, items, 2), "[a b c]", "%v of a []string");
    is_str(mc_an_list_v(&c, items, 0), "[]", "%v of an empty []string");
    is_str(mc_an_u32(&c, 4294967295u), "4294967295", "decimal text");
    mc_arena_free(&c.a);
}

int main(void)
{
    helpers();
    differential();
    return t_done();
}
