/*
 * seal: the data keys, and what carnetd keeps sealed under them.
 *
 * Two kinds of marker, each naming the key it was sealed with by a key id (16 hex digits):
 *
 *   {{sealed:<kid>:<url-safe base64 of nonce || secretbox>}}       a customer's live link
 *   {{pd:<kid>:<url-safe base64 of nonce || XChaCha20-Poly1305>}}   personal data
 *
 * A link token goes into SQL only as a `sealed` marker, which the outbox opens only when it
 * delivers (seal_open_text). Names, emails, phones, contact fields and message texts are stored
 * as `pd` markers; a reply opens them on its way out (seal_open_json), a message when it is sent.
 * Emails and phones are found again through a blind index (seal_blind), a keyed hash that says
 * nothing of the value to whoever reads the database.
 *
 * The key ring: the current data key (--data-key-file) seals; older keys (--old-data-key-file,
 * during a rotation) only open. A key is 32 bytes, raw or as 64 hex digits, in a file readable by
 * its owner only; carnetd refuses to start without one.
 */
#ifndef CARNET_SEAL_H
#define CARNET_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#define SEAL_KEY_BYTES 32
#define SEAL_KID_HEX 16
#define SEAL_MAX_KEYS 4
#define SEAL_BLIND_HEX 64
/* The longest plain text a marker carries (a message of 4000 characters of UTF-8). */
#define SEAL_PLAIN_MAX 16384

/* Loads the current data key from `path`. -1 with a reason in `err` when the file is missing,
 * is readable by group or others, or does not hold exactly one key. */
int seal_init(const char *path, char *err, size_t errlen);
/* Adds an older key (opens, never seals). */
int seal_add_old_key(const char *path, char *err, size_t errlen);
/* Loads a key from memory (unit tests, fuzzers): current, or an older one. */
void seal_init_key(const unsigned char key[SEAL_KEY_BYTES]);
void seal_add_old_key_bytes(const unsigned char key[SEAL_KEY_BYTES]);
bool seal_ready(void);
/* The key id of key `i` of the ring (0: the current key), or NULL past the end. */
const char *seal_key_id_at(int i);
/* The current key's id. */
const char *seal_key_id(void);

/* `plain` as a link marker / a personal-data marker under the current key (malloc'd, caller
 * frees), or NULL when out of memory or longer than SEAL_PLAIN_MAX. */
char *seal_marker(const char *plain);
char *seal_pd(const char *plain);
/* True when `s` is one personal-data marker under the current key. */
bool seal_is_current_pd(const char *s);

/* A copy of `text` with every marker of either kind opened (malloc'd), or NULL with the reason
 * in `err` when a marker is malformed, under a key not in the ring, or does not open. */
char *seal_open_text(const char *text, char *err, size_t errlen);
/* A copy of JSON text with every personal-data marker opened and escaped as JSON string
 * content (malloc'd, length in *outlen). A marker that cannot be opened becomes "(unreadable)"
 * and counts in *unreadable. NULL only when out of memory. Link markers are left alone. */
char *seal_open_json(const char *json, size_t len, size_t *outlen, int *unreadable);

/* The blind index of an email ("email") or a phone ("phone") under key `i` of the ring, as
 * SEAL_BLIND_HEX hex digits: the value is normalised first (an email's case and spaces, a
 * phone's spaces, dots and dashes do not matter). -1 past the ring's end or for another kind. */
int seal_blind(int i, const char *kind, const char *value, char out[SEAL_BLIND_HEX + 1]);
/* A keyed hash (SEAL_BLIND_HEX hex digits) of `label` ":" `value` under the current key's
 * blind-index key, the value taken as it is: a name or a sealing key derived from something a
 * client chose, which a reader of the database cannot recompute by guessing that choice. The
 * label keeps each use apart from the others and from the blind indexes. -1 without a key. */
int seal_keyed(const char *label, const char *value, char out[SEAL_BLIND_HEX + 1]);

/* True when `s` holds the opening of a marker of either kind anywhere: text from outside that
 * carnetd would otherwise keep as it is, and later open on its way out. */
bool seal_has_marker(const char *s);
/* True when `s` is exactly one personal-data marker, under any key. */
bool seal_is_pd(const char *s);
/* A copy of `text` whose markers (either kind) under an older key of the ring are sealed again
 * under the current key; text and current markers are kept. NULL with the reason in `err`. */
char *seal_reseal_text(const char *text, char *err, size_t errlen);

/* Wipes every key from memory. */
void seal_free(void);

#endif
