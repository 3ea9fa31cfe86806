/*
 * floor: the store floor's handlers: check-in, the walk-in line, the staff queue, call next and
 * the moves of a visit, standby, the wall board. Live streams of the same data: sse.h.
 */
#ifndef CARNET_FLOOR_H
#define CARNET_FLOOR_H

struct req;

/* public: the walk-in line and the wall board */
void floor_join_line(struct req *r);
void floor_line_status(struct req *r);
void floor_line_leave(struct req *r);
void floor_board(struct req *r);

/* check-in: staff (code, appointment id, or the manage link's QR token), search, self */
void floor_checkin(struct req *r);
void floor_checkin_search(struct req *r);
void floor_self_checkin(struct req *r);

/* standby (public, with the standby link) */
void floor_standby_join(struct req *r);
void floor_standby_status(struct req *r);
void floor_standby_claim(struct req *r);
void floor_standby_leave(struct req *r);

/* staff */
void floor_queue(struct req *r);
void floor_call_next(struct req *r);
void floor_visit_start(struct req *r);
void floor_visit_done(struct req *r);
void floor_visit_skip(struct req *r);
void floor_visit_requeue(struct req *r);
void floor_visit_left(struct req *r);
/* the serving card, calling one given person, handing a visit to a colleague */
void floor_visit_card(struct req *r);
void floor_visit_call(struct req *r);
/* POST /api/visits/{id}/recall: calls a called person again, to the caller's desk. */
void floor_visit_recall(struct req *r);
/* PUT /api/session/desk: names the desk the caller serves from in this session. */
void floor_desk_set(struct req *r);
void floor_visit_transfer(struct req *r);

/* the floor rules of a store: check-in window, default service time, line size, max skips */
void floor_settings_get(struct req *r);
void floor_settings_put(struct req *r);

#endif
