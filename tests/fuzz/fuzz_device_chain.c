/*
 * device_chain_check: re-verifies a device's hash chain (hash = SHA-256(prev hash || canonical)).
 * The input is split at NUL bytes into entries' canonical texts; the harness builds the true
 * chain for them with libsodium, then the first byte chooses one way to break it (or none).
 * Checks: an intact chain verifies with every entry counted; a chain broken at entry k reports
 * entry k's id (or the head), with exactly k entries checked.
 */
#include <sodium.h>

#include "device.h"
#include "fuzz.h"

#define MAX_ENTRIES 16

static void hash_hex(const unsigned char prev[32], const char *text, char out[65],
                     unsigned char next[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, prev, 32);
    crypto_hash_sha256_update(&st, (const unsigned char *)text, strlen(text));
    crypto_hash_sha256_final(&st, next);
    sodium_bin2hex(out, 65, next, 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct device_chain_entry e[MAX_ENTRIES];
    char prev[MAX_ENTRIES][65], hash[MAX_ENTRIES][65], head[65];
    unsigned char cur[32] = {0}, next[32];
    struct device_chain_report rep;
    char *in;
    size_t n = 0, pos = 0;
    unsigned mode, victim;
    int rc;

    if (size < 2)
        return 0;
    mode = data[0] % 5; /* 0 intact, 1 prev, 2 hash, 3 head, 4 NULL hash */
    victim = data[1];
    in = fuzz_cstr(data + 2, size - 2);
    while (n < MAX_ENTRIES && pos <= size - 2) {
        const char *text = in + pos;
        sodium_bin2hex(prev[n], 65, cur, 32);
        hash_hex(cur, text, hash[n], next);
        memcpy(cur, next, 32);
        e[n] = (struct device_chain_entry){(long long)n + 100, prev[n], hash[n], text};
        n++;
        pos += strlen(text) + 1;
    }
    sodium_bin2hex(head, 65, cur, 32);
    victim %= (unsigned)n;

    switch (mode) {
    case 1:
        prev[victim][victim % 64] ^= 1;
        break;
    case 2:
        hash[victim][victim % 64] = hash[victim][victim % 64] == 'f' ? '0' : 'f';
        break;
    case 3:
        head[0] = head[0] == '0' ? '1' : '0';
        break;
    case 4:
        e[victim].hash_hex = NULL;
        break;
    }
    rc = device_chain_check(e, n, head, 999, &rep);
    FUZZ_CHECK(rep.checked <= n);
    FUZZ_CHECK((rc == 0) == (rep.reason == NULL));
    if (mode == 0) {
        FUZZ_CHECK(rc == 0 && rep.checked == n && rep.broken_at == 0);
    } else if (mode == 3) {
        FUZZ_CHECK(rc < 0 && rep.broken_at == 999 && !strcmp(rep.reason, "head_mismatch"));
        FUZZ_CHECK(rep.checked == n);
    } else {
        /* A flipped prev or a changed hash is caught at the entry itself. */
        FUZZ_CHECK(rc < 0 && rep.broken_at == e[victim].id && rep.checked == victim);
        FUZZ_CHECK(!strcmp(rep.reason, mode == 1 ? "prev_mismatch" : "hash_mismatch"));
    }
    free(in);
    return 0;
}
