/*
** t_regex.c -- the RE2 shim: compile errors carry RE2's text, full versus
** partial matching, global replace with group references, Go's (?<name>)
** spelling, and linear time on patterns that blow up backtracking engines.
*/
#include "regex.h"
#include "t.h"

#include <stdlib.h>
#include <time.h>

static rx *comp(const char *p)
{
    char err[RX_ERR_LEN];
    return rx_compile(p, strlen(p), err, sizeof err);
}

static void compile_error(const char *p, const char *want)
{
    char err[RX_ERR_LEN] = "";
    rx *r = rx_compile(p, strlen(p), err, sizeof err);
    if (!ok(r == NULL, "'%s' does not compile", p)) rx_free(r);
    is_str(err, want, "RE2's message for the error");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    compile_error("(abc", "missing ): (abc");
    compile_error("[a", "missing ]: [a");
    compile_error("a**", "bad repetition operator: **");
    compile_error("a{1001}", "invalid repetition size: {1001}");
    compile_error("(?<=a)b", "invalid perl operator: (?<");
    compile_error("\\8", "invalid escape sequence: \\8");

    char small[8];
    rx *r = rx_compile("(x", 2, small, sizeof small);
    ok(r == NULL && strlen(small) == 7, "the message is truncated to the buffer");

    r = comp("/b[io]t");
    ok(r != NULL, "a valid pattern compiles");
    ok(rx_full_match(r, "/bit", 4) && rx_full_match(r, "/bot", 4), "full match");
    ok(!rx_full_match(r, "/bite", 5), "full match needs the whole subject");
    ok(rx_partial_match(r, "/bite", 5), "partial match finds a substring");
    ok(!rx_partial_match(r, "/bat", 4), "no match");
    ok(!rx_full_match(r, "/bit\0x", 6) && rx_partial_match(r, "/bit\0x", 6), "subjects are byte ranges, NUL included");
    rx_free(r);

    r = comp("(?<ver>v[0-9]+)/(?P<rest>.*)");
    ok(r != NULL && rx_groups(r) == 2, "Go's (?<name>) and RE2's (?P<name>) both name groups");
    rx_free(r);
    r = comp("[(?<x]+");
    ok(r != NULL && rx_full_match(r, "(?<", 3) && rx_groups(r) == 0, "(?< inside a class is literal");
    rx_free(r);
    r = comp("\\Q(?<a>\\E");
    ok(r != NULL && rx_full_match(r, "(?<a>", 5), "(?< inside \\Q...\\E is literal");
    rx_free(r);

    r = comp("^/api/(v[0-9]+)/(.*)$");
    char out[64], tiny[4];
    char err[RX_ERR_LEN];
    long n = rx_replace_all(r, "/api/v2/users", 13, "/\\2/\\1", 6, out, sizeof out);
    is_str(n >= 0 ? out : NULL, "/users/v2", "replace with group references");
    is_int(n, 9, "length of the result");
    n = rx_replace_all(r, "/other", 6, "/x", 2, out, sizeof out);
    is_str(n >= 0 ? out : NULL, "/other", "no match leaves the subject alone");
    ok(rx_replace_all(r, "/api/v1/a", 9, "\\3", 2, out, sizeof out) == -2, "a rewrite naming a missing group is refused");
    ok(!rx_check_rewrite(r, "\\3", 2, err, sizeof err) && err[0], "check_rewrite says why");
    ok(rx_check_rewrite(r, "\\1", 2, err, sizeof err), "check_rewrite accepts a present group");
    ok(rx_replace_all(r, "/api/v2/users", 13, "/\\2/\\1", 6, tiny, sizeof tiny) == -1, "a too small buffer is refused");
    rx_free(r);
    r = comp("o");
    n = rx_replace_all(r, "foo boo", 7, "0", 1, out, sizeof out);
    is_str(n >= 0 ? out : NULL, "f00 b00", "replace is global");
    rx_free(r);

    /* (a*)*b and (x+x+)+y take exponential time in a backtracking engine
    ** on a subject without the final letter; RE2 stays linear. */
    size_t big = 1u << 20;
    char *s = malloc(big);
    memset(s, 'a', big);
    double t0 = now();
    r = comp("(a*)*b");
    ok(!rx_full_match(r, s, big) && !rx_partial_match(r, s, big), "(a*)*b does not match a run of a's");
    rx_free(r);
    memset(s, 'x', big);
    r = comp("(x+x+)+y");
    ok(!rx_full_match(r, s, big) && !rx_partial_match(r, s, big), "(x+x+)+y does not match a run of x's");
    rx_free(r);
    r = comp("(.*a){20}");
    memset(s, 'a', 64);
    ok(rx_full_match(r, s, 64), "(.*a){20} on a's");
    rx_free(r);
    double dt = now() - t0;
    ok(dt < 5.0, "hostile patterns on a 1 MiB subject take %.3f s (bound 5 s)", dt);
    free(s);

    return t_done();
}
