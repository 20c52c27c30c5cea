// PKCS#11 tokens for CTulgaPKI.h: the module is loaded with dlopen; keys are generated on the
// token (sensitive, never extractable) and sign their own requests there.
#include "CTulgaPKI.h"
#include "shared.h"

#include <p11-kit-1/p11-kit/pkcs11.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// A loaded module. Cryptoki is initialised once per process, and a login belongs to the
/// application, not the session: tokens opened on one module share this record, and only the
/// last close finalises it (finalising or logging out earlier would end the others' sessions).
typedef struct module {
    struct module *next;
    char *path;
    void *handle;
    CK_FUNCTION_LIST_PTR f;
    int finalize;
    int users;
    /// Tokens logged in through this module, with the SHA-256 of the PIN that opened them: a
    /// second open of a logged-in token must bring the same PIN (the token cannot check it again).
    struct { char label[33]; unsigned char pin[32]; } logins[8];
    int login_count;
} module;

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static module *modules = NULL;

struct tp_token {
    module *module;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE session;
};

/// SoftHSM and other modules built on OpenSSL leave their own errors in this thread's queue;
/// they must not be reported as the cause of a later failure of ours.
static CK_RV p11(CK_RV rv) {
    ERR_clear_error();
    return rv;
}

static void module_release(module *m) {
    if (!m) return;
    pthread_mutex_lock(&modules_lock);
    if (--m->users == 0) {
        for (module **p = &modules; *p; p = &(*p)->next)
            if (*p == m) { *p = m->next; break; }
        if (m->f && m->finalize) p11(m->f->C_Finalize(NULL));
        if (m->handle) dlclose(m->handle);
        free(m->path);
        OPENSSL_cleanse(m->logins, sizeof(m->logins));
        free(m);
    }
    pthread_mutex_unlock(&modules_lock);
}

/// The module at `path`, loaded and initialised on first use; NULL and *error set otherwise.
static module *module_acquire(const char *path, tp_error *error) {
    pthread_mutex_lock(&modules_lock);
    module *m = modules;
    while (m && strcmp(m->path, path) != 0) m = m->next;
    if (m) {
        m->users++;
        pthread_mutex_unlock(&modules_lock);
        return m;
    }
    m = calloc(1, sizeof(module));
    if (!m || !(m->path = strdup(path))) {
        free(m);
        pthread_mutex_unlock(&modules_lock);
        tp_fail(error, "out of memory");
        return NULL;
    }
    int ok = 0;
    m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m->handle) {
        const char *why = dlerror();
        tp_fail(error, "cannot load the PKCS#11 module %s: %s", path, why ? why : "unknown");
    } else {
        CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(m->handle, "C_GetFunctionList");
        if (!get || get(&m->f) != CKR_OK || !m->f) {
            m->f = NULL;
            tp_fail(error, "%s is not a PKCS#11 module", path);
        } else {
            CK_C_INITIALIZE_ARGS init = {0};
            init.flags = CKF_OS_LOCKING_OK;
            CK_RV rv = p11(m->f->C_Initialize(&init));
            if (rv == CKR_OK) m->finalize = 1;
            if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) ok = 1;
            else tp_fail(error, "the PKCS#11 module does not start (0x%lx)", (unsigned long)rv);
        }
    }
    if (!ok) {
        if (m->handle) dlclose(m->handle);
        free(m->path);
        free(m);
        pthread_mutex_unlock(&modules_lock);
        return NULL;
    }
    m->users = 1;
    m->next = modules;
    modules = m;
    pthread_mutex_unlock(&modules_lock);
    return m;
}

static const char *rv_name(CK_RV rv) {
    switch (rv) {
    case CKR_PIN_INCORRECT: return "wrong PIN";
    case CKR_PIN_LOCKED: return "the PIN is locked";
    case CKR_PIN_EXPIRED: return "the PIN has expired";
    case CKR_TOKEN_NOT_PRESENT: return "no token present";
    case CKR_DEVICE_MEMORY: return "the token is full";
    case CKR_MECHANISM_INVALID: return "the token does not support this algorithm";
    default: return "PKCS#11 error";
    }
}

void tp_token_close(tp_token *token) {
    if (!token) return;
    // No C_Logout: the login is shared by the process's other sessions on this token, and
    // closing the last session (or finalising) logs out.
    if (token->f && token->session != CK_INVALID_HANDLE) p11(token->f->C_CloseSession(token->session));
    module_release(token->module);
    free(token);
}

int tp_token_open(const char *module_path, const char *label, const char *pin, tp_token **out, tp_error *error) {
    *out = NULL;
    if (!module_path || !label || !pin) return tp_fail(error, "a module, a token label and a PIN are needed");
    tp_token *t = calloc(1, sizeof(tp_token));
    if (!t) return tp_fail(error, "out of memory");
    t->session = CK_INVALID_HANDLE;
    if (!(t->module = module_acquire(module_path, error))) {
        free(t);
        return 0;
    }
    t->f = t->module->f;
    CK_RV rv;
    CK_ULONG n = 0;
    if (p11(t->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK || n > 1024) { tp_token_close(t); return tp_fail(error, "cannot list the token slots"); }
    CK_SLOT_ID *slots = calloc(n ? n : 1, sizeof(CK_SLOT_ID));
    if (!slots || p11(t->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) { free(slots); tp_token_close(t); return tp_fail(error, "cannot list the token slots"); }
    char seen[256] = "";
    CK_SLOT_ID found = 0;
    int have = 0;
    size_t want = strlen(label);
    for (CK_ULONG i = 0; i < n && !have; i++) {
        CK_TOKEN_INFO info;
        if (p11(t->f->C_GetTokenInfo(slots[i], &info)) != CKR_OK) continue;
        char name[33];
        memcpy(name, info.label, 32);
        name[32] = 0;
        for (int k = 31; k >= 0 && name[k] == ' '; k--) name[k] = 0;   // labels are space-padded
        if (strlen(name) == want && memcmp(name, label, want) == 0) { found = slots[i]; have = 1; }
        else if (strlen(seen) + strlen(name) + 4 < sizeof(seen)) { if (seen[0]) strcat(seen, ", "); strcat(seen, "\""); strcat(seen, name); strcat(seen, "\""); }
    }
    free(slots);
    if (!have) { tp_token_close(t); return tp_fail(error, "no token labelled \"%s\" (found: %s)", label, seen[0] ? seen : "none"); }
    rv = p11(t->f->C_OpenSession(found, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->session));
    if (rv != CKR_OK) { t->session = CK_INVALID_HANDLE; tp_token_close(t); return tp_fail(error, "cannot open a session on the token (0x%lx)", (unsigned long)rv); }
    size_t pin_length = strlen(pin);
    CK_UTF8CHAR *copy = malloc(pin_length + 1);
    if (!copy) { tp_token_close(t); return tp_fail(error, "out of memory"); }
    memcpy(copy, pin, pin_length + 1);
    rv = p11(t->f->C_Login(t->session, CKU_USER, copy, (CK_ULONG)pin_length));
    OPENSSL_cleanse(copy, pin_length);
    free(copy);
    unsigned char pin_hash[32];
    SHA256((const unsigned char *)pin, pin_length, pin_hash);
    pthread_mutex_lock(&modules_lock);
    module *m = t->module;
    int known = -1;
    for (int i = 0; i < m->login_count; i++)
        if (strcmp(m->logins[i].label, label) == 0) known = i;
    if (rv == CKR_OK) {
        if (known < 0 && m->login_count < 8) known = m->login_count++;
        if (known >= 0) {
            snprintf(m->logins[known].label, sizeof(m->logins[known].label), "%s", label);
            memcpy(m->logins[known].pin, pin_hash, 32);
        }
    } else if (rv == CKR_USER_ALREADY_LOGGED_IN) {
        // Logged in already by this process: the PIN must be the one that did it.
        if (known < 0 || CRYPTO_memcmp(m->logins[known].pin, pin_hash, 32) != 0) rv = CKR_PIN_INCORRECT;
    }
    pthread_mutex_unlock(&modules_lock);
    OPENSSL_cleanse(pin_hash, sizeof(pin_hash));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        tp_token_close(t);
        int32_t kind = rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE ? TP_WRONG_SECRET : TP_FAILED;
        return tp_fail_as(error, kind, "the token refuses the PIN: %s (0x%lx)", rv_name(rv), (unsigned long)rv);
    }
    *out = t;
    return 1;
}

static int get_attribute(tp_token *t, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, unsigned char **value, CK_ULONG *length) {
    CK_ATTRIBUTE a = {type, NULL, 0};
    if (p11(t->f->C_GetAttributeValue(t->session, object, &a, 1)) != CKR_OK || a.ulValueLen == 0 || a.ulValueLen > 65536) return 0;
    a.pValue = malloc(a.ulValueLen);
    if (!a.pValue) return 0;
    if (p11(t->f->C_GetAttributeValue(t->session, object, &a, 1)) != CKR_OK) { free(a.pValue); return 0; }
    *value = a.pValue;
    *length = a.ulValueLen;
    return 1;
}

/// The public key of a generated pair as an OpenSSL key.
static EVP_PKEY *public_key(tp_token *t, CK_OBJECT_HANDLE pub, int32_t algorithm) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, algorithm == TP_EC_P256 ? "EC" : "RSA", NULL);
    unsigned char *a = NULL, *b = NULL;
    CK_ULONG al = 0, bl = 0;
    BIGNUM *n = NULL, *e = NULL;
    int ok = bld && ctx;
    if (ok && algorithm == TP_EC_P256) {
        // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point.
        ok = get_attribute(t, pub, CKA_EC_POINT, &a, &al);
        const unsigned char *p = a;
        ASN1_OCTET_STRING *point = ok ? d2i_ASN1_OCTET_STRING(NULL, &p, (long)al) : NULL;
        ok = point && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
             OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, ASN1_STRING_get0_data(point), (size_t)ASN1_STRING_length(point));
        if (ok) ok = (params = OSSL_PARAM_BLD_to_param(bld)) != NULL;
        ASN1_OCTET_STRING_free(point);
    } else if (ok) {
        ok = get_attribute(t, pub, CKA_MODULUS, &a, &al) && get_attribute(t, pub, CKA_PUBLIC_EXPONENT, &b, &bl) &&
             (n = BN_bin2bn(a, (int)al, NULL)) != NULL && (e = BN_bin2bn(b, (int)bl, NULL)) != NULL &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
             (params = OSSL_PARAM_BLD_to_param(bld)) != NULL;
    }
    if (ok && EVP_PKEY_fromdata_init(ctx) == 1) EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    free(a);
    free(b);
    return key;
}

/// Signs `data` (SHA-256) on the token with `priv`: raw PKCS#1 v1.5 for RSA, a DER
/// ECDSA-Sig-Value for EC (PKCS#11 gives r || s). The caller frees *out with free.
static int token_sign(tp_token *t, CK_OBJECT_HANDLE priv, int32_t algorithm, const unsigned char *data, size_t length, unsigned char **out,
                      size_t *out_length, tp_error *error) {
    *out = NULL;
    *out_length = 0;
    CK_MECHANISM mechanism = {algorithm == TP_EC_P256 ? CKM_ECDSA : CKM_SHA256_RSA_PKCS, NULL, 0};
    unsigned char digest[32];
    const unsigned char *input = data;
    CK_ULONG input_length = (CK_ULONG)length;
    if (algorithm == TP_EC_P256) {
        SHA256(data, length, digest);
        input = digest;
        input_length = sizeof(digest);
    }
    unsigned char raw[512];
    CK_ULONG raw_length = sizeof(raw);
    CK_RV rv = p11(t->f->C_SignInit(t->session, &mechanism, priv));
    if (rv == CKR_OK) rv = p11(t->f->C_Sign(t->session, (CK_BYTE_PTR)input, input_length, raw, &raw_length));
    if (rv != CKR_OK) return tp_fail(error, "the token cannot sign: %s (0x%lx)", rv_name(rv), (unsigned long)rv);
    if (algorithm != TP_EC_P256) {
        if (!(*out = malloc(raw_length))) return tp_fail(error, "out of memory");
        memcpy(*out, raw, raw_length);
        *out_length = raw_length;
        return 1;
    }
    if (raw_length != 64) return tp_fail(error, "unexpected ECDSA signature length %lu", (unsigned long)raw_length);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) { BN_free(r); BN_free(s); ECDSA_SIG_free(sig); return tp_fail(error, "out of memory"); }
    unsigned char *der = NULL;
    int der_length = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (der_length <= 0 || !(*out = malloc((size_t)der_length))) { OPENSSL_free(der); return tp_fail(error, "cannot encode the signature"); }
    memcpy(*out, der, (size_t)der_length);
    *out_length = (size_t)der_length;
    OPENSSL_free(der);
    return 1;
}

/// Signs the request's to-be-signed bytes on the token and sets the signature.
static int sign_request(tp_token *t, X509_REQ *req, CK_OBJECT_HANDLE priv, int32_t algorithm, tp_error *error) {
    X509_ALGOR *alg = X509_ALGOR_new();
    if (!alg) return tp_fail(error, "out of memory");
    X509_ALGOR_set0(alg, OBJ_nid2obj(algorithm == TP_EC_P256 ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption),
                    algorithm == TP_EC_P256 ? V_ASN1_UNDEF : V_ASN1_NULL, NULL);
    // The signature algorithm is part of what is signed: set it first.
    int ok = X509_REQ_set1_signature_algo(req, alg);
    X509_ALGOR_free(alg);
    unsigned char *tbs = NULL;
    int tbs_length = ok ? i2d_re_X509_REQ_tbs(req, &tbs) : -1;
    if (tbs_length <= 0) { OPENSSL_free(tbs); return tp_fail(error, "cannot encode the request"); }
    unsigned char *signature = NULL;
    size_t signature_length = 0;
    ok = token_sign(t, priv, algorithm, tbs, (size_t)tbs_length, &signature, &signature_length, error);
    OPENSSL_free(tbs);
    if (!ok) return 0;
    ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
    ok = bits && ASN1_BIT_STRING_set(bits, signature, (int)signature_length);
    free(signature);
    if (!ok) { ASN1_BIT_STRING_free(bits); return tp_fail(error, "out of memory"); }
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req, bits);
    return 1;
}

/// A PKCS#10 request for the pair (`pk`, `priv`) with subject `name`, signed on the token (SHA-256);
/// PEM in *csr_pem. The token's signature is checked before it is handed out.
static int make_request(tp_token *t, EVP_PKEY *pk, CK_OBJECT_HANDLE priv, int32_t algorithm, X509_NAME *name, char **csr_pem, tp_error *error) {
    X509_REQ *req = X509_REQ_new();
    int ok = req && X509_REQ_set_version(req, 0) && X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, pk);
    if (!ok) tp_fail(error, "cannot build the request");
    if (ok) ok = sign_request(t, req, priv, algorithm, error);
    if (ok) {
        BIO *bio = BIO_new(BIO_s_mem());
        char *data = NULL;
        long n = bio && PEM_write_bio_X509_REQ(bio, req) ? BIO_get_mem_data(bio, &data) : -1;
        if (n > 0 && (*csr_pem = malloc((size_t)n + 1)) != NULL) {
            memcpy(*csr_pem, data, (size_t)n);
            (*csr_pem)[n] = 0;
        } else ok = tp_fail(error, "cannot write the request");
        BIO_free(bio);
    }
    if (ok) {
        // The token's signature must verify, or the pair is useless.
        ok = X509_REQ_verify(req, pk) == 1;
        if (!ok) { free(*csr_pem); *csr_pem = NULL; tp_fail(error, "the token's signature on the request does not verify"); }
    }
    X509_REQ_free(req);
    return ok;
}

int tp_token_generate(tp_token *t, int32_t algorithm, const char *label, const tp_name_entry *subject, int32_t count, char **csr_pem,
                      uint8_t key_id[20], tp_error *error) {
    *csr_pem = NULL;
    if (!t || !label) return tp_fail(error, "no token session");
    X509_NAME *name = tp_make_name(subject, count, error);
    unsigned char *subject_der = NULL;
    int subject_length = name ? i2d_X509_NAME(name, &subject_der) : -1;
    if (subject_length <= 0) { X509_NAME_free(name); return error && error->message[0] ? 0 : tp_fail(error, "cannot encode the subject"); }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = 2048;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};   // OID prime256v1
    CK_ULONG label_length = (CK_ULONG)strlen(label);
    // Both keys sign (AUTH signs challenges, SIGN documents) and do nothing else: no decryption,
    // unwrapping or derivation that could turn the key into an oracle. The public half is public.
    CK_ATTRIBUTE pub_rsa[] = {
        {CKA_TOKEN, &yes, sizeof(yes)}, {CKA_PRIVATE, &no, sizeof(no)}, {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_ENCRYPT, &no, sizeof(no)}, {CKA_WRAP, &no, sizeof(no)}, {CKA_LABEL, (void *)label, label_length},
        {CKA_MODULUS_BITS, &bits, sizeof(bits)}, {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
    };
    CK_ATTRIBUTE pub_ec[] = {
        {CKA_TOKEN, &yes, sizeof(yes)}, {CKA_PRIVATE, &no, sizeof(no)}, {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_ENCRYPT, &no, sizeof(no)}, {CKA_WRAP, &no, sizeof(no)}, {CKA_LABEL, (void *)label, label_length},
        {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
    };
    // Only the one signing mechanism we use: CKA_DECRYPT=FALSE alone leaves raw RSA (CKM_RSA_X_509
    // "signing") as a way to decrypt. The request's subject (the IIN the keys are made for) stays
    // with the private key only, readable after login: install checks certificates against it.
    CK_MECHANISM_TYPE allowed = algorithm == TP_EC_P256 ? CKM_ECDSA : CKM_SHA256_RSA_PKCS;
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof(yes)}, {CKA_PRIVATE, &yes, sizeof(yes)}, {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)}, {CKA_SIGN, &yes, sizeof(yes)}, {CKA_DECRYPT, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)}, {CKA_DERIVE, &no, sizeof(no)}, {CKA_LABEL, (void *)label, label_length},
        {CKA_ALLOWED_MECHANISMS, &allowed, sizeof(allowed)}, {CKA_SUBJECT, subject_der, (CK_ULONG)subject_length},
    };
    CK_ULONG pub_count = algorithm == TP_EC_P256 ? sizeof(pub_ec) / sizeof(pub_ec[0]) : sizeof(pub_rsa) / sizeof(pub_rsa[0]);
    CK_MECHANISM mechanism = {algorithm == TP_EC_P256 ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, key = CK_INVALID_HANDLE;
    CK_RV rv = p11(t->f->C_GenerateKeyPair(t->session, &mechanism, algorithm == TP_EC_P256 ? pub_ec : pub_rsa, pub_count, priv,
                                           sizeof(priv) / sizeof(priv[0]), &pub, &key));
    OPENSSL_free(subject_der);
    if (rv != CKR_OK) {
        X509_NAME_free(name);
        return tp_fail(error, "the token cannot generate the key pair: %s (0x%lx)", rv_name(rv), (unsigned long)rv);
    }
    EVP_PKEY *pk = public_key(t, pub, algorithm);
    int ok = pk && tp_key_id_of(pk, key_id);
    if (ok) {
        CK_ATTRIBUTE id = {CKA_ID, key_id, 20};
        ok = p11(t->f->C_SetAttributeValue(t->session, pub, &id, 1)) == CKR_OK && p11(t->f->C_SetAttributeValue(t->session, key, &id, 1)) == CKR_OK;
        if (!ok) tp_fail(error, "cannot set the key's ID on the token");
    } else tp_fail(error, "cannot read the generated public key");
    if (ok) ok = make_request(t, pk, key, algorithm, name, csr_pem, error);
    if (!ok) {
        // No half-made key stays on the token.
        p11(t->f->C_DestroyObject(t->session, key));
        p11(t->f->C_DestroyObject(t->session, pub));
    }
    X509_NAME_free(name);
    EVP_PKEY_free(pk);
    return ok;
}

int tp_public_key_id(const char *pem, uint8_t key_id[20], tp_error *error) {
    BIO *bio = BIO_new_mem_buf(pem ? pem : "", -1);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, tp_no_password, NULL) : NULL;
    EVP_PKEY *key = NULL;
    if (cert) key = X509_get_pubkey(cert);
    else {
        BIO_free(bio);
        ERR_clear_error();
        bio = BIO_new_mem_buf(pem ? pem : "", -1);
        X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, tp_no_password, NULL) : NULL;
        if (req) key = X509_REQ_get_pubkey(req);
        X509_REQ_free(req);
    }
    BIO_free(bio);
    X509_free(cert);
    int ok = key && tp_key_id_of(key, key_id);
    EVP_PKEY_free(key);
    return ok ? 1 : tp_fail(error, "not a PEM certificate or request");
}

/// The first object of `cls` with this key ID (and, when `value` is given, this CKA_VALUE).
static CK_OBJECT_HANDLE find(tp_token *t, CK_OBJECT_CLASS cls, const uint8_t id[20], const unsigned char *value, CK_ULONG value_length) {
    CK_ATTRIBUTE query[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, (void *)id, 20}, {CKA_VALUE, (void *)value, value_length}};
    CK_OBJECT_HANDLE found = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (p11(t->f->C_FindObjectsInit(t->session, query, value ? 3 : 2)) != CKR_OK) return CK_INVALID_HANDLE;
    if (p11(t->f->C_FindObjects(t->session, &found, 1, &n)) != CKR_OK || n == 0) found = CK_INVALID_HANDLE;
    p11(t->f->C_FindObjectsFinal(t->session));
    return found;
}

/// Removes the certificates for this key ID other than `keep` (a replaced certificate).
static void remove_other_certificates(tp_token *t, const uint8_t id[20], CK_OBJECT_HANDLE keep) {
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE query[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, (void *)id, 20}};
    CK_OBJECT_HANDLE found[16];
    CK_ULONG n = 0;
    if (p11(t->f->C_FindObjectsInit(t->session, query, 2)) != CKR_OK) return;
    if (p11(t->f->C_FindObjects(t->session, found, 16, &n)) != CKR_OK) n = 0;
    p11(t->f->C_FindObjectsFinal(t->session));
    for (CK_ULONG i = 0; i < n; i++)
        if (found[i] != keep) p11(t->f->C_DestroyObject(t->session, found[i]));
}

int tp_token_store_certificate(tp_token *t, const char *cert_pem, const char *label, tp_error *error) {
    if (!t || !label) return tp_fail(error, "no token session");
    BIO *bio = BIO_new_mem_buf(cert_pem ? cert_pem : "", -1);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, tp_no_password, NULL) : NULL;
    BIO_free(bio);
    if (!cert) return tp_fail(error, "not a PEM certificate");
    uint8_t id[20];
    EVP_PKEY *key = X509_get_pubkey(cert);
    int ok = key && tp_key_id_of(key, id);
    EVP_PKEY_free(key);
    if (!ok) { X509_free(cert); return tp_fail(error, "cannot read the certificate's key"); }
    if (find(t, CKO_PRIVATE_KEY, id, NULL, 0) == CK_INVALID_HANDLE) {
        X509_free(cert);
        return tp_fail_as(error, TP_NO_KEY, "the token holds no private key for this certificate: it was not issued for a key on this token");
    }
    unsigned char *value = NULL, *subject = NULL, *issuer = NULL, *serial = NULL;
    int value_length = i2d_X509(cert, &value), subject_length = i2d_X509_NAME(X509_get_subject_name(cert), &subject);
    int issuer_length = i2d_X509_NAME(X509_get_issuer_name(cert), &issuer);
    int serial_length = i2d_ASN1_INTEGER((ASN1_INTEGER *)X509_get0_serialNumber(cert), &serial);
    X509_free(cert);
    ok = value_length > 0 && subject_length > 0 && issuer_length > 0 && serial_length > 0;
    // The same certificate stored already: nothing to do. A different one for the same key (the CA
    // issued it again) is stored first and only then replaces the old, so a crash leaves one.
    CK_OBJECT_HANDLE object = ok ? find(t, CKO_CERTIFICATE, id, value, (CK_ULONG)value_length) : CK_INVALID_HANDLE;
    if (ok && object == CK_INVALID_HANDLE) {
        CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
        CK_CERTIFICATE_TYPE type = CKC_X_509;
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        CK_ATTRIBUTE attributes[] = {
            {CKA_CLASS, &cls, sizeof(cls)}, {CKA_CERTIFICATE_TYPE, &type, sizeof(type)}, {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_PRIVATE, &no, sizeof(no)}, {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)}, {CKA_ID, id, 20},
            {CKA_VALUE, value, (CK_ULONG)value_length}, {CKA_SUBJECT, subject, (CK_ULONG)subject_length},
            {CKA_ISSUER, issuer, (CK_ULONG)issuer_length}, {CKA_SERIAL_NUMBER, serial, (CK_ULONG)serial_length},
        };
        CK_RV rv = p11(t->f->C_CreateObject(t->session, attributes, sizeof(attributes) / sizeof(attributes[0]), &object));
        if (rv != CKR_OK) ok = tp_fail(error, "the token cannot store the certificate: %s (0x%lx)", rv_name(rv), (unsigned long)rv);
    } else if (!ok) tp_fail(error, "cannot encode the certificate");
    if (ok) remove_other_certificates(t, id, object);
    OPENSSL_free(value);
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    return ok;
}

int tp_token_sign(tp_token *t, const uint8_t key_id[20], const uint8_t *message, size_t message_length, uint8_t **signature,
                  size_t *signature_length, tp_error *error) {
    *signature = NULL;
    *signature_length = 0;
    if (!t) return tp_fail(error, "no token session");
    CK_OBJECT_HANDLE key = find(t, CKO_PRIVATE_KEY, key_id, NULL, 0);
    if (key == CK_INVALID_HANDLE) return tp_fail_as(error, TP_NO_KEY, "the token holds no private key for this certificate");
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &type, sizeof(type)};
    if (p11(t->f->C_GetAttributeValue(t->session, key, &a, 1)) != CKR_OK || (type != CKK_RSA && type != CKK_EC)) {
        return tp_fail(error, "the token's key is neither RSA nor EC");
    }
    return token_sign(t, key, type == CKK_EC ? TP_EC_P256 : TP_RSA_2048, message, message_length, signature, signature_length, error);
}

/// Calls `each` for every object of `cls` whose CKA_LABEL starts with `prefix`; 0 (and *error set) when
/// the token cannot be searched or holds more than TP_TOKEN_MAX_OBJECTS of them (never a part of them).
static int each_labelled(tp_token *t, CK_OBJECT_CLASS cls, const char *prefix, int (*each)(tp_token *, CK_OBJECT_HANDLE, void *), void *context,
                         tp_error *error) {
    CK_ATTRIBUTE query[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    // All the handles first: `each` may start searches of its own, and one search runs at a time.
    CK_OBJECT_HANDLE *found = malloc(sizeof(CK_OBJECT_HANDLE) * (TP_TOKEN_MAX_OBJECTS + 1));
    if (!found) return tp_fail(error, "out of memory");
    CK_ULONG total = 0, n = 0;
    CK_RV rv = p11(t->f->C_FindObjectsInit(t->session, query, 1));
    if (rv != CKR_OK) { free(found); return tp_fail(error, "cannot search the token (0x%lx)", (unsigned long)rv); }
    do {
        rv = p11(t->f->C_FindObjects(t->session, found + total, TP_TOKEN_MAX_OBJECTS + 1 - total, &n));
        total += rv == CKR_OK ? n : 0;
    } while (rv == CKR_OK && n > 0 && total <= TP_TOKEN_MAX_OBJECTS);
    p11(t->f->C_FindObjectsFinal(t->session));
    if (rv != CKR_OK) { free(found); return tp_fail(error, "cannot search the token (0x%lx)", (unsigned long)rv); }
    if (total > TP_TOKEN_MAX_OBJECTS) { free(found); return tp_fail(error, "the token holds more than %d objects of a kind: too many to read", TP_TOKEN_MAX_OBJECTS); }
    size_t prefix_length = strlen(prefix);
    int ok = 1;
    for (CK_ULONG i = 0; i < total && ok; i++) {
        unsigned char *label = NULL;
        CK_ULONG length = 0;
        if (!get_attribute(t, found[i], CKA_LABEL, &label, &length)) continue;   // no label: not ours
        int matches = length >= prefix_length && memcmp(label, prefix, prefix_length) == 0;
        free(label);
        if (matches && !each(t, found[i], context)) ok = tp_fail(error, "cannot read an object of the token");
    }
    free(found);
    return ok;
}

typedef struct { BIO *bio; int32_t count; } certificate_list;

static int append_certificate(tp_token *t, CK_OBJECT_HANDLE object, void *context) {
    certificate_list *list = context;
    unsigned char *value = NULL;
    CK_ULONG length = 0;
    if (!get_attribute(t, object, CKA_VALUE, &value, &length)) return 0;
    const unsigned char *p = value;
    X509 *cert = d2i_X509(NULL, &p, (long)length);
    free(value);
    int ok = cert && PEM_write_bio_X509(list->bio, cert);
    X509_free(cert);
    if (ok) list->count++;
    return ok;
}

int tp_token_certificates(tp_token *t, const char *label_prefix, char **pem_bundle, int32_t *count, tp_error *error) {
    *pem_bundle = NULL;
    *count = 0;
    if (!t || !label_prefix) return tp_fail(error, "no token session");
    certificate_list list = {BIO_new(BIO_s_mem()), 0};
    if (!list.bio) return tp_fail(error, "out of memory");
    int ok = each_labelled(t, CKO_CERTIFICATE, label_prefix, append_certificate, &list, error);
    if (ok) {
        char *data = NULL;
        long n = BIO_get_mem_data(list.bio, &data);
        *pem_bundle = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (*pem_bundle) {
            if (n > 0) memcpy(*pem_bundle, data, (size_t)n);
            (*pem_bundle)[n] = 0;
            *count = list.count;
        }
        ok = *pem_bundle != NULL;
    }
    BIO_free(list.bio);
    return ok ? 1 : error && error->message[0] ? 0 : tp_fail(error, "cannot read the token's certificates");
}

static int count_object(tp_token *t, CK_OBJECT_HANDLE object, void *context) {
    (void)t;
    (void)object;
    (*(int32_t *)context)++;
    return 1;
}

int tp_token_key_count(tp_token *t, const char *label_prefix, int32_t *count, tp_error *error) {
    *count = 0;
    if (!t || !label_prefix) return tp_fail(error, "no token session");
    return each_labelled(t, CKO_PRIVATE_KEY, label_prefix, count_object, count, error);
}

int tp_token_delete(tp_token *t, const uint8_t key_id[20], tp_error *error) {
    if (!t) return tp_fail(error, "no token session");
    CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE};
    for (int i = 0; i < 3; i++) {
        CK_OBJECT_HANDLE object;
        while ((object = find(t, classes[i], key_id, NULL, 0)) != CK_INVALID_HANDLE) {
            CK_RV rv = p11(t->f->C_DestroyObject(t->session, object));
            if (rv != CKR_OK) return tp_fail(error, "the token cannot remove the key: %s (0x%lx)", rv_name(rv), (unsigned long)rv);
        }
    }
    return 1;
}

int tp_token_probe_secret(tp_token *t, const uint8_t key_id[20], uint64_t *answer, tp_error *error) {
    *answer = 0;
    if (!t) return tp_fail(error, "no token session");
    CK_OBJECT_HANDLE key = find(t, CKO_PRIVATE_KEY, key_id, NULL, 0);
    if (key == CK_INVALID_HANDLE) return tp_fail(error, "no private key with that ID on the token");
    // The secret parts of an RSA or EC key; a sensitive key answers CKR_ATTRIBUTE_SENSITIVE.
    CK_ATTRIBUTE_TYPE types[] = {CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1};
    for (int i = 0; i < 3; i++) {
        unsigned char buffer[1024];
        CK_ATTRIBUTE a = {types[i], buffer, sizeof(buffer)};
        CK_RV rv = p11(t->f->C_GetAttributeValue(t->session, key, &a, 1));
        OPENSSL_cleanse(buffer, sizeof(buffer));
        if (rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION && a.ulValueLen > 0) { *answer = rv; return 1; }
        if (rv != CKR_ATTRIBUTE_TYPE_INVALID) *answer = rv;
    }
    return 0;
}

typedef struct { uint8_t *ids; int32_t count; } id_list;

static int append_id(tp_token *t, CK_OBJECT_HANDLE object, void *context) {
    id_list *list = context;
    unsigned char *id = NULL;
    CK_ULONG length = 0;
    if (!get_attribute(t, object, CKA_ID, &id, &length)) return 1;   // no ID: not one of ours
    if (length == 20) memcpy(list->ids + 20 * (size_t)list->count++, id, 20);
    free(id);
    return 1;
}

int tp_token_key_ids(tp_token *t, const char *label_prefix, uint8_t **ids, int32_t *count, tp_error *error) {
    *ids = NULL;
    *count = 0;
    if (!t || !label_prefix) return tp_fail(error, "no token session");
    // Room for every object each_labelled may visit: it reads at most TP_TOKEN_MAX_OBJECTS.
    id_list list = {malloc(20 * (size_t)TP_TOKEN_MAX_OBJECTS), 0};
    if (!list.ids) return tp_fail(error, "out of memory");
    if (!each_labelled(t, CKO_PRIVATE_KEY, label_prefix, append_id, &list, error)) { free(list.ids); return 0; }
    *ids = list.ids;
    *count = list.count;
    return 1;
}

/// The key pair `key_id`: its private and public key objects and its algorithm (RSA or EC); 0 and
/// *error set otherwise, TP_NO_KEY when there is no such pair.
static int find_pair(tp_token *t, const uint8_t key_id[20], CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub, int32_t *algorithm, tp_error *error) {
    if (!t) return tp_fail(error, "no token session");
    *priv = find(t, CKO_PRIVATE_KEY, key_id, NULL, 0);
    *pub = find(t, CKO_PUBLIC_KEY, key_id, NULL, 0);
    if (*priv == CK_INVALID_HANDLE || *pub == CK_INVALID_HANDLE) return tp_fail_as(error, TP_NO_KEY, "the token holds no key pair with this ID");
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &type, sizeof(type)};
    if (p11(t->f->C_GetAttributeValue(t->session, *priv, &a, 1)) != CKR_OK || (type != CKK_RSA && type != CKK_EC)) {
        return tp_fail(error, "the token's key is neither RSA nor EC");
    }
    *algorithm = type == CKK_EC ? TP_EC_P256 : TP_RSA_2048;
    return 1;
}

int tp_token_key_info(tp_token *t, const uint8_t key_id[20], char **label, uint8_t **subject, size_t *subject_length,
                      uint8_t public_key_id[20], int32_t *certified, tp_error *error) {
    *label = NULL;
    *subject = NULL;
    *subject_length = 0;
    *certified = 0;
    CK_OBJECT_HANDLE priv, pub;
    int32_t algorithm;
    if (!find_pair(t, key_id, &priv, &pub, &algorithm, error)) return 0;
    // Certified first: an installed key needs nothing more read.
    *certified = find(t, CKO_CERTIFICATE, key_id, NULL, 0) != CK_INVALID_HANDLE;
    unsigned char *text = NULL, *der = NULL;
    CK_ULONG text_length = 0, der_length = 0;
    if (!get_attribute(t, priv, CKA_LABEL, &text, &text_length)) return tp_fail(error, "the token's key has no label");
    *label = malloc(text_length + 1);
    if (*label) {
        memcpy(*label, text, text_length);
        (*label)[text_length] = 0;
    }
    free(text);
    if (!*label) return tp_fail(error, "out of memory");
    // The subject generate recorded; a key made by another program has none.
    if (get_attribute(t, priv, CKA_SUBJECT, &der, &der_length)) {
        *subject = der;
        *subject_length = der_length;
    }
    EVP_PKEY *pk = public_key(t, pub, algorithm);
    int ok = pk && tp_key_id_of(pk, public_key_id);
    EVP_PKEY_free(pk);
    if (!ok) {
        free(*label);
        free(*subject);
        *label = NULL;
        *subject = NULL;
        *subject_length = 0;
        return tp_fail(error, "cannot read the key pair's public key (not RSA or P-256)");
    }
    return 1;
}

int tp_token_request(tp_token *t, const uint8_t key_id[20], char **csr_pem, tp_error *error) {
    *csr_pem = NULL;
    CK_OBJECT_HANDLE priv, pub;
    int32_t algorithm;
    if (!find_pair(t, key_id, &priv, &pub, &algorithm, error)) return 0;
    // The subject generate recorded; a key made by another program has none, and gets an empty one.
    unsigned char *der = NULL;
    CK_ULONG der_length = 0;
    X509_NAME *name = NULL;
    if (get_attribute(t, priv, CKA_SUBJECT, &der, &der_length)) {
        const unsigned char *p = der;
        name = d2i_X509_NAME(NULL, &p, (long)der_length);
        free(der);
    } else name = X509_NAME_new();
    EVP_PKEY *pk = public_key(t, pub, algorithm);
    int ok = name && pk ? make_request(t, pk, priv, algorithm, name, csr_pem, error) : tp_fail(error, "cannot read the key pair's public key or subject");
    X509_NAME_free(name);
    EVP_PKEY_free(pk);
    return ok;
}
