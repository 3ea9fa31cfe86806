/*
 * system: the operational endpoints: /healthz, /metrics, /api/openapi.json.
 */
#ifndef CARNET_SYSTEM_H
#define CARNET_SYSTEM_H

struct req;

void system_healthz(struct req *r);
void system_metrics(struct req *r);
void system_openapi(struct req *r);

#endif
