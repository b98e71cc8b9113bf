/*
** t_split.c -- weighted destinations pick as Envoy's weighted_clusters do
** (random % total over cumulative ranges, istio-semantics.md 1.9), with
** the proxy's own random source (rt_rng, one per worker): over 10,000
** requests every destination's share stays within 2 points of its weight.
** The end-to-end check of the same split is in tests/suite_e2e_actions.sh.
*/
#include "imgbuild.h"
#include "reqid.h"
#include "table.h"
#include "t.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 10000

static const char cfg[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: Gateway\n"
    "metadata: {name: gw, namespace: istio-system}\n"
    "spec:\n"
    "  selector: {istio: ingressgateway}\n"
    "  servers:\n"
    "  - port: {number: 80, name: http, protocol: HTTP}\n"
    "    hosts: [split.test]\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: ServiceEntry\n"
    "metadata: {name: b, namespace: default}\n"
    "spec:\n"
    "  hosts: [a.test, b.test, c.test]\n"
    "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
    "  resolution: DNS\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: split, namespace: default}\n"
    "spec:\n"
    "  hosts: [split.test]\n"
    "  gateways: [istio-system/gw]\n"
    "  http:\n"
    "  - match: [{uri: {prefix: /ninety}}]\n"
    "    route:\n"
    "    - {destination: {host: a.test}, weight: 90}\n"
    "    - {destination: {host: b.test}, weight: 10}\n"
    "  - match: [{uri: {prefix: /three}}]\n"
    "    route:\n"
    "    - {destination: {host: a.test}, weight: 50}\n"
    "    - {destination: {host: b.test}, weight: 30}\n"
    "    - {destination: {host: c.test}, weight: 20}\n"
    "  - match: [{uri: {prefix: /loose}}]\n"
    "    route:\n"
    "    - {destination: {host: a.test}, weight: 1}\n"
    "    - {destination: {host: b.test}, weight: 3}\n"
    "    - {destination: {host: c.test}, weight: 0}\n";

static const rt_chain *chain(const rt_image *img)
{
    const rt_view *v = rt_view_workload(img, "istio-system", &(rt_label){ "istio", "ingressgateway" }, 1);
    const rt_listener *l = v ? rt_listener_find(img, v, 80, NULL) : NULL;
    return l ? rt_listener_chain(img, l, NULL, 0) : NULL;
}

/* share of each host over N requests to path, with the proxy's rng */
static void split(const rt_image *img, const char *path, uint64_t seed, const char *const *hosts, const double *want, int nh)
{
    const rt_chain *c = chain(img);
    rt_rng rng;
    rt_rng_seed_with(&rng, seed);
    unsigned count[4] = { 0 }, other = 0;
    for (int i = 0; i < N; i++) {
        rt_request rq;
        memset(&rq, 0, sizeof rq);
        rq.method = "GET";
        rq.method_len = 3;
        rq.authority = "split.test";
        rq.authority_len = 10;
        rq.path = path;
        rq.path_len = strlen(path);
        rq.scheme = "http";
        rq.scheme_len = 4;
        rq.random = rt_rng_next(&rng);
        rt_decision d;
        rt_route_http(img, c, &rq, &d);
        rt_cluster_info ci;
        rt_cluster_get(img, d.cluster, &ci);
        int k = -1;
        for (int h = 0; h < nh; h++)
            if (ci.host.n == strlen(hosts[h]) && memcmp(ci.host.p, hosts[h], ci.host.n) == 0) k = h;
        if (k < 0) other++;
        else count[k]++;
    }
    ok(other == 0, "%s seed %llu: every pick is one of the destinations", path, (unsigned long long)seed);
    for (int h = 0; h < nh; h++) {
        double got = 100.0 * count[h] / N;
        ok(fabs(got - want[h]) <= 2.0, "%s seed %llu: %s gets %.2f%% of %d (weight share %.1f%%, within 2 points)",
           path, (unsigned long long)seed, hosts[h], got, N, want[h]);
        printf("# %s %s: %u of %d, deviation %.2f points\n", path, hosts[h], count[h], N, got - want[h]);
    }
}

int main(void)
{
    size_t n;
    void *bytes = img_build_text(cfg, &n);
    char err[RT_ERR_LEN];
    rt_image *img = bytes ? rt_image_open_mem(bytes, n, err, sizeof err) : NULL;
    if (!ok(img != NULL, "split config builds and verifies")) return t_done();
    if (!ok(chain(img) != NULL, "port 80 has an HTTP chain")) return t_done();
    static const char *const ab[] = { "a.test", "b.test" }, *const abc[] = { "a.test", "b.test", "c.test" };
    static const double w90[] = { 90, 10 }, w532[] = { 50, 30, 20 }, w13[] = { 25, 75, 0 };
    uint64_t seeds[] = { 1, 42, 20261128 };
    for (int i = 0; i < 3; i++) {
        split(img, "/ninety", seeds[i], ab, w90, 2);
        split(img, "/three", seeds[i], abc, w532, 3);
    }
    /* weights need not sum to 100; a weight of 0 gets nothing */
    split(img, "/loose", 7, abc, w13, 3);
    /* a fresh seed each run, as the proxy does */
    rt_rng r;
    rt_rng_seed(&r);
    split(img, "/ninety", rt_rng_next(&r), ab, w90, 2);
    rt_image_close(img);
    free(bytes);
    return t_done();
}
