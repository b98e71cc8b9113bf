/*
** analyze.h -- cross-resource analysis: istioctl analyze's networking
** analyzers (IST codes), offline, with Kubernetes context from the inputs.
**
** Semantics follow istio/istio pkg/config/analysis/analyzers at commit
** 86c9f01f (see ../shared/reference/istio-analyzers.md sections 1-3), quirks
** included, with these offline rules for context the inputs lack:
**  - unless a workload (Pod, or Deployment/StatefulSet/DaemonSet template)
**    in the inputs carries `istio: ingressgateway`, Istio's default ingress
**    gateway is assumed: a Pod in istio-system with that label, whose Service
**    (unless the inputs hold one selecting it) has ports 80->8080,
**    443->8443, 31400 and 15443;
**  - no workload at all: a selector that matches nothing names a workload
**    defined elsewhere (no IST0101 selector), and subsets (IST0173) are not
**    checked;
**  - no Service at all: only ServiceEntry hosts are known, and a short or
**    cluster-local destination host is reported as a warning;
**  - no Secret at all: credentialName references are not checked.
** Resources in kube-system, kube-public, kube-node-lease and
** local-path-storage are ignored, as istioctl ignores them.
*/
#ifndef MC_ANALYZE_H
#define MC_ANALYZE_H

#include <stdbool.h>

#include "check.h"

void mc_analyze(mc_input *in, const mc_check_opts *opt);

/* --analyzer NAME: true when NAME is one of Istio's analyzer names meshc
** implements (Metadata().Name, or schema.ValidationAnalyzer.<Kind>);
** otherwise prints the known names to stderr and returns false. */
bool mc_analyzer_check(const char *name);
/* Before any stage runs: with --analyzer, keep only the codes the named
** analyzers emit (plus every load-stage code; fatal codes always stay), so
** schema and validation findings are filtered too (through mc_diag_only). */
void mc_analyze_select(const mc_check_opts *opt);

#endif
