/*
** t_loop.c -- the event loop: timer order, cancel, re-arm, file events
** on socketpairs (including deletion of an fd with a pending event), and
** wakeup from another thread.
*/
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "t.h"

static char order[64];
static int norder;

static void rec_timer(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l; (void)t;
    order[norder++] = *(const char *)ud;
    order[norder] = 0;
}

static void run_until_idle(rt_loop *l, int max_iter)
{
    while (rt_loop_timers(l) && max_iter-- > 0) rt_loop_once(l, 100);
}

static void test_timer_order(rt_loop *l)
{
    rt_timer a, b, c, d;
    norder = 0;
    rt_timer_init(&a, NULL, NULL);
    rt_timer_init(&b, NULL, NULL);
    rt_timer_init(&c, NULL, NULL);
    rt_timer_init(&d, NULL, NULL);
    rt_timer_start(l, &a, 30, rec_timer, (void *)"a");
    rt_timer_start(l, &b, 10, rec_timer, (void *)"b");
    rt_timer_start(l, &c, 20, rec_timer, (void *)"c");
    rt_timer_start(l, &d, 10, rec_timer, (void *)"d");
    is_int((long long)rt_loop_timers(l), 4, "four timers armed");
    run_until_idle(l, 100);
    is_str(order, "bdca", "timers fire by deadline, equal deadlines in arming order");
    ok(!rt_timer_active(&a) && !rt_timer_active(&b), "fired timers are disarmed");
}

static void test_timer_cancel(rt_loop *l)
{
    rt_timer a, b, c;
    norder = 0;
    order[0] = 0;
    rt_timer_init(&a, NULL, NULL);
    rt_timer_init(&b, NULL, NULL);
    rt_timer_init(&c, NULL, NULL);
    rt_timer_start(l, &a, 5, rec_timer, (void *)"a");
    rt_timer_start(l, &b, 6, rec_timer, (void *)"b");
    rt_timer_start(l, &c, 7, rec_timer, (void *)"c");
    rt_timer_stop(l, &b);
    rt_timer_stop(l, &b);               /* twice is harmless */
    ok(!rt_timer_active(&b), "stopped timer is inactive");
    rt_timer_start(l, &a, 8, rec_timer, (void *)"A");   /* re-arm moves it after c */
    run_until_idle(l, 100);
    is_str(order, "cA", "cancelled timer never fires; re-armed one fires once, later");
}

static int rearm_left;
static void rearm_cb(rt_loop *l, rt_timer *t, void *ud)
{
    (void)ud;
    norder++;
    if (--rearm_left > 0) rt_timer_start(l, t, 0, rearm_cb, NULL);
}

static void test_timer_rearm(rt_loop *l)
{
    rt_timer t;
    rt_timer_init(&t, NULL, NULL);
    norder = 0;
    rearm_left = 3;
    rt_timer_start(l, &t, 0, rearm_cb, NULL);
    rt_loop_update_time(l);
    int r1 = rt_loop_once(l, 0);
    int r2 = rt_loop_once(l, 0);
    int r3 = rt_loop_once(l, 0);
    int r4 = rt_loop_once(l, 0);
    ok(r1 == 1 && r2 == 1 && r3 == 1 && r4 == 0, "a 0 ms re-arm fires once per iteration (%d %d %d %d)", r1, r2, r3, r4);
    is_int(norder, 3, "re-armed timer fired three times");
}

/* Many timers with pseudo-random deadlines, half cancelled: fired ones
** come out in non-decreasing deadline order and cancelled ones never. */
static uint64_t last_deadline;
static int heap_fired, heap_bad;
static void heap_cb(rt_loop *l, rt_timer *t, void *ud)
{
    (void)l;
    if (ud) heap_bad++;                 /* a cancelled one */
    if (t->deadline < last_deadline) heap_bad++;
    last_deadline = t->deadline;
    heap_fired++;
}

static void test_timer_heap(rt_loop *l)
{
    enum { N = 2000 };
    static rt_timer ts[N];
    uint32_t x = 12345;
    rt_loop_update_time(l);
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        rt_timer_init(&ts[i], NULL, NULL);
        rt_timer_start(l, &ts[i], (x >> 16) % 40, heap_cb, (i % 2) ? (void *)1 : NULL);
    }
    for (int i = 1; i < N; i += 2) rt_timer_stop(l, &ts[i]);
    is_int((long long)rt_loop_timers(l), N / 2, "half of 2000 timers cancelled");
    last_deadline = 0;
    run_until_idle(l, 1000);
    is_int(heap_fired, N / 2, "every remaining timer fired");
    is_int(heap_bad, 0, "in deadline order, none of the cancelled");
}

/* ---- file events ---- */

static int got_read, got_write, got_mask;
static char readbuf[64];
static int victim_fd = -1, victim_calls;

static void on_read(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)ud;
    got_mask |= mask;
    ssize_t n = read(fd, readbuf, sizeof readbuf - 1);
    if (n >= 0) readbuf[n] = 0;
    got_read++;
}

static void on_write(rt_loop *l, int fd, void *ud, int mask)
{
    (void)ud;
    if (mask & RT_WRITABLE) got_write++;
    rt_file_mod(l, fd, RT_NONE);        /* one notification is enough */
}

static void on_killer(rt_loop *l, int fd, void *ud, int mask)
{
    (void)mask; (void)ud;
    char c;
    if (read(fd, &c, 1) < 0) return;
    if (victim_fd >= 0) rt_file_del(l, victim_fd);
}

static void on_victim(rt_loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)fd; (void)ud; (void)mask;
    victim_calls++;
}

static void test_files(rt_loop *l)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0) { ok(0, "socketpair"); return; }
    ok(rt_file_add(l, sv[0], RT_READABLE, on_read, NULL) == 0, "add readable");
    ok(rt_file_add(l, sv[0], RT_READABLE, on_read, NULL) < 0 && errno == EEXIST, "adding twice is EEXIST");
    ok(rt_file_add(l, 1 << 28, RT_READABLE, on_read, NULL) < 0 && errno == ERANGE, "fd beyond the table is ERANGE");
    ok(rt_file_mod(l, sv[1] + 100, RT_READABLE) < 0 && errno == ENOENT, "mod of unknown fd is ENOENT");
    is_int(rt_file_mask(l, sv[0]), RT_READABLE, "mask reported");
    is_int(rt_loop_once(l, 0), 0, "nothing readable yet");
    ok(write(sv[1], "ping", 4) == 4, "write ping");
    rt_loop_once(l, 100);
    ok(got_read == 1 && !strcmp(readbuf, "ping"), "readable callback got the bytes");

    ok(rt_file_add(l, sv[1], RT_WRITABLE, on_write, NULL) == 0, "add writable");
    rt_loop_once(l, 100);
    rt_loop_once(l, 0);
    is_int(got_write, 1, "writable fired once, then interest dropped");

    rt_file_mod(l, sv[0], RT_NONE);
    ok(write(sv[1], "x", 1) == 1, "write while not interested");
    got_read = 0;
    rt_loop_once(l, 20);
    is_int(got_read, 0, "no callback without interest");
    rt_file_mod(l, sv[0], RT_READABLE);
    rt_loop_once(l, 100);
    is_int(got_read, 1, "interest restored, pending byte delivered");

    got_mask = 0;
    rt_file_del(l, sv[1]);
    close(sv[1]);
    rt_loop_once(l, 100);
    ok(got_mask & RT_READABLE, "peer close reported as readable (EOF)");
    rt_file_del(l, sv[0]);
    rt_file_del(l, sv[0]);              /* twice is harmless */
    is_int(rt_file_mask(l, sv[0]), -1, "deleted fd has no mask");
    close(sv[0]);

    /* A callback deletes another fd whose event is pending in the same
    ** batch: the victim must not be called. Both become readable before
    ** the wait so they arrive together. */
    int a[2], b[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b) < 0) { ok(0, "socketpair"); return; }
    rt_file_add(l, a[0], RT_READABLE, on_killer, NULL);
    rt_file_add(l, b[0], RT_READABLE, on_victim, NULL);
    victim_fd = b[0];
    ok(write(a[1], "k", 1) == 1 && write(b[1], "v", 1) == 1, "both readable");
    rt_loop_once(l, 100);               /* epoll reports a first: it became ready first */
    is_int(victim_calls, 0, "no callback for an fd deleted while its event was pending");
    is_int(rt_file_mask(l, b[0]), -1, "victim unregistered");
    rt_loop_once(l, 20);
    is_int(victim_calls, 0, "and none later");
    rt_file_del(l, a[0]);
    rt_file_del(l, b[0]);
    close(a[0]); close(a[1]); close(b[0]); close(b[1]);
}

/* ---- wakeup from another thread ---- */

static uint32_t notified_bits;
static int notify_calls, before_calls;

static void on_notify(rt_loop *l, void *ud, uint32_t bits)
{
    (void)ud;
    notified_bits |= bits;
    notify_calls++;
    if (bits & 4) rt_loop_stop(l);
}

static void on_before(rt_loop *l, void *ud)
{
    (void)l; (void)ud;
    before_calls++;
}

static void *poker(void *arg)
{
    rt_loop *l = arg;
    usleep(20000);
    rt_loop_notify(l, 1);
    rt_loop_notify(l, 2);
    usleep(20000);
    rt_loop_notify(l, 4);
    return NULL;
}

static void test_wakeup(rt_loop *l)
{
    rt_loop_set_notify(l, on_notify, NULL);
    rt_loop_set_before_sleep(l, on_before, NULL);
    pthread_t th;
    pthread_create(&th, NULL, poker, l);
    int rc = rt_loop_run(l);            /* no timers, no fds: only the thread can end it */
    pthread_join(th, NULL);
    is_int(rc, 0, "run returned after a notify from another thread");
    is_int(notified_bits, 7, "all notified bits delivered");
    ok(notify_calls >= 2 && notify_calls <= 3, "bits coalesced per wakeup (%d calls)", notify_calls);
    ok(before_calls >= notify_calls, "before-sleep hook ran every iteration");
    ok(rt_loop_stopped(l), "stop flag set");
    rt_loop_set_before_sleep(l, NULL, NULL);
}

int main(void)
{
    char err[RT_ERR_LEN] = "";
    rt_loop *l = rt_loop_new(1024, err);
    if (!ok(l != NULL, "loop created %s", err)) return t_done();
    test_timer_order(l);
    test_timer_cancel(l);
    test_timer_rearm(l);
    test_timer_heap(l);
    test_files(l);
    test_wakeup(l);
    uint64_t t0 = rt_loop_now_ms(l);
    usleep(2000);
    rt_loop_update_time(l);
    ok(rt_loop_now_ms(l) >= t0 + 2, "cached clock advances on update");
    rt_loop_free(l);
    return t_done();
}
