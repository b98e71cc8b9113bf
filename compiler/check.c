/*
** check.c -- run the stages in order over the loaded resources.
*/
#include "check.h"
#include "analyze.h"
#include "insight.h"
#include "schema.h"
#include "validate.h"

void mc_check_run(const mc_check_opts *opt, mc_input *in)
{
    mc_analyze_select(opt);     /* --analyzer: filter every stage's codes */
    for (int i = 0; i < opt->ninputs; i++) mc_load(in, &opt->load, opt->inputs[i]);
    mc_load_finish(in);
    mc_schema_check(in);
    mc_validate(in, opt);
    mc_analyze(in, opt);
    mc_insight(in, opt);
}
