/*
 * config_load with a fuzzed command line (the input split at NUL bytes into up to 16 arguments
 * after "carnetd"). A load either fails with a message naming the problem, or gives settings
 * that hold every bound the option table states and the cross-checks config_load makes.
 */
#include "config.h"
#include "fuzz.h"

#define MAX_ARGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size), *argv[MAX_ARGS + 2], err[256];
    struct config c;
    int argc = 1;

    argv[0] = "carnetd";
    for (size_t pos = 0; pos <= size && argc <= MAX_ARGS; pos += strlen(in + pos) + 1)
        argv[argc++] = in + pos;
    argv[argc] = NULL;
    err[0] = '\0';

    if (config_load(&c, argc, argv, err, sizeof(err)) == 0) {
        FUZZ_CHECK(c.listen_host && c.listen_port >= 0 && c.listen_port <= 65535);
        FUZZ_CHECK(c.pool_size >= 1 && c.pool_size <= 256);
        FUZZ_CHECK(c.pipeline_depth >= 1 && c.pipeline_depth <= 64);
        FUZZ_CHECK(c.max_body_bytes >= 1024 && c.max_body_bytes <= 1 << 30);
        FUZZ_CHECK(c.session_idle_s >= 60 && c.session_ttl_s >= 60);
        FUZZ_CHECK(c.send_timeout_s < c.outbox_lease_s);
        FUZZ_CHECK(!strcmp(c.log_level, "debug") || !strcmp(c.log_level, "info") ||
                   !strcmp(c.log_level, "warning") || !strcmp(c.log_level, "error"));
        FUZZ_CHECK(c.database_url && c.web_root && c.schema_dir && c.smtp_starttls);
    } else {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
    }
    config_free(&c);
    free(in);
    return 0;
}
