/*
 * observation: a repair kept under observation overnight with a call-back promised to its
 * customer, the night's diagnostics as a timeline on the ticket, and the store's call-back
 * list the next morning. The rules (who, when, which sessions belong to the night) live in
 * schema/api/observation.sql; these handlers check what HTTP owns and hand the body to SQL.
 */
#ifndef CARNET_OBSERVATION_H
#define CARNET_OBSERVATION_H

struct req;

void observation_start(struct req *r);
void observation_end(struct req *r);
void observation_get(struct req *r);
void observation_callback_done(struct req *r);
void observation_callbacks(struct req *r);

#endif
