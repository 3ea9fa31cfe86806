/*
 * config.c's value parsers (config_parse_int, config_parse_listen, config_parse_flag), fed any
 * text. The first byte picks the bounds of a numeric setting. Checks: an accepted number is in
 * its bounds and is what strtoll reads; an accepted host:port splits at the last ':' with a
 * non-empty host and a port of 0..65535; a refused value leaves the output alone.
 */
#include <limits.h>

#include "config.h"
#include "fuzz.h"

static const int bounds[][2] = {{1, 256}, {0, 1000000},    {1, 600000},    {0, 3600000},
                                {1, 64},  {1024, 1 << 30}, {60, 31536000}, {INT_MIN, INT_MAX}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int *b = bounds[size ? data[0] % 8 : 0];
    char *val = fuzz_cstr(size ? data + 1 : data, size ? size - 1 : 0);
    int v = -7, port = -7;
    size_t host_len = (size_t)-1;
    enum config_listen lr;

    if (config_parse_int(val, b[0], b[1], &v) == 0) {
        FUZZ_CHECK(v >= b[0] && v <= b[1]);
        FUZZ_CHECK(strtoll(val, NULL, 10) == v);
        FUZZ_CHECK(*val && strchr("0123456789", val[strlen(val) - 1]));
    } else {
        FUZZ_CHECK(v == -7);
    }

    lr = config_parse_listen(val, &host_len, &port);
    if (lr == CONFIG_LISTEN_OK) {
        FUZZ_CHECK(host_len >= 1 && host_len < strlen(val));
        FUZZ_CHECK(val[host_len] == ':' && strchr(val + host_len + 1, ':') == NULL);
        FUZZ_CHECK(port >= 0 && port <= 65535 && strtol(val + host_len + 1, NULL, 10) == port);
    } else {
        FUZZ_CHECK(lr == CONFIG_LISTEN_NO_HOST || lr == CONFIG_LISTEN_BAD_PORT);
        FUZZ_CHECK(port == -7 && host_len == (size_t)-1);
    }

    FUZZ_CHECK(config_parse_flag(val) == !(!*val || !strcmp(val, "0") || !strcmp(val, "false")));
    free(val);
    return 0;
}
