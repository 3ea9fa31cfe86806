-- 035: what the dashboard's range reads look up (issue #14; report_figures in
-- schema/api/reports.sql), so a report costs the rows of its range, not a store's whole history:
-- the later visits of a device (first-visit resolution), the moves that finish a repair or end
-- it (turnaround, and which repairs were still open at a period's end), and the estimates
-- decided in a range (approval rate). No table changes; carnetd's role needs no new grant.
create index visits_device_serial_idx on visits (device_serial, arrived_at)
    where device_serial is not null;
create index repair_moves_finish_idx on repair_moves (at, repair_id)
    where to_state in ('ready', 'collected', 'returned_unrepaired', 'cancelled');
create index repair_estimates_decided_idx on repair_estimates (decided_at)
    where decided_at is not null;
