/*
** strmap.h -- string-keyed hash map (open addressing, xxHash3), the index
** every analysis uses instead of pairwise loops. Keys are not copied: they
** must outlive the map (arena strings do).
*/
#ifndef MC_STRMAP_H
#define MC_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 24 bytes: the tables of a 10,000-host check hold a few hundred thousand */
typedef struct mc_strmap_slot {
    const char *key;
    void *val;
    uint32_t hash;          /* low half of the key's hash */
    uint32_t len;
} mc_strmap_slot;

typedef struct mc_strmap {
    mc_strmap_slot *slots;
    size_t cap, n;
} mc_strmap;

void  mc_strmap_init(mc_strmap *m);
void  mc_strmap_free(mc_strmap *m);
/* Keys are shorter than 4 GiB (the parser's limits keep them far below). */
/* Value for key, or NULL. */
void *mc_strmap_get(const mc_strmap *m, const char *key, size_t len);
/* Slot for key, inserted with val NULL when absent; *found tells which. */
void **mc_strmap_put(mc_strmap *m, const char *key, size_t len, bool *found);
/* Point the key of the slot `val` (from mc_strmap_put) at an equal string
** that lives longer, e.g. an arena copy of a transient key. */
void  mc_strmap_rekey(mc_strmap *m, void **val, const char *key);
uint64_t mc_hash(const void *p, size_t n);

#define MC_STRMAP_EACH(m, s) \
    for (mc_strmap_slot *s = (m)->slots; s && s < (m)->slots + (m)->cap; s++) if (s->key)

#endif
