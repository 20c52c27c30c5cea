// Helpers the shim's C files share; not part of the public header.
#ifndef CTULGAPKI_SHARED_H
#define CTULGAPKI_SHARED_H

#include "CTulgaPKI.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#define TP_HIDDEN __attribute__((visibility("hidden")))

/// Writes the message (and OpenSSL's first queued reason) into *error; returns 0.
TP_HIDDEN int tp_fail(tp_error *error, const char *format, ...) __attribute__((format(printf, 2, 3)));
/// As tp_fail, with a tp_failure kind the caller can act on.
TP_HIDDEN int tp_fail_as(tp_error *error, int32_t kind, const char *format, ...) __attribute__((format(printf, 3, 4)));
/// A pem_password_cb that refuses: PEM from outside (a service's chain, a request) must never make
/// OpenSSL prompt on the terminal for an "ENCRYPTED" block's pass phrase.
TP_HIDDEN int tp_no_password(char *buffer, int size, int writing, void *context);
/// A certificate from PEM, or NULL.
TP_HIDDEN X509 *tp_read_cert(const char *pem);
/// SHA-1 of the subjectPublicKey bits (RFC 5280 key identifier, method 1).
TP_HIDDEN int tp_key_id_of(EVP_PKEY *key, uint8_t key_id[20]);
/// A name from attribute pairs; NULL (and *error set) for a bad attribute.
TP_HIDDEN X509_NAME *tp_make_name(const tp_name_entry *entries, int32_t count, tp_error *error);

#endif
