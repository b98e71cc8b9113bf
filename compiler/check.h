/*
** check.h -- the `meshc check` pipeline: load, schema, validate, analyze.
** `meshc build` runs the same pipeline before lowering.
*/
#ifndef MC_CHECK_H
#define MC_CHECK_H

#include <stdbool.h>

#include "diag.h"
#include "load.h"

typedef struct mc_check_opts {
    mc_load_opts load;
    mc_diag_opts diag;
    const char **inputs;        /* positional paths and -f values */
    int ninputs;
    const char **analyzers;     /* --analyzer NAME (Istio analyzer names); NULL = all */
    int nanalyzers;
    const char *mesh_config;    /* --mesh-config FILE */
    const char *cluster_domain; /* --cluster-domain, default cluster.local */
} mc_check_opts;

/* Load every input and run every stage; findings go to diag. */
void mc_check_run(const mc_check_opts *opt, mc_input *in);

#endif
