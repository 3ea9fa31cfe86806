/*
 * fuzz: what every libFuzzer harness in tests/fuzz shares. A harness calls one pure function of
 * server/ and checks that function's own promises with FUZZ_CHECK, so the fuzzer reports logic
 * bugs (a broken invariant aborts like a crash) as well as memory errors.
 */
#ifndef CARNET_FUZZ_H
#define CARNET_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of the input (cut at its first NUL, as a C string would be). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * An output buffer of exactly `len` bytes, with one poisoned byte after it: ASan's malloc(0)
 * quietly hands out a byte, so a write into a zero-length buffer would go unseen otherwise.
 */
static inline char *fuzz_outbuf(size_t len)
{
    char *b = malloc(len + 1);
    if (!b)
        abort();
    ASAN_POISON_MEMORY_REGION(b + len, 1);
    return b;
}

static inline void fuzz_outbuf_free(char *b, size_t len)
{
    ASAN_UNPOISON_MEMORY_REGION(b + len, 1);
    free(b);
}

#endif
