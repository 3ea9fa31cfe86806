/*
 * Unit tests of diagimport.c: each importer on the reports kept in tests/it/data/diag (real
 * tools' output, sources in the README there) and on the edges a hand-run tool produces:
 * decimal commas, missing keys, several upower devices, reports that are no report.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagimport.h"

#define DATA "tests/it/data/diag/"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Reads `text`; expects success of `kind` and returns the session built. */
static json_t *read_ok(const char *text, size_t len, enum diagimport_kind want)
{
    enum diagimport_kind kind;
    struct diagimport_error err;
    json_t *out = NULL;
    int rc = diagimport_read(text, len, &kind, &out, &err);
    ck_assert_msg(rc == 0, "refused: %d %s %s", err.status, err.code, err.message);
    ck_assert_int_eq(kind, want);
    ck_assert_ptr_nonnull(out);
    return out;
}

static json_t *read_file_ok(const char *name, enum diagimport_kind want)
{
    size_t len;
    char *text = slurp(name, &len);
    json_t *out = read_ok(text, len, want);
    free(text);
    return out;
}

static void read_refused(const char *text, int status, const char *code)
{
    enum diagimport_kind kind;
    struct diagimport_error err;
    json_t *out = (json_t *)1;
    ck_assert_int_eq(diagimport_read(text, strlen(text), &kind, &out, &err), -1);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(err.status, status);
    ck_assert_str_eq(err.code, code);
}

/* The result named `test`, or NULL. */
static json_t *result(json_t *s, const char *test)
{
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(s, "results"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "test")), test) == 0)
            return r;
    }
    return NULL;
}

/* The value `name` of result `test` (asserted present) and its unit. */
static double value(json_t *s, const char *test, const char *name, const char *unit)
{
    json_t *r = result(s, test), *v;
    size_t i;
    ck_assert_msg(r != NULL, "no result %s", test);
    json_array_foreach(json_object_get(r, "values"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(v, "unit")), unit);
            return json_number_value(json_object_get(v, "value"));
        }
    }
    ck_abort_msg("result %s has no value %s", test, name);
    return 0;
}

static bool passed(json_t *s, const char *test)
{
    json_t *r = result(s, test);
    ck_assert_msg(r != NULL, "no result %s", test);
    return json_is_true(json_object_get(r, "passed"));
}

static const char *component(json_t *s, const char *test, const char *key)
{
    return json_string_value(json_object_get(json_object_get(result(s, test), "component"), key));
}

START_TEST(test_smartctl_ata_healthy)
{
    json_t *s = read_file_ok(DATA "smartctl-ata-scrutiny.json", DIAGIMPORT_SMARTCTL);
    ck_assert_str_eq(json_string_value(json_object_get(s, "tool")), "smartctl 7.0");
    ck_assert_str_eq(json_string_value(json_object_get(s, "performed_at")),
                     "2021-11-16T05:18:38+00:00");
    ck_assert(passed(s, "disk_smart_status"));
    ck_assert(value(s, "disk_power_on", "disk_power_on_hours", "h") == 1730);
    ck_assert(value(s, "disk_reallocated_sectors", "disk_reallocated_sectors", "sectors") == 0);
    ck_assert(passed(s, "disk_reallocated_sectors") && passed(s, "disk_pending_sectors"));
    ck_assert(value(s, "disk_temperature", "disk_temperature", "°C") == 32);
    ck_assert(passed(s, "disk_temperature"));
    ck_assert_ptr_null(result(s, "disk_wear")); /* NVMe only */
    ck_assert_str_eq(component(s, "disk_temperature", "kind"), "disk");
    ck_assert_str_eq(component(s, "disk_temperature", "serial"), "9RK1XXXX");
    ck_assert_str_eq(component(s, "disk_smart_status", "model"), "WDC WD140EDFZ-11A0VA0");
    json_decref(s);
}
END_TEST

START_TEST(test_smartctl_ata_failing)
{
    json_t *s = read_file_ok(DATA "smartctl-ata-failing-scrutiny.json", DIAGIMPORT_SMARTCTL);
    ck_assert(!passed(s, "disk_smart_status"));
    ck_assert(value(s, "disk_reallocated_sectors", "disk_reallocated_sectors", "sectors") == 1975);
    ck_assert(value(s, "disk_pending_sectors", "disk_pending_sectors", "sectors") == 8);
    ck_assert(!passed(s, "disk_reallocated_sectors") && !passed(s, "disk_pending_sectors"));
    ck_assert(value(s, "disk_power_on", "disk_power_on_hours", "h") == 65592);
    ck_assert_str_eq(component(s, "disk_pending_sectors", "serial"), "MSK423Y20S3HBC");
    json_decref(s);
}
END_TEST

START_TEST(test_smartctl_nvme)
{
    json_t *s = read_file_ok(DATA "smartctl-nvme-scrutiny.json", DIAGIMPORT_SMARTCTL);
    ck_assert(value(s, "disk_wear", "disk_wear_used", "%") == 0 && passed(s, "disk_wear"));
    ck_assert(value(s, "disk_media_errors", "disk_media_errors", "errors") == 0);
    ck_assert(value(s, "disk_available_spare", "disk_available_spare", "%") == 100);
    ck_assert(value(s, "disk_temperature", "disk_temperature", "°C") == 36);
    ck_assert(value(s, "disk_power_on", "disk_power_on_hours", "h") == 2401);
    ck_assert_ptr_null(result(s, "disk_reallocated_sectors")); /* ATA only */
    ck_assert_str_eq(component(s, "disk_wear", "serial"), "BTNH93710FS91P0B");
    json_decref(s);
}
END_TEST

START_TEST(test_smartctl_thresholds_fail)
{
    const char *t = "{\"smartctl\": {}, \"device\": {\"protocol\": \"NVMe\"}, "
                    "\"temperature\": {\"current\": 71}, \"nvme_smart_health_information_log\":"
                    " {\"percentage_used\": 90, \"media_errors\": 3, \"available_spare\": 9,"
                    " \"available_spare_threshold\": 10}}";
    json_t *s = read_ok(t, strlen(t), DIAGIMPORT_SMARTCTL);
    ck_assert(!passed(s, "disk_temperature") && !passed(s, "disk_wear"));
    ck_assert(!passed(s, "disk_media_errors") && !passed(s, "disk_available_spare"));
    ck_assert_str_eq(json_string_value(json_object_get(s, "tool")), "smartctl");
    ck_assert_ptr_null(json_object_get(s, "performed_at"));
    json_decref(s);
    t = "{\"smartctl\": {}, \"temperature\": {\"current\": 60}}";
    s = read_ok(t, strlen(t), DIAGIMPORT_SMARTCTL);
    ck_assert(passed(s, "disk_temperature"));
    json_decref(s);
    t = "{\"smartctl\": {}, \"temperature\": {\"current\": 61}}";
    s = read_ok(t, strlen(t), DIAGIMPORT_SMARTCTL);
    ck_assert(!passed(s, "disk_temperature"));
    ck_assert_str_eq(component(s, "disk_temperature", "kind"), "disk");
    ck_assert_ptr_null(component(s, "disk_temperature", "serial"));
    json_decref(s);
}
END_TEST

START_TEST(test_smartctl_without_data)
{
    size_t len;
    char *text = slurp(DATA "smartctl-7.3-no-device.json", &len);
    enum diagimport_kind kind;
    struct diagimport_error err;
    json_t *out;
    ck_assert_int_eq(diagimport_read(text, len, &kind, &out, &err), -1);
    ck_assert_int_eq(err.status, 422);
    ck_assert_str_eq(err.code, "empty_report");
    ck_assert_ptr_nonnull(strstr(err.message, "Unable to detect device type"));
    free(text);
}
END_TEST

START_TEST(test_system_profiler)
{
    json_t *s = read_file_ok(DATA "system_profiler-power.json", DIAGIMPORT_SYSTEM_PROFILER);
    ck_assert_str_eq(json_string_value(json_object_get(s, "tool")),
                     "system_profiler SPPowerDataType");
    ck_assert(value(s, "battery_capacity", "battery_health", "%") == 83);
    ck_assert(value(s, "battery_capacity", "battery_charge", "%") == 68);
    ck_assert(passed(s, "battery_capacity"));
    ck_assert(value(s, "battery_cycles", "cycle_count", "cycles") == 88);
    ck_assert(passed(s, "battery_cycles") && passed(s, "battery_condition"));
    ck_assert_str_eq(json_string_value(json_object_get(result(s, "battery_condition"), "note")),
                     "Condition: Good");
    ck_assert_str_eq(component(s, "battery_cycles", "serial"), "F8Y2451PQ0ANHFRAZ");
    ck_assert_str_eq(component(s, "battery_cycles", "kind"), "battery");
    json_decref(s);
}
END_TEST

START_TEST(test_system_profiler_worn)
{
    /* A no-break space before % (some macOS versions), a battery to service. */
    const char *t = "{\"SPPowerDataType\": [{\"_name\": \"x\"}, {\"sppower_battery_health_info\": "
                    "{\"sppower_battery_cycle_count\": 1000, \"sppower_battery_health\": "
                    "\"Service Recommended\", \"sppower_battery_health_maximum_capacity\": "
                    "\"79\\u00a0%\"}}]}";
    json_t *s = read_ok(t, strlen(t), DIAGIMPORT_SYSTEM_PROFILER);
    ck_assert(value(s, "battery_capacity", "battery_health", "%") == 79);
    ck_assert(!passed(s, "battery_capacity") && !passed(s, "battery_cycles"));
    ck_assert(!passed(s, "battery_condition"));
    ck_assert_ptr_null(component(s, "battery_cycles", "serial"));
    json_decref(s);
    read_refused("{\"SPPowerDataType\": []}", 422, "empty_report");
    read_refused("{\"SPPowerDataType\": [{\"sppower_battery_health_info\": {}}]}", 422,
                 "empty_report");
}
END_TEST

/* A huge negative percent was read as out of memory (500): it is a 422 naming the field. */
START_TEST(test_system_profiler_negative)
{
    static const struct {
        const char *text, *field;
    } cases[] = {
        {"{\"SPPowerDataType\": [{\"sppower_battery_health_info\": "
         "{\"sppower_battery_health_maximum_capacity\": -1e20}}]}",
         "sppower_battery_health_maximum_capacity"},
        {"{\"SPPowerDataType\": [{\"sppower_battery_health_info\": "
         "{\"sppower_battery_health_maximum_capacity\": -5}}]}",
         "sppower_battery_health_maximum_capacity"},
        {"{\"SPPowerDataType\": [{\"sppower_battery_health_info\": "
         "{\"sppower_battery_health_maximum_capacity\": 80}, \"sppower_battery_charge_info\": "
         "{\"sppower_battery_state_of_charge\": -1e300}}]}",
         "sppower_battery_state_of_charge"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        enum diagimport_kind kind;
        struct diagimport_error err;
        json_t *out = (json_t *)1;
        ck_assert_int_eq(diagimport_read(cases[i].text, strlen(cases[i].text), &kind, &out, &err),
                         -1);
        ck_assert_ptr_null(out);
        ck_assert_int_eq(err.status, 422);
        ck_assert_str_eq(err.code, "invalid");
        ck_assert_str_eq(err.field, cases[i].field);
    }
}
END_TEST

START_TEST(test_upower_worn_battery)
{
    json_t *s = read_file_ok(DATA "upower-lenovo-w520.txt", DIAGIMPORT_UPOWER);
    ck_assert_str_eq(json_string_value(json_object_get(s, "tool")), "upower");
    ck_assert(value(s, "battery_capacity", "battery_health", "%") == 49.81);
    ck_assert(value(s, "battery_capacity", "battery_energy_full", "Wh") == 46.44);
    ck_assert(value(s, "battery_capacity", "battery_energy_full_design", "Wh") == 93.24);
    ck_assert(value(s, "battery_capacity", "battery_charge", "%") == 38);
    ck_assert(!passed(s, "battery_capacity"));
    ck_assert_ptr_null(result(s, "battery_cycles")); /* charge-cycles: N/A */
    ck_assert_str_eq(json_string_value(json_object_get(result(s, "battery_capacity"), "note")),
                     "lithium-ion, discharging");
    ck_assert_str_eq(component(s, "battery_capacity", "serial"), "21903");
    ck_assert_str_eq(component(s, "battery_capacity", "model"), "42T4799");
    ck_assert_str_eq(component(s, "battery_capacity", "manufacturer"), "SANYO");
    json_decref(s);
}
END_TEST

START_TEST(test_upower_unindented_and_full)
{
    json_t *s = read_file_ok(DATA "upower-dell-gpm0365.txt", DIAGIMPORT_UPOWER);
    ck_assert(value(s, "battery_capacity", "battery_health", "%") == 100);
    ck_assert(passed(s, "battery_capacity"));
    ck_assert_str_eq(component(s, "battery_capacity", "model"), "DELL GPM0365");
    json_decref(s);
}
END_TEST

START_TEST(test_upower_edges)
{
    /* A locale with decimal commas, CRLF line ends, cycles counted, a warning level. */
    const char *t = "  native-path:          BAT1\r\n  battery\r\n    state:   charging\r\n"
                    "    warning-level:  low\r\n    energy-full:   40,5 Wh\r\n"
                    "    energy-full-design:  54 Wh\r\n    charge-cycles:  1203\r\n"
                    "    percentage:  12%\r\n    technology:  lithium-polymer\r\n";
    json_t *s = read_ok(t, strlen(t), DIAGIMPORT_UPOWER);
    ck_assert(value(s, "battery_capacity", "battery_health", "%") == 75);
    ck_assert(!passed(s, "battery_capacity"));
    ck_assert(value(s, "battery_cycles", "cycle_count", "cycles") == 1203);
    ck_assert(!passed(s, "battery_cycles"));
    ck_assert_str_eq(json_string_value(json_object_get(result(s, "battery_capacity"), "note")),
                     "lithium-polymer, charging, warning level low");
    json_decref(s);
    /* upower -d: the line power first, then the battery, then the daemon. */
    t = "Device: /org/freedesktop/UPower/devices/line_power_AC\n  native-path: AC\n"
        "  line-power\n    online: yes\n"
        "Device: /org/freedesktop/UPower/devices/battery_BAT0\n  native-path: BAT0\n"
        "  serial: 777\n  battery\n    capacity: 91.5%\n"
        "Daemon:\n  daemon-version: 1.90.2\n  on-battery: no\n";
    s = read_ok(t, strlen(t), DIAGIMPORT_UPOWER);
    ck_assert(value(s, "battery_capacity", "battery_health", "%") == 91.5);
    ck_assert_str_eq(component(s, "battery_capacity", "serial"), "777");
    json_decref(s);
    /* Only the line power: upower's, but no battery measure in it. */
    read_refused("  native-path: AC\n  line-power\n    online: yes\n", 422, "empty_report");
    read_refused("  native-path: BAT0\n  battery\n    energy-full-design: 0 Wh\n"
                 "    energy-full: 3 Wh\n",
                 422, "empty_report");
}
END_TEST

START_TEST(test_detection)
{
    enum diagimport_kind kind;
    struct diagimport_error err;
    json_t *out;
    const char *carnet = "{\"format\": \"carnet-diag/1\", \"tests\": []}";
    json_t *s = read_ok(carnet, strlen(carnet), DIAGIMPORT_CARNET);
    ck_assert_str_eq(json_string_value(json_object_get(s, "format")), "carnet-diag/1");
    json_decref(s);
    carnet = "\xEF\xBB\xBF {\"store_id\": 1, \"report\": 4}";
    s = read_ok(carnet, strlen(carnet), DIAGIMPORT_CARNET);
    json_decref(s);
    read_refused("{\"hello\": 1}", 422, "unknown_report");
    read_refused("[1, 2]", 422, "unknown_report");
    read_refused("{\"smartctl\": 1}", 422, "unknown_report");
    read_refused("just some text\nwith lines: and colons\n", 422, "unknown_report");
    read_refused("{\"smartctl\": {", 400, "invalid_json");
    read_refused("{\"a\": 1, \"a\": 2}", 400, "invalid_json");
    read_refused("   \n", 422, "invalid");
    read_refused("native-path: \xC3\x28\n", 422, "invalid");
    read_refused("{\"smartctl\": {}}", 422, "empty_report");
    ck_assert_int_eq(diagimport_read("battery\0x", 9, &kind, &out, &err), -1);
    ck_assert_str_eq(err.code, "invalid");
    ck_assert_int_eq(diagimport_read("{}", 2, &kind, &out, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, DIAGIMPORT_KINDS));
}
END_TEST

START_TEST(test_number)
{
    double v;
    ck_assert_int_eq(diagimport_number(" 46.44 Wh", &v), 0);
    ck_assert(v == 46.44);
    ck_assert_int_eq(diagimport_number("24,645 Wh", &v), 0);
    ck_assert(v > 24.644 && v < 24.646);
    ck_assert_int_eq(diagimport_number("83%", &v), 0);
    ck_assert(v == 83);
    ck_assert_int_eq(diagimport_number("7.", &v), 0);
    ck_assert(v == 7);
    ck_assert_int_eq(diagimport_number("N/A", &v), -1);
    ck_assert_int_eq(diagimport_number("", &v), -1);
    ck_assert_int_eq(diagimport_number("-3", &v), -1);
}
END_TEST

START_TEST(test_long_texts_are_cut_at_a_character)
{
    char t[600];
    int n = snprintf(t, sizeof(t), "native-path: B\nbattery\ncapacity: 90%%\nmodel: ");
    for (int i = 0; i < 150; i++)
        n += snprintf(t + n, sizeof(t) - (size_t)n, "é");
    json_t *s = read_ok(t, (size_t)n, DIAGIMPORT_UPOWER);
    const char *m = component(s, "battery_capacity", "model");
    ck_assert_uint_eq(strlen(m), DIAGIMPORT_MODEL_MAX);
    json_decref(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("diagimport");
    TCase *tc = tcase_create("importers");
    tcase_add_test(tc, test_smartctl_ata_healthy);
    tcase_add_test(tc, test_smartctl_ata_failing);
    tcase_add_test(tc, test_smartctl_nvme);
    tcase_add_test(tc, test_smartctl_thresholds_fail);
    tcase_add_test(tc, test_smartctl_without_data);
    tcase_add_test(tc, test_system_profiler);
    tcase_add_test(tc, test_system_profiler_worn);
    tcase_add_test(tc, test_system_profiler_negative);
    tcase_add_test(tc, test_upower_worn_battery);
    tcase_add_test(tc, test_upower_unindented_and_full);
    tcase_add_test(tc, test_upower_edges);
    tcase_add_test(tc, test_detection);
    tcase_add_test(tc, test_number);
    tcase_add_test(tc, test_long_texts_are_cut_at_a_character);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
