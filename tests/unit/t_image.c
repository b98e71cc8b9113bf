/*
** t_image.c -- the verifier (runtime/image.c) against damaged images:
** every truncation and every single-bit flip of real images is refused
** without a crash (run under ASan by `make test SANITIZE=1`); the same
** flips with the checksum recomputed either fail a structural check with
** an offset or leave an image whose lookups still stay in bounds; and the
** hand-made cases of testdata/images/bad (NAME.hex) give their messages.
**
** A .hex case (uBPF's tests/errors idea) is a list of commands:
**   # comment
**   base PATH           build an image from PATH (testdata/routes/CASE: its config.yaml)
**   raw HEX...          start from these bytes instead
**   set SEC I FIELD HEX...   write bytes at a field of record I of section SEC
**   add SEC I FIELD N   add N to the 32-bit word at that field
**   copy SEC I FIELD SEC2 J FIELD2   copy the 8 bytes of a string or range
** (FIELD.len / FIELD.count address the second half of a string / range;
** FIELD @ is the record itself, for sections of plain numbers or bytes)
**   sectab I FIELD HEX...    write into section table entry I (id, count, off, size)
**   at OFFSET HEX...    write bytes at a file offset
**   truncate N          keep the first N bytes
**   fix                 recompute the build id and the checksum
**   expect TEXT         the verifier must refuse with a message containing TEXT
*/
#include "imgbuild.h"
#include "source.h"
#include "image.h"
#include "table.h"
#include "t.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static void fix(uint8_t *p, size_t n)
{
    img_header h;
    if (n < sizeof h) return;
    memcpy(&h, p, sizeof h);
    size_t hs = h.header_size <= n ? h.header_size : n;
    XXH128_canonical_t id;
    XXH128_canonicalFromHash(&id, XXH3_128bits(p + hs, n - hs));
    memcpy(h.build_id, id.digest, 16);
    memcpy(p, &h, sizeof h);
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, p, offsetof(img_header, checksum));
    XXH3_64bits_update(st, p + offsetof(img_header, reserved), n - offsetof(img_header, reserved));
    h.checksum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    memcpy(p, &h, sizeof h);
}

/* Copy into a buffer of exactly n bytes (ASan sees any overread). */
static rt_image *open_copy(const uint8_t *p, size_t n, char *err, size_t errlen, void **keep)
{
    void *buf = NULL;
    if (posix_memalign(&buf, 8, n ? n : 8) != 0) return NULL;
    memcpy(buf, p, n);
    rt_image *img = rt_image_open_mem(buf, n, err, errlen);
    if (!img) {
        free(buf);
        buf = NULL;
    }
    *keep = buf;
    return img;
}

static const char *hdr_fn(void *ud, const char *name, size_t n, size_t *vn)
{
    (void)ud;
    if (n == 5 && memcmp(name, "x-env", 5) == 0) { *vn = 4; return "prod"; }
    return NULL;
}

/* Every lookup the forwarder can make, over every view and listener. */
static unsigned exercise(const rt_image *img)
{
    static const char *hosts[] = { "httpbin.org", "match.example.com", "a.foo.com:80", "X.Y", "", "[::1]:8080", "p.example.com" };
    static const char *paths[] = { "/status/418", "/", "/api?x=1&debug=1&trace", "/r12", "/a?b", "/hdr#frag", "/CASE/x",
                                   "/r101/x", "/r211/y" };
    static const char *snis[] = { "www.google.com", "a.example.com", "x.deep.example.com", NULL };
    unsigned n = 0;
    char buf[512];
    for (uint32_t v = 0; v < rt_view_count(img); v++) {
        const rt_view *view = rt_view_at(img, v);
        rt_view_info vi;
        rt_view_info_get(img, view, &vi);
        for (uint32_t l = 0; l < vi.nlisteners; l++) {
            const rt_listener *li = rt_view_listener(img, view, l);
            rt_listener_info info;
            rt_listener_info_get(img, li, &info);
            for (size_t s = 0; s < sizeof snis / sizeof snis[0]; s++) {
                const rt_chain *c = rt_listener_chain(img, li, snis[s], snis[s] ? strlen(snis[s]) : 0);
                if (!c) continue;
                rt_chain_info ci;
                rt_chain_info_get(img, c, &ci);
                rt_decision d;
                if (ci.kind == IMG_CHAIN_TCP) {
                    rt_route_tcp(img, c, s * 7, &d);
                    n++;
                    continue;
                }
                for (size_t h = 0; h < sizeof hosts / sizeof hosts[0]; h++)
                    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
                        rt_request r = { "GET", 3, hosts[h], strlen(hosts[h]), paths[p], strlen(paths[p]), "http", 4, hdr_fn, NULL, h * 31 + p };
                        rt_route_http(img, c, &r, &d);
                        rt_rewrite_path(img, &d, &r, buf, sizeof buf);
                        rt_rewrite_authority(img, &d, &r, buf, sizeof buf);
                        rt_redirect_location(img, &d, &r, buf, sizeof buf);
                        rt_direct_body(img, &d);
                        rt_route_label(img, &d, buf, sizeof buf);
                        rt_policy pol;
                        rt_policy_get(img, &d, &pol);
                        for (uint32_t k = 0; k < pol.nreq_headers; k++) rt_req_header_op(img, &d, k);
                        for (uint32_t k = 0; k < pol.nmirrors; k++) rt_mirror_get(img, &d, k);
                        rt_cors_origin_allowed(img, &d, "https://a.example.com", 21);
                        n++;
                    }
            }
        }
    }
    for (uint32_t c = 0; c < rt_cluster_count(img); c++) {
        rt_cluster_info ci;
        rt_cluster_get(img, c, &ci);
        for (uint32_t e = 0; e < ci.nendpoints; e++) {
            rt_endpoint_info ei;
            rt_endpoint_get(img, c, e, &ei);
        }
        rt_cluster_find(img, ci.name.p, ci.name.n);
    }
    return n;
}

static uint8_t *build_base(const char *path, size_t *n)
{
    char full[512];
    snprintf(full, sizeof full, "%s/config.yaml", path);
    FILE *f = fopen(full, "r");
    const char *p = path;
    if (f) {
        fclose(f);
        p = full;
    }
    return img_build(&p, 1, n);
}

/* flips and truncations over one image */
static void damage(const char *name, const uint8_t *img, size_t n)
{
    char err[RT_ERR_LEN];
    void *keep;
    rt_image *ok_img = open_copy(img, n, err, sizeof err, &keep);
    ok(ok_img != NULL, "%s: the undamaged image verifies", name);
    if (ok_img) {
        ok(exercise(ok_img) > 0, "%s: lookups run", name);
        rt_image_close(ok_img);
        free(keep);
    }
    unsigned refused = 0;
    for (size_t len = 0; len < n; len++) {
        rt_image *x = open_copy(img, len, err, sizeof err, &keep);
        if (!x) refused++;
        else { rt_image_close(x); free(keep); }
    }
    ok(refused == n, "%s: all %zu truncations refused (%u)", name, n, refused);

    uint8_t *copy = malloc(n);
    unsigned flips = 0, by_checksum = 0, by_header = 0, other = 0;
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(copy, img, n);
            copy[i] ^= (uint8_t)(1u << b);
            rt_image *x = open_copy(copy, n, err, sizeof err, &keep);
            flips++;
            if (x) { rt_image_close(x); free(keep); other++; continue; }
            if (strstr(err, "checksum mismatch")) by_checksum++;
            else if (i < offsetof(img_header, build_id) || i >= offsetof(img_header, reserved)) by_header++;
            else other++;
        }
    ok(by_checksum + by_header == flips && other == 0, "%s: all %u bit flips refused (%u by the checksum, %u by a header check)",
       name, flips, by_checksum, by_header);

    /* the same flips past the header with the checksum recomputed: the
    ** structural checks must refuse them or the image must stay safe */
    img_header h;
    memcpy(&h, img, sizeof h);
    unsigned s_refused = 0, s_accepted = 0, s_with_offset = 0;
    for (size_t i = IMG_HEADER_SIZE; i < n; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(copy, img, n);
            copy[i] ^= (uint8_t)(1u << b);
            fix(copy, n);
            rt_image *x = open_copy(copy, n, err, sizeof err, &keep);
            if (!x) {
                s_refused++;
                if (strncmp(err, "at offset ", 10) == 0) s_with_offset++;
                continue;
            }
            s_accepted++;
            exercise(x);
            rt_image_close(x);
            free(keep);
        }
    ok(s_refused == s_with_offset, "%s: structural refusals name an offset (%u of %u)", name, s_with_offset, s_refused);
    ok(s_refused > 0, "%s: with the checksum fixed, %u flips refused by structural checks, %u harmless ones survived lookups",
       name, s_refused, s_accepted);
    free(copy);
}

/* ------------------------------------------------------------ .hex cases */

static int hexbytes(const char *s, uint8_t *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ' || *s == '\t') s++;
        if (!s[0] || !s[1]) break;
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1) return -1;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static int sec_by_name(const char *name)
{
    for (int s = 0; s < IMG_NSECTIONS; s++)
        if (strcmp(img_section_name((img_sec)s), name) == 0) return s;
    return -1;
}

/* offset of section s, record i, field f in img (through the section table) */
static long field_off(const uint8_t *img, size_t n, int s, unsigned i, const char *f)
{
    if (n < IMG_HEADER_SIZE + 24u * IMG_NSECTIONS) return -1;
    img_section st;
    memcpy(&st, img + IMG_HEADER_SIZE + 24u * (unsigned)s, sizeof st);
    if (strcmp(f, "@") == 0) return (long)(st.off + (uint64_t)i * img_section_recsize((img_sec)s));
    uint32_t nf;
    const img_field *fs = img_section_fields((img_sec)s, &nf);
    /* FIELD.len: the length half of a string or the count half of a range */
    size_t fl = strcspn(f, ".");
    long extra = strcmp(f + fl, ".len") == 0 || strcmp(f + fl, ".count") == 0 ? 4 : 0;
    for (uint32_t k = 0; k < nf; k++)
        if (strlen(fs[k].name) == fl && strncmp(fs[k].name, f, fl) == 0)
            return (long)(st.off + (uint64_t)i * img_section_recsize((img_sec)s) + fs[k].off) + extra;
    return -1;
}

static void hex_case(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f) { ok(0, "%s: readable", name); return; }
    uint8_t *img = NULL;
    size_t n = 0;
    char line[1024], expect[512] = "";
    bool bad = false;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        char cmd[16], a[64], c[64];
        unsigned idx;
        int k = 0;
        if (sscanf(line, "%15s %n", cmd, &k) != 1) continue;
        const char *rest = line + k;
        uint8_t bytes[256];
        if (strcmp(cmd, "base") == 0) {
            free(img);
            img = build_base(rest, &n);
            if (!img) bad = true;
        } else if (strcmp(cmd, "raw") == 0) {
            int m = hexbytes(rest, bytes, sizeof bytes);
            free(img);
            if (posix_memalign((void **)&img, 8, m > 0 ? (size_t)m : 8) != 0) img = NULL;
            if (m > 0) memcpy(img, bytes, (size_t)m);
            n = m > 0 ? (size_t)m : 0;
        } else if (strcmp(cmd, "set") == 0 || strcmp(cmd, "add") == 0) {
            int j = 0;
            if (sscanf(rest, "%63s %u %63s %n", a, &idx, c, &j) < 3) { bad = true; continue; }
            int s = sec_by_name(a);
            long off = s < 0 ? -1 : field_off(img, n, s, idx, c);
            if (off < 0) { bad = true; continue; }
            if (cmd[0] == 's') {
                int m = hexbytes(rest + j, bytes, sizeof bytes);
                if (m <= 0 || (size_t)off + (size_t)m > n) { bad = true; continue; }
                memcpy(img + off, bytes, (size_t)m);
            } else {
                uint32_t v;
                if ((size_t)off + 4 > n) { bad = true; continue; }
                memcpy(&v, img + off, 4);
                v += (uint32_t)strtol(rest + j, NULL, 0);
                memcpy(img + off, &v, 4);
            }
        } else if (strcmp(cmd, "copy") == 0) {
            char a2[64], c2[64];
            unsigned idx2;
            if (sscanf(rest, "%63s %u %63s %63s %u %63s", a, &idx, c, a2, &idx2, c2) != 6) { bad = true; continue; }
            int s1 = sec_by_name(a), s2 = sec_by_name(a2);
            long from = s1 < 0 ? -1 : field_off(img, n, s1, idx, c), to = s2 < 0 ? -1 : field_off(img, n, s2, idx2, c2);
            if (from < 0 || to < 0 || (size_t)from + 8 > n || (size_t)to + 8 > n) { bad = true; continue; }
            memmove(img + to, img + from, 8);
        } else if (strcmp(cmd, "sectab") == 0) {
            int j = 0;
            if (sscanf(rest, "%u %63s %n", &idx, a, &j) < 2) { bad = true; continue; }
            size_t fo = strcmp(a, "id") == 0 ? 0 : strcmp(a, "count") == 0 ? 4 : strcmp(a, "off") == 0 ? 8 : 16;
            size_t off = IMG_HEADER_SIZE + 24u * idx + fo;
            int m = hexbytes(rest + j, bytes, sizeof bytes);
            if (m <= 0 || off + (size_t)m > n) { bad = true; continue; }
            memcpy(img + off, bytes, (size_t)m);
        } else if (strcmp(cmd, "at") == 0) {
            unsigned long off;
            int j = 0;
            if (sscanf(rest, "%lu %n", &off, &j) < 1) { bad = true; continue; }
            int m = hexbytes(rest + j, bytes, sizeof bytes);
            if (m <= 0 || off + (size_t)m > n) { bad = true; continue; }
            memcpy(img + off, bytes, (size_t)m);
        } else if (strcmp(cmd, "truncate") == 0) {
            size_t t = strtoul(rest, NULL, 10);
            if (t < n) n = t;
        } else if (strcmp(cmd, "fix") == 0) {
            fix(img, n);
        } else if (strcmp(cmd, "expect") == 0) {
            snprintf(expect, sizeof expect, "%s", rest);
        } else {
            bad = true;
        }
    }
    fclose(f);
    if (bad || !expect[0]) {
        ok(0, "%s: malformed case file", name);
        free(img);
        return;
    }
    char err[RT_ERR_LEN] = "";
    void *keep = NULL;
    rt_image *x = open_copy(img ? img : (uint8_t *)"", n, err, sizeof err, &keep);
    if (x) {
        rt_image_close(x);
        free(keep);
    }
    if (!ok(!x && strstr(err, expect) != NULL, "bad image %s: refused with \"%s\"", name, expect)) printf("#   got: %s\n", x ? "(accepted)" : err);
    free(img);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* NUL-terminated names are read to their end by some checks: a small image
** whose many records all name one long string must be refused for the
** work, not verified in quadratic time. */
static void string_budget(void)
{
    mc_buf b;
    mc_buf_init(&b);
    mc_buf_puts(&b, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n"
                    "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n"
                    "    hosts: [\"*\"]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                    "metadata: {name: v, namespace: default}\nspec:\n  hosts: [\"*\"]\n  gateways: [istio-system/gw]\n  http:\n"
                    "  - match: [{uri: {prefix: /long}}]\n    directResponse: {status: 200, body: {string: \"");
    for (int i = 0; i < 8000; i++) mc_buf_putc(&b, (char)('a' + i % 26));
    mc_buf_puts(&b, "\"}}\n");
    for (int i = 0; i < 300; i++)
        mc_buf_printf(&b, "  - match: [{uri: {prefix: /s%d}}]\n    route: [{destination: {host: s%03d.example.com, port: {number: %d}}}]\n",
                      i, i, 1000 + i);
    size_t n = 0;
    uint8_t *img = img_build_text(b.s, &n);
    mc_buf_free(&b);
    char err[RT_ERR_LEN];
    void *keep;
    rt_image *x = img ? open_copy(img, n, err, sizeof err, &keep) : NULL;
    if (!ok(x != NULL, "an image with a long string and 300 clusters verifies")) { free(img); return; }
    rt_image_close(x);
    free(keep);
    /* every cluster's host: the long body */
    img_section cl, st;
    memcpy(&cl, img + IMG_HEADER_SIZE + 24u * IMG_S_CLUSTERS, sizeof cl);
    memcpy(&st, img + IMG_HEADER_SIZE + 24u * IMG_S_STRINGS, sizeof st);
    const char *body = memmem(img + st.off, st.size, "abcdefghijklmnopqrstuvwxyzabcdef", 32);
    uint32_t off = body ? (uint32_t)((const uint8_t *)body - (img + st.off)) : 0;
    for (uint32_t i = 0; i < cl.count; i++) memcpy(img + cl.off + (size_t)i * sizeof(img_cluster) + offsetof(img_cluster, host), &off, 4);
    fix(img, n);
    x = open_copy(img, n, err, sizeof err, &keep);
    if (x) { rt_image_close(x); free(keep); }
    ok(body && cl.count >= 300 && !x && strstr(err, "cost too much to verify"), "300 clusters named by one 8000-byte string are refused: %s",
       x ? "(accepted)" : err);
    free(img);
}

int main(void)
{
    size_t n;
    uint8_t *seed = build_base("testdata/seed", &n);
    ok(seed != NULL, "seed image builds");
    if (seed) damage("seed", seed, n);

    /* version, newline and alignment messages */
    if (seed) {
        char err[RT_ERR_LEN];
        void *keep;
        uint8_t *c = malloc(n);
        memcpy(c, seed, n);
        c[10] = 3;
        c[12] = 0;
        fix(c, n);
        ok(!open_copy(c, n, err, sizeof err, &keep) && strstr(err, "format version 3.0, this program reads 2.x"),
           "a newer major version is refused by name: %s", err);
        memcpy(c, seed, n);
        c[10] = 1;
        c[12] = 0;
        fix(c, n);
        ok(!open_copy(c, n, err, sizeof err, &keep) && strstr(err, "format version 1.0, this program reads 2.x: rebuild the image"),
           "a version 1 image is refused by name: %s", err);
        memcpy(c, seed, n);
        c[12] = 7;
        fix(c, n);
        rt_image *x = open_copy(c, n, err, sizeof err, &keep);
        ok(x != NULL, "a newer minor version is accepted");
        if (x) { rt_image_close(x); free(keep); }
        uint8_t *mis = malloc(n + 8);
        memcpy(mis + 1, seed, n);
        ok(!rt_image_open_mem(mis + 1, n, err, sizeof err) && strstr(err, "aligned"), "a misaligned buffer is refused");
        free(mis);
        free(c);
    }
    free(seed);

    /* a richer image: regexes, matchers, exact-path tables, tries */
    uint8_t *m = build_base("testdata/routes/matching", &n);
    ok(m != NULL, "matching image builds");
    if (m) damage("matching", m, n);
    free(m);

    /* prefix literals indexed by length (INDEXES.prefix) */
    m = build_base("testdata/images/prefix-index.yaml", &n);
    ok(m != NULL, "prefix-index image builds");
    if (m) damage("prefix-index", m, n);
    free(m);

    string_budget();

    DIR *d = opendir("testdata/images/bad");
    char *names[256];
    int nn = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && nn < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".hex") == 0) names[nn++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_names);
    ok(nn >= 15, "%d hand-made bad images", nn);
    for (int i = 0; i < nn; i++) {
        char path[512];
        snprintf(path, sizeof path, "testdata/images/bad/%s", names[i]);
        names[i][strlen(names[i]) - 4] = '\0';
        hex_case(path, names[i]);
        free(names[i]);
    }
    mc_src_free_all();
    return t_done();
}
