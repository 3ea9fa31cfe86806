/*
 * seal: the data key, and what carnetd keeps sealed under it.
 *
 * A customer's live link must never rest in the database in clear: the message that carries it
 * waits in the outbox, and its placeholders are kept for later messages about the same object.
 * So a link token goes into SQL only as a marker
 *
 *     {{sealed:<key id, 16 hex>:<url-safe base64 of nonce || XChaCha20-Poly1305 box>}}
 *
 * which the outbox opens only when it delivers (seal_open_text). The key id names the data key
 * a marker was sealed with, so a marker under a key carnetd no longer holds is refused by name
 * rather than by a failed decryption.
 *
 * The data key is 32 bytes read once at start-up from --data-key-file (raw, or 64 hex digits),
 * which must be readable by its owner only; carnetd refuses to start without it.
 */
#ifndef CARNET_SEAL_H
#define CARNET_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#define SEAL_KEY_BYTES 32
#define SEAL_KID_HEX 16

/* Loads the data key from `path`. -1 with a reason in `err` when the file is missing, is
 * readable by group or others, or does not hold exactly one key. */
int seal_init(const char *path, char *err, size_t errlen);
/* Loads a key from memory (unit tests, fuzzers). */
void seal_init_key(const unsigned char key[SEAL_KEY_BYTES]);
bool seal_ready(void);
/* The key id of the loaded key, SEAL_KID_HEX hex digits. */
const char *seal_key_id(void);

/* `plain` sealed as a marker (malloc'd, caller frees), or NULL when out of memory. */
char *seal_marker(const char *plain);
/* A copy of `text` with every marker opened (malloc'd), or NULL with the reason in `err` when a
 * marker is malformed, under another key, or does not open. Text without markers is copied. */
char *seal_open_text(const char *text, char *err, size_t errlen);

/* Wipes the key from memory. */
void seal_free(void);

#endif
