/*
 * passport: a device's history without personal data, signed with the chain's Ed25519 key, so a
 * buyer of a second-hand device can check it without an account (README, "Device passport").
 *
 * A passport document is {"passport": {...}, "signature": {"alg": "Ed25519", "key_id": ...,
 * "sig": ...}}: the signature covers the passport object's canonical form (passport_canonical),
 * and the key id is the first 8 bytes of SHA-256 of the public key, in hex. The key pair is made
 * by the first carnetd that starts and kept in the database with its seed sealed under the data
 * key (053), so every carnetd of the chain signs with one key.
 */
#ifndef CARNET_PASSPORT_H
#define CARNET_PASSPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define PASSPORT_PK_BYTES 32
#define PASSPORT_KID_HEX 16
#define PASSPORT_ALG "Ed25519"

/* Start-up, before serving, over a blocking connection: loads the chain's key, creating and
 * storing it first when there is none. Needs the data key (seal.h). -1 with a reason in `err`. */
int passport_key_load_blocking(const char *conninfo, char *err, size_t errlen);
/* Loads a key pair from a 32-byte seed (unit tests). */
void passport_key_from_seed(const unsigned char seed[32]);
bool passport_ready(void);
void passport_free(void);

/* The canonical form of a passport object (malloc'd, NUL-terminated): JSON with sorted keys, no
 * whitespace, every character past ASCII written as \uXXXX (jansson's JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII). NULL when out of memory. */
char *passport_canonical(const json_t *passport);
/* The key id of a public key: hex of the first 8 bytes of its SHA-256. */
void passport_key_id(const unsigned char pk[PASSPORT_PK_BYTES], char out[PASSPORT_KID_HEX + 1]);
/* The signed document for `passport` (taken), or NULL without a key or memory. */
json_t *passport_sign(json_t *passport);
/* Checks a passport document's text against the public key `pk`: 0 when the signature is
 * valid, else -1 with why in `why` (not JSON, not a passport, another key, a bad signature). */
int passport_verify_text(const char *text, size_t len, const unsigned char pk[PASSPORT_PK_BYTES],
                         char *why, size_t whylen);
/* Reads a public key file: the JSON GET /api/passport-key answers, or the key alone (base64url).
 * 0, or -1 with why. */
int passport_read_key_file(const char *path, unsigned char pk[PASSPORT_PK_BYTES], char *why,
                           size_t whylen);
/* `carnetd --verify-passport FILE --passport-key KEYFILE`: prints "valid" (0) or "not valid:
 * <why>" (1). No database. */
int passport_verify_cli(const char *file, const char *keyfile);

/* Handlers (routes.c). */
void passport_device(struct req *r);
void passport_status(struct req *r);
void passport_public_key(struct req *r);

#endif
