/*
 * repair: repair orders (intake, the state machine, estimate, parts, labour notes, promised
 * date) and the customer's private links (repair status, estimate approval). The allowed moves
 * are written once, in the repair_transitions table of schema/003_device.sql; C knows the state
 * names to refuse nonsense early.
 */
#ifndef CARNET_REPAIR_H
#define CARNET_REPAIR_H

struct req;

enum repair_state {
    REPAIR_INTAKE,
    REPAIR_DIAGNOSING,
    REPAIR_AWAITING_APPROVAL,
    REPAIR_AWAITING_PARTS,
    REPAIR_REPAIRING,
    REPAIR_TESTING,
    REPAIR_READY,
    REPAIR_COLLECTED,
    REPAIR_RETURNED_UNREPAIRED,
    REPAIR_CANCELLED,
    REPAIR_NSTATES
};

const char *repair_state_name(enum repair_state s);
/* Returns 0 and sets *out when `name` is a repair state. */
int repair_state_parse(const char *name, enum repair_state *out);

/* staff */
void repair_open(struct req *r);
void repair_get(struct req *r);
void repair_transition(struct req *r);
void repair_estimate(struct req *r);
void repair_part_add(struct req *r);
void repair_note_add(struct req *r);
void repair_promise(struct req *r);
/* GET|PUT /api/stores/{store}/repair-settings (managers): {lang, notify: [moves that send a
 * message]} */
void repair_settings_get(struct req *r);
void repair_settings_put(struct req *r);

/* customers, through a private link */
void repair_status_view(struct req *r);
void repair_estimate_view(struct req *r);
void repair_estimate_approve(struct req *r);
void repair_estimate_decline(struct req *r);
void repair_estimate_callback(struct req *r);

#endif
