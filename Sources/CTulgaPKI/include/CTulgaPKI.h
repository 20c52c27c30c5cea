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

/// Why a call failed, where a caller acts on it (a wrong password is the user's to retype; a missing
/// key is not; a chain that ends at a root other than the pinned one is not the caller's to trust):
/// TP_FAILED for everything else.
typedef enum { TP_FAILED = 0, TP_WRONG_SECRET = 1, TP_NO_KEY = 2, TP_UNTRUSTED_ROOT = 3 } tp_failure;

/// A failure: the message in words and its tp_failure kind.
typedef struct { char message[512]; int32_t kind; } tp_error;

/// A subject attribute: a short name or dotted OID ("CN", "2.5.4.4", ...) and a UTF-8 value.
typedef struct { const char *field; const char *value; } tp_name_entry;

/// An X.509v3 extension in OpenSSL's config syntax: name "keyUsage", value "critical,digitalSignature".
typedef struct { const char *name; const char *value; } tp_extension;

typedef struct { const char *serial_hex; int64_t revoked_at; int32_t reason; } tp_revoked;

typedef enum { TP_RSA_2048 = 0, TP_EC_P256 = 1 } tp_algorithm;

void tp_free(void *pointer);
/// Cleanses a NUL-terminated secret (a plain key's PEM, a password copy), then frees it.
void tp_free_secret(char *pointer);

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

/// Issues a certificate for a CSR (its signature is checked first), signed by the CA. The subject is
/// `subject` (the request's own subject is ignored), or the request's when `subject` is NULL.
int tp_issue(const char *csr_pem, const tp_name_entry *subject, int32_t subject_count, const char *ca_cert_pem,
             const char *ca_key_pem, const tp_extension *extensions, int32_t extension_count, const uint8_t serial[16],
             int64_t not_before, int64_t not_after, char **cert_pem, tp_error *error);

/// A CRL signed by the CA listing the revoked serials.
int tp_crl(const char *ca_cert_pem, const char *ca_key_pem, const tp_revoked *revoked, int32_t count, int64_t this_update,
           int64_t next_update, int64_t crl_number, char **crl_pem, tp_error *error);

/// A PKCS#12 container: key and certificate (plus chain), PBES2/PBKDF2/AES-256-CBC for both
/// bags, a SHA-256 MAC, `iterations` rounds.
int tp_pkcs12(const char *key_pem, const char *cert_pem, const char *chain_pem, const char *password, const char *name,
              int32_t iterations, uint8_t **der, size_t *length, tp_error *error);

/// The certificate's serial number in upper-case hex.
int tp_cert_serial(const char *cert_pem, char **serial_hex, tp_error *error);

// MARK: The applicant's side (the key store): a plain private key never leaves these functions.

/// PBKDF2-HMAC-SHA256 rounds for a pending key under a person's password.
#define TP_PERSON_KEY_ITERATIONS 600000

/// A new key pair for a folder key store: the private key encrypted (PKCS#8, PBES2, AES-256-CBC,
/// TP_PERSON_KEY_ITERATIONS rounds of PBKDF2-HMAC-SHA256) under `password`, a PKCS#10 request signed by it (SHA-256), and its key identifier (SHA-1 of the
/// subjectPublicKey bits). The plain key is cleansed before returning.
int tp_folder_generate(int32_t algorithm, const char *password, const tp_name_entry *subject, int32_t count,
                       char **encrypted_pem, char **csr_pem, uint8_t key_id[20], tp_error *error);

/// A PKCS#12 container (as tp_pkcs12) from an encrypted pending key opened with `key_password`.
int tp_pkcs12_sealed(const char *encrypted_key_pem, const char *key_password, const char *cert_pem, const char *chain_pem,
                     const char *password, const char *name, int32_t iterations, uint8_t **der, size_t *length, tp_error *error);

/// Signs `message` (SHA-256; PKCS#1 v1.5 or DER ECDSA) with the key of a PKCS#12 container, after
/// checking that the container's certificate is `cert_pem`: how a holder proves they hold the key.
int tp_pkcs12_sign(const uint8_t *der, size_t length, const char *password, const char *cert_pem, const uint8_t *message,
                   size_t message_length, uint8_t **signature, size_t *signature_length, tp_error *error);

/// The certificate of a PKCS#12 container opened with `password` (PEM in *cert_pem); a wrong
/// password fails as TP_WRONG_SECRET.
int tp_pkcs12_certificate(const uint8_t *der, size_t length, const char *password, char **cert_pem, tp_error *error);

/// Opens an encrypted pending key with `password` and gives its key identifier (the plain key is
/// cleansed at once): whether the password opens it, and which key it is. Only an encrypted PKCS#8 block
/// ("ENCRYPTED PRIVATE KEY") is read: a plain key is refused (TP_FAILED), as is anything else; a wrong
/// password fails as TP_WRONG_SECRET.
int tp_sealed_key_check(const char *encrypted_key_pem, const char *password, uint8_t key_id[20], tp_error *error);

/// Whether `cert_pem` chains to `chain_pem` (its PEM certificates: the self-signed ones are the only
/// anchors, the rest intermediates; at most 8; a block that is not a plain certificate, an encrypted one
/// say, is refused and never prompts) at time `at` (seconds since 1970): every signature, validity
/// period, CA basic constraint and key usage, with OpenSSL's X509_V_FLAG_X509_STRICT and the root's own
/// signature. With `root_pem` (NULL: none), the verified chain must end at exactly that certificate
/// (DER), else TP_UNTRUSTED_ROOT. On failure *error says what failed and where.
int tp_certificate_verify(const char *cert_pem, const char *chain_pem, const char *root_pem, int64_t at, tp_error *error);

/// A request's key: *type is TP_RSA_2048 for any RSA key, TP_EC_P256 for P-256, 2 for anything else; *bits its size.
int tp_request_key(const char *csr_pem, int32_t *type, int32_t *bits, tp_error *error);

// MARK: OCSP (RFC 6960), in two steps around the caller's database.

/// One certificate a request asks about: its serial (upper-case hex, as BN_bn2hex) and whether the
/// CertID's issuer name and key hashes match the issuer given.
typedef struct { char serial_hex[80]; int32_t ours; } tp_ocsp_query;
/// Parses a DER OCSPRequest of at most `max_queries` entries into `queries`.
int tp_ocsp_parse(const uint8_t *der, size_t length, const char *issuer_cert_pem, tp_ocsp_query *queries, int32_t max_queries,
                  int32_t *count, tp_error *error);
/// A status for one query: 0 good, 1 revoked (revoked_at, reason or -1), 2 unknown.
typedef struct { int32_t status; int64_t revoked_at; int32_t reason; } tp_ocsp_status;
/// A signed successful OCSPResponse answering each entry of the request, nonce copied.
int tp_ocsp_respond(const uint8_t *der, size_t length, const char *responder_cert_pem, const char *responder_key_pem, const char *key_password,
                    const tp_ocsp_status *statuses, int32_t count, int64_t this_update, int64_t next_update,
                    uint8_t **response, size_t *response_length, tp_error *error);
/// An unsigned error OCSPResponse: 1 malformedRequest, 2 internalError, 3 tryLater, 6 unauthorized.
int tp_ocsp_error_response(int32_t status, uint8_t **response, size_t *response_length, tp_error *error);

// MARK: PKCS#11 tokens (the module is loaded with dlopen).

/// A logged-in session on one token of a PKCS#11 module.
typedef struct tp_token tp_token;
/// Loads the module, finds the token by label (the labels found are listed when it is missing), logs in with the PIN.
int tp_token_open(const char *module_path, const char *label, const char *pin, tp_token **token, tp_error *error);
/// Closes the session; the last token closed on a module finalizes and unloads it. NULL is fine.
void tp_token_close(tp_token *token);
/// Generates a key pair on the token (private: sensitive, never extractable, with the request's
/// subject as its CKA_SUBJECT), sets CKA_ID to its key identifier, and makes a PKCS#10 request signed
/// on the token (SHA-256). Nothing stays on failure.
int tp_token_generate(tp_token *token, int32_t algorithm, const char *label, const tp_name_entry *subject, int32_t count, char **csr_pem,
                      uint8_t key_id[20], tp_error *error);
/// Stores a certificate next to the private key with the same CKA_ID; refused when the token has no such key.
int tp_token_store_certificate(tp_token *token, const char *cert_pem, const char *label, tp_error *error);
/// The key identifier (SHA-1 of subjectPublicKey) of a PEM certificate's or request's key.
int tp_public_key_id(const char *pem, uint8_t key_id[20], tp_error *error);
/// Signs `message` (SHA-256; PKCS#1 v1.5 or DER ECDSA) on the token with the private key `key_id`.
int tp_token_sign(tp_token *token, const uint8_t key_id[20], const uint8_t *message, size_t message_length, uint8_t **signature,
                  size_t *signature_length, tp_error *error);
/// Every certificate object whose CKA_LABEL starts with `label_prefix`, as one PEM text (*pem_bundle,
/// empty when none), and how many (*count).
int tp_token_certificates(tp_token *token, const char *label_prefix, char **pem_bundle, int32_t *count, tp_error *error);
/// How many private keys have a CKA_LABEL starting with `label_prefix`.
int tp_token_key_count(tp_token *token, const char *label_prefix, int32_t *count, tp_error *error);
/// The key identifiers (CKA_ID, 20 bytes each, in *ids; free with tp_free) of every private key whose
/// CKA_LABEL starts with `label_prefix`; *count of them. A token with more than TP_TOKEN_MAX_OBJECTS
/// objects of a class is refused, never read in part.
int tp_token_key_ids(tp_token *token, const char *label_prefix, uint8_t **ids, int32_t *count, tp_error *error);
/// The most objects of one class the token functions read.
#define TP_TOKEN_MAX_OBJECTS 4096
/// What the token holds of the key pair `key_id`, from attributes only (nothing is signed): the private
/// key's label (*label), the subject tp_token_generate recorded (DER in *subject, *subject_length 0 for a
/// key made elsewhere), the key identifier of its public key object (`public_key_id`), and *certified 1
/// when a certificate with that CKA_ID is stored. TP_NO_KEY when there is no such pair. Free with tp_free.
int tp_token_key_info(tp_token *token, const uint8_t key_id[20], char **label, uint8_t **subject, size_t *subject_length,
                      uint8_t public_key_id[20], int32_t *certified, tp_error *error);
/// A new PKCS#10 request for the key pair `key_id` (*csr_pem), signed on the token with the subject
/// tp_token_generate recorded (empty for a key made elsewhere): the one call here that signs, so read a
/// key with tp_token_key_info first. TP_NO_KEY when there is no such pair. Free with tp_free.
int tp_token_request(tp_token *token, const uint8_t key_id[20], char **csr_pem, tp_error *error);
/// Destroys the key pair (and any certificate) with `key_id`; a key never certified is removed this way.
int tp_token_delete(tp_token *token, const uint8_t key_id[20], tp_error *error);
/// For audits: tries to read the secret value of the private key with `key_id`. Returns 1 when the
/// token handed it out (it must not), 0 otherwise; *answer is the token's CK_RV
/// (CKR_ATTRIBUTE_SENSITIVE, 0x11, for a sensitive key).
int tp_token_probe_secret(tp_token *token, const uint8_t key_id[20], uint64_t *answer, tp_error *error);

#ifdef __cplusplus
}
#endif

#endif
