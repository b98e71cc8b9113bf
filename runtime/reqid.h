/*
** reqid.h -- x-request-id values: RFC 9562 version-4 UUIDs
** ("xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx", lowercase hex, V in 8..b)
** from a fast per-loop PRNG (xoshiro256**) seeded from getrandom(2).
** Not for secrets: it only has to be unique and unpredictable enough
** for request ids and load-balancing choices, as Envoy's random
** generator is. One rt_rng per loop thread; no locking.
*/
#ifndef RT_REQID_H
#define RT_REQID_H

#include <stdint.h>

#define RT_UUID_LEN 36          /* characters, without the NUL */

typedef struct rt_rng {
    uint64_t s[4];
} rt_rng;

/* Seed from getrandom(2); 0, or -1 (errno) if the kernel gave nothing,
** in which case a clock/pid-derived seed is used anyway. */
int rt_rng_seed(rt_rng *r);
/* Deterministic seeding (tests, benchmarks). */
void rt_rng_seed_with(rt_rng *r, uint64_t seed);
uint64_t rt_rng_next(rt_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t rt_rng_below(rt_rng *r, uint64_t n);
/* Write a UUIDv4 into out[0..36) and a NUL at out[36]. */
void rt_uuid4(rt_rng *r, char out[RT_UUID_LEN + 1]);

#endif
