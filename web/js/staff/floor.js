// The store floor API as the staff views use it.
import { get, post } from '../api.js';

export const checkIn = (storeId, appt) => post(`/api/stores/${storeId}/checkin`, { appointment_id: appt.id });
export const checkInCode = (storeId, code) => post(`/api/stores/${storeId}/checkin`, { code });
export const checkInToken = (storeId, token) => post(`/api/stores/${storeId}/checkin`, { token });
export const searchName = (storeId, name) => get(`/api/stores/${storeId}/checkin/search?name=${encodeURIComponent(name)}`);
export const queue = (storeId) => get(`/api/stores/${storeId}/queue`);
export const callNext = (storeId) => post(`/api/stores/${storeId}/queue/next`, {});
export const visitMove = (visitId, action) => post(`/api/visits/${visitId}/${action}`, {});
export const joinLine = (storeId, body) => post(`/api/stores/${storeId}/line`, body);
export const visitCard = (visitId) => get(`/api/visits/${visitId}`);
// reason: why this person is called out of turn (required when they are not next).
export const callVisit = (visitId, reason) => post(`/api/visits/${visitId}/call`, reason ? { reason } : {});
export const transferVisit = (visitId, staffId) => post(`/api/visits/${visitId}/transfer`, { staff_id: staffId });
export const handOver = (visitId, body, key) => post(`/api/visits/${visitId}/handover`, body, { headers: { 'Idempotency-Key': key } });
export const bench = (storeId) => get(`/api/stores/${storeId}/bench`);
export const takeRepair = (repairId) => post(`/api/repairs/${repairId}/take`, {});
