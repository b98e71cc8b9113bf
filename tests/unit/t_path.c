/*
** t_path.c -- path normalization per Istio mode. The BASE cases include
** Envoy's own expectations (test/common/http/path_utility_test.cc) and
** the ones that matter for routing safety.
*/
#include <stdlib.h>

#include "path.h"
#include "t.h"

static void check(rt_path_mode m, const char *in, const char *want)
{
    size_t n = strlen(in);
    char *out = malloc(RT_PATH_CAP(n));
    ssize_t r = rt_path_normalize(m, in, n, out, RT_PATH_CAP(n));
    char got[512] = "(reject)";
    if (r >= 0) { memcpy(got, out, (size_t)r); got[r] = 0; }
    if (!ok(want ? r >= 0 && !strcmp(got, want) : r == RT_PATH_REJECT, "%s: '%s' -> '%s'",
            rt_path_mode_name(m), in, want ? want : "(reject)"))
        printf("#   got '%s' (%zd)\n", got, r);
    free(out);
}

#define NONE(i, w)   check(RT_PATH_NONE, i, w)
#define BASE(i, w)   check(RT_PATH_BASE, i, w)
#define MERGE(i, w)  check(RT_PATH_MERGE_SLASHES, i, w)
#define DECODE(i, w) check(RT_PATH_DECODE_AND_MERGE_SLASHES, i, w)

int main(void)
{
    /* NONE: untouched but for the fragment */
    NONE("/public/../admin", "/public/../admin");
    NONE("//a/./b", "//a/./b");
    NONE("/a#frag", "/a");
    NONE("/a?x=1#f?g", "/a?x=1");

    /* BASE: Envoy's table */
    BASE("/xyz", "/xyz");
    BASE("/x/y/z", "/x/y/z");
    BASE("/a/b/../c", "/a/c");
    BASE("/a/b/./c", "/a/b/c");
    BASE("a/b/../c", "/a/c");
    BASE("/a/b/../../../../c", "/c");
    BASE("/a/..\\c", "/c");
    BASE("/%c0%af", "/%c0%af");
    BASE("/%5c%25", "/%5c%25");
    BASE("/a/b/%2E%2E/c", "/a/c");
    BASE("/a/b/%2e%2e/c", "/a/c");
    BASE("/a/b/%2E./c", "/a/c");
    BASE("/a/b/%2E/c", "/a/b/c");
    BASE("..", "/");
    BASE("/../a/b", "/a/b");
    BASE("/./a/b", "/a/b");
    BASE("/A/B/C", "/A/B/C");
    BASE("/a/%2F%2f/c", "/a/%2F%2f/c");
    BASE("/xyz/.%00../abc", NULL);
    BASE("/xyz/%00.%00./abc", NULL);
    BASE("/xyz/AAAAA%%0000/abc", NULL);
    /* routing safety */
    BASE("/public/../admin", "/admin");
    BASE("/public/%2e%2e/admin", "/admin");
    BASE("/%2e%2e/x", "/x");
    BASE("/public/..%2fadmin", "/public/..%2fadmin");   /* an escaped slash is not a separator in BASE */
    BASE("/public\\..\\admin", "/admin");
    BASE("//a", "//a");                                 /* BASE keeps double slashes */
    BASE("/a/./b/", "/a/b/");
    BASE("/a/.", "/a/");
    BASE("/a/..", "/");
    BASE("/a/...", "/a/...");
    BASE("/a/.b/c.", "/a/.b/c.");
    BASE("/a%2eb", "/a.b");
    BASE("/%41%7e%2D%5f", "/A~-_");                     /* unreserved escapes decoded */
    BASE("/%3a%3F%23", "/%3a%3F%23");                   /* reserved escapes kept, case too */
    BASE("/a|b{c}\"d", "/a%7Cb%7Bc%7D%22d");
    BASE("/%zz/%", "/%zz/%");                           /* invalid escapes stay literal */
    BASE("/%%30%30", "/%2500");                         /* nested: caught at the second "%30" */
    BASE("/%3%30", "/%2530");                           /* would become "%30": '%' escaped */
    BASE("", "/");
    /* query and fragment */
    BASE("/a/../b?x=/../y", "/b?x=/../y");
    BASE("/a?", "/a?");
    BASE("/a/..?q#f", "/?q");
    BASE("/a#/../b", "/a");
    BASE("/a/b#", "/a/b");

    MERGE("//a", "/a");
    MERGE("/a//b/c", "/a/b/c");
    MERGE("/a///b//", "/a/b/");
    MERGE("/a//b?x=//y", "/a/b?x=//y");
    MERGE("//a/../b//", "/b/");
    MERGE("/a/.//b", "/a/b");
    MERGE("//", "//");                                  /* Envoy's mergeSlashes quirk */
    MERGE("/a%2F%2Fb", "/a%2F%2Fb");

    DECODE("/a%2Fb", "/a/b");
    DECODE("/a%2f..%2fadmin", "/admin");
    DECODE("/public/..%2Fadmin", "/admin");
    DECODE("/a%5cb", "/a/b");
    DECODE("/a%2F%2Fb", "/a/b");
    DECODE("/a?x=%2F", "/a?x=%2F");
    DECODE("/a%2F%00", NULL);

    /* output capacity */
    char small[4];
    ok(rt_path_normalize(RT_PATH_BASE, "/abcdef", 7, small, sizeof small) == RT_PATH_NOSPACE, "too small: NOSPACE");
    ok(rt_path_mode_parse("default") == RT_PATH_BASE && rt_path_mode_parse("DECODE_AND_MERGE_SLASHES") ==
       RT_PATH_DECODE_AND_MERGE_SLASHES && rt_path_mode_parse("x") == -1, "mode names");
    return t_done();
}
