/*
** check.c -- run the stages in order over the loaded resources.
**
** The per-resource stages (schema, then webhook validation) run on each
** document as soon as it is read, while its tree is still in cache; the
** cross-resource stages (istioctl's analyzers, then the runtime checks on
** the lowered routes) run once everything is loaded.
*/
#include "check.h"
#include "analyze.h"
#include "insight.h"
#include "schema.h"
#include "validate.h"

static void per_resource(void *ud, mc_obj *o)
{
    (void)ud;
    mc_schema_obj(o);       /* also renames proto field names validation reads */
    mc_validate_obj(o);
}

void mc_check_run(const mc_check_opts *opt, mc_input *in)
{
    mc_analyze_select(opt);     /* --analyzer: filter every stage's codes */
    mc_schema_begin(in);
    mc_validate_begin();
    in->on_obj = per_resource;
    in->on_obj_ud = NULL;
    for (int i = 0; i < opt->ninputs; i++) mc_load(in, &opt->load, opt->inputs[i]);
    in->on_obj = NULL;
    mc_validate_end();
    mc_schema_end();
    mc_load_finish(in);
    mc_analyze(in, opt);
    mc_insight(in, opt);
}
