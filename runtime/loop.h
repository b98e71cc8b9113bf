/*
** loop.h -- one epoll event loop per worker thread, in the spirit of
** redis' ae: file events, timers, a before-sleep hook, a stop flag and a
** cross-thread wakeup. It knows nothing about HTTP or any protocol.
**
** Threading: a loop and everything registered on it belong to the thread
** that calls rt_loop_run()/rt_loop_once(). The only functions another
** thread (or a signal handler) may call are rt_loop_notify() and
** rt_loop_wakeup(); both are lock-free and async-signal-safe.
**
** Memory: rt_loop_new() allocates the fd table (setsize slots), the epoll
** event buffer and the timer heap (initial capacity). After that nothing
** on the hot path allocates; the timer heap doubles (realloc) only when
** more timers are armed at once than ever before.
**
** File events are level-triggered. Per epoll_wait, each ready fd gets one
** callback with the mask of what fired (readable and/or writable, plus
** RT_ERROR/RT_HUP folded into both so a callback reading or writing sees
** the error). A callback may add, modify or delete any fd, including
** its own and ones with events still pending in the same batch: pending
** events of an fd deleted (or deleted and re-added) during the batch are
** dropped, never delivered to the new owner (generation check).
**
** Timers are intrusive: the caller owns each rt_timer (typically inside
** its connection struct) and the loop keeps a binary min-heap of
** pointers to them, ordered by (deadline, arming sequence): timers due at
** the same millisecond fire in the order they were armed. A timer fires
** once; re-arm it from its callback (or anywhere) with rt_timer_start().
** A callback re-arming with 0 ms fires on the next iteration, never in
** the same one, so a loop cannot spin on timers alone.
*/
#ifndef RT_LOOP_H
#define RT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef RT_ERR_LEN
#define RT_ERR_LEN 256          /* size of every caller error buffer */
#endif

#define RT_NONE      0
#define RT_READABLE  1          /* interest / fired: data or EOF to read */
#define RT_WRITABLE  2          /* interest / fired: room to write */
#define RT_ERROR     4          /* fired only: EPOLLERR (also sets R|W) */
#define RT_HUP       8          /* fired only: EPOLLHUP/RDHUP (also sets R) */

typedef struct rt_loop rt_loop;
typedef struct rt_timer rt_timer;

/* Called with the fired mask (RT_READABLE|RT_WRITABLE|RT_ERROR|RT_HUP). */
typedef void rt_file_fn(rt_loop *l, int fd, void *ud, int mask);
typedef void rt_timer_fn(rt_loop *l, rt_timer *t, void *ud);
typedef void rt_hook_fn(rt_loop *l, void *ud);
/* Called in the loop thread with the bits passed to rt_loop_notify()
** since the last call (0 when only rt_loop_wakeup() was used). */
typedef void rt_notify_fn(rt_loop *l, void *ud, uint32_t bits);

/* Zero-initialise (or rt_timer_init) before first use; owned by the
** caller; must stay at the same address while armed. */
struct rt_timer {
    uint64_t deadline;          /* loop clock, milliseconds */
    uint64_t seq;               /* arming order, tie-breaker */
    uint32_t heap_idx;          /* index + 1 in the heap; 0 = not armed */
    rt_timer_fn *fn;
    void *ud;
};

/* Create a loop able to watch fds 0 .. setsize-1 (pass 0 for the
** process' RLIMIT_NOFILE soft limit). NULL with err filled on failure. */
rt_loop *rt_loop_new(int setsize, char err[RT_ERR_LEN]);
/* Free the loop and its epoll/eventfd descriptors. Registered fds are
** not closed; armed timers are simply forgotten. */
void rt_loop_free(rt_loop *l);

/* Run until rt_loop_stop(); returns 0, or -1 if epoll_wait failed for a
** reason other than EINTR (err message via rt_loop_error()). */
int rt_loop_run(rt_loop *l);
/* One iteration: before-sleep hook, wait (at most max_wait_ms, -1 =
** until the next timer or event, 0 = poll), file events, due timers.
** Returns the number of callbacks run, or -1 on epoll failure. */
int rt_loop_once(rt_loop *l, int max_wait_ms);
/* Ask rt_loop_run() to return after the current iteration (loop thread
** only; from elsewhere use rt_loop_notify with a bit your handler maps
** to rt_loop_stop). */
void rt_loop_stop(rt_loop *l);
bool rt_loop_stopped(const rt_loop *l);
const char *rt_loop_error(const rt_loop *l);

/* Hook run before every epoll_wait (flush buffers, etc.). */
void rt_loop_set_before_sleep(rt_loop *l, rt_hook_fn *fn, void *ud);
/* Handler for rt_loop_notify()/rt_loop_wakeup(). */
void rt_loop_set_notify(rt_loop *l, rt_notify_fn *fn, void *ud);
/* Any thread or signal handler: OR bits into the pending set and wake
** the loop. Bits are delivered once, coalesced. */
void rt_loop_notify(rt_loop *l, uint32_t bits);
void rt_loop_wakeup(rt_loop *l);

/* Monotonic clock cached at the start of each iteration. */
uint64_t rt_loop_now_ms(const rt_loop *l);
uint64_t rt_loop_now_ns(const rt_loop *l);
/* Refresh the cached clock (after a long callback, say). */
void rt_loop_update_time(rt_loop *l);

/* Register fd with interest mask (RT_READABLE|RT_WRITABLE, may be
** RT_NONE) and its callback. 0, or -1 with errno: EBADF/ERANGE (fd out of
** the table), EEXIST (already registered), or epoll_ctl's errno. */
int rt_file_add(rt_loop *l, int fd, int mask, rt_file_fn *fn, void *ud);
/* Change the interest mask of a registered fd; a no-op when unchanged
** (no syscall). 0, or -1 with errno (ENOENT if not registered). */
int rt_file_mod(rt_loop *l, int fd, int mask);
/* Unregister; safe for unknown fds. Call before close(fd). */
void rt_file_del(rt_loop *l, int fd);
/* Current interest mask, or -1 if fd is not registered. */
int rt_file_mask(const rt_loop *l, int fd);

void rt_timer_init(rt_timer *t, rt_timer_fn *fn, void *ud);
/* Arm (or re-arm) t to fire ms milliseconds from the cached now with
** fn/ud. 0, or -1 (ENOMEM) if the heap could not grow. */
int rt_timer_start(rt_loop *l, rt_timer *t, uint64_t ms, rt_timer_fn *fn, void *ud);
/* Disarm; safe if not armed. */
void rt_timer_stop(rt_loop *l, rt_timer *t);
static inline bool rt_timer_active(const rt_timer *t) { return t->heap_idx != 0; }
/* Number of armed timers. */
size_t rt_loop_timers(const rt_loop *l);

#endif
