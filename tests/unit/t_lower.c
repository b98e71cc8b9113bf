/*
** t_lower.c -- lowering and emitting never fail on odd input: every YAML
** file of testdata/ and of Istio's own analyzer and sample configs
** (../shared/conformance) is lowered WITHOUT the checks (values of wrong
** types, missing fields, dangling references), emitted, verified, and
** every view looked up. Under ASan this is the no-crash guarantee for
** configs the checks would refuse.
*/
#include "imgbuild.h"
#include "source.h"
#include "table.h"
#include "t.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *files[4096];
static int nfiles;

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && nfiles < 4096) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) walk(p);
        else {
            size_t l = strlen(p);
            if ((l > 5 && strcmp(p + l - 5, ".yaml") == 0) || (l > 4 && strcmp(p + l - 4, ".yml") == 0)) files[nfiles++] = strdup(p);
        }
    }
    closedir(d);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---- random damage to the route-test configs: a line dropped, or the
** value after a "key: " replaced by a value of another type */

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *b = malloc(1 << 20);
    *n = fread(b, 1, (1 << 20) - 1, f);
    b[*n] = '\0';
    fclose(f);
    return b;
}

static void mutants(void)
{
    static const char *const vals[] = { "{}", "[]", "-1", "0", "99999999999", "70000", "\"\"", "null", "\"*\"", "[1, {a: b}]",
                                        "{exact: 1}", "true", "1.5e300", "\"/\"", "[\"*\", \"\"]" };
    int total = 0, verified = 0;
    for (int i = 0; i < nfiles; i++) {
        if (!strstr(files[i], "testdata/routes/") || !strstr(files[i], "config.yaml")) continue;
        size_t n;
        char *src = slurp(files[i], &n);
        if (!src) continue;
        for (int m = 0; m < 40; m++) {
            char *text = malloc(n + 256);
            strcpy(text, src);
            for (int k = 0; k < 3; k++) {
                /* pick a line */
                size_t len = strlen(text), at = rnd((uint32_t)len);
                while (at > 0 && text[at - 1] != '\n') at--;
                char *eol = strchr(text + at, '\n');
                size_t ll = eol ? (size_t)(eol - text - at) : len - at;
                char *colon = memchr(text + at, ':', ll);
                if (rnd(4) == 0 || !colon || colon[1] != ' ') {
                    memmove(text + at, text + at + ll + (eol ? 1 : 0), len - at - ll - (eol ? 1 : 0) + 1);
                } else {
                    const char *v = vals[rnd(sizeof vals / sizeof vals[0])];
                    size_t vstart = (size_t)(colon + 2 - text), vend = at + ll;
                    char tail[1 << 12];
                    snprintf(tail, sizeof tail, "%s", text + vend);
                    snprintf(text + vstart, n + 256 - vstart, "%s%s", v, tail);
                }
            }
            size_t in;
            void *bytes = img_build_text(text, &in);
            total++;
            char err[RT_ERR_LEN];
            rt_image *img = bytes ? rt_image_open_mem(bytes, in, err, sizeof err) : NULL;
            if (img) {
                verified++;
                rt_image_close(img);
            } else if (bytes && verified + 3 >= total) {
                printf("# %s mutant %d: %s\n", files[i], m, err);
            }
            free(bytes);
            free(text);
            mc_src_free_all();
        }
        free(src);
    }
    ok(total > 100 && verified == total, "%d damaged route configs all lower into images that verify (%d)", total, verified);
}

int main(void)
{
    walk("testdata");
    walk("../shared/conformance");
    qsort(files, (size_t)nfiles, sizeof *files, cmp);
    ok(nfiles > 50, "%d YAML files to lower", nfiles);
    int built = 0, verified = 0;
    unsigned lookups = 0;
    for (int i = 0; i < nfiles; i++) {
        size_t n;
        const char *p = files[i];
        void *bytes = img_build(&p, 1, &n);
        if (!bytes) {
            ok(0, "%s: emitted", files[i]);
            continue;
        }
        built++;
        char err[RT_ERR_LEN];
        rt_image *img = rt_image_open_mem(bytes, n, err, sizeof err);
        if (!img) {
            ok(0, "%s: the emitted image verifies (%s)", files[i], err);
            free(bytes);
            continue;
        }
        verified++;
        for (uint32_t v = 0; v < rt_view_count(img); v++) {
            const rt_view *view = rt_view_at(img, v);
            rt_view_info vi;
            rt_view_info_get(img, view, &vi);
            for (uint32_t k = 0; k < vi.nlisteners; k++) {
                const rt_listener *l = rt_view_listener(img, view, k);
                rt_listener_info li;
                rt_listener_info_get(img, l, &li);
                for (uint32_t c = 0; c < li.nchains; c++) {
                    const rt_chain *ch = rt_listener_chain_at(img, l, c);
                    rt_chain_info ci;
                    rt_chain_info_get(img, ch, &ci);
                    rt_decision d;
                    if (ci.kind == IMG_CHAIN_TCP) {
                        rt_route_tcp(img, ch, 1, &d);
                    } else {
                        rt_request r = { "GET", 3, "example.com", 11, "/productpage?u=1", 16, "http", 4, NULL, NULL, 3 };
                        rt_route_http(img, ch, &r, &d);
                        char buf[256];
                        rt_rewrite_path(img, &d, &r, buf, sizeof buf);
                        rt_redirect_location(img, &d, &r, buf, sizeof buf);
                    }
                    lookups++;
                }
            }
        }
        rt_image_close(img);
        free(bytes);
        mc_src_free_all();
    }
    ok(built == nfiles && verified == nfiles, "all %d files lower, emit and verify (%d, %d), %u lookups", nfiles, built, verified, lookups);
    mutants();
    for (int i = 0; i < nfiles; i++) free(files[i]);
    return t_done();
}
