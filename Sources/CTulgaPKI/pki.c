// The OpenSSL side of CTulgaPKI.h.
#include "CTulgaPKI.h"
#include "shared.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_with(tp_error *error, int32_t kind, const char *format, va_list args) __attribute__((format(printf, 3, 0)));
static int fail_with(tp_error *error, int32_t kind, const char *format, va_list args) {
    if (!error) { ERR_clear_error(); return 0; }
    error->kind = kind;
    int n = vsnprintf(error->message, sizeof(error->message), format, args);
    unsigned long code = ERR_get_error();
    if (code && n >= 0 && (size_t)n < sizeof(error->message) - 8) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof(buf));
        snprintf(error->message + n, sizeof(error->message) - (size_t)n, " (%s)", buf);
    }
    ERR_clear_error();
    return 0;
}

int tp_fail(tp_error *error, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fail_with(error, TP_FAILED, format, args);
    va_end(args);
    return 0;
}

int tp_fail_as(tp_error *error, int32_t kind, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fail_with(error, kind, format, args);
    va_end(args);
    return 0;
}

void tp_free(void *pointer) { free(pointer); }

void tp_free_secret(char *pointer) {
    if (!pointer) return;
    OPENSSL_cleanse(pointer, strlen(pointer));
    free(pointer);
}

static char *bio_to_string(BIO *bio) {
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) return NULL;
    memcpy(out, data, (size_t)n);
    out[n] = 0;
    return out;
}

static EVP_PKEY *read_key(const char *pem, const char *password) {
    if (!pem) return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)password) : NULL;
    BIO_free(bio);
    return key;
}

/// A pending key of a folder: only an encrypted PKCS#8 block ("ENCRYPTED PRIVATE KEY") is read, never a
/// plain key (a folder key is always encrypted) or any other block. NULL and *error set otherwise: a
/// password that does not decrypt it as TP_WRONG_SECRET.
static EVP_PKEY *read_sealed_key(const char *pem, const char *password, tp_error *error) {
    BIO *bio = BIO_new_mem_buf(pem ? pem : "", -1);
    X509_SIG *sealed = bio ? PEM_read_bio_PKCS8(bio, NULL, tp_no_password, NULL) : NULL;
    BIO_free(bio);
    if (!sealed) {
        tp_fail(error, "the pending key is not an encrypted PKCS#8 key (ENCRYPTED PRIVATE KEY)");
        return NULL;
    }
    const char *pass = password ? password : "";
    PKCS8_PRIV_KEY_INFO *p8 = PKCS8_decrypt(sealed, pass, (int)strlen(pass));
    X509_SIG_free(sealed);
    EVP_PKEY *key = p8 ? EVP_PKCS82PKEY(p8) : NULL;
    PKCS8_PRIV_KEY_INFO_free(p8);   // clears the key's bytes
    if (!key) tp_fail_as(error, TP_WRONG_SECRET, "cannot open the pending key: wrong password or damaged file");
    return key;
}

int tp_no_password(char *buffer, int size, int writing, void *context) {
    (void)buffer; (void)size; (void)writing; (void)context;
    return -1;
}

X509 *tp_read_cert(const char *pem) {
    if (!pem) return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, tp_no_password, NULL) : NULL;
    BIO_free(bio);
    return cert;
}

static char *key_to_pem(EVP_PKEY *key, const EVP_CIPHER *cipher, const char *password) {
    // Secure memory: the buffer is cleansed when freed.
    BIO *bio = BIO_new(BIO_s_secmem());
    if (!bio) return NULL;
    char *out = NULL;
    if (PEM_write_bio_PKCS8PrivateKey(bio, key, cipher, NULL, 0, NULL, (void *)password)) out = bio_to_string(bio);
    BIO_free(bio);
    return out;
}

/// Encrypted PKCS#8 under a person's password: PBES2, AES-256-CBC, PBKDF2-HMAC-SHA256 with
/// TP_PERSON_KEY_ITERATIONS rounds (OpenSSL's default, 2048, is far too few for a password that
/// may have only six characters and a file that may wait days for approvals).
static char *key_to_person_pem(EVP_PKEY *key, const char *password) {
    X509_ALGOR *pbe = PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), TP_PERSON_KEY_ITERATIONS, NULL, 0, NULL, NID_hmacWithSHA256);
    PKCS8_PRIV_KEY_INFO *p8 = pbe ? EVP_PKEY2PKCS8(key) : NULL;
    X509_SIG *sealed = p8 ? PKCS8_set0_pbe(password, (int)strlen(password), p8, pbe) : NULL;   // owns pbe once it succeeds
    if (!sealed) X509_ALGOR_free(pbe);
    PKCS8_PRIV_KEY_INFO_free(p8);
    BIO *bio = sealed ? BIO_new(BIO_s_mem()) : NULL;
    char *out = bio && PEM_write_bio_PKCS8(bio, sealed) ? bio_to_string(bio) : NULL;
    BIO_free(bio);
    X509_SIG_free(sealed);
    return out;
}

int tp_key_generate(int32_t algorithm, char **key_pem, tp_error *error) {
    *key_pem = NULL;
    EVP_PKEY *key = algorithm == TP_EC_P256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    if (!key) return tp_fail(error, "key generation failed");
    *key_pem = key_to_pem(key, NULL, NULL);
    EVP_PKEY_free(key);
    return *key_pem ? 1 : tp_fail(error, "cannot write the key");
}

int tp_key_encrypt(const char *key_pem, const char *password, char **encrypted_pem, tp_error *error) {
    *encrypted_pem = NULL;
    if (!password || strlen(password) < 8) return tp_fail(error, "the key password must have at least 8 characters");
    EVP_PKEY *key = read_key(key_pem, NULL);
    if (!key) return tp_fail(error, "cannot read the private key");
    *encrypted_pem = key_to_pem(key, EVP_aes_256_cbc(), password);
    EVP_PKEY_free(key);
    return *encrypted_pem ? 1 : tp_fail(error, "cannot encrypt the key");
}

int tp_key_decrypt(const char *encrypted_pem, const char *password, char **key_pem, tp_error *error) {
    *key_pem = NULL;
    EVP_PKEY *key = read_key(encrypted_pem, password ? password : "");
    if (!key) return tp_fail(error, "cannot decrypt the private key: wrong password or damaged file");
    *key_pem = key_to_pem(key, NULL, NULL);
    EVP_PKEY_free(key);
    return *key_pem ? 1 : tp_fail(error, "cannot write the key");
}

X509_NAME *tp_make_name(const tp_name_entry *entries, int32_t count, tp_error *error) {
    X509_NAME *name = X509_NAME_new();
    if (!name) return NULL;
    for (int32_t i = 0; i < count; i++) {
        ASN1_OBJECT *obj = OBJ_txt2obj(entries[i].field, 0);
        int ok = obj && X509_NAME_add_entry_by_OBJ(name, obj, MBSTRING_UTF8, (const unsigned char *)entries[i].value, -1, -1, 0);
        ASN1_OBJECT_free(obj);
        if (!ok) {
            tp_fail(error, "bad subject attribute %s=%s", entries[i].field, entries[i].value);
            X509_NAME_free(name);
            return NULL;
        }
    }
    return name;
}

static int add_extensions(X509 *cert, X509 *issuer, const tp_extension *extensions, int32_t count, tp_error *error) {
    // An empty config database: certificatePolicies insists on having one.
    CONF *conf = NCONF_new(NULL);
    if (!conf) return tp_fail(error, "out of memory");
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509V3_set_nconf(&ctx, conf);
    int ok = 1;
    for (int32_t i = 0; ok && i < count; i++) {
        X509_EXTENSION *ext = X509V3_EXT_nconf(conf, &ctx, extensions[i].name, extensions[i].value);
        if (!ext) {
            ok = tp_fail(error, "bad extension %s = %s", extensions[i].name, extensions[i].value);
            break;
        }
        ok = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        if (!ok) tp_fail(error, "cannot add extension %s", extensions[i].name);
    }
    NCONF_free(conf);
    return ok;
}

static int set_serial_and_validity(X509 *cert, const uint8_t serial[16], int64_t not_before, int64_t not_after, tp_error *error) {
    uint8_t positive[16];
    memcpy(positive, serial, 16);
    positive[0] &= 0x7F;  // a positive INTEGER
    if (positive[0] == 0) positive[0] = 0x01;
    BIGNUM *bn = BN_bin2bn(positive, 16, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) &&
             ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before) &&
             ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after) && X509_set_version(cert, 2);
    BN_free(bn);
    return ok ? 1 : tp_fail(error, "cannot set serial or validity");
}

static int cert_out(X509 *cert, char **cert_pem, tp_error *error) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && PEM_write_bio_X509(bio, cert)) *cert_pem = bio_to_string(bio);
    BIO_free(bio);
    return *cert_pem ? 1 : tp_fail(error, "cannot write the certificate");
}

int tp_csr_create(const char *key_pem, const tp_name_entry *subject, int32_t count, char **csr_pem, tp_error *error) {
    *csr_pem = NULL;
    EVP_PKEY *key = read_key(key_pem, NULL);
    if (!key) return tp_fail(error, "cannot read the private key");
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = tp_make_name(subject, count, error);
    int ok = req && name && X509_REQ_set_version(req, 0) && X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key) &&
             X509_REQ_sign(req, key, EVP_sha256()) > 0;
    if (ok) {
        BIO *bio = BIO_new(BIO_s_mem());
        if (bio && PEM_write_bio_X509_REQ(bio, req)) *csr_pem = bio_to_string(bio);
        BIO_free(bio);
    }
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    if (!ok && error && error->message[0]) return 0;
    return *csr_pem ? 1 : tp_fail(error, "cannot create the certificate request");
}

int tp_self_signed(const char *key_pem, const tp_name_entry *subject, int32_t count, const tp_extension *extensions,
                   int32_t extension_count, const uint8_t serial[16], int64_t not_before, int64_t not_after,
                   char **cert_pem, tp_error *error) {
    *cert_pem = NULL;
    EVP_PKEY *key = read_key(key_pem, NULL);
    if (!key) return tp_fail(error, "cannot read the CA key");
    X509 *cert = X509_new();
    X509_NAME *name = tp_make_name(subject, count, error);
    int ok = cert && name && set_serial_and_validity(cert, serial, not_before, not_after, error) &&
             X509_set_subject_name(cert, name) && X509_set_issuer_name(cert, name) && X509_set_pubkey(cert, key) &&
             add_extensions(cert, cert, extensions, extension_count, error) && X509_sign(cert, key, EVP_sha256()) > 0;
    if (ok) ok = cert_out(cert, cert_pem, error);
    else if (!error || !error->message[0]) tp_fail(error, "cannot sign the CA certificate");
    X509_NAME_free(name);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

int tp_issue(const char *csr_pem, const tp_name_entry *subject, int32_t subject_count, const char *ca_cert_pem,
             const char *ca_key_pem, const tp_extension *extensions, int32_t extension_count, const uint8_t serial[16],
             int64_t not_before, int64_t not_after, char **cert_pem, tp_error *error) {
    *cert_pem = NULL;
    BIO *bio = BIO_new_mem_buf(csr_pem ? csr_pem : "", -1);
    X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, tp_no_password, NULL) : NULL;
    BIO_free(bio);
    if (!req) return tp_fail(error, "cannot read the certificate request");
    EVP_PKEY *pub = X509_REQ_get_pubkey(req);
    if (!pub || X509_REQ_verify(req, pub) != 1) {
        EVP_PKEY_free(pub);
        X509_REQ_free(req);
        return tp_fail(error, "the certificate request's signature does not verify");
    }
    // The CA's own key policy, whatever its caller checked: RSA of 2048 bits or more, or P-256.
    char curve[64] = {0};
    size_t curve_length = 0;
    int strong = (EVP_PKEY_is_a(pub, "RSA") && EVP_PKEY_get_bits(pub) >= 2048) ||
                 (EVP_PKEY_is_a(pub, "EC") && EVP_PKEY_get_utf8_string_param(pub, "group", curve, sizeof(curve), &curve_length) &&
                  strcmp(curve, "prime256v1") == 0);
    if (!strong) {
        EVP_PKEY_free(pub);
        X509_REQ_free(req);
        return tp_fail(error, "the request's key is neither RSA of 2048 bits or more nor P-256");
    }
    // The subject the CA decides (from its registers); the request's own is ignored.
    X509_NAME *name = subject ? tp_make_name(subject, subject_count, error) : X509_NAME_dup(X509_REQ_get_subject_name(req));
    X509 *ca = tp_read_cert(ca_cert_pem);
    EVP_PKEY *ca_key = read_key(ca_key_pem, NULL);
    X509 *cert = X509_new();
    int ok = name && ca && ca_key && cert && set_serial_and_validity(cert, serial, not_before, not_after, error) &&
             X509_set_subject_name(cert, name) && X509_set_issuer_name(cert, X509_get_subject_name(ca)) &&
             X509_set_pubkey(cert, pub) && add_extensions(cert, ca, extensions, extension_count, error) &&
             X509_sign(cert, ca_key, EVP_sha256()) > 0;
    if (ok) ok = cert_out(cert, cert_pem, error);
    else if (!error || !error->message[0]) tp_fail(error, ca && ca_key ? "cannot sign the certificate" : "cannot read the CA certificate or key");
    X509_NAME_free(name);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    return ok;
}

int tp_crl(const char *ca_cert_pem, const char *ca_key_pem, const tp_revoked *revoked, int32_t count, int64_t this_update,
           int64_t next_update, int64_t crl_number, char **crl_pem, tp_error *error) {
    *crl_pem = NULL;
    X509 *ca = tp_read_cert(ca_cert_pem);
    EVP_PKEY *key = read_key(ca_key_pem, NULL);
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_update), *t2 = ASN1_TIME_set(NULL, (time_t)next_update);
    int ok = ca && key && crl && t1 && t2 && X509_CRL_set_version(crl, 1) && X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
             X509_CRL_set1_lastUpdate(crl, t1) && X509_CRL_set1_nextUpdate(crl, t2);
    for (int32_t i = 0; ok && i < count; i++) {
        BIGNUM *bn = NULL;
        ASN1_INTEGER *serial = NULL;
        X509_REVOKED *entry = X509_REVOKED_new();
        ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)revoked[i].revoked_at);
        ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
        ok = entry && when && reason && BN_hex2bn(&bn, revoked[i].serial_hex) && (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
             X509_REVOKED_set_serialNumber(entry, serial) &&
             X509_REVOKED_set_revocationDate(entry, when) && ASN1_ENUMERATED_set(reason, revoked[i].reason) &&
             X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, reason, 0, 0) && X509_CRL_add0_revoked(crl, entry);
        if (!ok) X509_REVOKED_free(entry);
        if (!ok) tp_fail(error, "bad revoked serial %s", revoked[i].serial_hex);
        BN_free(bn);
        ASN1_INTEGER_free(serial);
        ASN1_TIME_free(when);
        ASN1_ENUMERATED_free(reason);
    }
    if (ok) {
        ASN1_INTEGER *number = ASN1_INTEGER_new();
        ok = number && ASN1_INTEGER_set_int64(number, crl_number) && X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0);
        ASN1_INTEGER_free(number);
        X509_CRL_sort(crl);
        ok = ok && X509_CRL_sign(crl, key, EVP_sha256()) > 0;
        if (ok) {
            BIO *bio = BIO_new(BIO_s_mem());
            if (bio && PEM_write_bio_X509_CRL(bio, crl)) *crl_pem = bio_to_string(bio);
            BIO_free(bio);
            ok = *crl_pem != NULL;
        }
        if (!ok) tp_fail(error, "cannot sign the CRL");
    } else if (!error || !error->message[0]) {
        tp_fail(error, "cannot read the CA certificate or key");
    }
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_CRL_free(crl);
    X509_free(ca);
    EVP_PKEY_free(key);
    return ok;
}

int tp_pkcs12(const char *key_pem, const char *cert_pem, const char *chain_pem, const char *password, const char *name,
              int32_t iterations, uint8_t **der, size_t *length, tp_error *error) {
    *der = NULL;
    *length = 0;
    EVP_PKEY *key = read_key(key_pem, NULL);
    X509 *cert = tp_read_cert(cert_pem);
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (chain_pem && chain) {
        BIO *bio = BIO_new_mem_buf(chain_pem, -1);
        X509 *c;
        while (bio && (c = PEM_read_bio_X509(bio, NULL, tp_no_password, NULL)) != NULL) {
            if (sk_X509_push(chain, c) <= 0) { X509_free(c); break; }
        }
        BIO_free(bio);
        ERR_clear_error();
    }
    PKCS12 *p12 = NULL;
    int ok = key && cert && chain && X509_check_private_key(cert, key) == 1;
    if (ok) {
        p12 = PKCS12_create_ex(password, name, key, cert, chain, NID_aes_256_cbc, NID_aes_256_cbc, iterations, -1, 0, NULL, NULL);
        ok = p12 && PKCS12_set_mac(p12, password, -1, NULL, 0, iterations, EVP_sha256());
    }
    if (ok) {
        unsigned char *buf = NULL;
        int n = i2d_PKCS12(p12, &buf);
        if (n > 0) {
            *der = malloc((size_t)n);
            if (*der) {
                memcpy(*der, buf, (size_t)n);
                *length = (size_t)n;
            }
        }
        OPENSSL_free(buf);
        ok = *der != NULL;
    }
    if (!ok) tp_fail(error, key && cert ? "cannot build the PKCS#12 container" : "cannot read the key or certificate");
    PKCS12_free(p12);
    sk_X509_pop_free(chain, X509_free);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

int tp_cert_serial(const char *cert_pem, char **serial_hex, tp_error *error) {
    *serial_hex = NULL;
    X509 *cert = tp_read_cert(cert_pem);
    if (!cert) return tp_fail(error, "cannot read the certificate");
    BIGNUM *bn = ASN1_INTEGER_to_BN((ASN1_INTEGER *)X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex) {
        *serial_hex = malloc(strlen(hex) + 1);
        if (*serial_hex) strcpy(*serial_hex, hex);
        OPENSSL_free(hex);
    }
    BN_free(bn);
    X509_free(cert);
    return *serial_hex ? 1 : tp_fail(error, "cannot read the serial number");
}

// MARK: The applicant's side: keys that never leave the shim in plain text.

int tp_key_id_of(EVP_PKEY *key, uint8_t key_id[20]) {
    X509_PUBKEY *pub = NULL;
    const unsigned char *bits = NULL;
    int length = 0;
    int ok = X509_PUBKEY_set(&pub, key) && X509_PUBKEY_get0_param(NULL, &bits, &length, NULL, pub) &&
             SHA1(bits, (size_t)length, key_id) != NULL;
    X509_PUBKEY_free(pub);
    return ok;
}

int tp_folder_generate(int32_t algorithm, const char *password, const tp_name_entry *subject, int32_t count,
                       char **encrypted_pem, char **csr_pem, uint8_t key_id[20], tp_error *error) {
    *encrypted_pem = NULL;
    *csr_pem = NULL;
    if (!password || !password[0]) return tp_fail(error, "a key password is required");
    EVP_PKEY *key = algorithm == TP_EC_P256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    if (!key) return tp_fail(error, "key generation failed");
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = tp_make_name(subject, count, error);
    int ok = req && name && X509_REQ_set_version(req, 0) && X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key) &&
             X509_REQ_sign(req, key, EVP_sha256()) > 0 && tp_key_id_of(key, key_id);
    if (ok) {
        BIO *bio = BIO_new(BIO_s_mem());
        if (bio && PEM_write_bio_X509_REQ(bio, req)) *csr_pem = bio_to_string(bio);
        BIO_free(bio);
        *encrypted_pem = key_to_person_pem(key, password);
        ok = *csr_pem && *encrypted_pem;
    }
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(key);   // clears the private key's numbers
    if (!ok) {
        free(*csr_pem);
        free(*encrypted_pem);
        *csr_pem = *encrypted_pem = NULL;
        if (error && error->message[0]) return 0;
        return tp_fail(error, "cannot make the key pair and its request");
    }
    return 1;
}

int tp_pkcs12_sealed(const char *encrypted_key_pem, const char *key_password, const char *cert_pem, const char *chain_pem,
                     const char *password, const char *name, int32_t iterations, uint8_t **der, size_t *length, tp_error *error) {
    *der = NULL;
    *length = 0;
    EVP_PKEY *key = read_sealed_key(encrypted_key_pem, key_password, error);
    if (!key) return 0;
    char *plain = key_to_pem(key, NULL, NULL);
    EVP_PKEY_free(key);
    if (!plain) return tp_fail(error, "cannot read the pending key");
    int ok = tp_pkcs12(plain, cert_pem, chain_pem, password, name, iterations, der, length, error);
    tp_free_secret(plain);
    return ok;
}

int tp_request_key(const char *csr_pem, int32_t *type, int32_t *bits, tp_error *error) {
    *type = -1;
    *bits = 0;
    BIO *bio = BIO_new_mem_buf(csr_pem ? csr_pem : "", -1);
    X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, tp_no_password, NULL) : NULL;
    BIO_free(bio);
    if (!req) return tp_fail(error, "not a PEM certificate request");
    EVP_PKEY *pub = X509_REQ_get_pubkey(req);
    if (pub) {
        *bits = EVP_PKEY_get_bits(pub);
        if (EVP_PKEY_is_a(pub, "RSA")) *type = TP_RSA_2048;
        else if (EVP_PKEY_is_a(pub, "EC")) {
            char curve[64] = {0};
            size_t n = 0;
            *type = EVP_PKEY_get_utf8_string_param(pub, "group", curve, sizeof(curve), &n) && strcmp(curve, "prime256v1") == 0 ? TP_EC_P256 : 2;
        } else *type = 2;
    }
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    return pub ? 1 : tp_fail(error, "the request's public key cannot be read");
}

/// SHA-256 signature by `key`: PKCS#1 v1.5 for RSA, DER ECDSA-Sig-Value for EC.
static int sign_with(EVP_PKEY *key, const uint8_t *message, size_t message_length, uint8_t **signature, size_t *signature_length, tp_error *error) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = 0;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 && EVP_DigestSign(ctx, NULL, &n, message, message_length) == 1;
    uint8_t *out = ok ? malloc(n) : NULL;
    ok = out && EVP_DigestSign(ctx, out, &n, message, message_length) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) { free(out); return tp_fail(error, "cannot sign"); }
    *signature = out;
    *signature_length = n;
    return 1;
}

int tp_pkcs12_sign(const uint8_t *der, size_t length, const char *password, const char *cert_pem, const uint8_t *message,
                   size_t message_length, uint8_t **signature, size_t *signature_length, tp_error *error) {
    *signature = NULL;
    *signature_length = 0;
    if (!der || length == 0 || length > (1 << 20)) return tp_fail(error, "not a PKCS#12 container");
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)length);
    if (!p12) return tp_fail(error, "not a PKCS#12 container");
    EVP_PKEY *key = NULL;
    X509 *inside = NULL, *expected = tp_read_cert(cert_pem);
    int ok = PKCS12_parse(p12, password ? password : "", &key, &inside, NULL) == 1 && key && inside;
    PKCS12_free(p12);
    if (!ok) tp_fail_as(error, TP_WRONG_SECRET, "cannot open the container: wrong password or damaged file");
    else if (!expected || X509_cmp(inside, expected) != 0) ok = tp_fail(error, "the container holds another certificate");
    else ok = sign_with(key, message, message_length, signature, signature_length, error);
    EVP_PKEY_free(key);
    X509_free(inside);
    X509_free(expected);
    return ok;
}

int tp_pkcs12_certificate(const uint8_t *der, size_t length, const char *password, char **cert_pem, tp_error *error) {
    *cert_pem = NULL;
    if (!der || length == 0 || length > (1 << 20)) return tp_fail(error, "not a PKCS#12 container");
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)length);
    if (!p12) return tp_fail(error, "not a PKCS#12 container");
    EVP_PKEY *key = NULL;
    X509 *inside = NULL;
    int ok = PKCS12_parse(p12, password ? password : "", &key, &inside, NULL) == 1 && inside;
    PKCS12_free(p12);
    EVP_PKEY_free(key);   // only the certificate is wanted; the key is freed (and cleared) at once
    if (!ok) { X509_free(inside); return tp_fail_as(error, TP_WRONG_SECRET, "cannot open the container: wrong password or damaged file"); }
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && PEM_write_bio_X509(bio, inside)) *cert_pem = bio_to_string(bio);
    BIO_free(bio);
    X509_free(inside);
    return *cert_pem ? 1 : tp_fail(error, "cannot write the certificate");
}

int tp_sealed_key_check(const char *encrypted_key_pem, const char *password, uint8_t key_id[20], tp_error *error) {
    EVP_PKEY *key = read_sealed_key(encrypted_key_pem, password, error);
    if (!key) return 0;
    int ok = tp_key_id_of(key, key_id);
    EVP_PKEY_free(key);   // clears the private key's numbers
    return ok ? 1 : tp_fail(error, "cannot read the pending key's public key");
}

// MARK: Checking a certificate before it is installed.

/// Whether two certificates are the same bytes (DER).
static int same_der(X509 *a, X509 *b) {
    unsigned char *x = NULL, *y = NULL;
    int lx = a ? i2d_X509(a, &x) : -1, ly = b ? i2d_X509(b, &y) : -1;
    int same = lx > 0 && lx == ly && memcmp(x, y, (size_t)lx) == 0;
    OPENSSL_free(x);
    OPENSSL_free(y);
    return same;
}

int tp_certificate_verify(const char *cert_pem, const char *chain_pem, const char *root_pem, int64_t at, tp_error *error) {
    X509 *cert = tp_read_cert(cert_pem);
    if (!cert) return tp_fail(error, "not a PEM certificate");
    // A fresh store: only the chain given is trusted, never the system's roots.
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *intermediates = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    BIO *bio = BIO_new_mem_buf(chain_pem ? chain_pem : "", -1);
    int ok = store && intermediates && ctx && bio, roots = 0, count = 0;
    if (!ok) tp_fail(error, "out of memory");
    ERR_clear_error();   // only what reading the chain leaves is judged below
    X509 *c;
    while (ok && (c = PEM_read_bio_X509(bio, NULL, tp_no_password, NULL)) != NULL) {
        if (++count > 8) { X509_free(c); ok = tp_fail(error, "the chain has more than 8 certificates"); break; }
        // A self-signed certificate is an anchor (its own signature is checked below); the others are intermediates.
        if (X509_self_signed(c, 0) == 1) {
            ok = X509_STORE_add_cert(store, c) == 1;
            roots++;
            X509_free(c);
            if (!ok) tp_fail(error, "cannot use the root CA certificate");
        } else if (sk_X509_push(intermediates, c) <= 0) {
            X509_free(c);
            ok = tp_fail(error, "out of memory");
        }
    }
    if (ok) {
        // The end of the PEM text reads as "no start line"; anything else is a block that could not be
        // read (an ENCRYPTED one: tp_no_password refused to ask for its pass phrase).
        unsigned long last = ERR_peek_last_error();
        if (last && !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
            ERR_clear_error();
            ok = tp_fail(error, "the chain holds a block that is not a plain PEM certificate (an encrypted or damaged one)");
        }
    }
    ERR_clear_error();
    if (ok && roots == 0) ok = tp_fail(error, "the chain holds no root CA (a self-signed certificate)");
    if (ok && X509_STORE_CTX_init(ctx, store, cert, intermediates) != 1) ok = tp_fail(error, "cannot set up the verification");
    if (ok) {
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_time(param, (time_t)at);
        // RFC 5280's stricter checks, and the root's own signature too (OpenSSL trusts an anchor's by default).
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT | X509_V_FLAG_CHECK_SS_SIGNATURE);
        if (X509_verify_cert(ctx) != 1) {
            int code = X509_STORE_CTX_get_error(ctx), depth = X509_STORE_CTX_get_error_depth(ctx);
            ERR_clear_error();
            ok = tp_fail(error, "%s (%s)", X509_verify_cert_error_string(code),
                         depth <= 0 ? "the certificate itself" : depth == 1 ? "its issuer's certificate" : "a CA certificate above its issuer");
        }
    }
    if (ok && root_pem) {
        // The anchor the chain was verified to must be the caller's own root, byte for byte: the chain's
        // self-signed certificate came with the certificates and proves only that they agree.
        X509 *pinned = tp_read_cert(root_pem);
        STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
        X509 *top = built && sk_X509_num(built) > 0 ? sk_X509_value(built, sk_X509_num(built) - 1) : NULL;
        if (!pinned) ok = tp_fail(error, "the trusted root CA certificate cannot be read");
        else if (!same_der(top, pinned)) ok = tp_fail_as(error, TP_UNTRUSTED_ROOT, "the chain ends at another root CA than the trusted one");
        X509_free(pinned);
    }
    BIO_free(bio);
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(intermediates, X509_free);
    X509_STORE_free(store);
    X509_free(cert);
    return ok;
}
