/*
** validate.h -- the rules of Istio's validation webhook (pkg/config/
** validation) for Gateway, VirtualService, DestinationRule and
** ServiceEntry, one resource at a time, after the schema stage.
*/
#ifndef MC_VALIDATE_H
#define MC_VALIDATE_H

#include "check.h"

void mc_validate(mc_input *in, const mc_check_opts *opt);

#endif
