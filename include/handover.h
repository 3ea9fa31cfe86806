/*
 * handover: from the serving card to the bench. A visit being served becomes a repair order
 * pre-filled from its booking or the line (POST /api/visits/{id}/handover), which waits on the
 * store's bench queue until a technician takes it.
 */
#ifndef CARNET_HANDOVER_H
#define CARNET_HANDOVER_H

struct req;

void handover_visit(struct req *r);
void handover_bench_list(struct req *r);
void handover_bench_take(struct req *r);

#endif
