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

/* Run every selected analyzer, in order, on this thread. */
void mc_analyze(mc_input *in, const mc_check_opts *opt);

/* The same on two threads: after mc_analysis_begin(), the main thread
** calls mc_analysis_work(an, true) and another thread may call
** mc_analysis_work(an, false) at any time (once); each runs analyzers until
** none is left. The findings are those of mc_analyze(). mc_analysis_end()
** once both calls have returned. */
typedef struct mc_analysis mc_analysis;
mc_analysis *mc_analysis_begin(mc_input *in, const mc_check_opts *opt);
void mc_analysis_work(mc_analysis *an, bool main);
void mc_analysis_end(mc_analysis *an);

/* --analyzer NAME: true when NAME is one of Istio's analyzer names meshc
** implements (Metadata().Name, or schema.ValidationAnalyzer.<Kind>);
** otherwise prints the known names to stderr and returns false. */
bool mc_analyzer_check(const char *name);
/* Before any stage runs: with --analyzer, keep only the codes the named
** analyzers emit (plus every load-stage code; fatal codes always stay), so
** schema and validation findings are filtered too (through mc_diag_only). */
void mc_analyze_select(const mc_check_opts *opt);

#endif
