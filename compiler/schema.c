/*
** schema.c -- placeholder until the schema stage lands: checks nothing.
*/
#include "schema.h"

void mc_schema_check(mc_input *in)
{
    (void)in;
}
