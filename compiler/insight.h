/*
** insight.h -- the checks only a compiler can make (MSH0600-MSH0799,
** codes_insight.def): what the lowered configuration does at run time that
** no istioctl analyzer reports -- rules that never match, routes shadowed by
** another VirtualService, hosts that 404 or 503 on a gateway.
**
** The stage reads the IR of lower.h, so a finding is about exactly what the
** built image does. Lowering a large configuration costs several times the
** rest of `meshc check` (time and memory), so `meshc check` lowers lazily:
**  1. a screen walks every VirtualService, Gateway, ServiceEntry and
**     DestinationRule once with hash indexes (no lowering) and marks the
**     VirtualServices whose lowering could yield a finding, and the Gateways
**     whose listener-wide checks need all their VirtualServices;
**  2. those VirtualServices, every VirtualService that shares a host with
**     them (transitively: whatever can share a virtual host with them), and
**     every other resource are lowered -- WORKLOAD views only -- and the IR
**     checks run on that. A configuration without suspects is not lowered.
** The screen is conservative (it may mark too much, never too little, by
** construction of each trigger); `meshc build`, which lowers everything
** anyway, runs the same IR checks on its full IR, and the test suite checks
** that both report the same findings.
**
** Model-level checks (match gateways not bound, mesh match ports, rules
** merged over one host, unused subsets) run in the screen's walk itself.
*/
#ifndef MC_INSIGHT_H
#define MC_INSIGHT_H

#include <stdbool.h>

#include "check.h"
#include "lower.h"

/* The stage: after mc_analyze (check.c). Skipped with --analyzer (only
** istioctl's analyzers run then). */
void mc_insight(mc_input *in, const mc_check_opts *opt);

/* `meshc build` coordination: with keep set before mc_check_run, the stage
** lowers the whole input as build needs it (every view) and keeps that IR
** instead of freeing it; build takes it with mc_insight_take_ir() and emits
** it, so the input is lowered once. NULL when the stage did not run (then
** build lowers itself). The caller owns the IR (mc_ir_free). */
void mc_insight_keep_ir(bool keep);
mc_ir *mc_insight_take_ir(void);

#endif
