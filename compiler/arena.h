/*
** arena.h -- bump allocation for the whole compile, plus the checked
** malloc wrappers every module uses.
**
** Contract: nothing allocated from an arena is freed on its own; the arena
** is released at once by mc_arena_free(). Allocation failure is fatal
** (prints "out of memory" and exits 2), so callers never test for NULL,
** as in jq's jv_mem_alloc and redis' zmalloc.
*/
#ifndef MC_ARENA_H
#define MC_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct mc_arena_block mc_arena_block;
typedef struct mc_arena {
    mc_arena_block *head;   /* current block; older blocks chained behind */
    size_t used;            /* bytes used in head */
    size_t total;           /* bytes handed out, all blocks (statistics) */
} mc_arena;

void  mc_arena_init(mc_arena *a);
void  mc_arena_free(mc_arena *a);
/* Move every block of `from` into `a` (allocations from either stay valid
** until mc_arena_free(a)); `from` is left empty. For an arena filled on
** another thread. */
void  mc_arena_adopt(mc_arena *a, mc_arena *from);
/* 8-byte aligned, uninitialised memory */
void *mc_arena_alloc(mc_arena *a, size_t n);
void *mc_arena_zalloc(mc_arena *a, size_t n);
/* copy of s[0..n) with a NUL after it */
char *mc_arena_strndup(mc_arena *a, const char *s, size_t n);
char *mc_arena_strdup(mc_arena *a, const char *s);
char *mc_arena_printf(mc_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void *mc_xmalloc(size_t n);
void *mc_xcalloc(size_t n, size_t m);
void *mc_xrealloc(void *p, size_t n);
char *mc_xstrdup(const char *s);
_Noreturn void mc_oom(void);

/* Growable array of fixed-size elements, heap backed. */
typedef struct mc_vec {
    void *v;
    size_t n, cap, elem;
} mc_vec;
void  mc_vec_init(mc_vec *v, size_t elem);
void *mc_vec_push(mc_vec *v);           /* returns the new zeroed slot */
void  mc_vec_free(mc_vec *v);
#define MC_VEC_AT(vec, type, i) (((type *)(vec)->v)[i])

/* Growable string buffer, heap backed; always NUL-terminated. */
typedef struct mc_buf {
    char *s;
    size_t n, cap;
} mc_buf;
void mc_buf_init(mc_buf *b);
void mc_buf_free(mc_buf *b);
void mc_buf_add(mc_buf *b, const char *s, size_t n);
void mc_buf_puts(mc_buf *b, const char *s);
void mc_buf_putc(mc_buf *b, char c);
void mc_buf_printf(mc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mc_buf_reset(mc_buf *b);
/* Decimal text of v, without printf (hot paths: index keys). */
void mc_buf_putu(mc_buf *b, uint64_t v);
void mc_buf_puti(mc_buf *b, int64_t v);

#endif
