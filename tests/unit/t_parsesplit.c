/*
** t_parsesplit.c -- a YAML stream read in two halves (parse.c, "reading
** ahead") gives exactly the trees and findings of one pass: documents,
** positions (after a BOM, multi-byte characters, CRLF), duplicate keys and
** syntax errors on either side of the split, and the cases where the split
** must be thrown away (directives before the "---", a "---" inside a
** quoted scalar or a flow collection).
*/
#include "arena.h"
#include "diag.h"
#include "parse.h"
#include "source.h"
#include "t.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static mc_buf out;

static void dump(const mc_node *n, int depth)
{
    uint16_t f;
    uint32_t line, col;
    mc_src_locate(n->pos, &f, &line, &col);
    mc_buf_printf(&out, "%*s%u:%u t%d f%d", depth * 2, "", line, col, (int)n->type, (int)n->flags);
    if (n->type == MC_MAP || n->type == MC_SEQ) {
        mc_buf_printf(&out, " n%u\n", n->n);
        uint32_t k = n->type == MC_MAP ? 2 * n->n : n->n;
        for (uint32_t i = 0; i < k; i++) dump(&n->u.kids[i], depth + 1);
    } else {
        mc_buf_printf(&out, " '%.*s'\n", (int)n->n, n->u.s ? n->u.s : "");
    }
}

static void on_doc(void *ud, mc_node *root)
{
    (void)ud;
    mc_buf_puts(&out, "--- doc\n");
    dump(root, 0);
}

/* Parse text with the split on or off; the trees, the result and the
** findings (text output) as one string. */
static char *run(const char *text, bool split)
{
    setenv("MESHC_PARSE_SPLIT", split ? "1" : "off", 1);
    mc_buf_reset(&out);
    mc_arena a;
    mc_arena_init(&a);
    int id = mc_src_adopt("t.yaml", mc_xstrdup(text), strlen(text));
    bool okp = mc_parse(&a, true, (uint16_t)id, on_doc, NULL);
    mc_buf_printf(&out, "result %d\n", okp);
    char *d = NULL;
    size_t dn = 0;
    FILE *f = open_memstream(&d, &dn);
    mc_diag_opts o = { MC_FMT_TEXT, MC_ERROR, MC_INFO, 0, false };
    /* the summary line goes to stderr: keep it out of the TAP output */
    fflush(stderr);
    int saved = dup(2), nul = open("/dev/null", O_WRONLY);
    if (nul >= 0) dup2(nul, 2);
    mc_diag_print(&o, f, 1, 0);
    fflush(stderr);
    if (saved >= 0) { dup2(saved, 2); close(saved); }
    if (nul >= 0) close(nul);
    fclose(f);
    mc_buf_puts(&out, d);
    free(d);
    mc_diag_reset();
    mc_arena_free(&a);
    return mc_xstrdup(out.s ? out.s : "");
}

static void same(const char *name, const char *text, bool want_split)
{
    char *one = run(text, false);
    unsigned before = mc_parse_split_count();
    char *two = run(text, true);
    bool took = mc_parse_split_count() != before;
    if (!ok(strcmp(one, two) == 0, "%s: same trees and findings in two halves", name))
        printf("# one pass:\n%s# two halves:\n%s", one, two);
    ok(took == want_split, "%s: second half %s", name, want_split ? "used" : "thrown away");
    free(one);
    free(two);
}

static char *docs(int n, const char *extra_at, int extra_doc, const char *eol)
{
    mc_buf b;
    mc_buf_init(&b);
    for (int i = 0; i < n; i++) {
        if (i) mc_buf_printf(&b, "---%s", eol);
        mc_buf_printf(&b, "apiVersion: v1%skind: Service%smetadata:%s  name: s%d%s  labels: {a: \"\xc3\xa9t\xc3\xa9\"}%s"
                      "spec:%s  ports:%s  - port: %d%s    name: http%s",
                      eol, eol, eol, i, eol, eol, eol, eol, 80 + i, eol, eol);
        if (extra_at && i == extra_doc) mc_buf_printf(&b, "%s%s", extra_at, eol);
    }
    return b.s;
}

/* same() on docs(n, extra_at, extra_doc, "\n") */
static void same_docs(const char *name, int n, const char *extra_at, int extra_doc, bool want_split)
{
    char *t = docs(n, extra_at, extra_doc, "\n");
    same(name, t, want_split);
    free(t);
}

int main(void)
{
    mc_buf_init(&out);
    char *t;

    same_docs("six documents", 6, NULL, 0, true);

    t = docs(6, NULL, 0, "\r\n");
    same("CRLF", t, true);
    free(t);

    /* BOM and multi-byte characters before the split shift every position */
    char *d6 = docs(6, "  note: \"\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9\"", 1, "\n");
    mc_buf b;
    mc_buf_init(&b);
    mc_buf_puts(&b, "\xEF\xBB\xBF");
    mc_buf_puts(&b, d6);
    same("BOM and UTF-8 before the split", b.s, true);
    free(d6);
    mc_buf_free(&b);

    same_docs("duplicate key after the split", 6, "spec: {}", 4, true);
    same_docs("duplicate key before the split", 6, "spec: {}", 1, true);

    same_docs("syntax error after the split", 6, "  bad: [1, 2", 4, false);
    same_docs("syntax error before the split", 6, "  bad: [1, 2", 0, false);
    /* a second half that fails is forgotten: libyaml checks the encoding
    ** 16 KiB ahead, so where a failure stops the documents depends on where
    ** reading began; near the split the main pass sees a broken byte first */
    same_docs("invalid UTF-8 just after the split", 6, "  bad: \"\xff\"", 5, false);
    same_docs("invalid UTF-8 far after the split", 600, "  bad: \"\xff\"", 590, false);
    same_docs("control character far after the split", 600, "  bad: \"\x01\"", 590, false);
    /* found by a differential fuzzer: a syntax error after the split with a
    ** broken byte some 8 KiB behind it; one pass meets the broken byte
    ** first, the second half the syntax error */
    t = docs(300, "  bad: [1, 2", 250, "\n");
    char *t2 = docs(300, "  bad: \"\xcfo\"", 40, "\n");
    mc_buf_init(&b);
    mc_buf_puts(&b, t);
    mc_buf_puts(&b, "---\n");
    mc_buf_puts(&b, t2);
    same("syntax error, then a broken byte, after the split", b.s, false);
    free(t);
    free(t2);
    mc_buf_free(&b);

    /* a flow collection left open runs into the "---": one pass fails there */
    t = docs(3, "  open: [1,", 2, "\n");
    mc_buf_init(&b);
    mc_buf_puts(&b, t);
    mc_buf_puts(&b, "---\na: 1\n---\nb: 2\n---\nc: 3\n");
    same("flow collection open before the split", b.s, false);
    free(t);
    mc_buf_free(&b);

    /* a "---" line inside a double-quoted scalar is an error, not a split */
    mc_buf_init(&b);
    mc_buf_puts(&b, "a: 1\n---\nb: 2\n---\nlong: \"one\n---\n two\"\n---\nc: 3\n---\nd: 4\n");
    same("\"---\" inside a quoted scalar", b.s, false);
    mc_buf_free(&b);

    /* %YAML before the "---" starts that document earlier */
    same("directive before the split", "a: 1\n...\n%YAML 1.1\n---\nb: 2\n---\nc: 3\n", false);

    /* a block scalar ends at a "---" line */
    same("block scalar before the split", "a: |\n  x\n  y\n---\nb: >\n  z\n---\nc: 3\n---\nd: 4\n", true);

    /* anchors do not cross documents: an alias to an earlier document fails */
    same("alias across the split", "a: &x 1\n---\nb: 2\n---\nc: *x\n---\nd: 4\n", false);
    same("alias after the split", "a: &x 1\n---\nb: 2\n---\nd: 4\n---\nc: *x\n", false);
    /* a key left empty just before the split */
    same("empty value before the split", "a: 1\n---\nb:\n---\nc:\n---\nd: 4\n", true);

    /* explicit document ends, comments, empty documents */
    same("explicit ends and comments", "a: 1\n...\n# c\n---\n---\n# only a comment\n---\nb: [1, 2]\n...\n---\nc: 3\n", true);

    /* merge keys inside the second half */
    same("merge keys after the split", "a: 1\n---\nb: 2\n---\nbase: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", true);

    /* a sequence at the top of the document before the split */
    same("sequence before the split", "- 1\n- [2, 3]\n---\n- 4\n---\nx: y\n", true);

    mc_buf_free(&out);
    return t_done();
}
