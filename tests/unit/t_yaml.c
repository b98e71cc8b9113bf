/*
** t_yaml.c -- the loader's scalar resolution against go-yaml v2's rules,
** tree positions, merge keys, aliases and duplicate keys.
*/
#include "arena.h"
#include "diag.h"
#include "parse.h"
#include "source.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static const char *tname(mc_type t)
{
    static const char *n[] = { "null", "bool", "int", "float", "str", "map", "seq" };
    return n[t];
}

static void plain(const char *s, mc_type want, int want_true)
{
    uint8_t flags = 0;
    mc_type t = mc_resolve_plain(s, (uint32_t)strlen(s), &flags);
    int c = t == want && (want != MC_BOOL || ((flags & MC_N_TRUE) != 0) == want_true);
    if (!ok(c, "plain '%s' resolves to %s%s", s, tname(want), want == MC_BOOL ? (want_true ? " true" : " false") : ""))
        printf("#   got %s\n", tname(t));
}

static mc_node *docs[16];
static int ndocs;
static void collect(void *ud, mc_node *root) { (void)ud; if (ndocs < 16) docs[ndocs++] = root; }

static bool parse_text(mc_arena *a, const char *text)
{
    ndocs = 0;
    int id = mc_src_adopt("t.yaml", mc_xstrdup(text), strlen(text));
    return mc_parse(a, false, (uint16_t)id, collect, NULL);
}

int main(void)
{
    /* integers: Go's ParseInt(s, 0, 64) after removing '_', then ParseUint */
    plain("80", MC_INT, 0);
    plain("+12", MC_INT, 0);
    plain("-7", MC_INT, 0);
    plain("0x1F", MC_INT, 0);
    plain("0o17", MC_INT, 0);
    plain("017", MC_INT, 0);
    plain("0b101", MC_INT, 0);
    plain("-0b101", MC_INT, 0);
    plain("1_000", MC_INT, 0);
    plain("9223372036854775808", MC_INT, 0);   /* ParseUint */
    /* floats: yamlStyleFloat; 08 is not octal, so a float */
    plain("08", MC_FLOAT, 0);
    plain("1e3", MC_FLOAT, 0);
    plain("1.", MC_FLOAT, 0);
    plain(".5", MC_FLOAT, 0);
    plain("3.25", MC_FLOAT, 0);
    plain(".inf", MC_FLOAT, 0);
    plain("-.Inf", MC_FLOAT, 0);
    plain(".NaN", MC_FLOAT, 0);
    plain("18446744073709551616", MC_FLOAT, 0);
    /* YAML 1.1 booleans as go-yaml v2 has them */
    plain("yes", MC_BOOL, 1);
    plain("Yes", MC_BOOL, 1);
    plain("y", MC_BOOL, 1);
    plain("ON", MC_BOOL, 1);
    plain("true", MC_BOOL, 1);
    plain("off", MC_BOOL, 0);
    plain("N", MC_BOOL, 0);
    plain("False", MC_BOOL, 0);
    plain("no", MC_BOOL, 0);
    /* nulls */
    plain("", MC_NULL, 0);
    plain("~", MC_NULL, 0);
    plain("null", MC_NULL, 0);
    plain("NULL", MC_NULL, 0);
    /* strings: mixed case words, sexagesimal, dotted versions, bare signs */
    plain("tRue", MC_STR, 0);
    plain("yES", MC_STR, 0);
    plain("nULL", MC_STR, 0);
    plain("12:30", MC_STR, 0);
    plain("1.2.3", MC_STR, 0);
    plain("0x", MC_STR, 0);
    plain("-", MC_STR, 0);
    plain("v1", MC_STR, 0);
    plain("foo.com", MC_STR, 0);
    plain("*.foo.com", MC_STR, 0);
    /* timestamps stay strings, flagged */
    {
        uint8_t f = 0;
        ok(mc_resolve_plain("2020-01-02", 10, &f) == MC_STR && (f & MC_N_TIMESTAMP), "2020-01-02 is a timestamp");
        f = 0;
        const char *ts = "2001-12-14t21:59:43.10-05:00";
        ok(mc_resolve_plain(ts, (uint32_t)strlen(ts), &f) == MC_STR && (f & MC_N_TIMESTAMP), "RFC 3339 with t is a timestamp");
        f = 0;
        ok(mc_resolve_plain("2020-1-2", 8, &f) == MC_STR && (f & MC_N_TIMESTAMP), "short date fields are a timestamp");
    }
    {
        int64_t v = 0;
        ok(mc_parse_int("0x_ff", 5, &v) && v == 255, "0x_ff is 255");
        ok(mc_parse_int("017", 3, &v) && v == 15, "017 is octal 15");
        ok(!mc_parse_int("9223372036854775808", 19, &v), "2^63 does not fit int64");
        ok(mc_parse_int("-9223372036854775808", 20, &v) && v == INT64_MIN, "-2^63 fits");
    }

    mc_arena a;
    mc_arena_init(&a);

    /* quoting and explicit tags decide the type */
    ok(parse_text(&a, "a: \"80\"\nb: 80\nc: !!str 80\nd: !!int \"12\"\ne: '1.5'\nf: |\n  text\n") && ndocs == 1, "typed document parses");
    {
        mc_node *r = docs[0];
        ok(mc_is(mc_get(r, "a"), MC_STR), "\"80\" is a string");
        ok(mc_is(mc_get(r, "b"), MC_INT), "80 is an integer");
        ok(mc_is(mc_get(r, "c"), MC_STR), "!!str 80 is a string");
        ok(mc_is(mc_get(r, "d"), MC_INT), "!!int \"12\" is an integer");
        ok(mc_is(mc_get(r, "e"), MC_STR), "'1.5' is a string");
        is_str(mc_str(mc_get(r, "f")), "text\n", "literal block keeps its newline");
        ok(mc_node_line(mc_get(r, "b")) == 2 && mc_node_col(mc_get(r, "b")) == 4, "positions are 1-based line and column");
    }

    /* multi-document streams skip empty documents */
    ok(parse_text(&a, "---\n# only a comment\n---\na: 1\n---\n---\nb: 2\n...\n") && ndocs == 2, "empty documents are skipped");

    /* merge keys: explicit keys win, earlier sources win */
    ok(parse_text(&a, "base: &b {x: 1, y: 2}\nmore: &m {y: 3, z: 4}\nt:\n  <<: [*b, *m]\n  x: 9\n"), "merge document parses");
    {
        mc_node *t = mc_get(docs[0], "t");
        int64_t x = 0, y = 0, z = 0;
        mc_int(mc_get(t, "x"), &x);
        mc_int(mc_get(t, "y"), &y);
        mc_int(mc_get(t, "z"), &z);
        ok(mc_len(t) == 3 && x == 9 && y == 2 && z == 4, "merge: explicit x, y from the first source, z merged");
        ok(mc_get_key(t, "y")->flags & MC_N_MERGED, "merged keys are flagged");
    }

    /* aliases share the anchored subtree and carry their own position */
    ok(parse_text(&a, "a: &x {k: v}\nb: *x\n"), "alias document parses");
    {
        mc_node *an = mc_get(docs[0], "a"), *al = mc_get(docs[0], "b");
        ok(al->u.kids == an->u.kids && (al->flags & MC_N_ALIAS), "alias shares children");
        ok(mc_node_line(al) == 2 && mc_node_col(al) == 4, "alias node has the alias position");
    }

    /* duplicate keys: the first value is kept, the second reported */
    mc_diag_reset();
    ok(parse_text(&a, "k: 1\nj: 0\nk: 2\n"), "duplicate-key document parses");
    {
        int64_t v = 0;
        ok(mc_len(docs[0]) == 2 && mc_int(mc_get(docs[0], "k"), &v) && v == 1, "first duplicate value kept");
        ok(mc_diag_count(MC_ERROR) == 1, "one duplicate-key error");
    }

    /* JSON: numbers, escapes, positions */
    ok(parse_text(&a, "{\"a\": 80, \"b\": 1.5, \"c\": \"x\\u00e9\\/\", \"d\": [true, null]}\n{\"e\": -0}") && ndocs == 2,
       "JSON stream of two objects");
    {
        mc_node *r = docs[0];
        ok(mc_is(mc_get(r, "a"), MC_INT) && mc_is(mc_get(r, "b"), MC_FLOAT), "JSON integer and float");
        is_str(mc_str(mc_get(r, "c")), "x\xc3\xa9/", "JSON escapes decoded");
        ok(mc_bool(mc_item(mc_get(r, "d"), 0), false) && mc_is(mc_item(mc_get(r, "d"), 1), MC_NULL), "JSON true and null");
        ok(mc_node_col(mc_get(r, "b")) == 16, "JSON column of b's value");
    }

    /* positions: CRLF, multi-byte characters, a second source */
    ok(parse_text(&a, "a: 1\r\nb: \"\xc3\xa9\xc3\xa9\"\r\nc: x\n") && ndocs == 1, "CRLF document parses");
    {
        mc_node *c = mc_get(docs[0], "c"), *bq = mc_get(docs[0], "b");
        ok(mc_node_line(c) == 3 && mc_node_col(c) == 4, "line after CRLF lines, column in characters");
        ok(mc_node_line(bq) == 2 && mc_node_col(bq) == 4, "quoted value position");
        const char *p; size_t n;
        uint16_t f = mc_node_file(c);
        ok(mc_src_line(f, 2, &p, &n) && n == 9 && p[0] == 'b', "source line 2 without its CRLF");
    }
    ok(parse_text(&a, "\xef\xbb\xbfk: \xe2\x82\xac\nl: v\n") && ndocs == 1, "BOM document parses");
    ok(mc_node_line(mc_get(docs[0], "l")) == 2 && mc_node_col(mc_get(docs[0], "l")) == 4, "BOM is not a column");
    {
        mc_node *k = mc_get(docs[0], "k");
        uint16_t f; uint32_t l, c;
        ok(mc_src_locate(k->pos, &f, &l, &c) && l == 1 && c == 4 && mc_src_pos_of(f, 1, 4) == k->pos, "locate and pos_of agree");
    }
    ok(sizeof(mc_node) == 16, "a node is 16 bytes");

    mc_arena_free(&a);
    mc_src_free_all();
    mc_diag_reset();
    return t_done();
}
