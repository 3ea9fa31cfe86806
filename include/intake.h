/*
 * intake: a repair's intake at the bench: the device's condition (an append-only record, a
 * correction is a new record), photos from the tablet's camera, and the customer's signature of
 * the intake terms. The domain rules live in schema/api/intake.sql; this module checks what HTTP
 * owns: an image's type by its bytes (never by the name or the header alone), sizes, base64.
 */
#ifndef CARNET_INTAKE_H
#define CARNET_INTAKE_H

#include <stdbool.h>
#include <stddef.h>

struct req;

/* A photo's largest size, and a signature's (a small PNG, sealed as personal data: its base64
 * must fit one marker, SEAL_PLAIN_MAX). */
#define INTAKE_PHOTO_MAX (5u * 1024 * 1024)
#define INTAKE_SIGNATURE_MAX (12u * 1024)

enum intake_image {
    INTAKE_IMAGE_NONE, /* not an image we take (text, GIF, anything else) */
    INTAKE_IMAGE_JPEG,
    INTAKE_IMAGE_PNG,
    INTAKE_IMAGE_WEBP,
};

/*
 * What the bytes are, by their signature: a JPEG (SOI FF D8 FF), a PNG (its 8-byte signature
 * then an IHDR chunk), a WebP (a RIFF "WEBP" container with a VP8, VP8L or VP8X chunk). *whole
 * says whether the file is complete: a JPEG ends with EOI (FF D9, zero padding allowed after
 * it), a PNG with its IEND chunk, a WebP is exactly as long as its RIFF header says. Pure; any
 * bytes, any length (n may be 0).
 */
enum intake_image intake_image_sniff(const unsigned char *p, size_t n, bool *whole);
/* "image/jpeg", "image/png", "image/webp", or NULL for INTAKE_IMAGE_NONE. */
const char *intake_image_type(enum intake_image t);
/* The type a Content-Type header names ("image/png; x=y" names PNG; case-insensitive), or
 * INTAKE_IMAGE_NONE. */
enum intake_image intake_image_from_header(const char *content_type);

/* staff handlers */
void intake_get(struct req *r);
void intake_record(struct req *r);
void intake_photo_add(struct req *r);
void intake_photo_get(struct req *r);
void intake_sign(struct req *r);

#endif
