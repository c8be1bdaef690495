/* Small helpers shared by the bench's native programs (rtp-sink.c, rtp-gen.c). */
#ifndef DIEMCAU_BENCH_COMMON_H
#define DIEMCAU_BENCH_COMMON_H
#include <stdint.h>
#include <stdio.h>
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
#endif
