/*
** reqid.c -- xoshiro256** and UUIDv4 formatting. Contract in reqid.h.
*/
#include "reqid.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void rt_rng_seed_with(rt_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}

int rt_rng_seed(rt_rng *r)
{
    ssize_t n = getrandom(r->s, sizeof r->s, GRND_NONBLOCK);
    if (n == (ssize_t)sizeof r->s && (r->s[0] | r->s[1] | r->s[2] | r->s[3])) return 0;
    int e = n < 0 ? errno : EIO;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rt_rng_seed_with(r, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 44));
    errno = e;
    return -1;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rt_rng_next(rt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t rt_rng_below(rt_rng *r, uint64_t n)
{
    /* Lemire: multiply-shift with rejection of the biased low band */
    unsigned __int128 m = (unsigned __int128)rt_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        while (lo < t) {
            m = (unsigned __int128)rt_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void rt_uuid4(rt_rng *r, char out[RT_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t hi = rt_rng_next(r), lo = rt_rng_next(r);
    hi = (hi & ~0xf000ull) | 0x4000ull;                       /* version 4 */
    lo = (lo & ~(3ull << 62)) | (2ull << 62);                 /* variant 10xx */
    unsigned char b[16];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(hi >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
    }
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = 0;
}
