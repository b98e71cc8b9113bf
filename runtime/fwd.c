/*
** fwd.c -- buffers and small shared helpers of the forwarding engine
** (contracts in fwd.h).
*/
#include "fwd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ buffers */

typedef struct freeblk { struct freeblk *next; } freeblk;

bool rt_buf_get(rt_bufpool *bp, rt_buf *b)
{
    if (b->p) return true;
    char *p;
    if (bp->free_small) {
        freeblk *f = bp->free_small;
        bp->free_small = f->next;
        bp->nfree--;
        p = (char *)f;
    } else {
        p = malloc(RT_BUF_SMALL);
        if (!p) return false;
    }
    rt_ctr_inc(&bp->allocated);
    b->p = p;
    b->cap = RT_BUF_SMALL;
    b->base = b->r = b->w = 0;
    return true;
}

bool rt_buf_grow(rt_bufpool *bp, rt_buf *b, uint32_t cap)
{
    if (!b->p) {
        if (!rt_buf_get(bp, b)) return false;
    }
    if (b->cap >= cap) return true;
    char *p = malloc(cap);
    if (!p) return false;
    memcpy(p, b->p, b->w);
    uint32_t base = b->base, r = b->r, w = b->w;
    rt_buf_put(bp, b);
    rt_ctr_inc(&bp->allocated);
    b->p = p;
    b->cap = cap;
    b->base = base;
    b->r = r;
    b->w = w;
    return true;
}

void rt_buf_put(rt_bufpool *bp, rt_buf *b)
{
    if (!b->p) return;
    rt_ctr_dec(&bp->allocated);
    if (b->cap == RT_BUF_SMALL && bp->nfree < bp->max_free) {
        freeblk *f = (freeblk *)(void *)b->p;
        f->next = bp->free_small;
        bp->free_small = f;
        bp->nfree++;
    } else {
        free(b->p);
    }
    b->p = NULL;
    b->cap = b->base = b->r = b->w = 0;
}

void rt_buf_trim(rt_bufpool *bp, rt_buf *b)
{
    if (b->p && b->r == b->w && b->base == 0) rt_buf_put(bp, b);
}

void rt_buf_consume(rt_buf *b, uint32_t n)
{
    b->r += n;
    if (b->r == b->w) b->r = b->w = b->base;
}

void rt_buf_compact(rt_buf *b)
{
    if (b->r == b->base) return;
    uint32_t n = b->w - b->r;
    if (n) memmove(b->p + b->base, b->p + b->r, n);
    b->r = b->base;
    b->w = b->base + n;
}

bool rt_buf_append(rt_bufpool *bp, rt_buf *b, const void *p, size_t n)
{
    if (!b->p && !rt_buf_get(bp, b)) return false;
    if (rt_buf_room(b) < n) {
        rt_buf_compact(b);
        if (rt_buf_room(b) < n) {
            size_t need = (size_t)b->w + n;
            if (need > UINT32_MAX / 2) return false;
            uint32_t cap = need <= RT_BUF_LARGE ? RT_BUF_LARGE : (uint32_t)need;
            if (!rt_buf_grow(bp, b, cap)) return false;
        }
    }
    memcpy(b->p + b->w, p, n);
    b->w += (uint32_t)n;
    return true;
}

void rt_bufpool_free(rt_bufpool *bp)
{
    while (bp->free_small) {
        freeblk *f = bp->free_small;
        bp->free_small = f->next;
        free(f);
    }
    bp->nfree = 0;
}

/* ------------------------------------------------------------ flags */

static const char *const flag_names[] = {
#define X(f) #f,
    RT_FWD_FLAGS(X)
#undef X
};

const char *rt_flag_name(int bit) { return bit >= 0 && bit < RT_FL_COUNT ? flag_names[bit] : "?"; }

uint32_t rt_flag_from_name(const char *s)
{
    for (int i = 0; i < RT_FL_COUNT; i++)
        if (!strcmp(flag_names[i], s)) return 1u << i;
    return 0;
}

size_t rt_flags_format(uint32_t flags, char *buf, size_t cap)
{
    size_t n = 0;
    if (!flags) {
        if (cap > 1) { buf[0] = '-'; buf[1] = '\0'; return 1; }
        return 0;
    }
    for (int i = 0; i < RT_FL_COUNT; i++) {
        if (!(flags & (1u << i))) continue;
        size_t l = strlen(flag_names[i]);
        if (n + l + 2 > cap) break;
        if (n) buf[n++] = ',';
        memcpy(buf + n, flag_names[i], l);
        n += l;
    }
    buf[n] = '\0';
    return n;
}

/* ------------------------------------------------------------ clocks */

int64_t rt_now_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *rt_worker_date(rt_worker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != w->date_sec) {
        static const char days[] = "SunMonTueWedThuFriSat";
        static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        struct tm tm;
        time_t t = ts.tv_sec;
        gmtime_r(&t, &tm);
        snprintf(w->date, sizeof w->date, "%.3s, %02d %.3s %04d %02d:%02d:%02d GMT", days + 3 * tm.tm_wday, tm.tm_mday,
                 months + 3 * tm.tm_mon, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        w->date_sec = ts.tv_sec;
    }
    return w->date;
}
