// The store floor API as the staff views use it.
import { get, post } from '../api.js';
import { write } from './offline.js';

// Check-ins and walk-ins may be made offline: they go through the outbox (offline.js), which
// answers {queued: true} when it keeps one for later.
export const checkIn = (storeId, appt) => write(`/api/stores/${storeId}/checkin`, { appointment_id: appt.id },
  { kind: 'checkin', name: (appt.customer && appt.customer.name) || appt.customer_name || appt.code || '', ref: appt.id });
export const checkInCode = (storeId, code) => write(`/api/stores/${storeId}/checkin`, { code }, { kind: 'checkin', name: code });
// A customer's link token is never kept on the tablet: a scanned link needs the network.
export const checkInToken = (storeId, token) => post(`/api/stores/${storeId}/checkin`, { token });
export const searchName = (storeId, name) => get(`/api/stores/${storeId}/checkin/search?name=${encodeURIComponent(name)}`);
export const queue = (storeId) => get(`/api/stores/${storeId}/queue`);
export const callNext = (storeId) => post(`/api/stores/${storeId}/queue/next`, {});
export const visitMove = (visitId, action) => post(`/api/visits/${visitId}/${action}`, {});
export const joinLine = (storeId, body) => write(`/api/stores/${storeId}/line`, body, { kind: 'walkin', name: body.name });
export const visitCard = (visitId) => get(`/api/visits/${visitId}`);
// reason: why this person is called out of turn (required when they are not next).
export const callVisit = (visitId, reason) => post(`/api/visits/${visitId}/call`, reason ? { reason } : {});
export const transferVisit = (visitId, staffId) => post(`/api/visits/${visitId}/transfer`, { staff_id: staffId });
export const handOver = (visitId, body, key) => post(`/api/visits/${visitId}/handover`, body, { headers: { 'Idempotency-Key': key } });
export const bench = (storeId) => get(`/api/stores/${storeId}/bench`);
export const takeRepair = (repairId) => post(`/api/repairs/${repairId}/take`, {});
