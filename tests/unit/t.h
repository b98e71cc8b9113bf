/*
** t.h -- a tiny TAP harness (picotest style) for the unit tests.
**   ok(cond, "what %d", n);   is_str(got, want, "what");   return t_done();
** Each binary prints TAP lines; tests/run.sh counts them.
*/
#ifndef T_H
#define T_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int t_n, t_failed;

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    t_n++;
    printf("%s %d - ", cond ? "ok" : "not ok", t_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (!cond) t_failed++;
    fflush(stdout);
    return cond;
}

__attribute__((unused))
static int is_str(const char *got, const char *want, const char *what)
{
    int c = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
    if (!ok(c, "%s", what))
        printf("#   got:  '%s'\n#   want: '%s'\n", got ? got : "(null)", want ? want : "(null)");
    return c;
}

__attribute__((unused))
static int is_int(long long got, long long want, const char *what)
{
    int c = got == want;
    if (!ok(c, "%s", what)) printf("#   got:  %lld\n#   want: %lld\n", got, want);
    return c;
}

__attribute__((unused))
static int t_done(void)
{
    printf("1..%d\n", t_n);
    return t_failed ? 1 : 0;
}

#endif
