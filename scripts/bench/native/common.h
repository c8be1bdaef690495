/* Small helpers shared by the bench's native programs (rtp-sink.c, rtp-gen.c). */
#ifndef DIEMCAU_BENCH_COMMON_H
#define DIEMCAU_BENCH_COMMON_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline int64_t now_ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}
static inline uint32_t rd32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline void wr32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }

static inline double cpu_seconds(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static inline void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

/* Hex to bytes; returns the byte count or -1. */
static inline int hex_bytes(const char *h, uint8_t *out, int max)
{
	int n = 0;
	while (h[0] && h[1] && n < max) {
		unsigned v;
		if (sscanf(h, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

/*
 * The address the helpers bind to: DIEMCAU_BENCH_BIND_IP (bench:cascade's nodes are other hosts,
 * network namespaces that reach the root namespace at its bridge address), else loopback.
 * Returns 0, or -1 on an address that does not parse.
 */
static inline int bench_bind_addr(struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	const char *ip = getenv("DIEMCAU_BENCH_BIND_IP");
	if (!ip || !*ip) {
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

/*
 * A map from a UDP peer (IPv4 address and port) to an index, open addressing, fixed size: the
 * SFU's transports told apart by where they send from. With several media nodes (bench:cascade)
 * their ports overlap, so the port alone does not say which transport it is. An entry is never
 * removed, only set to -1 (a transport that is gone); a run makes a few thousand at most.
 */
#define ADDR_MAP_CAP (1u << 16)
typedef struct {
	uint64_t keys[ADDR_MAP_CAP]; /* 0: empty */
	int32_t vals[ADDR_MAP_CAP];
} addr_map_t;

static inline uint64_t addr_key(const struct sockaddr_in *a)
{
	return (((uint64_t)ntohl(a->sin_addr.s_addr) << 16) | ntohs(a->sin_port)) + 1;
}

static inline uint32_t addr_slot(uint64_t key) { return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 48) & (ADDR_MAP_CAP - 1); }

/* The index of a peer, or -1. */
static inline int32_t addr_map_get(const addr_map_t *m, uint64_t key)
{
	for (uint32_t i = addr_slot(key), n = 0; n < ADDR_MAP_CAP; i = (i + 1) & (ADDR_MAP_CAP - 1), n++) {
		if (m->keys[i] == key)
			return m->vals[i];
		if (!m->keys[i])
			return -1;
	}
	return -1;
}

/* Sets a peer's index (-1: forget it); returns -1 when the map is full. */
static inline int addr_map_set(addr_map_t *m, uint64_t key, int32_t val)
{
	for (uint32_t i = addr_slot(key), n = 0; n < ADDR_MAP_CAP; i = (i + 1) & (ADDR_MAP_CAP - 1), n++) {
		if (m->keys[i] == key || !m->keys[i]) {
			m->keys[i] = key;
			m->vals[i] = val;
			return 0;
		}
	}
	return -1;
}
#endif
