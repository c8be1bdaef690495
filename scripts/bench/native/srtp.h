/*
 * SRTP/SRTCP for the bench's native helper: AEAD_AES_128_GCM (RFC 7714) and
 * AES_CM_128_HMAC_SHA1_80 (RFC 3711), with OpenSSL's libcrypto, the same cipher code the
 * mediasoup worker's libsrtp uses here. Mirrors scripts/bench/fanout/srtp.ts (the reference,
 * unit-tested against libsrtp through the worker).
 */
#ifndef DIEMCAU_BENCH_SRTP_H
#define DIEMCAU_BENCH_SRTP_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

typedef struct {
	int gcm;
	uint8_t key[16], salt[14], auth[20];
	uint8_t rtcp_key[16], rtcp_salt[14], rtcp_auth[20];
	uint32_t rtcp_index;
	EVP_CIPHER_CTX *ctx;
} srtp_t;

/* master: 28 bytes (GCM) or 30 (CM). Returns 0, or -1 on a bad length. */
int srtp_init(srtp_t *s, const uint8_t *master, size_t len, int gcm);
void srtp_free(srtp_t *s);
/* Encrypts RTP in place into out (room for len + 16); returns the new length. */
size_t srtp_protect_rtp(srtp_t *s, const uint8_t *in, size_t len, uint32_t roc, uint8_t *out);
/* Decrypts an SRTP packet's payload into out (no tag check); returns the plain length or 0. */
size_t srtp_unprotect_rtp(srtp_t *s, const uint8_t *in, size_t len, uint32_t roc, uint8_t *out);
/* Protects a compound RTCP packet into out (room for len + 30); returns the new length. */
size_t srtp_protect_rtcp(srtp_t *s, const uint8_t *in, size_t len, uint8_t *out);
/* Unprotects an SRTCP packet (tag checked); returns the plain length or 0. */
size_t srtp_unprotect_rtcp(srtp_t *s, const uint8_t *in, size_t len, uint8_t *out);
size_t rtp_header_length(const uint8_t *p, size_t len);

#endif
