/*
 * kiosk: self check-in on the tablet at a store's door, without a staff session
 * (POST /api/stores/{store}/kiosk/checkin). Walk-ins join the line through floor.h.
 */
#ifndef CARNET_KIOSK_H
#define CARNET_KIOSK_H

struct req;

/* public: check in by confirmation code, the manage link's QR token, or name and phone */
void kiosk_checkin(struct req *r);

#endif
