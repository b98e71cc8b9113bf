/*
** check.c -- run the stages in order over the loaded resources.
**
** The per-resource stages (schema, then webhook validation) run on each
** document as soon as it is read, on a second thread; the
** cross-resource stages (istioctl's analyzers, then the runtime checks on
** the lowered routes) run once everything is loaded, side by side (see
** cross_resource). With one CPU in the affinity mask there is no second
** thread: each resource is checked as it is read, the rest in order.
*/
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "insight.h"
#include "lower.h"
#include "schema.h"
#include "validate.h"

/* The per-resource stages run on a second thread, fed by the loader as
** each resource is read: checking overlaps parsing. Each resource is
** checked once its document is complete; the loader never touches a
** delivered tree again, and the stages allocate nothing in the input's
** arena. Once everything is read, the loading thread checks too: the
** stages keep a walk's state per call (schema.c, validate.c). Findings go
** through diag.h, which is thread-safe and sorts. */
typedef struct feed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mc_obj **q;
    size_t n, cap, head;
    bool done, waiting;
} feed;

/* Woken per batch, not per resource: a wake-up costs more than checking
** a small resource. */
#define FEED_BATCH 64

static void check_one(mc_obj *o)
{
    mc_schema_obj(o);       /* also renames proto field names validation reads */
    mc_validate_obj(o);
}

static void per_resource(void *ud, mc_obj *o)
{
    feed *f = ud;
    if (!f) {       /* one CPU: check it now, while its tree is in cache */
        check_one(o);
        return;
    }
    pthread_mutex_lock(&f->mu);
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 1024;
        f->q = mc_xrealloc(f->q, f->cap * sizeof *f->q);
    }
    f->q[f->n++] = o;
    if (f->waiting && f->n - f->head >= FEED_BATCH) pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void *checker(void *p)
{
    feed *f = p;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->n - f->head < FEED_BATCH && !f->done) {
            f->waiting = true;
            pthread_cond_wait(&f->cv, &f->mu);
            f->waiting = false;
        }
        if (f->head == f->n) break;
        /* the queue may grow (and move) while this batch is checked */
        size_t from = f->head, to = f->n;
        mc_obj *batch[FEED_BATCH * 4];
        if (to - from > sizeof batch / sizeof *batch) to = from + sizeof batch / sizeof *batch;
        memcpy(batch, f->q + from, (to - from) * sizeof *batch);
        f->head = to;
        pthread_mutex_unlock(&f->mu);
        for (size_t i = 0; i < to - from; i++) check_one(batch[i]);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Only one CPU to run on (the affinity mask): a second thread would only
** take turns with this one. */
static bool one_cpu(void)
{
    cpu_set_t cs;
    return sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) < 2;
}

/* A thread with the main thread's usual stack size: the stages recurse
** with the document's depth (bounded by the parser's limit). */
static bool start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return false;
    bool ok = pthread_attr_setstacksize(&attr, (size_t)8 << 20) == 0 && pthread_create(t, &attr, fn, arg) == 0;
    pthread_attr_destroy(&attr);
    return ok;
}

typedef struct cross_job {
    mc_input *in;
    const mc_check_opts *opt;
    mc_analysis *an;
    mc_diag_hold *hold;
} cross_job;

/* The second thread: insight, held (below), then analyzers while any are
** left. */
static void *cross_helper(void *p)
{
    cross_job *j = p;
    mc_diag_hold_begin();
    mc_insight(j->in, j->opt);
    j->hold = mc_diag_hold_end();
    mc_analysis_work(j->an, false);
    return NULL;
}

/* The analyzers and the insight stage read the loaded trees and nothing
** of each other's, but for one thing: insight stays quiet at a node where
** an error was reported (mc_diag_error_at), an analyzer's included. So
** insight runs on a second thread while the analyzers run here, its
** findings held, and then takes analyzers that are left (analyze.h); when
** an analyzer reported an error at a node insight asked about after it
** asked (mc_diag_hold_stale), its findings are forgotten and it runs again,
** now after the analyzers, as it would have in order. Clean inputs, and
** most others, take the parallel path; the output is the same either way.
**
** MESHC_CROSS=serial runs the analyzers, then insight, on this thread;
** MESHC_CROSS=insight-first runs insight (held), then every analyzer the
** helper may take, on the helper before the main thread starts: the order
** that makes insight's answers stale most often, and the one where the
** helper's analyzers run with its own context. For tests; the default is
** side by side. */
static int cross_mode(void)
{
    const char *e = getenv("MESHC_CROSS");
    if (!e) return 0;
    if (strcmp(e, "serial") == 0) return 1;
    if (strcmp(e, "insight-first") == 0) return 2;
    return 0;
}

static void cross_resource(mc_input *in, const mc_check_opts *opt)
{
    int mode = cross_mode();
    mc_analysis *an = mc_analysis_begin(in, opt);
    cross_job j = { in, opt, an, NULL };
    pthread_t t;
    if (mode == 1 || one_cpu() || !start_thread(&t, cross_helper, &j)) {
        mc_analysis_work(an, true);
        mc_analysis_end(an);
        mc_insight(in, opt);
        return;
    }
    if (mode == 2) pthread_join(t, NULL);
    mc_analysis_work(an, true);
    if (mode != 2) pthread_join(t, NULL);
    mc_analysis_end(an);
    bool stale = mc_diag_hold_stale(j.hold);
    mc_diag_hold_commit(j.hold, !stale);
    if (!stale) return;
    mc_ir_free(mc_insight_take_ir());      /* build: the IR of the run forgotten */
    mc_insight(in, opt);
}

void mc_check_run(const mc_check_opts *opt, mc_input *in)
{
    mc_analyze_select(opt);     /* --analyzer: filter every stage's codes */
    mc_schema_begin();
    mc_validate_begin();
    feed f;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    pthread_t t;
    bool single = one_cpu(), threaded = !single && start_thread(&t, checker, &f);
    in->on_obj = per_resource;
    in->on_obj_ud = single ? NULL : &f;
    for (int i = 0; i < opt->ninputs; i++) mc_load(in, &opt->load, opt->inputs[i]);
    in->on_obj = NULL;
    /* while the checker catches up: duplicates (MSH0017, a warning, which
    ** mc_diag_error_at does not see) */
    mc_load_finish(in);
    pthread_mutex_lock(&f.mu);
    f.done = true;
    pthread_cond_signal(&f.cv);
    pthread_mutex_unlock(&f.mu);
    /* what the checker has not reached yet (the second half of a split
    ** file arrives at once): this thread takes batches too */
    checker(&f);
    if (threaded) pthread_join(t, NULL);
    free(f.q);
    pthread_cond_destroy(&f.cv);
    pthread_mutex_destroy(&f.mu);
    mc_validate_end();
    mc_schema_end();
    cross_resource(in, opt);
}
