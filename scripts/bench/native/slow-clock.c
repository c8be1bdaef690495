/*
 * slow-clock.so: an LD_PRELOAD library for bench:instructions that makes the monotonic clocks
 * of the process run DIEMCAU_CLOCK_SCALE times as fast as real time (e.g. 0.02: fifty times
 * slower). Under callgrind the mediasoup worker runs some fifty times slower than native, so on
 * its own clock a layer that gets a packet every tenth of a second would look silent for 1.5 s —
 * inactive to mediasoup — and the consumers would change layers mid-measurement. Slowing the
 * worker's clock to its pace keeps the fixed workload fixed on any machine and under any load.
 * Only the monotonic clocks (libuv's timers and mediasoup's time) are scaled; wall time, which
 * goes into sender reports as NTP time, is not.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static double scale = 1.0;
static int64_t origin[16];

__attribute__((constructor)) static void init(void)
{
	real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	const char *s = getenv("DIEMCAU_CLOCK_SCALE");
	if (s && atof(s) > 0)
		scale = atof(s);
}

int clock_gettime(clockid_t c, struct timespec *ts)
{
	if (!real_clock_gettime)
		init();
	int r = real_clock_gettime(c, ts);
	if (r != 0 || scale == 1.0 || c < 0 || c >= 16)
		return r;
	if (c != CLOCK_MONOTONIC && c != CLOCK_MONOTONIC_RAW && c != CLOCK_MONOTONIC_COARSE && c != CLOCK_BOOTTIME)
		return r;
	int64_t ns = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
	if (!origin[c])
		origin[c] = ns;
	ns = origin[c] + (int64_t)((double)(ns - origin[c]) * scale);
	ts->tv_sec = ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
	return 0;
}
