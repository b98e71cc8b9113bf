/*
** t_insight.c -- the route-row predicates of the insight stage
** (insight_rows.c): when one HTTP match covers another (shadowing), when a
** concrete request proves a 404 gap, and which overlaps istioctl's webhook
** warnings already report. Matches are written as YAML flow maps and read
** the way lowering reads them (in_row_raw).
*/
#include "insight_int.h"
#include "image.h"
#include "parse.h"
#include "regex.h"
#include "source.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static mc_arena A;
static in_ctx C;
static mc_node *last;
static mc_vec *vecs[256];
static int nvecs;

static void keep(void *ud, mc_node *root)
{
    (void)ud;
    last = root;
}

/* a YAML flow map as a node ("~" for no match at all: an http entry without
** matches) */
static const mc_node *node(const char *yaml)
{
    if (strcmp(yaml, "~") == 0) return NULL;
    /* a text starting with '{' would be read as JSON: wrap it in a map */
    char *text = mc_xmalloc(strlen(yaml) + 4);
    strcpy(text, "m: ");
    strcat(text, yaml);
    int id = mc_src_adopt("t.yaml", text, strlen(text));
    last = NULL;
    mc_parse(&A, false, (uint16_t)id, keep, NULL);
    return mc_get(last, "m");
}

static in_row row(const char *yaml)
{
    mc_vec *v = mc_xcalloc(1, sizeof *v);      /* lives to the end */
    mc_vec_init(v, sizeof(mc_ir_matcher));
    if (nvecs < 256) vecs[nvecs++] = v;
    return in_row_raw(&C, node(yaml), v);
}

static void covers(const char *a, const char *b, bool want)
{
    in_row ra = row(a), rb = row(b);
    ok(in_row_covers(&C, &ra, &rb) == want, "%s %s %s", a, want ? "covers" : "does not cover", b);
}

static void gap(const char *w, const char *host, const char *const *rows, uint32_t n, const char *want)
{
    in_row r = row(w), s[8];
    for (uint32_t i = 0; i < n; i++) s[i] = row(rows[i]);
    const char *got = in_row_gap(&C, &r, host, s, n);
    char what[256];
    snprintf(what, sizeof what, "gap of %s against %u rows", w, n);
    is_str(got, want, what);
}

static void ist(const char *a, const char *b, bool want)
{
    ok(in_ist_overlap(node(a), node(b)) == want, "istioctl %s %s after %s", want ? "reports" : "does not report", b, a);
}

/* Field names whose addresses fall in the same slot of in_get's spelling
** cache (address >> 3, 128 slots): a lookup of several names at once must
** find each, whatever the addresses of the names. */
static char same_slot[3][1024] __attribute__((aligned(1024)));

static void fields_same_slot(void)
{
    strcpy(same_slot[0], "uri");
    strcpy(same_slot[1], "queryParams");
    strcpy(same_slot[2], "ignoreUriCase");
    const char *const names[3] = { same_slot[0], same_slot[1], same_slot[2] };
    const mc_node *m = node("{uri: {prefix: /a}, query_params: {v: {exact: x}}, ignore_uri_case: true}");
    const mc_node *f[3];
    in_fields(m, names, 3, f);
    ok(f[0] == mc_get(m, "uri"), "in_fields finds uri beside names in the same cache slot");
    ok(f[1] == mc_get(m, "query_params"), "in_fields finds query_params (snake_case) beside names in the same cache slot");
    ok(f[2] == mc_get(m, "ignore_uri_case"), "in_fields finds ignore_uri_case beside names in the same cache slot");
    ok(in_get(m, same_slot[0]) == f[0] && in_get(m, same_slot[1]) == f[1], "in_get agrees after the slot changed hands");
    const mc_node *camel = node("{queryParams: {v: {exact: y}}, query_params: {v: {exact: x}}}");
    in_fields(camel, names, 3, f);
    ok(f[1] == mc_get(camel, "queryParams") && !f[0] && !f[2], "the camelCase key wins over the snake_case one");
}

int main(void)
{
    mc_arena_init(&A);
    memset(&C, 0, sizeof C);
    mc_arena_init(&C.a);
    mc_strmap_init(&C.regex);

    fields_same_slot();

    /* paths: a string prefix covers longer prefixes and exact paths under it */
    covers("{uri: {prefix: /api}}", "{uri: {exact: /api/users}}", true);
    covers("{uri: {prefix: /api}}", "{uri: {prefix: /apiv2}}", true);
    covers("{uri: {prefix: /api/}}", "{uri: {prefix: /api}}", false);
    covers("{uri: {exact: /api}}", "{uri: {prefix: /api}}", false);
    covers("{uri: {exact: /a}}", "{uri: {exact: /a}}", true);
    covers("~", "{uri: {regex: \"/x.*\"}}", true);
    covers("{uri: {prefix: /}}", "{uri: {regex: \"/x.*\"}, headers: {a: {exact: b}}}", true);
    covers("{uri: {regex: \".*\"}}", "{uri: {exact: /z}}", true);
    /* regexes: the same pattern, or one that matches an exact path */
    covers("{uri: {regex: \"/v[0-9]+\"}}", "{uri: {regex: \"/v[0-9]+\"}}", true);
    covers("{uri: {regex: \"/v[0-9]+\"}}", "{uri: {exact: /v12}}", true);
    covers("{uri: {regex: \"/v[0-9]+\"}}", "{uri: {exact: /v1x}}", false);
    covers("{uri: {regex: \"/v.*\"}}", "{uri: {prefix: /v}}", false);
    covers("{uri: {regex: \"/v.*\"}}", "{uri: {regex: \"/v1.*\"}}", false);
    /* case: an insensitive prefix covers a sensitive one, not the reverse */
    covers("{uri: {prefix: /API}, ignoreUriCase: true}", "{uri: {prefix: /api/x}}", true);
    covers("{uri: {prefix: /api}}", "{uri: {prefix: /api/x}, ignoreUriCase: true}", false);
    /* headers and the rest: the earlier one's conditions, each implied */
    covers("{headers: {x: {}}}", "{headers: {x: {exact: v}}}", true);
    covers("{headers: {x: {exact: v}}}", "{headers: {x: {}}}", false);
    covers("{headers: {X-A: {prefix: ab}}}", "{headers: {x-a: {exact: abc}}}", true);
    covers("{headers: {x: {exact: v}}}", "{headers: {x: {exact: w}}}", false);
    covers("{headers: {x: {exact: v}}}", "{uri: {prefix: /a}}", false);
    covers("{method: {exact: GET}}", "{method: {exact: GET}, uri: {prefix: /a}}", true);
    covers("{method: {exact: GET}}", "{method: {exact: POST}}", false);
    covers("{queryParams: {q: {exact: \"1\"}}}", "{queryParams: {q: {exact: \"1\"}, r: {}}}", true);
    covers("{headers: {x: {regex: \"a+\"}}}", "{headers: {x: {exact: aaa}}}", true);
    /* withoutHeaders: the same condition, or a value that excludes it */
    covers("{withoutHeaders: {x: {exact: a}}}", "{withoutHeaders: {x: {exact: a}}}", true);
    covers("{withoutHeaders: {x: {exact: a}}}", "{headers: {x: {exact: b}}}", true);
    covers("{withoutHeaders: {x: {exact: a}}}", "{headers: {x: {exact: a}}}", false);
    covers("{withoutHeaders: {x: {prefix: a}}}", "{headers: {x: {prefix: b}}}", true);
    covers("{withoutHeaders: {x: {}}}", "{uri: {prefix: /}}", false);
    /* the proto's field names are read too */
    covers("{uri: {prefix: /a}, ignore_uri_case: true}", "{uri: {prefix: /A/b}, ignore_uri_case: true}", true);

    /* gaps: a request the wildcard's row takes and no row of the host does */
    static const char *const api[] = { "{uri: {prefix: /api}}" };
    static const char *const all[] = { "{uri: {prefix: /api}}", "~" };
    static const char *const hdr[] = { "{headers: {x-t: {exact: b}}}" };
    static const char *const regex[] = { "{uri: {regex: \"/d.*\"}}" };
    static const char *const sch[] = { "{scheme: {exact: https}}" };
    gap("~", "a.foo.com", api, 1, "GET /");
    gap("{uri: {prefix: /api/v2}}", "a.foo.com", api, 1, NULL);
    gap("~", "a.foo.com", all, 2, NULL);
    gap("{uri: {prefix: /docs}, headers: {x-t: {exact: a}}}", "a.foo.com", hdr, 1, "GET /docs with x-t: a");
    gap("{uri: {prefix: /docs}, headers: {x-t: {exact: b}}}", "a.foo.com", hdr, 1, NULL);
    gap("{uri: {exact: /docs}}", "a.foo.com", regex, 1, NULL);
    gap("{uri: {exact: /x}}", "a.foo.com", regex, 1, "GET /x");
    gap("{uri: {prefix: /q}, queryParams: {v: {exact: \"2\"}}, method: {exact: POST}}", "a.foo.com", api, 1, "POST /q?v=2");
    gap("{headers: {x: {regex: \"a+\"}}}", "a.foo.com", api, 1, NULL);        /* no simple witness */
    gap("{authority: {exact: b.foo.com}}", "a.foo.com", api, 1, NULL);       /* not for this host */
    gap("~", "a.foo.com", sch, 1, NULL);                                      /* scheme unknown */

    /* istioctl's IST0131: duplicates (names and zero values aside) and a
    ** prefix over a longer prefix with the same other fields */
    ist("{uri: {prefix: /a}, name: x}", "{uri: {prefix: /a}, name: y}", true);
    ist("{uri: {exact: /a}, port: 0}", "{uri: {exact: /a}}", true);
    ist("{uri: {exact: /a}}", "{uri: {exact: /b}}", false);
    ist("{uri: {prefix: /a}}", "{uri: {prefix: /a/b}}", true);
    ist("{uri: {prefix: /a}}", "{uri: {prefix: /a/b}, headers: {x: {exact: v}}}", false);
    ist("{uri: {prefix: /a}}", "{uri: {exact: /a/b}}", false);
    ist("{uri: {prefix: /a}, method: {exact: GET}}", "{uri: {prefix: /a/b}}", true);
    ist("{uri: {prefix: /a}, port: 80}", "{uri: {prefix: /a/b}}", false);

    MC_STRMAP_EACH(&C.regex, slot)
        if (in_regex(&C, slot->key)) rx_free(slot->val);
    mc_strmap_free(&C.regex);
    for (int i = 0; i < nvecs; i++) {
        mc_vec_free(vecs[i]);
        free(vecs[i]);
    }
    mc_arena_free(&C.a);
    mc_arena_free(&A);
    mc_src_free_all();
    return t_done();
}
