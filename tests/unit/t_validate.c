/*
** t_validate.c -- the validate stage's primitives that have a reference
** outside Istio's webhook: Go's time.ParseDuration (durations in Istio
** resources are decoded with it).
*/
#include "validate_int.h"
#include "t.h"

#include <stdint.h>

static void dur(const char *s, int64_t want)
{
    int64_t got = 12345;
    bool okp = mc_v_parse_duration(s, strlen(s), &got);
    if (!ok(okp && got == want, "ParseDuration(\"%s\") = %lld", s, (long long)want))
        printf("#   parsed=%d got=%lld\n", okp, (long long)got);
}

static void bad(const char *s)
{
    int64_t got;
    ok(!mc_v_parse_duration(s, strlen(s), &got), "ParseDuration(\"%s\") fails", s);
}

int main(void)
{
    dur("0", 0);
    dur("-0", 0);
    dur("+5s", 5000000000LL);
    dur("1.5s", 1500000000LL);
    dur(".5s", 500000000LL);
    dur("5.s", 5000000000LL);
    dur("1h30m", 5400000000000LL);
    dur("1h1m1s1ms1us1ns", 3661001001001LL);
    dur("100ms", 100000000LL);
    dur("1\xC2\xB5s", 1000);       /* U+00B5 micro sign */
    dur("1\xCE\xBCs", 1000);       /* U+03BC Greek mu */
    dur("-1.5h", -5400000000000LL);
    dur("0.0015s", 1500000);
    dur("1.0000000001s", 1000000000);  /* fraction below 1ns is dropped, as in Go */
    dur("9223372036854775807ns", INT64_MAX);
    dur("-9223372036854775808ns", INT64_MIN);
    dur("2562047h", 2562047LL * 3600000000000LL);
    dur("0.000000000000000000001h", 0);

    bad("");
    bad("1");
    bad("-");
    bad(".s");
    bad("1x");
    bad("1 s");
    bad("1s ");
    bad("1S");
    bad("s");
    bad("1.5.5s");
    bad("9223372036854775808ns");
    bad("2562048h");
    bad("1e3s");
    return t_done();
}
