/*
** hostset.h -- a set of host names indexed for Istio's symmetric,
** wildcard-aware host.Name.Matches (see host.h), so "which of these hosts
** overlap h?" costs O(len(h)) hash lookups plus the answers, not a scan.
**
** Contract: host strings and values are not copied and must outlive the
** set (arena strings do). Entries keep insertion order per distinct host;
** queries report entries grouped by distinct host, in no promised order
** across hosts.
**
** How: exact (non-wildcard) hosts and wildcard tails (the host without its
** leading '*') sit in two hash maps. For a plain h, every suffix of h is
** looked up among the tails. For a wildcard h = "*y", the plain hosts ending
** with y and the tails ending with y come from binary search over the
** reversed strings, built once on the first such query.
*/
#ifndef MC_HOSTSET_H
#define MC_HOSTSET_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "strmap.h"

typedef struct mc_hostset_rev mc_hostset_rev;

typedef struct mc_hostset {
    mc_arena *a;                /* entries and reversed strings live here */
    mc_strmap exact;            /* plain host -> entry list */
    mc_strmap wild;             /* tail of a wildcard host -> entry list */
    mc_hostset_rev *rexact;     /* sorted reversed plain hosts (lazy) */
    mc_hostset_rev *rwild;      /* sorted reversed tails (lazy) */
    size_t nrexact, nrwild;
    size_t n;                   /* entries */
} mc_hostset;

/* Called for each matching entry; return false to stop the query. */
typedef bool (*mc_hostset_fn)(void *ud, const char *host, void *val);

void mc_hostset_init(mc_hostset *s, mc_arena *a);
void mc_hostset_free(mc_hostset *s);
void mc_hostset_add(mc_hostset *s, const char *host, void *val);
/* Every entry whose host Matches h; false when fn stopped the query. */
bool mc_hostset_each(mc_hostset *s, const char *h, mc_hostset_fn fn, void *ud);
bool mc_hostset_any(mc_hostset *s, const char *h);

#endif
