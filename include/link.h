/*
 * link: customers' private links (a booking's manage link, a place in line, a repair's status,
 * an estimate to approve, a message thread, a survey, a standby offer). One module mints them,
 * checks their format before any query, hashes them with one algorithm for every kind, and wipes
 * them from memory. Only the hash reaches the database; the token reaches the customer once.
 *
 * The algorithm is SHA-256 (hex): the one both libsodium and PostgreSQL compute, so a link the
 * database mints inside a transaction (threads, surveys) and a link carnetd mints hash alike.
 */
#ifndef CARNET_LINK_H
#define CARNET_LINK_H

#include <stdbool.h>
#include <stddef.h>

struct req;

/* 32 random bytes, url-safe base64 without padding: 43 characters. */
#define LINK_TOKEN_BYTES 32
#define LINK_TOKEN_LEN 43
#define LINK_HASH_LEN 64

struct link {
    char token[LINK_TOKEN_LEN + 1];
    char hash[LINK_HASH_LEN + 1];
};

/* A fresh token and its hash. */
void link_mint(struct link *out);
/* True when `token` has the shape of a link token (length and alphabet); says nothing of
 * whether it exists. */
bool link_format_ok(const char *token);
/* The stored form of `token`: hex SHA-256 into `out`. */
void link_hash(const char *token, char out[LINK_HASH_LEN + 1]);
/* Erases the token (and hash) from memory. */
void link_wipe(struct link *l);

/*
 * The path parameter `name` as a link: its hash into `out` and true; a malformed token replies
 * 404 not_found ("this link is unknown or has expired", field `name`) and returns false, before
 * any query: a bad link and an unknown one look the same.
 */
bool link_from_path(struct req *r, const char *name, char out[LINK_HASH_LEN + 1]);

#endif
