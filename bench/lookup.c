/*
** lookup.c -- route lookups per second through table.h (the forwarder's
** code path), and what it costs to open a big image:
**   lookup [N]      N hosts for the big case (default 10000)
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

static bool open_img(const char *path, bimg *b)
{
    const char *p = path;
    b->bytes = img_build(&p, 1, &b->n);
    if (!b->bytes) return false;
    char err[RT_ERR_LEN];
    b->img = rt_image_open_mem(b->bytes, b->n, err, sizeof err);
    if (!b->img) { fprintf(stderr, "lookup: %s\n", err); return false; }
    const rt_view *v = rt_view_workload(b->img, "istio-system", &(rt_label){ "istio", "ingressgateway" }, 1);
    const rt_listener *l = v ? rt_listener_find(b->img, v, 80, NULL) : NULL;
    b->chain = l ? rt_listener_chain(b->img, l, NULL, 0) : NULL;
    return b->chain != NULL;
}

static const char *tenant_header(void *ud, const char *name, size_t n, size_t *vn)
{
    (void)name;
    (void)n;
    *vn = 2;
    return ud;
}

typedef struct reqs { char (*host)[64]; char (*path)[64]; char (*tenant)[4]; size_t n; } reqs;

/* lookups per second over the request set, about `secs` seconds */
static double rate(const bimg *b, const reqs *r, double secs, unsigned *matched)
{
    size_t done = 0;
    unsigned ok = 0;
    double t0 = now(), t;
    rt_decision d;
    do {
        for (size_t k = 0; k < 4096; k++, done++) {
            size_t i = done % r->n;
            rt_request q = { "GET", 3, r->host[i], strlen(r->host[i]), r->path[i], strlen(r->path[i]), "http", 4,
                             tenant_header, r->tenant[i], done };
            rt_route_http(b->img, b->chain, &q, &d);
            ok += d.route != IMG_NONE;
        }
        t = now();
    } while (t - t0 < secs);
    *matched = ok;
    return (double)done / (t - t0);
}

static reqs make_reqs(size_t n)
{
    reqs r = { calloc(n, 64), calloc(n, 64), calloc(n, 4), n };
    return r;
}

static void free_reqs(reqs *r)
{
    free(r->host);
    free(r->path);
    free(r->tenant);
}

int main(int argc, char **argv)
{
    long big = argc > 1 ? atol(argv[1]) : 10000;
    if (big < 10) big = 10;
    char self[4096];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(gen_path, sizeof gen_path, "%s/gen", dirname(self));
    srand(1);
    const size_t NREQ = 1 << 16;

    /* ---- hosts: 1 vs big, seed-shaped configs */
    size_t ysmall, ybig;
    char *p1 = gen_config(1, &ysmall), *pb = p1 ? gen_config(big, &ybig) : NULL;
    if (!pb) { fprintf(stderr, "lookup: cannot run %s\n", gen_path); return 1; }
    bimg h1, hb;
    if (!open_img(p1, &h1) || !open_img(pb, &hb)) { fprintf(stderr, "lookup: build failed\n"); return 1; }
    reqs r1 = make_reqs(NREQ), rb = make_reqs(NREQ);
    for (size_t i = 0; i < NREQ; i++) {
        long hi = rand() % big, v = rand() % 2 ? hi % 7 : 9;
        snprintf(r1.host[i], 64, "svc00000.example.com");
        snprintf(rb.host[i], 64, "svc%05ld.example.com", hi);
        snprintf(r1.path[i], 64, "/api/v%ld/items/%d", rand() % 2 ? 0L : 9L, rand() % 100);
        snprintf(rb.path[i], 64, "/api/v%ld/items/%d", v, rand() % 100);
        strcpy(r1.tenant[i], "t0");
        strcpy(rb.tenant[i], "t0");
    }
    unsigned m1, mb;
    rate(&h1, &r1, 0.2, &m1);       /* warm up */
    double q1 = rate(&h1, &r1, 1.0, &m1), qb = rate(&hb, &rb, 1.0, &mb);
    printf("lookups/s, 1 host:          %12.0f\n", q1);
    printf("lookups/s, %ld hosts:   %12.0f  (%.0f%% of 1 host; target >= 80%%)\n", big, qb, 100.0 * qb / q1);

    /* ---- rows: 10 vs big in one virtual host */
    char *rp10 = rows_config(10), *rpb = rows_config(big);
    bimg w10, wb;
    if (!rp10 || !rpb || !open_img(rp10, &w10) || !open_img(rpb, &wb)) { fprintf(stderr, "lookup: build failed\n"); return 1; }
    reqs s10 = make_reqs(NREQ), sb = make_reqs(NREQ);
    for (size_t i = 0; i < NREQ; i++) {
        snprintf(s10.host[i], 64, "rows.example.com");
        snprintf(sb.host[i], 64, "rows.example.com");
        long a = rand() % 10, b = rand() % big;
        snprintf(s10.path[i], 64, "/r%05ld/x/%d", a, rand() % 100);
        snprintf(sb.path[i], 64, "/r%05ld/x/%d", b, rand() % 100);
        snprintf(s10.tenant[i], 4, "t%ld", a % 3);
        snprintf(sb.tenant[i], 4, "t%ld", b % 3);
    }
    double q10 = rate(&w10, &s10, 1.0, &m1), qrb = rate(&wb, &sb, 1.0, &mb);
    printf("lookups/s, 10 rows:         %12.0f\n", q10);
    printf("lookups/s, %ld rows:    %12.0f  (%.0f%% of 10 rows; target >= 80%%)\n", big, qrb, 100.0 * qrb / q10);
    if (!m1 || !mb) printf("warning: no request matched a row\n");

    /* the same big images with requests for only 10 of the hosts / rows:
    ** what remains of the gap is not the algorithm but memory (caches) */
    for (size_t i = 0; i < NREQ; i++) {
        long hi = (rand() % 10) * (big / 10);
        snprintf(rb.host[i], 64, "svc%05ld.example.com", hi);
        long b = (rand() % 10) * (big / 10);
        snprintf(sb.path[i], 64, "/r%05ld/x/%d", b, rand() % 100);
        snprintf(sb.tenant[i], 4, "t%ld", b % 3);
    }
    double qbh = rate(&hb, &rb, 1.0, &mb), qrbh = rate(&wb, &sb, 1.0, &mb);
    printf("lookups/s, %ld hosts, 10 of them asked:  %12.0f  (%.0f%% of 1 host)\n", big, qbh, 100.0 * qbh / q1);
    printf("lookups/s, %ld rows, 10 of them asked:   %12.0f  (%.0f%% of 10 rows)\n", big, qrbh, 100.0 * qrbh / q10);

    /* ---- size and open time of the big seed-shaped image */
    printf("image, %ld hosts:       %12zu bytes for %zu bytes of YAML (%.1f%%; target <= 10%%)\n", big, hb.n, ybig,
           100.0 * (double)hb.n / (double)ybig);
    int reps = 20;
    double t0 = now();
    for (int i = 0; i < reps; i++) {
        char err[RT_ERR_LEN];
        rt_image *x = rt_image_open_mem(hb.bytes, hb.n, err, sizeof err);
        rt_image_close(x);
    }
    printf("verify (open), %ld hosts:  %9.2f ms\n", big, (now() - t0) * 1000 / reps);

    rt_image_close(h1.img); rt_image_close(hb.img); rt_image_close(w10.img); rt_image_close(wb.img);
    free(h1.bytes); free(hb.bytes); free(w10.bytes); free(wb.bytes);
    free_reqs(&r1); free_reqs(&rb); free_reqs(&s10); free_reqs(&sb);
    remove(p1); remove(pb); remove(rp10); remove(rpb);
    free(p1); free(pb); free(rp10); free(rpb);
    return 0;
}
