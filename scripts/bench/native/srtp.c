/* SRTP/SRTCP for the bench's native helper (see srtp.h). */
#include "srtp.h"
#include <string.h>
#include <openssl/hmac.h>


#define CM_TAG 10
#define GCM_TAG 16

static void ctr(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in, uint8_t *out, int len, EVP_CIPHER_CTX *c)
{
	int n = 0;
	EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv);
	EVP_EncryptUpdate(c, out, &n, in, len);
}

/* RFC 3711 §4.3.1 with kdr = 0: AES-CM over zeros, IV = (salt XOR label at byte 7) || 00 00. */
static void prf(const uint8_t key[16], const uint8_t salt[14], int label, uint8_t *out, int len, EVP_CIPHER_CTX *c)
{
	uint8_t iv[16] = { 0 }, zeros[32] = { 0 };
	memcpy(iv, salt, 14);
	iv[7] ^= (uint8_t)label;
	ctr(key, iv, zeros, out, len, c);
}

int srtp_init(srtp_t *s, const uint8_t *master, size_t len, int gcm)
{
	memset(s, 0, sizeof(*s));
	if (len != (gcm ? 28u : 30u))
		return -1;
	s->gcm = gcm;
	s->ctx = EVP_CIPHER_CTX_new();
	uint8_t salt[14] = { 0 };
	memcpy(salt, master + 16, len - 16); /* a GCM salt (12 bytes) is padded with zeros for the PRF */
	int salt_len = gcm ? 12 : 14;
	prf(master, salt, 0, s->key, 16, s->ctx);
	prf(master, salt, 1, s->auth, 20, s->ctx);
	prf(master, salt, 2, s->salt, salt_len, s->ctx);
	prf(master, salt, 3, s->rtcp_key, 16, s->ctx);
	prf(master, salt, 4, s->rtcp_auth, 20, s->ctx);
	prf(master, salt, 5, s->rtcp_salt, salt_len, s->ctx);
	return 0;
}

void srtp_free(srtp_t *s)
{
	if (s->ctx)
		EVP_CIPHER_CTX_free(s->ctx);
	s->ctx = NULL;
}

size_t rtp_header_length(const uint8_t *p, size_t len)
{
	if (len < 12)
		return 0;
	size_t hl = 12 + 4 * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (len < hl + 4)
			return 0;
		hl += 4 + 4 * (size_t)((p[hl + 2] << 8) | p[hl + 3]);
	}
	return hl <= len ? hl : 0;
}

static uint32_t rd32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static void wr32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/* RFC 7714 IV: 00 00 || SSRC || (ROC || SEQ) or (00 00 || index), XOR the 12-byte salt. */
static void gcm_iv(const uint8_t salt[14], uint32_t ssrc, uint32_t hi, uint32_t lo, int rtcp, uint8_t iv[12])
{
	memset(iv, 0, 12);
	wr32(iv + 2, ssrc);
	if (!rtcp) {
		wr32(iv + 6, hi);
		iv[10] = lo >> 8;
		iv[11] = lo;
	} else {
		wr32(iv + 8, lo);
	}
	for (int i = 0; i < 12; i++)
		iv[i] ^= salt[i];
}

/* RFC 3711 counter IV: salt XOR (SSRC << 64) XOR (index << 16). */
static void cm_iv(const uint8_t salt[14], uint32_t ssrc, uint64_t index, uint8_t iv[16])
{
	memset(iv, 0, 16);
	memcpy(iv, salt, 14);
	iv[4] ^= ssrc >> 24; iv[5] ^= ssrc >> 16; iv[6] ^= ssrc >> 8; iv[7] ^= ssrc;
	for (int i = 0; i < 6; i++)
		iv[8 + i] ^= (uint8_t)(index >> (8 * (5 - i)));
}

static int gcm(EVP_CIPHER_CTX *c, int enc, const uint8_t key[16], const uint8_t iv[12], const uint8_t *aad, int aad_len, const uint8_t *in, int len, uint8_t *out, uint8_t *tag)
{
	int n = 0;
	EVP_CipherInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL, enc);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL);
	EVP_CipherInit_ex(c, NULL, NULL, key, iv, enc);
	EVP_CipherUpdate(c, NULL, &n, aad, aad_len);
	EVP_CipherUpdate(c, out, &n, in, len);
	if (enc) {
		EVP_CipherFinal_ex(c, out + n, &n);
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag);
		return 1;
	}
	if (!tag)
		return 1;
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag);
	return EVP_CipherFinal_ex(c, out + n, &n) > 0;
}

size_t srtp_protect_rtp(srtp_t *s, const uint8_t *in, size_t len, uint32_t roc, uint8_t *out)
{
	size_t hl = rtp_header_length(in, len);
	if (!hl)
		return 0;
	uint32_t ssrc = rd32(in + 8);
	uint32_t seq = (in[2] << 8) | in[3];
	if (out != in)
		memcpy(out, in, hl);
	if (s->gcm) {
		uint8_t iv[12];
		gcm_iv(s->salt, ssrc, roc, seq, 0, iv);
		gcm(s->ctx, 1, s->key, iv, in, (int)hl, in + hl, (int)(len - hl), out + hl, out + len);
		return len + GCM_TAG;
	}
	uint8_t iv[16], md[20];
	unsigned int mdlen = 0;
	cm_iv(s->salt, ssrc, ((uint64_t)roc << 16) | seq, iv);
	ctr(s->key, iv, in + hl, out + hl, (int)(len - hl), s->ctx);
	/* the tag covers the packet and the ROC: the ROC sits where the tag goes, then the tag replaces it */
	wr32(out + len, roc);
	HMAC(EVP_sha1(), s->auth, 20, out, len + 4, md, &mdlen);
	memcpy(out + len, md, CM_TAG);
	return len + CM_TAG;
}

size_t srtp_unprotect_rtp(srtp_t *s, const uint8_t *in, size_t len, uint32_t roc, uint8_t *out)
{
	size_t tag = s->gcm ? GCM_TAG : CM_TAG;
	size_t hl = rtp_header_length(in, len);
	if (!hl || len < hl + tag)
		return 0;
	uint32_t ssrc = rd32(in + 8);
	uint32_t seq = (in[2] << 8) | in[3];
	size_t body = len - tag - hl;
	memcpy(out, in, hl);
	if (s->gcm) {
		uint8_t iv[12];
		gcm_iv(s->salt, ssrc, roc, seq, 0, iv);
		gcm(s->ctx, 0, s->key, iv, in, (int)hl, in + hl, (int)body, out + hl, NULL);
	} else {
		uint8_t iv[16];
		cm_iv(s->salt, ssrc, ((uint64_t)roc << 16) | seq, iv);
		ctr(s->key, iv, in + hl, out + hl, (int)body, s->ctx);
	}
	return hl + body;
}

size_t srtp_protect_rtcp(srtp_t *s, const uint8_t *in, size_t len, uint8_t *out)
{
	if (len < 8)
		return 0;
	uint32_t ssrc = rd32(in + 4);
	uint32_t index = s->rtcp_index;
	s->rtcp_index = (s->rtcp_index + 1) & 0x7fffffff;
	uint8_t word[4];
	wr32(word, 0x80000000u | index);
	memcpy(out, in, 8);
	if (s->gcm) {
		uint8_t iv[12], aad[12];
		gcm_iv(s->rtcp_salt, ssrc, 0, index, 1, iv);
		memcpy(aad, in, 8);
		memcpy(aad + 8, word, 4);
		gcm(s->ctx, 1, s->rtcp_key, iv, aad, 12, in + 8, (int)(len - 8), out + 8, out + len);
		memcpy(out + len + GCM_TAG, word, 4);
		return len + GCM_TAG + 4;
	}
	uint8_t iv[16], md[20];
	unsigned int mdlen = 0;
	cm_iv(s->rtcp_salt, ssrc, index, iv);
	ctr(s->rtcp_key, iv, in + 8, out + 8, (int)(len - 8), s->ctx);
	memcpy(out + len, word, 4);
	HMAC(EVP_sha1(), s->rtcp_auth, 20, out, len + 4, md, &mdlen);
	memcpy(out + len + 4, md, CM_TAG);
	return len + 4 + CM_TAG;
}

size_t srtp_unprotect_rtcp(srtp_t *s, const uint8_t *in, size_t len, uint8_t *out)
{
	if (s->gcm) {
		if (len < 8 + GCM_TAG + 4)
			return 0;
		const uint8_t *word = in + len - 4;
		uint32_t index = rd32(word) & 0x7fffffff;
		size_t tag_at = len - 4 - GCM_TAG;
		memcpy(out, in, 8);
		if (!(word[0] & 0x80)) {
			memcpy(out + 8, in + 8, tag_at - 8);
			return tag_at;
		}
		uint8_t iv[12], aad[12], tag[GCM_TAG];
		gcm_iv(s->rtcp_salt, rd32(in + 4), 0, index, 1, iv);
		memcpy(aad, in, 8);
		memcpy(aad + 8, word, 4);
		memcpy(tag, in + tag_at, GCM_TAG);
		if (!gcm(s->ctx, 0, s->rtcp_key, iv, aad, 12, in + 8, (int)(tag_at - 8), out + 8, tag))
			return 0;
		return tag_at;
	}
	if (len < 8 + 4 + CM_TAG)
		return 0;
	size_t end = len - CM_TAG - 4;
	uint8_t md[20];
	unsigned int mdlen = 0;
	HMAC(EVP_sha1(), s->rtcp_auth, 20, in, end + 4, md, &mdlen);
	if (memcmp(md, in + end + 4, CM_TAG) != 0)
		return 0;
	uint32_t word = rd32(in + end);
	memcpy(out, in, 8);
	if (word & 0x80000000u) {
		uint8_t iv[16];
		cm_iv(s->rtcp_salt, rd32(in + 4), word & 0x7fffffff, iv);
		ctr(s->rtcp_key, iv, in + 8, out + 8, (int)(end - 8), s->ctx);
	} else {
		memcpy(out + 8, in + 8, end - 8);
	}
	return end;
}
