/* plan.c — placeholder until the kernels land: no fast plan, so
 * zs_net_infer uses the reference path. */
#include "plan.h"
zs_status zs_plan_build(zs_net *net) {
    (void)net;
    return ZS_ERR(ZS_EUNSUPPORTED, "no fast inference plan in this build");
}
void zs_plan_free(zs_net *net) { if (net) net->kernels = NULL; }
zs_status zs_plan_infer(zs_net *net, const float *x, int n, float *logprob) {
    (void)net; (void)x; (void)n; (void)logprob;
    return ZS_ERR(ZS_EUNSUPPORTED, "no fast inference plan in this build");
}
