/*
** validate.h -- the rules of Istio's validation webhook (pkg/config/
** validation) for Gateway, VirtualService, DestinationRule and
** ServiceEntry, one resource at a time, after the schema stage.
*/
#ifndef MC_VALIDATE_H
#define MC_VALIDATE_H

#include "check.h"

void mc_validate(mc_input *in, const mc_check_opts *opt);
/* The same one resource at a time, after the schema stage has seen it:
** begin, mc_validate_obj for each resource, end. */
void mc_validate_begin(void);
void mc_validate_obj(mc_obj *o);
void mc_validate_end(void);

#endif
