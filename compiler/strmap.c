/*
** strmap.c -- open addressing with linear probing; capacity a power of two,
** at most two thirds full.
*/
#include "strmap.h"
#include "arena.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

uint64_t mc_hash(const void *p, size_t n) { return XXH3_64bits(p, n); }

void mc_strmap_init(mc_strmap *m)
{
    m->slots = NULL;
    m->cap = m->n = 0;
}

void mc_strmap_free(mc_strmap *m)
{
    free(m->slots);
    mc_strmap_init(m);
}

static mc_strmap_slot *find(const mc_strmap *m, const char *key, size_t len, uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        mc_strmap_slot *s = &m->slots[i];
        if (!s->key) return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
    }
}

void *mc_strmap_get(const mc_strmap *m, const char *key, size_t len)
{
    if (!m->cap) return NULL;
    mc_strmap_slot *s = find(m, key, len, (uint32_t)mc_hash(key, len));
    return s->key ? s->val : NULL;
}

static void grow(mc_strmap *m)
{
    mc_strmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    /* Not calloc: a large table comes zeroed from mmap, and the first probe
    ** would read it in as the shared zero page; each first write then
    ** replaces that mapping, a TLB flush that interrupts every other CPU
    ** running one of our threads. Writing the zeros maps the pages for
    ** writing at once. */
    m->slots = mc_xmalloc(m->cap * sizeof *m->slots);
    memset(m->slots, 0, m->cap * sizeof *m->slots);
    for (size_t i = 0; i < old.cap; i++) {
        mc_strmap_slot *o = &old.slots[i];
        if (!o->key) continue;
        *find(m, o->key, o->len, o->hash) = *o;
    }
    free(old.slots);
}

void **mc_strmap_put(mc_strmap *m, const char *key, size_t len, bool *found)
{
    if ((m->n + 1) * 3 > m->cap * 2) grow(m);
    uint32_t h = (uint32_t)mc_hash(key, len);
    mc_strmap_slot *s = find(m, key, len, h);
    if (s->key) {
        if (found) *found = true;
        return &s->val;
    }
    if (found) *found = false;
    s->key = key;
    s->len = (uint32_t)len;
    s->hash = h;
    s->val = NULL;
    m->n++;
    return &s->val;
}

void mc_strmap_rekey(mc_strmap *m, void **val, const char *key)
{
    mc_strmap_slot *s = (mc_strmap_slot *)((char *)val - offsetof(mc_strmap_slot, val));
    (void)m;
    s->key = key;
}
