/*
** judge.c -- reads the conformance corpora's JSON for the shell runners
** (tests/conformance.sh, tests/suite_samples.sh), so the tests need neither
** python nor jq:
**
**   judge args CASEDIR              meshc arguments of an istio-analyze case,
**                                   one per line: --analyzer NAME...,
**                                   --mesh-config FILE, the inputs
**   judge conformance EXPECTED ACTUAL
**                                   compare meshc's -o json findings with the
**                                   case's expected.json (see below)
**   judge scenarios INDEX           istio-samples scenarios, one per line:
**                                   id TAB namespace TAB file TAB file...
**   judge sample INDEX ID ACTUAL    judge one scenario as the corpus README's
**                                   "How a runner judges a scenario" says
**
** Comparing: a multiset of (code, kind, namespace, name); a finding's code is
** its istio_code when meshc maps it to one. Conformance counts only the codes
** the case's analyzers can emit (Istio's tests run one analyzer at a time),
** from the analyzer table below, which follows istio-analyzers.md section 1a
** independently of meshc's own table. Exit 0: equal (or clean); 1: differs,
** with "# " lines saying how; 2: bad input.
*/
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; const char *codes; } table[] = {
    { "deprecation.DeprecationAnalyzer", "IST0002" },
    { "gateway.IngressGatewayPortAnalyzer", "IST0101 IST0162" },
    { "gateway.SecretAnalyzer", "IST0101 IST0161" },
    { "gateway.ConflictingGatewayAnalyzer", "IST0101 IST0145" },
    { "gateway.CertificateAnalyzer", "IST0138" },
    { "virtualservice.ConflictingMeshGatewayHostsAnalyzer", "IST0109" },
    { "virtualservice.DestinationHostAnalyzer", "IST0101 IST0112 IST0140" },
    { "virtualservice.DestinationRuleAnalyzer", "IST0101" },
    { "virtualservice.GatewayAnalyzer", "IST0101 IST0132 IST0165" },
    { "virtualservice.JWTClaimRouteAnalyzer", "IST0149" },
    { "destinationrule.CaCertificateAnalyzer", "IST0128 IST0129" },
    { "destinationrule.SubsetSelectPodAnalyzer", "IST0173 IST0174" },
    { "serviceentry.Analyzer", "IST0134" },
    { "serviceentry.ConflictingServiceEntryProtocolAnalyzer", "IST0177" },
};
#define VALIDATION_CODES "IST0106 IST0130 IST0131 IST0133"
#define SCHEMA_PREFIX "schema.ValidationAnalyzer."

static json_t *load(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) {
        fprintf(stderr, "judge: %s:%d: %s\n", path, e.line, e.text);
        exit(2);
    }
    return j;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static bool in_list(const char *list, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = list; (p = strstr(p, code)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

/* A finding's code as istioctl would name it. */
static const char *code_of(json_t *f)
{
    const char *ist = json_string_value(json_object_get(f, "istio_code"));
    return ist ? ist : str(f, "code");
}

typedef struct entries { char **v; size_t n, cap; } entries;

static void add(entries *e, const char *code, const char *kind, const char *ns, const char *name)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 32;
        e->v = realloc(e->v, e->cap * sizeof *e->v);
        if (!e->v) exit(2);
    }
    size_t n = strlen(code) + strlen(kind) + strlen(ns) + strlen(name) + 8;
    char *s = malloc(n);
    if (!s) exit(2);
    snprintf(s, n, "%s %s %s%s%s", code, kind, ns, *ns ? "/" : "", name);
    e->v[e->n++] = s;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the differences; true when the multisets are equal. */
static bool compare(entries *want, entries *got)
{
    if (want->n) qsort(want->v, want->n, sizeof *want->v, cmp);
    if (got->n) qsort(got->v, got->n, sizeof *got->v, cmp);
    size_t i = 0, j = 0;
    bool same = true;
    while (i < want->n || j < got->n) {
        int c = i == want->n ? 1 : j == got->n ? -1 : strcmp(want->v[i], got->v[j]);
        if (c == 0) { i++; j++; continue; }
        same = false;
        if (c < 0) printf("# missing:    %s\n", want->v[i++]);
        else printf("# unexpected: %s\n", got->v[j++]);
    }
    return same;
}

static void free_entries(entries *e)
{
    for (size_t i = 0; i < e->n; i++) free(e->v[i]);
    free(e->v);
}

/* Fatal findings (unreadable input) fail any case. */
static bool fatal_free(json_t *actual)
{
    bool ok = true;
    size_t i;
    json_t *f;
    json_array_foreach(actual, i, f) {
        if (json_object_get(f, "kind") && !json_is_null(json_object_get(f, "kind"))) continue;
        if (strcmp(str(f, "level"), "error") != 0) continue;
        printf("# input problem: %s %s:%lld: %s\n", str(f, "code"), str(f, "file"),
               (long long)json_integer_value(json_object_get(f, "line")), str(f, "message"));
        ok = false;
    }
    return ok;
}

static int cmd_args(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    json_t *e = load(path);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(e, "analyzers"), i, a) printf("--analyzer\n%s\n", str(a, "name"));
    const char *mc = json_string_value(json_object_get(e, "mesh_config"));
    if (mc) printf("--mesh-config\n%s/%s\n", dir, mc);
    json_array_foreach(json_object_get(e, "inputs"), i, a) printf("%s/%s\n", dir, json_string_value(a));
    json_decref(e);
    return 0;
}

static int cmd_conformance(const char *exp_path, const char *act_path)
{
    json_t *e = load(exp_path), *act = load(act_path);
    char codes[1024] = "";
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(e, "analyzers"), i, a) {
        const char *name = str(a, "name");
        bool known = false;
        for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
            if (strcmp(table[k].name, name) == 0) {
                strncat(codes, " ", sizeof codes - strlen(codes) - 1);
                strncat(codes, table[k].codes, sizeof codes - strlen(codes) - 1);
                known = true;
            }
        if (strncmp(name, SCHEMA_PREFIX, strlen(SCHEMA_PREFIX)) == 0) {
            strncat(codes, " " VALIDATION_CODES, sizeof codes - strlen(codes) - 1);
            known = true;
        }
        if (!known) { fprintf(stderr, "judge: unknown analyzer %s\n", name); return 2; }
    }
    entries want = { 0 }, got = { 0 };
    json_array_foreach(json_object_get(e, "messages"), i, a)
        add(&want, str(a, "code"), str(a, "kind"), str(a, "namespace"), str(a, "name"));
    json_array_foreach(act, i, a) {
        const char *code = code_of(a);
        if (!in_list(codes, code)) continue;
        add(&got, code, str(a, "kind"), str(a, "namespace"), str(a, "name"));
    }
    bool ok = fatal_free(act);
    int rc = compare(&want, &got) && ok ? 0 : 1;
    free_entries(&want);
    free_entries(&got);
    json_decref(e);
    json_decref(act);
    return rc;
}

static int cmd_scenarios(const char *index)
{
    json_t *ix = load(index);
    size_t i, j;
    json_t *s, *f;
    json_array_foreach(json_object_get(ix, "scenarios"), i, s) {
        printf("%s\t%s", str(s, "id"), str(s, "namespace"));
        json_array_foreach(json_object_get(s, "files"), j, f) printf("\t%s", json_string_value(f));
        printf("\n");
    }
    json_decref(ix);
    return 0;
}

static int level_rank(const char *l)
{
    return !strcasecmp(l, "error") ? 2 : !strcasecmp(l, "warning") ? 1 : 0;
}

/* IST0101's reference type: "Referenced <type> not found: ..." */
static bool ref_type_is(const char *msg, const char *type)
{
    const char *p = "Referenced ";
    size_t pl = strlen(p), tl = strlen(type);
    return strncmp(msg, p, pl) == 0 && strncmp(msg + pl, type, tl) == 0 &&
           strncmp(msg + pl + tl, " not found", 10) == 0;
}

static int cmd_sample(const char *index, const char *id, const char *act_path)
{
    json_t *ix = load(index), *act = load(act_path), *sc = NULL, *s;
    size_t i, j;
    json_array_foreach(json_object_get(ix, "scenarios"), i, s)
        if (strcmp(str(s, "id"), id) == 0) sc = s;
    if (!sc) { fprintf(stderr, "judge: no scenario %s\n", id); return 2; }
    json_t *judging = json_object_get(ix, "judging"), *expect = json_object_get(sc, "expect");
    json_t *scope = json_object_get(judging, "scope_kinds"), *na = json_object_get(judging, "not_applicable");
    const char *max = json_string_value(json_object_get(expect, "max_level"));
    json_t *findings = json_object_get(expect, "findings");
    entries want = { 0 }, got = { 0 };
    bool ok = fatal_free(act);
    json_t *f, *x;
    json_array_foreach(act, i, f) {
        const char *code = code_of(f), *kind = str(f, "kind");
        bool in_scope = false;
        json_array_foreach(scope, j, x) in_scope = in_scope || strcmp(json_string_value(x), kind) == 0;
        if (!in_scope) continue;
        bool dropped = false;
        json_array_foreach(na, j, x) {
            if (strcmp(str(x, "code"), code) != 0) continue;
            if (json_object_get(x, "kind") && strcmp(str(x, "kind"), kind) != 0) continue;
            if (json_object_get(x, "reference_type") && !ref_type_is(str(f, "message"), str(x, "reference_type")))
                continue;
            dropped = true;
        }
        if (dropped) continue;
        int rank = level_rank(str(f, "level"));
        if (max && rank > level_rank(max)) {
            printf("# above %s: %s %s %s/%s: %s\n", max, code, kind, str(f, "namespace"), str(f, "name"),
                   str(f, "message"));
            ok = false;
        }
        if (findings && strncmp(code, "IST", 3) == 0 && rank >= 1)
            add(&got, code, kind, str(f, "namespace"), str(f, "name"));
        else if (findings && rank >= 1)
            printf("# not judged: %s %s %s/%s\n", code, kind, str(f, "namespace"), str(f, "name"));
    }
    json_array_foreach(findings, i, x)
        add(&want, str(x, "code"), str(x, "kind"), str(x, "namespace"), str(x, "name"));
    int rc = (findings ? compare(&want, &got) : true) && ok ? 0 : 1;
    free_entries(&want);
    free_entries(&got);
    json_decref(ix);
    json_decref(act);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "args")) return cmd_args(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "conformance")) return cmd_conformance(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "scenarios")) return cmd_scenarios(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "sample")) return cmd_sample(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: judge args DIR | conformance EXPECTED ACTUAL | scenarios INDEX | sample INDEX ID ACTUAL\n");
    return 2;
}
