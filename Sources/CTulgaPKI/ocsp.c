// OCSP (RFC 6960) for CTulgaPKI.h: parse a request, answer it with the caller's statuses.
#include "CTulgaPKI.h"
#include "shared.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// The whole input must be one OCSPRequest: no trailing bytes.
static OCSP_REQUEST *ocsp_read(const uint8_t *der, size_t length, tp_error *error) {
    if (!der || length == 0) { tp_fail(error, "an empty OCSP request"); return NULL; }
    if (length > 1024 * 1024) { tp_fail(error, "an OCSP request over 1 MiB"); return NULL; }
    const unsigned char *p = der;
    OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)length);
    if (!req) { tp_fail(error, "not a DER OCSP request"); return NULL; }
    if ((size_t)(p - der) != length) {
        OCSP_REQUEST_free(req);
        tp_fail(error, "trailing bytes after the OCSP request");
        return NULL;
    }
    return req;
}

int tp_ocsp_parse(const uint8_t *der, size_t length, const char *issuer_cert_pem, tp_ocsp_query *queries, int32_t max_queries,
                  int32_t *count, tp_error *error) {
    *count = 0;
    OCSP_REQUEST *req = ocsp_read(der, length, error);
    if (!req) return 0;
    int n = OCSP_request_onereq_count(req);
    if (n <= 0) { OCSP_REQUEST_free(req); return tp_fail(error, "the OCSP request asks about no certificate"); }
    if (n > max_queries) { OCSP_REQUEST_free(req); return tp_fail(error, "the OCSP request asks about %d certificates; at most %d", n, max_queries); }
    X509 *issuer = tp_read_cert(issuer_cert_pem);
    if (!issuer) { OCSP_REQUEST_free(req); return tp_fail(error, "cannot read the issuer certificate"); }
    int ok = 1;
    for (int i = 0; ok && i < n; i++) {
        OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
        ASN1_OBJECT *md_obj = NULL;
        ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
        ASN1_INTEGER *serial = NULL;
        if (!id || !OCSP_id_get0_info(&name_hash, &md_obj, &key_hash, &serial, id) || !serial) { ok = tp_fail(error, "a bad CertID"); break; }
        BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        BN_free(bn);
        if (!hex || strlen(hex) >= sizeof(queries[i].serial_hex)) { OPENSSL_free(hex); ok = tp_fail(error, "a serial too long"); break; }
        memset(queries[i].serial_hex, 0, sizeof(queries[i].serial_hex));
        strcpy(queries[i].serial_hex, hex);
        OPENSSL_free(hex);
        // Ours when a CertID made with the request's own hash over our issuer matches.
        queries[i].ours = 0;
        const EVP_MD *md = EVP_get_digestbyobj(md_obj);
        if (md) {
            OCSP_CERTID *mine = OCSP_cert_id_new(md, X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer), serial);
            if (mine && OCSP_id_issuer_cmp(mine, id) == 0) queries[i].ours = 1;
            OCSP_CERTID_free(mine);
        }
        ERR_clear_error();
    }
    X509_free(issuer);
    OCSP_REQUEST_free(req);
    if (ok) *count = n;
    return ok;
}

int tp_ocsp_respond(const uint8_t *der, size_t length, const char *responder_cert_pem, const char *responder_key_pem, const char *key_password,
                    const tp_ocsp_status *statuses, int32_t count, int64_t this_update, int64_t next_update,
                    uint8_t **response, size_t *response_length, tp_error *error) {
    *response = NULL;
    *response_length = 0;
    OCSP_REQUEST *req = ocsp_read(der, length, error);
    if (!req) return 0;
    if (OCSP_request_onereq_count(req) != count) { OCSP_REQUEST_free(req); return tp_fail(error, "one status per request entry is needed"); }
    X509 *signer = tp_read_cert(responder_cert_pem);
    BIO *bio = BIO_new_mem_buf(responder_key_pem ? responder_key_pem : "", -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)(key_password ? key_password : "")) : NULL;
    BIO_free(bio);
    OCSP_BASICRESP *basic = OCSP_BASICRESP_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_update), *t2 = ASN1_TIME_set(NULL, (time_t)next_update);
    int ok = signer && key && basic && t1 && t2;
    if (!ok) tp_fail(error, signer && key ? "out of memory" : "cannot read the responder's certificate or key");
    for (int32_t i = 0; ok && i < count; i++) {
        OCSP_CERTID *id = OCSP_CERTID_dup(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i)));
        ASN1_TIME *revoked_at = NULL;
        int status = statuses[i].status == 0 ? V_OCSP_CERTSTATUS_GOOD : statuses[i].status == 1 ? V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_UNKNOWN;
        if (status == V_OCSP_CERTSTATUS_REVOKED) revoked_at = ASN1_TIME_set(NULL, (time_t)statuses[i].revoked_at);
        ok = id && (status != V_OCSP_CERTSTATUS_REVOKED || revoked_at) &&
             OCSP_basic_add1_status(basic, id, status, status == V_OCSP_CERTSTATUS_REVOKED ? statuses[i].reason : 0, revoked_at, t1, t2) != NULL;
        if (!ok) tp_fail(error, "cannot add status %d", i);
        OCSP_CERTID_free(id);
        ASN1_TIME_free(revoked_at);
    }
    OCSP_RESPONSE *resp = NULL;
    if (ok) {
        OCSP_copy_nonce(basic, req);   // 2 (no nonce in the request) is fine
        ok = OCSP_basic_sign(basic, signer, key, EVP_sha256(), NULL, OCSP_RESPID_KEY) == 1 &&
             (resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic)) != NULL;
        if (!ok) tp_fail(error, "cannot sign the OCSP response");
    }
    if (ok) {
        unsigned char *buf = NULL;
        int n = i2d_OCSP_RESPONSE(resp, &buf);
        if (n > 0 && (*response = malloc((size_t)n)) != NULL) {
            memcpy(*response, buf, (size_t)n);
            *response_length = (size_t)n;
        } else ok = tp_fail(error, "cannot encode the OCSP response");
        OPENSSL_free(buf);
    }
    OCSP_RESPONSE_free(resp);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    OCSP_BASICRESP_free(basic);
    EVP_PKEY_free(key);
    X509_free(signer);
    OCSP_REQUEST_free(req);
    return ok;
}

int tp_ocsp_error_response(int32_t status, uint8_t **response, size_t *response_length, tp_error *error) {
    *response = NULL;
    *response_length = 0;
    if (status != 1 && status != 2 && status != 3 && status != 6) return tp_fail(error, "not an OCSP error status: %d", status);
    OCSP_RESPONSE *resp = OCSP_response_create(status, NULL);
    unsigned char *buf = NULL;
    int n = resp ? i2d_OCSP_RESPONSE(resp, &buf) : 0;
    int ok = n > 0 && (*response = malloc((size_t)n)) != NULL;
    if (ok) {
        memcpy(*response, buf, (size_t)n);
        *response_length = (size_t)n;
    }
    OPENSSL_free(buf);
    OCSP_RESPONSE_free(resp);
    return ok ? 1 : tp_fail(error, "cannot encode the OCSP error");
}
