-- report_staff now counts every staff member in one grouped pass (schema/api/reports.sql); its
-- per-person helper is gone from the API files, so it goes from the database too.
drop function if exists report_staff_figures(bigint, bigint, timestamptz, timestamptz);
