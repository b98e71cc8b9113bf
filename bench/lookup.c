/*
** lookup.c -- route lookups per second through table.h (the forwarder's
** code path), and what it costs to open a big image:
**   lookup [N]      N hosts for the big case (default 10000)
**   lookup -c CASE [-n COUNT] [N]
**                   COUNT lookups (default 1000000) of one case, untimed,
**                   for callgrind / cachegrind (--toggle-collect=rt_route_http):
**                   hosts1, hosts (N hosts), rows10, rows (N rows); hosts-of10,
**                   rows-of10: the big image, requests for 10 of its hosts / rows
** Cases: 1 host vs N hosts (the seed's shape, bench/gen), and 10 vs N
** route rows in one virtual host. The target: the big cases keep at least
** 80% of the small cases' rate. Also prints the image size against its
** YAML and the time rt_image_open (mmap + verify) takes.
*/
#include "../tests/unit/imgbuild.h"
#include "table.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char gen_path[4096];

/* the seed-shaped generator next to this program, into a temporary file */
static char *gen_config(long n, size_t *yaml_size)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/meshrt-bench-%ld.yaml", n);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "'%s' %ld > '%s'", gen_path, n, path);
    if (system(cmd) != 0) return NULL;
    struct stat st;
    if (stat(path, &st) != 0) return NULL;
    *yaml_size = (size_t)st.st_size;
    return strdup(path);
}

/* one VirtualService with n prefix rows /rNNNNN/ on one host */
static char *rows_config(long n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/meshrt-bench-rows-%ld.yaml", n);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fprintf(f, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n"
               "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n"
               "    hosts: [rows.example.com]\n---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
               "metadata: {name: be, namespace: default}\nspec:\n  hosts: [be.example.com]\n"
               "  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n---\n"
               "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: rows, namespace: default}\n"
               "spec:\n  hosts: [rows.example.com]\n  gateways: [istio-system/gw]\n  http:\n");
    for (long i = 0; i < n; i++)
        fprintf(f, "  - match: [{uri: {prefix: /r%05ld/}, headers: {x-tenant: {exact: t%ld}}}]\n"
                   "    route: [{destination: {host: be.example.com}}]\n", i, i % 3);
    fclose(f);
    return strdup(path);
}

typedef struct bimg { void *bytes; size_t n; rt_image *img; const rt_chain *chain; } bimg;

/* built in memory, then written out and mapped as meshrt maps it (page
** aligned: the hash buckets sit on cache lines) */
static bool open_img(const char *path, bimg *b)
{
    const char *p = path;
    b->bytes = img_build(&p, 1, &b->n);
    if (!b->bytes) return false;
    char ipath[64], err[RT_ERR_LEN];
    snprintf(ipath, sizeof ipath, "/tmp/meshrt-bench-%d.img", (int)getpid());
    FILE *f = fopen(ipath, "wb");
    if (!f || fwrite(b->bytes, 1, b->n, f) != b->n || fclose(f) != 0) { fprintf(stderr, "lookup: cannot write %s\n", ipath); return false; }
    b->img = rt_image_open(ipath, err, sizeof err);
    remove(ipath);
    if (!b->img) { fprintf(stderr, "lookup: %s\n", err); return false; }
    const rt_view *v = rt_view_workload(b->img, "istio-system", &(rt_label){ "istio", "ingressgateway" }, 1);
    const rt_listener *l = v ? rt_listener_find(b->img, v, 80, NULL) : NULL;
    b->chain = l ? rt_listener_chain(b->img, l, NULL, 0) : NULL;
    return b->chain != NULL;
}

static void close_img(bimg *b)
{
    rt_image_close(b->img);
    free(b->bytes);
}

static const char *tenant_header(void *ud, const char *name, size_t n, size_t *vn)
{
    (void)name;
    (void)n;
    *vn = 2;
    return ud;
}

typedef struct reqs { char (*host)[64]; char (*path)[64]; char (*tenant)[4]; size_t n; } reqs;

#define NREQ (1u << 16)

static reqs make_reqs(void)
{
    reqs r = { calloc(NREQ, 64), calloc(NREQ, 64), calloc(NREQ, 4), NREQ };
    return r;
}

static void free_reqs(reqs *r)
{
    free(r->host);
    free(r->path);
    free(r->tenant);
}

/* uniformly random requests: over 1 host or over `big` hosts (the seed
** shape: /api/vN matches the prefix row of one host in two, the rest the
** catch-all); over 10 rows or `big` rows of one virtual host, each with its
** tenant header. `of` > 0 asks only `of` of the hosts / rows. */
static void host_reqs(reqs *r, long big, long of)
{
    srand(1);
    for (size_t i = 0; i < r->n; i++) {
        long hi = of ? (rand() % of) * (big / of) : rand() % big, v = rand() % 2 ? hi % 7 : 9;
        snprintf(r->host[i], 64, "svc%05ld.example.com", hi);
        snprintf(r->path[i], 64, "/api/v%ld/items/%d", v, rand() % 100);
        strcpy(r->tenant[i], "t0");
    }
}

static void row_reqs(reqs *r, long big, long of)
{
    srand(2);
    for (size_t i = 0; i < r->n; i++) {
        long b = of ? (rand() % of) * (big / of) : rand() % big;
        snprintf(r->host[i], 64, "rows.example.com");
        snprintf(r->path[i], 64, "/r%05ld/x/%d", b, rand() % 100);
        snprintf(r->tenant[i], 4, "t%ld", b % 3);
    }
}

/* `count` lookups over the request set; returns how many matched a row */
static size_t run(const bimg *b, const reqs *r, size_t from, size_t count)
{
    size_t ok = 0;
    rt_decision d;
    for (size_t k = 0; k < count; k++) {
        size_t i = (from + k) % r->n;
        rt_request q = { "GET", 3, r->host[i], strlen(r->host[i]), r->path[i], strlen(r->path[i]), "http", 4,
                         tenant_header, r->tenant[i], from + k };
        rt_route_http(b->img, b->chain, &q, &d);
        ok += d.route != IMG_NONE;
    }
    return ok;
}

/* lookups per second over the request set, about `secs` seconds */
static double rate(const bimg *b, const reqs *r, double secs, size_t *matched)
{
    size_t done = 0, ok = 0;
    double t0 = now(), t;
    do {
        ok += run(b, r, done, 4096);
        done += 4096;
        t = now();
    } while (t - t0 < secs);
    if (matched) *matched += ok;
    return (double)done / (t - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* small and big case measured in turns, `rounds` times: the machine's
** noise hits both alike; medians of the rates and of the per-round ratio */
static void compare(const char *what, const char *small_name, const bimg *small, const reqs *rs, const char *big_name,
                    const bimg *big, const reqs *rb, int rounds)
{
    double qs[64], qb[64], ratio[64];
    size_t ms = 0, mb = 0;
    rate(small, rs, 0.1, NULL);
    rate(big, rb, 0.1, NULL);
    for (int i = 0; i < rounds; i++) {
        qs[i] = rate(small, rs, 0.25, &ms);
        qb[i] = rate(big, rb, 0.25, &mb);
        ratio[i] = qb[i] / qs[i];
    }
    double rm = median(ratio, rounds);
    printf("lookups/s, %-22s %12.0f\n", small_name, median(qs, rounds));
    printf("lookups/s, %-22s %12.0f  %s: %.0f%% of the small case (median of %d rounds; target >= 80%%: %s)\n", big_name,
           median(qb, rounds), what, 100.0 * rm, rounds, rm >= 0.8 ? "met" : "NOT met");
    if (!ms || !mb) printf("warning: no request matched a row\n");
}

static void usage(void)
{
    fputs("usage: lookup [-r ROUNDS] [N]\n       lookup -c hosts1|hosts|hosts-of10|rows10|rows|rows-of10 [-n COUNT] [N]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    long count = 1000000, big = 10000;
    int rounds = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) count = atol(argv[++i]);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (argv[i][0] != '-') big = atol(argv[i]);
        else usage();
    }
    if (big < 10) big = 10;
    if (rounds < 1 || rounds > 64) rounds = 7;
    char self[4096];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(gen_path, sizeof gen_path, "%s/gen", dirname(self));

    if (only) {
        bool hosts = strncmp(only, "hosts", 5) == 0, small = strcmp(only, "hosts1") == 0 || strcmp(only, "rows10") == 0;
        long of = strstr(only, "-of10") ? 10 : 0;
        if (!hosts && strncmp(only, "rows", 4) != 0) usage();
        size_t y;
        char *path = hosts ? gen_config(small ? 1 : big, &y) : rows_config(small ? 10 : big);
        bimg b;
        if (!path || !open_img(path, &b)) { fprintf(stderr, "lookup: build failed\n"); return 1; }
        reqs r = make_reqs();
        if (hosts) host_reqs(&r, small ? 1 : big, of);
        else row_reqs(&r, small ? 10 : big, of);
        size_t matched = run(&b, &r, 0, (size_t)count);
        printf("%s: %ld lookups, %zu matched a row\n", only, count, matched);
        close_img(&b);
        free_reqs(&r);
        remove(path);
        free(path);
        return 0;
    }

    /* ---- hosts: 1 vs big, seed-shaped configs */
    size_t ysmall, ybig;
    char *p1 = gen_config(1, &ysmall), *pb = p1 ? gen_config(big, &ybig) : NULL;
    if (!pb) { fprintf(stderr, "lookup: cannot run %s\n", gen_path); return 1; }
    bimg h1, hb;
    if (!open_img(p1, &h1) || !open_img(pb, &hb)) { fprintf(stderr, "lookup: build failed\n"); return 1; }
    reqs r1 = make_reqs(), rb = make_reqs();
    host_reqs(&r1, 1, 0);
    host_reqs(&rb, big, 0);
    char name[64];
    snprintf(name, sizeof name, "%ld hosts:", big);
    compare("hosts", "1 host:", &h1, &r1, name, &hb, &rb, rounds);

    /* ---- rows: 10 vs big in one virtual host */
    char *rp10 = rows_config(10), *rpb = rows_config(big);
    bimg w10, wb;
    if (!rp10 || !rpb || !open_img(rp10, &w10) || !open_img(rpb, &wb)) { fprintf(stderr, "lookup: build failed\n"); return 1; }
    reqs s10 = make_reqs(), sb = make_reqs();
    row_reqs(&s10, 10, 0);
    row_reqs(&sb, big, 0);
    snprintf(name, sizeof name, "%ld rows:", big);
    compare("rows", "10 rows:", &w10, &s10, name, &wb, &sb, rounds);

    /* the same big images with requests for only 10 of the hosts / rows:
    ** what remains of the gap then is not memory but instructions */
    host_reqs(&rb, big, 10);
    row_reqs(&sb, big, 10);
    double qbh = rate(&hb, &rb, 0.5, NULL), q1 = rate(&h1, &r1, 0.5, NULL);
    double qrbh = rate(&wb, &sb, 0.5, NULL), q10 = rate(&w10, &s10, 0.5, NULL);
    printf("lookups/s, %ld hosts, 10 of them asked: %12.0f  (%.0f%% of 1 host)\n", big, qbh, 100.0 * qbh / q1);
    printf("lookups/s, %ld rows, 10 of them asked:  %12.0f  (%.0f%% of 10 rows)\n", big, qrbh, 100.0 * qrbh / q10);

    /* ---- size and open time of the big seed-shaped image */
    printf("image, %ld hosts: %zu bytes for %zu bytes of YAML: %.1f%% (target <= 10%%: %s)\n", big, hb.n, ybig,
           100.0 * (double)hb.n / (double)ybig, (double)hb.n <= 0.1 * (double)ybig ? "met" : "NOT met");
    double tv[64];
    for (int i = 0; i < 21; i++) {
        char err[RT_ERR_LEN];
        double t0 = now();
        rt_image *x = rt_image_open_mem(hb.bytes, hb.n, err, sizeof err);
        tv[i] = now() - t0;
        rt_image_close(x);
    }
    printf("open (verify + cluster names), %ld hosts: %.2f ms (median of 21)\n", big, median(tv, 21) * 1000);
    for (int i = 0; i < 21; i++) {
        double t0 = now();
        img_verify(hb.bytes, hb.n, NULL, NULL, NULL, 0);
        tv[i] = now() - t0;
    }
    printf("img_verify alone, %ld hosts: %.2f ms (median of 21)\n", big, median(tv, 21) * 1000);

    close_img(&h1); close_img(&hb); close_img(&w10); close_img(&wb);
    free_reqs(&r1); free_reqs(&rb); free_reqs(&s10); free_reqs(&sb);
    remove(p1); remove(pb); remove(rp10); remove(rpb);
    free(p1); free(pb); free(rp10); free(rpb);
    return 0;
}
