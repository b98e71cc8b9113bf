/*
** check.c -- run the stages in order over the loaded resources.
**
** The per-resource stages (schema, then webhook validation) run on each
** document as soon as it is read, on a second thread; the
** cross-resource stages (istioctl's analyzers, then the runtime checks on
** the lowered routes) run once everything is loaded.
*/
#include "check.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "insight.h"
#include "schema.h"
#include "validate.h"

/* The per-resource stages run on a second thread, fed by the loader as
** each resource is read: checking overlaps parsing. Each resource is
** checked once its document is complete; the loader never touches a
** delivered tree again, and the stages allocate nothing in the input's
** arena. Findings go through diag.h, which is thread-safe and sorts. */
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

void mc_check_run(const mc_check_opts *opt, mc_input *in)
{
    mc_analyze_select(opt);     /* --analyzer: filter every stage's codes */
    mc_schema_begin(in);
    mc_validate_begin();
    feed f;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    pthread_t t;
    pthread_attr_t attr;
    bool threaded = pthread_attr_init(&attr) == 0;
    /* the schema walk recurses with the document's depth (bounded by the
    ** parser's limit): the main thread's usual stack size */
    if (threaded) pthread_attr_setstacksize(&attr, (size_t)8 << 20);
    threaded = threaded && pthread_create(&t, &attr, checker, &f) == 0;
    pthread_attr_destroy(&attr);
    in->on_obj = per_resource;
    in->on_obj_ud = &f;
    for (int i = 0; i < opt->ninputs; i++) mc_load(in, &opt->load, opt->inputs[i]);
    in->on_obj = NULL;
    pthread_mutex_lock(&f.mu);
    f.done = true;
    pthread_cond_signal(&f.cv);
    pthread_mutex_unlock(&f.mu);
    if (threaded) pthread_join(t, NULL);
    else checker(&f);
    free(f.q);
    pthread_cond_destroy(&f.cv);
    pthread_mutex_destroy(&f.mu);
    mc_validate_end();
    mc_schema_end();
    mc_load_finish(in);
    mc_analyze(in, opt);
    mc_insight(in, opt);
}
