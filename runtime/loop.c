/*
** loop.c -- epoll event loop: fd table, timer heap, eventfd wakeup.
** Contracts in loop.h.
*/
#include "loop.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS   256        /* epoll_wait batch */
#define MAX_SETSIZE  (1 << 20)  /* cap when RLIMIT_NOFILE is huge */
#define WAKE_TAG     UINT64_MAX /* epoll data of the eventfd */

typedef struct slot {
    rt_file_fn *fn;
    void *ud;
    uint32_t gen;               /* bumped on add and del */
    int16_t mask;               /* interest; -1 = not registered */
    int16_t in_epoll;           /* currently in the epoll set */
} slot;

struct rt_loop {
    int epfd, evfd;
    int setsize;
    slot *slots;
    struct epoll_event *events;
    rt_timer **heap;            /* heap[0] is the earliest */
    size_t nheap, capheap;
    uint64_t seq;
    uint64_t now_ns;
    bool stop;
    rt_hook_fn *before;
    void *before_ud;
    rt_notify_fn *notify;
    void *notify_ud;
    _Atomic uint32_t pending;
    char err[RT_ERR_LEN];
};

__attribute__((format(printf, 2, 3)))
static void seterr(char *err, const char *fmt, ...)
{
    va_list ap;
    if (!err) return;
    va_start(ap, fmt);
    vsnprintf(err, RT_ERR_LEN, fmt, ap);
    va_end(ap);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

rt_loop *rt_loop_new(int setsize, char err[RT_ERR_LEN])
{
    if (setsize <= 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            setsize = rl.rlim_cur > MAX_SETSIZE ? MAX_SETSIZE : (int)rl.rlim_cur;
        else
            setsize = MAX_SETSIZE;
    }
    rt_loop *l = calloc(1, sizeof *l);
    if (!l) { seterr(err, "out of memory"); return NULL; }
    l->epfd = l->evfd = -1;
    l->setsize = setsize;
    l->slots = malloc((size_t)setsize * sizeof *l->slots);
    l->events = malloc(MAX_EVENTS * sizeof *l->events);
    l->capheap = 64;
    l->heap = malloc(l->capheap * sizeof *l->heap);
    if (!l->slots || !l->events || !l->heap) {
        seterr(err, "out of memory for %d fds", setsize);
        goto fail;
    }
    for (int i = 0; i < setsize; i++)
        l->slots[i] = (slot){ .mask = -1 };
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) { seterr(err, "epoll_create1: %s", strerror(errno)); goto fail; }
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->evfd < 0) { seterr(err, "eventfd: %s", strerror(errno)); goto fail; }
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_TAG };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) < 0) {
        seterr(err, "epoll_ctl(eventfd): %s", strerror(errno));
        goto fail;
    }
    atomic_init(&l->pending, 0);
    l->now_ns = mono_ns();
    return l;
fail:
    rt_loop_free(l);
    return NULL;
}

void rt_loop_free(rt_loop *l)
{
    if (!l) return;
    if (l->epfd >= 0) close(l->epfd);
    if (l->evfd >= 0) close(l->evfd);
    for (size_t i = 0; i < l->nheap; i++) l->heap[i]->heap_idx = 0;
    free(l->slots);
    free(l->events);
    free(l->heap);
    free(l);
}

void rt_loop_stop(rt_loop *l) { l->stop = true; }
bool rt_loop_stopped(const rt_loop *l) { return l->stop; }
const char *rt_loop_error(const rt_loop *l) { return l->err; }
uint64_t rt_loop_now_ms(const rt_loop *l) { return l->now_ns / 1000000u; }
uint64_t rt_loop_now_ns(const rt_loop *l) { return l->now_ns; }
void rt_loop_update_time(rt_loop *l) { l->now_ns = mono_ns(); }

void rt_loop_set_before_sleep(rt_loop *l, rt_hook_fn *fn, void *ud)
{
    l->before = fn;
    l->before_ud = ud;
}

void rt_loop_set_notify(rt_loop *l, rt_notify_fn *fn, void *ud)
{
    l->notify = fn;
    l->notify_ud = ud;
}

void rt_loop_notify(rt_loop *l, uint32_t bits)
{
    atomic_fetch_or(&l->pending, bits);
    rt_loop_wakeup(l);
}

void rt_loop_wakeup(rt_loop *l)
{
    uint64_t one = 1;
    int saved = errno;          /* async-signal-safe: keep errno */
    ssize_t n = write(l->evfd, &one, sizeof one);
    (void)n;                    /* EAGAIN: counter saturated, still readable */
    errno = saved;
}

/* ---- file events ---- */

static uint32_t epoll_bits(int mask)
{
    return (mask & RT_READABLE ? EPOLLIN : 0) | (mask & RT_WRITABLE ? EPOLLOUT : 0);
}

/* Bring the epoll set in line with s->mask: fds with no interest leave
** the set so that a hang-up cannot wake the loop for nobody. */
static int sync_epoll(rt_loop *l, int fd, slot *s)
{
    struct epoll_event ev = { .events = epoll_bits(s->mask),
                              .data.u64 = ((uint64_t)s->gen << 32) | (uint32_t)fd };
    if (s->mask == RT_NONE) {
        if (s->in_epoll && epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ev) < 0) return -1;
        s->in_epoll = 0;
        return 0;
    }
    if (epoll_ctl(l->epfd, s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    s->in_epoll = 1;
    return 0;
}

int rt_file_add(rt_loop *l, int fd, int mask, rt_file_fn *fn, void *ud)
{
    if (fd < 0) { errno = EBADF; return -1; }
    if (fd >= l->setsize) { errno = ERANGE; return -1; }
    slot *s = &l->slots[fd];
    if (s->mask >= 0) { errno = EEXIST; return -1; }
    s->gen++;
    s->mask = (int16_t)(mask & (RT_READABLE | RT_WRITABLE));
    s->in_epoll = 0;
    s->fn = fn;
    s->ud = ud;
    if (sync_epoll(l, fd, s) < 0) {
        int e = errno;
        s->mask = -1;
        errno = e;
        return -1;
    }
    return 0;
}

int rt_file_mod(rt_loop *l, int fd, int mask)
{
    if (fd < 0 || fd >= l->setsize || l->slots[fd].mask < 0) { errno = ENOENT; return -1; }
    slot *s = &l->slots[fd];
    mask &= RT_READABLE | RT_WRITABLE;
    if (s->mask == mask) return 0;
    int old = s->mask;
    s->mask = (int16_t)mask;
    if (sync_epoll(l, fd, s) < 0) {
        int e = errno;
        s->mask = (int16_t)old;
        errno = e;
        return -1;
    }
    return 0;
}

void rt_file_del(rt_loop *l, int fd)
{
    if (fd < 0 || fd >= l->setsize || l->slots[fd].mask < 0) return;
    slot *s = &l->slots[fd];
    if (s->in_epoll) {
        struct epoll_event ev = { 0 };
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ev);
    }
    s->gen++;                   /* pending events of this batch are stale */
    s->mask = -1;
    s->in_epoll = 0;
    s->fn = NULL;
    s->ud = NULL;
}

int rt_file_mask(const rt_loop *l, int fd)
{
    if (fd < 0 || fd >= l->setsize) return -1;
    return l->slots[fd].mask;
}

/* ---- timers: binary min-heap on (deadline, seq) ---- */

static bool earlier(const rt_timer *a, const rt_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(rt_loop *l, size_t i, rt_timer *t)
{
    l->heap[i] = t;
    t->heap_idx = (uint32_t)(i + 1);
}

static void sift_up(rt_loop *l, size_t i)
{
    rt_timer *t = l->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!earlier(t, l->heap[p])) break;
        heap_set(l, i, l->heap[p]);
        i = p;
    }
    heap_set(l, i, t);
}

static void sift_down(rt_loop *l, size_t i)
{
    rt_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap) break;
        if (c + 1 < l->nheap && earlier(l->heap[c + 1], l->heap[c])) c++;
        if (!earlier(l->heap[c], t)) break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

static void heap_remove(rt_loop *l, rt_timer *t)
{
    size_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    rt_timer *last = l->heap[--l->nheap];
    if (i == l->nheap) return;
    heap_set(l, i, last);
    if (i > 0 && earlier(last, l->heap[(i - 1) / 2])) sift_up(l, i);
    else sift_down(l, i);
}

void rt_timer_init(rt_timer *t, rt_timer_fn *fn, void *ud)
{
    *t = (rt_timer){ .fn = fn, .ud = ud };
}

int rt_timer_start(rt_loop *l, rt_timer *t, uint64_t ms, rt_timer_fn *fn, void *ud)
{
    if (!t->heap_idx && l->nheap == l->capheap) {
        size_t cap = l->capheap * 2;
        rt_timer **h = realloc(l->heap, cap * sizeof *h);
        if (!h) { errno = ENOMEM; return -1; }
        l->heap = h;
        l->capheap = cap;
    }
    t->fn = fn;
    t->ud = ud;
    t->deadline = rt_loop_now_ms(l) + ms;
    t->seq = l->seq++;
    if (t->heap_idx) {
        size_t i = t->heap_idx - 1;
        /* a later deadline (the usual re-arm) only ever moves down */
        if (i > 0 && earlier(t, l->heap[(i - 1) / 2])) sift_up(l, i);
        else sift_down(l, i);
    } else {
        l->heap[l->nheap] = t;
        sift_up(l, l->nheap++);
    }
    return 0;
}

void rt_timer_stop(rt_loop *l, rt_timer *t)
{
    if (t->heap_idx) heap_remove(l, t);
}

size_t rt_loop_timers(const rt_loop *l) { return l->nheap; }

/* ---- the loop ---- */

static int run_timers(rt_loop *l)
{
    int n = 0;
    uint64_t now = rt_loop_now_ms(l), limit = l->seq;
    while (l->nheap) {
        rt_timer *t = l->heap[0];
        if (t->deadline > now || t->seq >= limit) break;
        heap_remove(l, t);
        n++;
        if (t->fn) t->fn(l, t, t->ud);
    }
    return n;
}

static int on_wake(rt_loop *l)
{
    uint64_t v;
    while (read(l->evfd, &v, sizeof v) > 0) {}
    uint32_t bits = atomic_exchange(&l->pending, 0);
    if (l->notify) { l->notify(l, l->notify_ud, bits); return 1; }
    return 0;
}

int rt_loop_once(rt_loop *l, int max_wait_ms)
{
    int ran = 0;
    if (l->before) l->before(l, l->before_ud);
    int wait = max_wait_ms;
    if (wait != 0 && l->nheap) {
        rt_loop_update_time(l);
        uint64_t now = rt_loop_now_ms(l), dl = l->heap[0]->deadline;
        uint64_t d = dl > now ? dl - now : 0;
        if (d > INT32_MAX) d = INT32_MAX;
        if (wait < 0 || (uint64_t)wait > d) wait = (int)d;
    }
    int n = epoll_wait(l->epfd, l->events, MAX_EVENTS, wait);
    if (n < 0) {
        if (errno != EINTR) {
            seterr(l->err, "epoll_wait: %s", strerror(errno));
            return -1;
        }
        n = 0;
    }
    rt_loop_update_time(l);
    for (int i = 0; i < n; i++) {
        uint64_t data = l->events[i].data.u64;
        uint32_t ev = l->events[i].events;
        if (data == WAKE_TAG) { ran += on_wake(l); continue; }
        int fd = (int)(uint32_t)data;
        uint32_t gen = (uint32_t)(data >> 32);
        slot *s = &l->slots[fd];
        if (s->mask <= 0 || s->gen != gen) continue;      /* deleted meanwhile */
        int interest = s->mask, fired = 0;
        if (ev & EPOLLIN) fired |= RT_READABLE;
        if (ev & EPOLLOUT) fired |= RT_WRITABLE;
        if (ev & EPOLLERR) fired |= RT_ERROR | interest;
        if (ev & EPOLLHUP) fired |= RT_HUP | interest;
        fired &= interest | RT_ERROR | RT_HUP;
        if (!(fired & (RT_READABLE | RT_WRITABLE))) continue;
        s->fn(l, fd, s->ud, fired);
        ran++;
    }
    ran += run_timers(l);
    return ran;
}

int rt_loop_run(rt_loop *l)
{
    l->stop = false;
    while (!l->stop)
        if (rt_loop_once(l, -1) < 0) return -1;
    return 0;
}
