/*
 * intake_image_sniff: the type of a photo's or a signature's bytes and whether the file is
 * whole, from bytes sent by anyone with a technician's session. It reads only inside the buffer
 * (ASan holds it to exactly `size` bytes), says JPEG, PNG or WebP only when the bytes start with
 * that format's signature, and "whole" only when they end as that format ends. Content-Type
 * parsing is fuzzed with the same input as a header value.
 */
#include "fuzz.h"
#include "intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool whole = true;
    enum intake_image t = intake_image_sniff(data, size, &whole);

    switch (t) {
    case INTAKE_IMAGE_NONE:
        FUZZ_CHECK(!whole);
        break;
    case INTAKE_IMAGE_JPEG:
        FUZZ_CHECK(size >= 4 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff);
        break;
    case INTAKE_IMAGE_PNG:
        FUZZ_CHECK(size >= 45 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0);
        if (whole)
            FUZZ_CHECK(memcmp(data + size - 8, "IEND", 4) == 0);
        break;
    case INTAKE_IMAGE_WEBP:
        FUZZ_CHECK(size >= 20 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0);
        break;
    }
    if (whole && t == INTAKE_IMAGE_JPEG) {
        size_t end = size;
        while (end > 4 && data[end - 1] == 0)
            end--;
        FUZZ_CHECK(data[end - 2] == 0xff && data[end - 1] == 0xd9);
    }
    FUZZ_CHECK((intake_image_type(t) == NULL) == (t == INTAKE_IMAGE_NONE));

    char *s = fuzz_cstr(data, size);
    enum intake_image h = intake_image_from_header(s);
    FUZZ_CHECK(h == INTAKE_IMAGE_NONE || strncasecmp(s + strspn(s, " \t"), "image/", 6) == 0);
    free(s);
    return 0;
}
