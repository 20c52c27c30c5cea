// CTulgaPKI: the few OpenSSL 3 operations issuance needs, behind a plain C header.
//
// Every function returns 1 on success, 0 on failure with a message in *error (OpenSSL's
// error queue included). Strings returned through char** are NUL-terminated PEM text,
// byte buffers through uint8_t**; the caller frees both with tp_free.
#ifndef CTULGAPKI_H
#define CTULGAPKI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct { char message[512]; } tp_error;

/// A subject attribute: a short name or dotted OID ("CN", "2.5.4.4", ...) and a UTF-8 value.
typedef struct { const char *field; const char *value; } tp_name_entry;

/// An X.509v3 extension in OpenSSL's config syntax: name "keyUsage", value "critical,digitalSignature".
typedef struct { const char *name; const char *value; } tp_extension;

typedef struct { const char *serial_hex; int64_t revoked_at; int32_t reason; } tp_revoked;

typedef enum { TP_RSA_2048 = 0, TP_EC_P256 = 1 } tp_algorithm;

void tp_free(void *pointer);

/// A new key pair as unencrypted PKCS#8 PEM (the caller seals or encrypts it before storing).
int tp_key_generate(int32_t algorithm, char **key_pem, tp_error *error);
/// PKCS#8 PEM encrypted with AES-256-CBC under PBKDF2 (PBES2), and back.
int tp_key_encrypt(const char *key_pem, const char *password, char **encrypted_pem, tp_error *error);
int tp_key_decrypt(const char *encrypted_pem, const char *password, char **key_pem, tp_error *error);

/// A PKCS#10 request signed with SHA-256 by the key.
int tp_csr_create(const char *key_pem, const tp_name_entry *subject, int32_t count, char **csr_pem, tp_error *error);

/// A self-signed certificate (a root CA) with the given extensions.
int tp_self_signed(const char *key_pem, const tp_name_entry *subject, int32_t count, const tp_extension *extensions,
                   int32_t extension_count, const uint8_t serial[16], int64_t not_before, int64_t not_after,
                   char **cert_pem, tp_error *error);

/// Issues a certificate for a CSR (its signature is checked first), signed by the CA.
int tp_issue(const char *csr_pem, const char *ca_cert_pem, const char *ca_key_pem, const tp_extension *extensions,
             int32_t extension_count, const uint8_t serial[16], int64_t not_before, int64_t not_after,
             char **cert_pem, tp_error *error);

/// A CRL signed by the CA listing the revoked serials.
int tp_crl(const char *ca_cert_pem, const char *ca_key_pem, const tp_revoked *revoked, int32_t count, int64_t this_update,
           int64_t next_update, int64_t crl_number, char **crl_pem, tp_error *error);

/// A PKCS#12 container: key and certificate (plus chain), PBES2/PBKDF2/AES-256-CBC for both
/// bags, a SHA-256 MAC, `iterations` rounds.
int tp_pkcs12(const char *key_pem, const char *cert_pem, const char *chain_pem, const char *password, const char *name,
              int32_t iterations, uint8_t **der, size_t *length, tp_error *error);

/// The certificate's serial number in upper-case hex.
int tp_cert_serial(const char *cert_pem, char **serial_hex, tp_error *error);

#ifdef __cplusplus
}
#endif

#endif
