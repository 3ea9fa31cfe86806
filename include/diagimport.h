/*
 * diagimport: reads the reports real diagnostic tools write, as they write them, into the one
 * shape a diagnostic session is stored in. Pure functions (no request, no database), so each
 * importer is unit-tested and fuzzed on its own; device.c sends what they build to SQL, which
 * checks it again like any session (diag_check_results) and stores it.
 *
 * The kind of a report is read from its content, never from a header: tools are run by hand
 * and their output pasted or uploaded, and a Content-Type says nothing a person can vouch for.
 *   carnet           Carnet's own JSON (format "carnet-diag/1"), bare or as {store_id, report}
 *   smartctl         smartmontools' `smartctl --json -a` (a "smartctl" object in the JSON)
 *   system_profiler  macOS `system_profiler -json SPPowerDataType` (an "SPPowerDataType" list)
 *   upower           Linux `upower -i <battery>` text ("native-path:" or a "battery" section)
 * Measures, units and pass/fail thresholds are listed in README.md, "Diagnostic importers".
 */
#ifndef CARNET_DIAGIMPORT_H
#define CARNET_DIAGIMPORT_H

#include <jansson.h>
#include <stddef.h>

enum diagimport_kind {
    DIAGIMPORT_CARNET,
    DIAGIMPORT_SMARTCTL,
    DIAGIMPORT_SYSTEM_PROFILER,
    DIAGIMPORT_UPOWER,
};

/* The kinds understood, as the 422 unknown_report lists them. */
#define DIAGIMPORT_KINDS "carnet, smartctl, system_profiler, upower"

/* Pass/fail thresholds (README.md, "Diagnostic importers", says where each comes from). */
#define DIAGIMPORT_DISK_TEMP_MAX_ATA 60    /* °C, hard disks and SATA SSDs */
#define DIAGIMPORT_DISK_TEMP_MAX_NVME 70   /* °C, NVMe drives */
#define DIAGIMPORT_DISK_WEAR_MAX 90        /* % of rated endurance used, NVMe */
#define DIAGIMPORT_BATTERY_HEALTH_MIN 80   /* % of design capacity */
#define DIAGIMPORT_BATTERY_CYCLES_MAX 1000 /* charge cycles */

/* Longest texts taken from a report (cut at a character boundary). */
#define DIAGIMPORT_SERIAL_MAX 64
#define DIAGIMPORT_MODEL_MAX 200
#define DIAGIMPORT_SHORT_MAX 64

/* Why a report was refused: the HTTP status, error code, field and message to reply with. */
struct diagimport_error {
    int status;
    const char *code;
    const char *field;
    char message[256];
};

/*
 * Reads a report of `len` bytes (need not be NUL-terminated; a NUL byte refuses it).
 * Returns 0 with *kind and *out (a new reference the caller owns):
 *   - carnet: the JSON document as sent, for the SQL importer of that format to check;
 *   - a tool: {tool, performed_at?, summary?, results: [{test, passed, values: [{name, value,
 *     unit}], note?, component?: {kind, model?, serial?, firmware?, manufacturer?}}]}, the
 *     component being the part measured (a disk inside a laptop has its own serial).
 * Returns -1 with `err` set: 400 invalid_json (a JSON document that does not parse), 422
 * unknown_report (none of DIAGIMPORT_KINDS), 422 empty_report (a known kind holding no
 * measure, e.g. smartctl's report that it could not open the disk), 422 invalid (not UTF-8
 * text), 500 internal (out of memory).
 */
int diagimport_read(const char *body, size_t len, enum diagimport_kind *kind, json_t **out,
                    struct diagimport_error *err);

/* "carnet", "smartctl", "system_profiler" or "upower". */
const char *diagimport_kind_name(enum diagimport_kind kind);

/* A number written by upower (a '.' or, in some locales, a ',' before the decimals) at the
 * start of `s` after blanks: 0 and *out, or -1 when `s` does not start with one. */
int diagimport_number(const char *s, double *out);

#endif
