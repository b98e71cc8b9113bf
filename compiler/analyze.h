/*
** analyze.h -- cross-resource analysis: istioctl analyze's networking
** analyzers (IST codes), offline, with Kubernetes context from the inputs.
*/
#ifndef MC_ANALYZE_H
#define MC_ANALYZE_H

#include "check.h"

void mc_analyze(mc_input *in, const mc_check_opts *opt);

#endif
