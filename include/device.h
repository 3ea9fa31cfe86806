/*
 * device: devices by serial number and their health record (diagnostics, owners, notes, the
 * hash-chain verification, search). The record itself and its rules live in
 * schema/003_device.sql; these handlers validate input, make one SQL call each, and reply.
 */
#ifndef CARNET_DEVICE_H
#define CARNET_DEVICE_H

#include <stddef.h>

struct req;

/* Longest serial accepted in a path before normalisation (spaces included). */
#define DEVICE_SERIAL_RAW_MAX 64

#include <jansson.h>
#include <stdbool.h>

/*
 * Checks an owner object {name, email?, phone?} in clear (a name of 1..200 characters, an email
 * the outbox can write to, a phone of 6..15 digits, an email or a phone) and replaces its values
 * in place by personal-data markers (seal.h), the phone normalised to digits and a leading +,
 * with email_bi and phone_bi, their blind indexes (JSON null when absent). On bad input replies
 * 422 naming `field`.name/.email/.phone and returns false. Used by owner changes and by repair
 * intake, so that no clear owner reaches SQL.
 */
bool device_owner_seal(struct req *r, json_t *owner, const char *field);
/* Keeps the digits of a phone number and a leading +, as owners' phones are stored; -1 when the
 * result is not 6..15 digits (or does not fit in `outlen`). */
int device_phone_normalize(const char *in, char *out, size_t outlen);

void device_search(struct req *r);
void device_record(struct req *r);
void device_put(struct req *r);
void device_owner_add(struct req *r);
void device_diagnostic_add(struct req *r);
void device_diagnostic_import(struct req *r);
void device_trends(struct req *r);
void device_conversations(struct req *r);
void device_note_add(struct req *r);
void device_verify(struct req *r);

/*
 * One entry of a device's chain as stored: its id, the stored previous hash and hash (hex), and
 * the canonical text the hash covers. device_chain_check recomputes every hash with libsodium
 * (SHA-256 over the 32 previous-hash bytes then the canonical text) and compares.
 *
 * A customer's erasure may redact the text of an entry in place (schema/api/customers.sql): its
 * hash then no longer matches its text. Such an entry verifies when a later entry of kind
 * "erasure" in the same chain lists it in content.redacted as {entry: its id, hash: its stored
 * hash, canonical_sha256: SHA-256 of its canonical text as it is now}: the link to the next entry
 * is still checked, and the redacted text is vouched for by a chained entry.
 */
struct device_chain_entry {
    long long id;
    const char *prev_hex;
    const char *hash_hex;
    const char *canonical;
};

struct device_chain_report {
    size_t checked;      /* entries that verified before the first break */
    long long broken_at; /* id of the first entry that does not verify, 0 when none */
    const char *reason;  /* "prev_mismatch", "hash_mismatch", "head_mismatch", or NULL (verify
                            adds "derived_mismatch": rows beside the chain disagree with it) */
    size_t redacted;     /* entries that verified as redacted by an erasure entry */
};

/* Returns 0 when the whole chain (and the device's stored head) verifies, -1 otherwise. */
int device_chain_check(const struct device_chain_entry *entries, size_t n, const char *head_hex,
                       long long head_entry, struct device_chain_report *out);

#endif
