/*
** schema.h -- structural validation of resources against the schemas/ files,
** as the Kubernetes API server applies the CRD openAPIV3Schema: unknown
** fields, types, enums, required fields, bounds. Proto (snake_case) field
** names are accepted as Istio's parser accepts them, with a warning, and
** renamed in the tree to their JSON names so later stages see one spelling.
*/
#ifndef MC_SCHEMA_H
#define MC_SCHEMA_H

#include "load.h"

void mc_schema_check(mc_input *in);

#endif
