/*
** analyze.c -- placeholder until the analysis stage lands: checks nothing.
*/
#include "analyze.h"

void mc_analyze(mc_input *in, const mc_check_opts *opt)
{
    (void)in;
    (void)opt;
}
