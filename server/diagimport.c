/*
 * diagimport: the importers of real tools' reports (see include/diagimport.h for the kinds).
 *
 * Every importer keeps only measures it can name with a unit and judge against a documented
 * threshold (README.md, "Diagnostic importers"), each measure one result whose values carry
 * the same names whatever the tool (battery_health is a battery's capacity in % of its design
 * whether macOS or upower measured it), so trends continue when a store changes tools. What the
 * report says about the part measured (a disk's or a battery's own model and serial) is kept
 * beside each result as its component: it is not the device's serial and is never checked
 * against it. Anything the report does not hold is left out, not guessed; a report holding no
 * measure at all is refused.
 *
 * The upower importer reads text line by line and is written to take anything: lines of any
 * length, any order, missing keys, locales that write decimals with a comma, several devices
 * (`upower -d`: the first with a battery section counts).
 */
#include "diagimport.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UPOWER_LINE_MAX 4096      /* a longer line is no key of upower's: skipped */
#define MESSAGE_QUOTE_MAX 160     /* how much of smartctl's own complaint an error quotes */
#define VALUE_ABS_MAX 1e15        /* larger readings are nonsense, not measures */
#define PERCENT_MAX 1000.0        /* a capacity may exceed 100 %, never by this much */
#define TIME_T_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

const char *diagimport_kind_name(enum diagimport_kind kind)
{
    switch (kind) {
    case DIAGIMPORT_CARNET:
        return "carnet";
    case DIAGIMPORT_SMARTCTL:
        return "smartctl";
    case DIAGIMPORT_SYSTEM_PROFILER:
        return "system_profiler";
    case DIAGIMPORT_UPOWER:
        return "upower";
    }
    return "unknown";
}

static int fail(struct diagimport_error *err, int status, const char *code, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct diagimport_error *err, int status, const char *code, const char *field,
                const char *fmt, ...)
{
    va_list ap;
    err->status = status;
    err->code = code;
    err->field = field;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int oom(struct diagimport_error *err)
{
    return fail(err, 500, "internal", NULL, "out of memory reading the report");
}

/* ---- text ---- */

/* True when `s` (n bytes) is UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* `s` (n bytes of UTF-8) trimmed of blanks and cut to at most `max` bytes at a character
 * boundary, as a JSON string; NULL when nothing is left (or out of memory: the caller cannot
 * tell, and leaves the member out either way). */
static json_t *text_of(const char *s, size_t n, size_t max)
{
    while (n && blank(*s)) {
        s++;
        n--;
    }
    while (n && blank(s[n - 1]))
        n--;
    if (n > max) {
        n = max;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        while (n && blank(s[n - 1]))
            n--;
    }
    return n ? json_stringn(s, n) : NULL;
}

int diagimport_number(const char *s, double *out)
{
    double v = 0, scale = 1;
    bool digits = false;

    while (*s == ' ' || *s == '\t')
        s++;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        digits = true;
    }
    if (!digits)
        return -1;
    if ((*s == '.' || *s == ',') && s[1] >= '0' && s[1] <= '9')
        for (s++; *s >= '0' && *s <= '9'; s++) {
            scale /= 10;
            v += (*s - '0') * scale;
        }
    if (!isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* ---- the shape every importer builds ---- */

/* {name, value, unit}: a whole number stays an integer, anything else is rounded to two decimal
 * places (a percentage computed from two energies has no more meaning than that); NULL for a
 * reading out of range. */
static json_t *measure(const char *name, double v, const char *unit)
{
    json_t *num;
    if (!isfinite(v) || v > VALUE_ABS_MAX || v < -VALUE_ABS_MAX)
        return NULL;
    if (v == (double)(long long)v)
        num = json_integer((json_int_t)v);
    else
        num = json_real((double)(long long)(v * 100 + (v < 0 ? -0.5 : 0.5)) / 100);
    return json_pack("{ssso*ss}", "name", name, "value", num, "unit", unit);
}

/* Appends {test, passed, values, note?, component?} to `results`; takes `values` and `note`. */
static int add_result(json_t *results, const char *test, bool passed, json_t *values, json_t *note,
                      json_t *component)
{
    json_t *r = json_pack("{sssbso}", "test", test, "passed", passed, "values",
                          values ? values : json_array());
    if (!r) {
        json_decref(note);
        return -1;
    }
    if (note)
        json_object_set_new(r, "note", note);
    if (component && json_object_size(component) > 0)
        json_object_set(r, "component", component);
    return json_array_append_new(results, r);
}

/* A result with one measured value: passes when `ok`. */
static int add_measure(json_t *results, const char *test, bool ok, const char *name, double v,
                       const char *unit, json_t *note, json_t *component)
{
    json_t *m = measure(name, v, unit), *values = json_array();
    if (!m || !values || json_array_append_new(values, m) < 0) {
        if (!values)
            json_decref(m);
        json_decref(values);
        json_decref(note);
        return m ? -1 : 0; /* an absurd reading is left out, like a missing one */
    }
    return add_result(results, test, ok, values, note, component);
}

static void set_text(json_t *obj, const char *key, json_t *s)
{
    if (s)
        json_object_set_new(obj, key, s);
}

/* A JSON string member cut to `max` bytes, or NULL. */
static json_t *member_text(json_t *obj, const char *key, size_t max)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? text_of(json_string_value(v), json_string_length(v), max) : NULL;
}

/* A JSON number member that is a whole number >= 0: 0 and *out, or -1. */
static int member_count(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (double)json_integer_value(v);
    return 0;
}

static int member_number(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return -1;
    *out = json_number_value(v);
    return 0;
}

/* ---- smartctl --json -a ---- */

/* The raw value of ATA SMART attribute `id`: 0 and *out, or -1 when the table lacks it. */
static int ata_attribute(json_t *doc, int id, double *out)
{
    json_t *table = json_object_get(json_object_get(doc, "ata_smart_attributes"), "table"), *a;
    size_t i;
    json_array_foreach(table, i, a)
    {
        if (json_integer_value(json_object_get(a, "id")) == id &&
            json_is_integer(json_object_get(a, "id")))
            return member_count(json_object_get(a, "raw"), "value", out);
    }
    return -1;
}

/* "YYYY-MM-DDTHH:MM:SS+00:00" of the report's local_time.time_t, or NULL. */
static json_t *smartctl_time(json_t *doc)
{
    json_t *t = json_object_get(json_object_get(doc, "local_time"), "time_t");
    char buf[32];
    struct tm tm;
    time_t tt;

    if (!json_is_integer(t) || json_integer_value(t) <= 0 || json_integer_value(t) > TIME_T_MAX)
        return NULL;
    tt = (time_t)json_integer_value(t);
    if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S+00:00", &tm))
        return NULL;
    return json_string(buf);
}

static json_t *smartctl_tool(json_t *doc)
{
    json_t *v = json_object_get(json_object_get(doc, "smartctl"), "version");
    char buf[64];
    if (json_array_size(v) >= 2 && json_is_integer(json_array_get(v, 0)) &&
        json_is_integer(json_array_get(v, 1))) {
        snprintf(buf, sizeof(buf), "smartctl %lld.%lld",
                 (long long)json_integer_value(json_array_get(v, 0)) % 1000,
                 (long long)json_integer_value(json_array_get(v, 1)) % 1000);
        return json_string(buf);
    }
    return json_string("smartctl");
}

/* smartctl's first message (it says why there is no data, e.g. the device could not be
 * opened), quoted into `out` for the refusal; "" when it wrote none. */
static void smartctl_complaint(json_t *doc, char *out, size_t len)
{
    json_t *m = json_array_get(json_object_get(json_object_get(doc, "smartctl"), "messages"), 0);
    json_t *s = json_object_get(m, "string");
    json_t *t = json_is_string(s)
                    ? text_of(json_string_value(s), json_string_length(s), MESSAGE_QUOTE_MAX)
                    : NULL;
    if (t)
        snprintf(out, len, " (smartctl said: %s)", json_string_value(t));
    else
        out[0] = '\0';
    json_decref(t);
}

static int read_smartctl(json_t *doc, json_t *out, struct diagimport_error *err)
{
    json_t *results = json_object_get(out, "results");
    json_t *component = json_object(),
           *nvme = json_object_get(doc, "nvme_smart_health_information_log");
    json_t *status = json_object_get(json_object_get(doc, "smart_status"), "passed");
    const char *proto =
        json_string_value(json_object_get(json_object_get(doc, "device"), "protocol"));
    bool is_nvme = (proto && strcmp(proto, "NVMe") == 0) || json_is_object(nvme);
    char said[MESSAGE_QUOTE_MAX + 32];
    double v, spare_min;
    int rc = -1;

    if (!component)
        return oom(err);
    json_object_set_new(component, "kind", json_string("disk"));
    set_text(component, "model", member_text(doc, "model_name", DIAGIMPORT_MODEL_MAX));
    set_text(component, "serial", member_text(doc, "serial_number", DIAGIMPORT_SERIAL_MAX));
    set_text(component, "firmware", member_text(doc, "firmware_version", DIAGIMPORT_SHORT_MAX));
    if (json_is_boolean(status) &&
        add_result(results, "disk_smart_status", json_is_true(status), NULL,
                   json_string(json_is_true(status)
                                   ? "SMART overall-health self-assessment: PASSED"
                                   : "SMART overall-health self-assessment: FAILED"),
                   component) < 0)
        goto out;
    if (member_count(json_object_get(doc, "power_on_time"), "hours", &v) == 0 &&
        add_measure(results, "disk_power_on", true, "disk_power_on_hours", v, "h", NULL,
                    component) < 0)
        goto out;
    if (ata_attribute(doc, 5, &v) == 0 &&
        add_measure(results, "disk_reallocated_sectors", v == 0, "disk_reallocated_sectors", v,
                    "sectors", NULL, component) < 0)
        goto out;
    if (ata_attribute(doc, 197, &v) == 0 &&
        add_measure(results, "disk_pending_sectors", v == 0, "disk_pending_sectors", v, "sectors",
                    NULL, component) < 0)
        goto out;
    if (member_number(json_object_get(doc, "temperature"), "current", &v) == 0 &&
        add_measure(results, "disk_temperature",
                    v <= (is_nvme ? DIAGIMPORT_DISK_TEMP_MAX_NVME : DIAGIMPORT_DISK_TEMP_MAX_ATA),
                    "disk_temperature", v, "°C", NULL, component) < 0)
        goto out;
    if (member_count(nvme, "percentage_used", &v) == 0 &&
        add_measure(results, "disk_wear", v < DIAGIMPORT_DISK_WEAR_MAX, "disk_wear_used", v, "%",
                    NULL, component) < 0)
        goto out;
    if (member_count(nvme, "media_errors", &v) == 0 &&
        add_measure(results, "disk_media_errors", v == 0, "disk_media_errors", v, "errors", NULL,
                    component) < 0)
        goto out;
    if (member_count(nvme, "available_spare", &v) == 0 &&
        member_count(nvme, "available_spare_threshold", &spare_min) == 0 &&
        add_measure(results, "disk_available_spare", v >= spare_min, "disk_available_spare", v, "%",
                    NULL, component) < 0)
        goto out;
    if (json_array_size(results) == 0) {
        smartctl_complaint(doc, said, sizeof(said));
        rc = fail(err, 422, "empty_report", "report",
                  "this smartctl report holds no health data%s: run smartctl --json -a on the "
                  "disk itself, as root",
                  said);
        goto out;
    }
    json_object_set_new(out, "tool", smartctl_tool(doc));
    set_text(out, "performed_at", smartctl_time(doc));
    rc = 0;
out:
    json_decref(component);
    return rc < 0 && !err->code ? oom(err) : rc;
}

/* ---- system_profiler -json SPPowerDataType ---- */

/* "83%", "100 %" (a no-break space before the sign on some systems) or a number. */
static int percent_member(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return diagimport_number(json_string_value(v), out);
    return member_number(obj, key, out);
}

static bool condition_good(const char *c)
{
    return strcmp(c, "Good") == 0 || strcmp(c, "Normal") == 0;
}

static int read_system_profiler(json_t *doc, json_t *out, struct diagimport_error *err)
{
    json_t *list = json_object_get(doc, "SPPowerDataType"), *item, *battery = NULL;
    json_t *results = json_object_get(out, "results"), *component = json_object();
    json_t *health, *charge, *model, *cond;
    double cap, cycles, soc;
    size_t i;
    int rc = -1;

    if (!component)
        return oom(err);
    json_array_foreach(list, i, item)
    {
        if (json_is_object(json_object_get(item, "sppower_battery_health_info")) ||
            json_is_object(json_object_get(item, "sppower_battery_charge_info"))) {
            battery = item;
            break;
        }
    }
    health = json_object_get(battery, "sppower_battery_health_info");
    charge = json_object_get(battery, "sppower_battery_charge_info");
    model = json_object_get(battery, "sppower_battery_model_info");
    json_object_set_new(component, "kind", json_string("battery"));
    set_text(component, "model",
             member_text(model, "sppower_battery_device_name", DIAGIMPORT_MODEL_MAX));
    set_text(component, "serial",
             member_text(model, "sppower_battery_serial_number", DIAGIMPORT_SERIAL_MAX));
    set_text(component, "firmware",
             member_text(model, "sppower_battery_firmware_version", DIAGIMPORT_SHORT_MAX));
    set_text(component, "manufacturer",
             member_text(model, "sppower_battery_manufacturer", DIAGIMPORT_SHORT_MAX));

    /* A negative percent is a broken report, not a worn battery: say which field (measure()
     * would refuse a huge one, and that read as out of memory). */
    if (percent_member(health, "sppower_battery_health_maximum_capacity", &cap) == 0 && cap < 0) {
        rc = fail(err, 422, "invalid", "sppower_battery_health_maximum_capacity",
                  "a battery's maximum capacity is a percent from 0 to 100");
        goto out;
    }
    if (percent_member(charge, "sppower_battery_state_of_charge", &soc) == 0 && soc < 0) {
        rc = fail(err, 422, "invalid", "sppower_battery_state_of_charge",
                  "a battery's state of charge is a percent from 0 to 100");
        goto out;
    }
    if (percent_member(health, "sppower_battery_health_maximum_capacity", &cap) == 0 &&
        cap <= PERCENT_MAX) {
        json_t *values = json_array();
        if (!values || json_array_append_new(values, measure("battery_health", cap, "%")) < 0 ||
            (percent_member(charge, "sppower_battery_state_of_charge", &soc) == 0 &&
             soc <= PERCENT_MAX &&
             json_array_append_new(values, measure("battery_charge", soc, "%")) < 0)) {
            json_decref(values);
            goto out;
        }
        if (add_result(results, "battery_capacity", cap >= DIAGIMPORT_BATTERY_HEALTH_MIN, values,
                       NULL, component) < 0)
            goto out;
    }
    if ((member_count(health, "sppower_battery_cycle_count", &cycles) == 0 ||
         member_count(charge, "sppower_battery_cycle_count", &cycles) == 0) &&
        add_measure(results, "battery_cycles", cycles < DIAGIMPORT_BATTERY_CYCLES_MAX,
                    "cycle_count", cycles, "cycles", NULL, component) < 0)
        goto out;
    cond = member_text(health, "sppower_battery_health", DIAGIMPORT_SHORT_MAX);
    if (cond) {
        bool good = condition_good(json_string_value(cond));
        json_t *note = json_sprintf("Condition: %s", json_string_value(cond));
        json_decref(cond);
        if (add_result(results, "battery_condition", good, NULL, note, component) < 0)
            goto out;
    }
    if (json_array_size(results) == 0) {
        rc = fail(err, 422, "empty_report", "report",
                  "this system_profiler report holds no battery health: run system_profiler "
                  "-json SPPowerDataType on a Mac with a battery");
        goto out;
    }
    json_object_set_new(out, "tool", json_string("system_profiler SPPowerDataType"));
    rc = 0;
out:
    json_decref(component);
    return rc < 0 && !err->code ? oom(err) : rc;
}

/* ---- upower -i ---- */

/* The keys of one upower device this importer reads (each its first occurrence). */
enum upower_key {
    UP_VENDOR,
    UP_MODEL,
    UP_SERIAL,
    UP_STATE,
    UP_WARNING,
    UP_PERCENTAGE,
    UP_ENERGY_FULL,
    UP_ENERGY_FULL_DESIGN,
    UP_CYCLES,
    UP_CAPACITY,
    UP_TECHNOLOGY,
    UP_NKEYS
};
static const char *const upower_keys[UP_NKEYS] = {
    "vendor",        "model",      "serial",      "state",
    "warning-level", "percentage", "energy-full", "energy-full-design",
    "charge-cycles", "capacity",   "technology"};

struct upower_device {
    const char *val[UP_NKEYS]; /* into the text, not NUL-terminated */
    size_t len[UP_NKEYS];
    bool battery; /* it has a "battery" section */
    bool native_path;
};

/* One line: [s, e). When it is "key: value", sets the key and the value (both trimmed) with
 * their lengths. */
static bool split_line(const char *s, const char *e, const char **key, size_t *klen,
                       const char **val, size_t *vlen)
{
    const char *colon = memchr(s, ':', (size_t)(e - s));
    if (!colon)
        return false;
    while (s < colon && blank(*s))
        s++;
    const char *ke = colon;
    while (ke > s && blank(ke[-1]))
        ke--;
    const char *v = colon + 1;
    while (v < e && blank(*v))
        v++;
    while (e > v && blank(e[-1]))
        e--;
    *key = s;
    *klen = (size_t)(ke - s);
    *val = v;
    *vlen = (size_t)(e - v);
    return *klen > 0;
}

static bool is_word(const char *s, const char *e, const char *w)
{
    while (s < e && blank(*s))
        s++;
    while (e > s && blank(e[-1]))
        e--;
    return (size_t)(e - s) == strlen(w) && memcmp(s, w, (size_t)(e - s)) == 0;
}

/* After one device of the text: it becomes `dev` when it is the first with a battery section, or
 * the first device at all while none has one. */
static void upower_take(struct upower_device *dev, const struct upower_device *cur, bool *found,
                        bool *seen)
{
    if (*found || !(cur->native_path || cur->battery))
        return;
    if (cur->battery || !*seen)
        *dev = *cur;
    *found = cur->battery;
    *seen = true;
}

/* Reads the devices of upower's text into `dev`: the first one with a battery section, or else
 * the first one. Returns true when the text looks like upower's (a native-path or a battery
 * section anywhere). */
static bool upower_scan(const char *text, size_t len, struct upower_device *dev)
{
    struct upower_device cur;
    const char *p = text, *end = text + len;
    bool found = false, seen = false;

    memset(dev, 0, sizeof(*dev));
    memset(&cur, 0, sizeof(cur));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        const char *key, *val;
        size_t klen, vlen;

        if ((size_t)(e - p) <= UPOWER_LINE_MAX) {
            if (is_word(p, e, "battery")) {
                cur.battery = true;
            } else if (split_line(p, e, &key, &klen, &val, &vlen)) {
                if ((klen == 6 && memcmp(key, "Device", 6) == 0) ||
                    (klen == 6 && memcmp(key, "Daemon", 6) == 0)) {
                    /* `upower -d`: the next device (or the daemon's own lines) begins */
                    upower_take(dev, &cur, &found, &seen);
                    memset(&cur, 0, sizeof(cur));
                } else if (klen == 11 && memcmp(key, "native-path", 11) == 0) {
                    cur.native_path = true;
                } else {
                    for (int k = 0; k < UP_NKEYS; k++)
                        if (!cur.val[k] && klen == strlen(upower_keys[k]) &&
                            memcmp(key, upower_keys[k], klen) == 0) {
                            cur.val[k] = val;
                            cur.len[k] = vlen;
                        }
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
    upower_take(dev, &cur, &found, &seen);
    return seen;
}

/* The value of `k` as a number (NUL-terminated copy: the value is not), or -1. */
static int upower_number(const struct upower_device *d, enum upower_key k, double *out)
{
    char buf[64];
    if (!d->val[k] || d->len[k] == 0 || d->len[k] >= sizeof(buf))
        return -1;
    memcpy(buf, d->val[k], d->len[k]);
    buf[d->len[k]] = '\0';
    return diagimport_number(buf, out);
}

static json_t *upower_text(const struct upower_device *d, enum upower_key k, size_t max)
{
    return d->val[k] ? text_of(d->val[k], d->len[k], max) : NULL;
}

/* "lithium-ion, discharging, warning level low": what upower says of the battery's state. */
static json_t *upower_note(const struct upower_device *d)
{
    json_t *tech = upower_text(d, UP_TECHNOLOGY, DIAGIMPORT_SHORT_MAX);
    json_t *state = upower_text(d, UP_STATE, DIAGIMPORT_SHORT_MAX);
    json_t *warn = upower_text(d, UP_WARNING, DIAGIMPORT_SHORT_MAX), *note = NULL;
    char buf[3 * DIAGIMPORT_SHORT_MAX + 64];
    int n = 0;

    buf[0] = '\0';
    if (tech)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", json_string_value(tech));
    if (state)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%s", n ? ", " : "",
                      json_string_value(state));
    if (warn && strcmp(json_string_value(warn), "none") != 0)
        snprintf(buf + n, sizeof(buf) - (size_t)n, "%swarning level %s", n ? ", " : "",
                 json_string_value(warn));
    if (buf[0])
        note = json_string(buf);
    json_decref(tech);
    json_decref(state);
    json_decref(warn);
    return note;
}

static int read_upower(const struct upower_device *d, json_t *out, struct diagimport_error *err)
{
    json_t *results = json_object_get(out, "results"), *component = json_object();
    double full, design, cap, pct, cycles;
    bool have_cap = false, energies = false;
    int rc = -1;

    if (!component)
        return oom(err);
    json_object_set_new(component, "kind", json_string("battery"));
    set_text(component, "model", upower_text(d, UP_MODEL, DIAGIMPORT_MODEL_MAX));
    set_text(component, "serial", upower_text(d, UP_SERIAL, DIAGIMPORT_SERIAL_MAX));
    set_text(component, "manufacturer", upower_text(d, UP_VENDOR, DIAGIMPORT_SHORT_MAX));

    /* upower's own "capacity:" is this ratio; computed again so both energies are kept. */
    if (upower_number(d, UP_ENERGY_FULL, &full) == 0 &&
        upower_number(d, UP_ENERGY_FULL_DESIGN, &design) == 0 && design > 0 &&
        design <= VALUE_ABS_MAX && full <= VALUE_ABS_MAX) {
        cap = full * 100 / design;
        have_cap = energies = true;
    } else if (upower_number(d, UP_CAPACITY, &cap) == 0) {
        have_cap = true;
    }
    if (have_cap && cap >= 0 && cap <= PERCENT_MAX) {
        json_t *values = json_array();
        if (!values || json_array_append_new(values, measure("battery_health", cap, "%")) < 0 ||
            (energies &&
             (json_array_append_new(values, measure("battery_energy_full", full, "Wh")) < 0 ||
              json_array_append_new(values, measure("battery_energy_full_design", design, "Wh")) <
                  0)) ||
            (upower_number(d, UP_PERCENTAGE, &pct) == 0 && pct >= 0 && pct <= PERCENT_MAX &&
             json_array_append_new(values, measure("battery_charge", pct, "%")) < 0)) {
            json_decref(values);
            goto out;
        }
        if (add_result(results, "battery_capacity", cap >= DIAGIMPORT_BATTERY_HEALTH_MIN, values,
                       upower_note(d), component) < 0)
            goto out;
    }
    /* "N/A" when the battery does not count them: no result rather than a made-up one. */
    if (upower_number(d, UP_CYCLES, &cycles) == 0 && cycles <= VALUE_ABS_MAX &&
        cycles == (double)(long long)cycles &&
        add_measure(results, "battery_cycles", cycles < DIAGIMPORT_BATTERY_CYCLES_MAX,
                    "cycle_count", cycles, "cycles", NULL, component) < 0)
        goto out;
    if (json_array_size(results) == 0) {
        rc = fail(err, 422, "empty_report", "report",
                  "this upower output holds no battery capacity or charge cycles: send the "
                  "output of upower -i for the battery (upower -e lists them)");
        goto out;
    }
    json_object_set_new(out, "tool", json_string("upower"));
    rc = 0;
out:
    json_decref(component);
    return rc < 0 && !err->code ? oom(err) : rc;
}

/* ---- detection ---- */

static int unknown(struct diagimport_error *err)
{
    return fail(err, 422, "unknown_report", "report",
                "this is no report Carnet reads; it reads " DIAGIMPORT_KINDS
                " (Carnet's JSON, smartctl --json -a, system_profiler -json SPPowerDataType, "
                "upower -i <battery>)");
}

static bool is_carnet(json_t *doc)
{
    const char *f = json_string_value(json_object_get(doc, "format"));
    return json_object_get(doc, "report") || (f && strncmp(f, "carnet-diag/", 12) == 0);
}

int diagimport_read(const char *body, size_t len, enum diagimport_kind *kind, json_t **out,
                    struct diagimport_error *err)
{
    json_t *doc = NULL, *res = NULL;
    json_error_t jerr;
    size_t i = 0;
    int rc;

    memset(err, 0, sizeof(*err));
    *out = NULL;
    if (len && memchr(body, '\0', len))
        return fail(err, 422, "invalid", "report", "a report is text: this one holds a NUL byte");
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        i = 3; /* a byte-order mark some editors add when a report is saved */
    while (i < len && blank(body[i]))
        i++;
    if (i == len)
        return fail(err, 422, "invalid", "report", "the report is empty");
    if (body[i] == '{' || body[i] == '[') {
        doc = json_loadb(body + i, len - i, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
            return fail(err, 400, "invalid_json", "report",
                        "the report is not valid JSON (%s at character %d)", jerr.text,
                        jerr.position);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return unknown(err);
        }
        if (is_carnet(doc)) {
            *kind = DIAGIMPORT_CARNET;
            *out = doc;
            return 0;
        }
        if (json_is_object(json_object_get(doc, "smartctl")))
            *kind = DIAGIMPORT_SMARTCTL;
        else if (json_is_array(json_object_get(doc, "SPPowerDataType")))
            *kind = DIAGIMPORT_SYSTEM_PROFILER;
        else {
            json_decref(doc);
            return unknown(err);
        }
    } else {
        struct upower_device dev;
        if (!utf8_valid((const unsigned char *)body, len))
            return fail(err, 422, "invalid", "report", "the report is not UTF-8 text");
        if (!upower_scan(body, len, &dev))
            return unknown(err);
        *kind = DIAGIMPORT_UPOWER;
        if (!(res = json_pack("{s[]}", "results")))
            return oom(err);
        if (read_upower(&dev, res, err) < 0) {
            json_decref(res);
            return -1;
        }
        *out = res;
        return 0;
    }
    if (!(res = json_pack("{s[]}", "results"))) {
        json_decref(doc);
        return oom(err);
    }
    rc = *kind == DIAGIMPORT_SMARTCTL ? read_smartctl(doc, res, err)
                                      : read_system_profiler(doc, res, err);
    json_decref(doc);
    if (rc < 0) {
        json_decref(res);
        return -1;
    }
    *out = res;
    return 0;
}
