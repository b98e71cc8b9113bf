/*
** validate.c -- placeholder until the validation stage lands: checks nothing.
*/
#include "validate.h"

void mc_validate(mc_input *in, const mc_check_opts *opt)
{
    (void)in;
    (void)opt;
}
