/*
** arena.c -- bump allocator, checked malloc, vectors and string buffers.
*/
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mc_arena_block {
    mc_arena_block *next;
    size_t size;
    _Alignas(16) unsigned char data[];
};

#define ARENA_BLOCK (256u * 1024u)

_Noreturn void mc_oom(void)
{
    fputs("fatal: out of memory\n", stderr);
    exit(2);
}

void *mc_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) mc_oom();
    return p;
}

void *mc_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) mc_oom();
    return p;
}

void *mc_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) mc_oom();
    return p;
}

char *mc_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(mc_xmalloc(n), s, n);
}

void mc_arena_init(mc_arena *a)
{
    a->head = NULL;
    a->used = 0;
    a->total = 0;
}

void mc_arena_free(mc_arena *a)
{
    mc_arena_block *b = a->head;
    while (b) {
        mc_arena_block *next = b->next;
        free(b);
        b = next;
    }
    mc_arena_init(a);
}

void mc_arena_adopt(mc_arena *a, mc_arena *from)
{
    if (!from->head) return;
    if (!a->head) {
        *a = *from;
    } else {
        /* behind a's current block, which stays the one allocated from */
        mc_arena_block *tail = from->head;
        while (tail->next) tail = tail->next;
        tail->next = a->head->next;
        a->head->next = from->head;
        a->total += from->total;
    }
    mc_arena_init(from);
}

void *mc_arena_alloc(mc_arena *a, size_t n)
{
    n = (n + 7u) & ~(size_t)7u;
    if (!a->head || a->head->size - a->used < n) {
        /* A request larger than a quarter block gets a block of its own,
        ** chained behind the current one so the current one stays in use. */
        if (n > ARENA_BLOCK / 4 && a->head) {
            mc_arena_block *b = mc_xmalloc(sizeof *b + n);
            b->size = n;
            b->next = a->head->next;
            a->head->next = b;
            a->total += n;
            return b->data;
        }
        size_t sz = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        mc_arena_block *b = mc_xmalloc(sizeof *b + sz);
        b->size = sz;
        b->next = a->head;
        a->head = b;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    a->total += n;
    return p;
}

void *mc_arena_zalloc(mc_arena *a, size_t n)
{
    return memset(mc_arena_alloc(a, n), 0, n);
}

char *mc_arena_strndup(mc_arena *a, const char *s, size_t n)
{
    char *p = mc_arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mc_arena_strdup(mc_arena *a, const char *s)
{
    return mc_arena_strndup(a, s, strlen(s));
}

char *mc_arena_printf(mc_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *p = mc_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void mc_vec_init(mc_vec *v, size_t elem)
{
    v->v = NULL;
    v->n = v->cap = 0;
    v->elem = elem;
}

void *mc_vec_push(mc_vec *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = mc_xrealloc(v->v, v->cap * v->elem);
    }
    void *slot = (char *)v->v + v->n++ * v->elem;
    return memset(slot, 0, v->elem);
}

void mc_vec_free(mc_vec *v)
{
    free(v->v);
    mc_vec_init(v, v->elem);
}

void mc_buf_init(mc_buf *b)
{
    b->s = NULL;
    b->n = b->cap = 0;
}

void mc_buf_free(mc_buf *b)
{
    free(b->s);
    mc_buf_init(b);
}

static void buf_reserve(mc_buf *b, size_t extra)
{
    if (b->n + extra + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + extra + 1) cap *= 2;
        b->s = mc_xrealloc(b->s, cap);
        b->cap = cap;
    }
}

void mc_buf_add(mc_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (n) memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

void mc_buf_puts(mc_buf *b, const char *s) { mc_buf_add(b, s, strlen(s)); }

void mc_buf_putc(mc_buf *b, char c) { mc_buf_add(b, &c, 1); }

void mc_buf_printf(mc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) { buf_reserve(b, 0); return; }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void mc_buf_reset(mc_buf *b)
{
    b->n = 0;
    if (b->s) b->s[0] = '\0';
}

void mc_buf_putu(mc_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mc_buf_add(b, tmp + i, sizeof tmp - i);
}

void mc_buf_puti(mc_buf *b, int64_t v)
{
    if (v < 0) {
        mc_buf_putc(b, '-');
        mc_buf_putu(b, (uint64_t)0 - (uint64_t)v);
    } else {
        mc_buf_putu(b, (uint64_t)v);
    }
}
