/*
 * rtp-sink: the receiving side of bench:fanout and bench:switch, in C, because Node's cost per
 * datagram (one recvmsg, one JS callback and one Buffer per packet) made the harness the
 * bottleneck of the 212-bridge meeting on a slow core (docs/benchmarks.md, "Valid or nothing").
 *
 * One UDP socket per receiving peer (the far end of an SRTP plain transport of the SFU), all in
 * one epoll loop, read with recvmmsg in batches. Per packet it reads the clear RTP header only:
 * SSRC, sequence number, payload type, marker. It counts packets and losses per stream, sends a
 * receiver report every second (with LSR/DLSR from the SFU's sender reports, so the SFU computes
 * RTT) and a generic NACK for every gap of a video stream, both as SRTCP, as browsers do.
 * It decrypts only: RTCP from the SFU (sender reports, about one a second per stream), the
 * stamped last packet of a frame on probe receivers (the trailer with the generator's send time,
 * see scripts/bench/fanout/rtp.ts), and the first packet of a stream (or after a silence), to
 * tell whether a switch's first video packet starts a keyframe.
 *
 * Its own headroom, so that a run in which it did not keep up is refused:
 *  - drops at its sockets: SO_RXQ_OVFL (the kernel's count of datagrams dropped on a full
 *    receive queue, per socket), summed over its sockets;
 *  - read delay: SO_TIMESTAMPNS (kernel receive time) against the time it read the packet.
 *
 * Commands arrive on stdin, one per line, `<request id> <command> [args]`; each is answered on
 * stdout with one line of JSON carrying the same id:
 *   bind <name> <group> <probe 0|1>          -> {"id":1,"port":40000}
 *   key <name> <gcm|cm> <our master key hex> <the SFU's master key hex> <sfu ip> <sfu port>
 *   videopts <pt,pt,...>                     payload types that are video (NACKed, keyframes)
 *   decryptall <0|1>                         decrypt every RTP packet (to measure what it costs)
 *   start | mark | report | events <since ms, CLOCK_REALTIME> | received <ssrc,ssrc,...> | stop
 *   watch                                    from now, note each receiver's first video packet
 *                                            of a stream it never had before (a new speaker, a
 *                                            hall back after a failover: new consumers)
 *   arrivals                                 -> {"id":1,"arrivals":{"<name>":<ms>|null,...}}: per
 *                                            receiver, the kernel receive time (CLOCK_REALTIME
 *                                            ms) of that packet since the last watch
 * A receiver keyed again has moved to another SFU transport (bench:cascade: its node was lost):
 * the new keys and address replace the old, whose packets are no longer its own.
 * It binds to DIEMCAU_BENCH_BIND_IP, or loopback.
 * Usage: rtp-sink            (the sink, driven by scripts/bench/fanout/native-sink.ts)
 *        rtp-sink blast <pps> <seconds> <payload bytes> <gcm 0|1> <port>...   (bench:datagram)
 *
 * One file of about 800 lines: the loop, the RTCP it must send and the headroom it measures
 * belong together; the SRTP is in srtp.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "common.h"
#include "srtp.h"

#define BATCH 64
#define BUF 4096
#define MAX_RECEIVERS 4096
#define EVENTS 65536
#define LAT_MAX (1 << 20)
/* read-delay histogram: 10 µs buckets up to 1 s */
#define HBUCKET_NS 10000
#define HBUCKETS 100000
/* a stream silent this long and heard again is reported like a new one (a resumed consumer) */
#define SILENCE_NS 200000000LL
#define TRAILER_MAGIC 0x44434231u
#define TRAILER_LEN 16

typedef struct {
	uint32_t ssrc;
	uint8_t used, video;
	uint16_t highest;
	int64_t cycles, first_ext, win_base_ext;
	uint64_t win_received, win_octets, received;
	int64_t last_rr_expected;
	uint64_t last_rr_received;
	uint32_t lsr;
	int64_t lsr_at_ms, last_rx_ns;
	uint32_t watch_gen; /* the watch that found this stream already there (0: none) */
} stream_t;

typedef struct {
	char name[96], group[32];
	int index, probe, sock, keyed;
	int64_t first_new_ns; /* since the last watch: the first video packet of a new stream (0: none yet) */
	uint32_t ssrc;
	srtp_t tx, rx;
	struct sockaddr_in sfu;
	stream_t *tab;
	int cap, n;
} receiver_t;

/*
 * A socket: either one receiver's own (probes: the wire capture filters on its port), or shared
 * by many receivers, told apart by the source address and port (each SFU transport sends from
 * its own port, and with several media nodes ports repeat across nodes; every transport is
 * connected to the shared port, and our RTCP to it leaves from there too, so mediasoup's check
 * of the remote tuple holds). Sharing lets recvmmsg read in batches.
 */
typedef struct {
	int fd, port, owner; /* owner: the receiver of a dedicated socket, or -1 */
	uint32_t ovfl_seen, ovfl_mark;
} sock_t;

typedef struct {
	int rid;
	uint32_t ssrc;
	int64_t t_ns;
	uint8_t pt;
	int8_t key;
} event_t;

static receiver_t *receivers[MAX_RECEIVERS];
static int nreceivers;
static sock_t socks[MAX_RECEIVERS];
static int nsocks, shared_count = 4, next_shared, shared_base = -1;
static uint64_t unmapped;
/* shared sockets: receiver index by the SFU transport's address and port */
static addr_map_t by_src;
static uint32_t watch_gen;
static uint8_t video_pt[128];
static int decrypt_all;
static event_t events[EVENTS];
static uint64_t nevents;
static int32_t *latency_us;
static int nlatency;
static uint32_t hist[HBUCKETS + 1];
static int64_t delay_max_ns;
static uint64_t nacks_sent, packets_total, batches_total, rtcp_sent, send_errors;
static int64_t window_start_ns;
static int epfd;

static stream_t *find_stream(receiver_t *r, uint32_t ssrc, int create)
{
	if (r->cap == 0 || (create && r->n * 2 >= r->cap)) {
		int cap = r->cap ? r->cap * 2 : 16;
		stream_t *old = r->tab;
		int oldcap = r->cap;
		r->tab = calloc(cap, sizeof(stream_t));
		r->cap = cap;
		r->n = 0;
		for (int i = 0; i < oldcap; i++) {
			if (!old[i].used)
				continue;
			uint32_t h = (old[i].ssrc * 2654435761u) & (cap - 1);
			while (r->tab[h].used)
				h = (h + 1) & (cap - 1);
			r->tab[h] = old[i];
			r->n++;
		}
		free(old);
	}
	uint32_t h = (ssrc * 2654435761u) & (r->cap - 1);
	while (r->tab[h].used) {
		if (r->tab[h].ssrc == ssrc)
			return &r->tab[h];
		h = (h + 1) & (r->cap - 1);
	}
	if (!create)
		return NULL;
	r->tab[h].used = 1;
	r->tab[h].ssrc = ssrc;
	r->n++;
	return &r->tab[h];
}

/* The rollover counter of a packet with this sequence number, from the stream's highest. */
static uint32_t roc_of(const stream_t *s, uint16_t seq)
{
	int64_t roc = s->cycles >> 16;
	uint16_t back = (uint16_t)(s->highest - seq);
	if (back < 0x8000 && seq > s->highest)
		roc--; /* a late packet from before the last wrap */
	return roc < 0 ? 0 : (uint32_t)roc;
}

static void send_rtcp(receiver_t *r, const uint8_t *plain, size_t len)
{
	if (!r->keyed)
		return;
	uint8_t out[BUF + 64];
	size_t n = srtp_protect_rtcp(&r->tx, plain, len, out);
	if (sendto(socks[r->sock].fd, out, n, MSG_DONTWAIT, (struct sockaddr *)&r->sfu, sizeof(r->sfu)) < 0)
		send_errors++;
	else
		rtcp_sent++;
}

/* An empty receiver report followed by a generic NACK (RFC 4585) for seqs first..first+count-1. */
static void send_nack(receiver_t *r, uint32_t media_ssrc, uint16_t first, int count)
{
	uint8_t b[8 + 12 + 4 * 64];
	b[0] = 0x80;
	b[1] = 201;
	wr16(b + 2, 1);
	wr32(b + 4, r->ssrc);
	uint8_t *n = b + 8;
	int fci = 0;
	for (int k = 0; k < count; k += 17) {
		uint16_t blp = 0;
		for (int j = 1; j <= 16 && k + j < count; j++)
			blp |= (uint16_t)(1u << (j - 1));
		wr16(n + 12 + 4 * fci, (uint16_t)(first + k));
		wr16(n + 14 + 4 * fci, blp);
		fci++;
	}
	n[0] = 0x80 | 1;
	n[1] = 205;
	wr16(n + 2, (uint16_t)(2 + fci));
	wr32(n + 4, r->ssrc);
	wr32(n + 8, media_ssrc);
	send_rtcp(r, b, 8 + 12 + 4 * fci);
	nacks_sent++;
}

/* 1 if an RTP packet (decrypted) starts a VP8 keyframe, 0 if not, -1 if unknown. */
static int vp8_keyframe(const uint8_t *p, size_t len)
{
	size_t hl = rtp_header_length(p, len);
	if (!hl || len < hl + 2)
		return -1;
	const uint8_t *d = p + hl, *end = p + len;
	int s = d[0] & 0x10, pid = d[0] & 0x07;
	size_t at = 1;
	if (d[0] & 0x80) {
		uint8_t x = d[1];
		at = 2;
		if (x & 0x80)
			at += (d + at < end && (d[at] & 0x80)) ? 2 : 1;
		if (x & 0x40)
			at++;
		if (x & 0x30)
			at++;
	}
	if (d + at >= end)
		return -1;
	return (s && pid == 0 && !(d[at] & 0x01)) ? 1 : 0;
}

static void add_event(int rid, receiver_t *r, stream_t *s, const uint8_t *p, size_t len, int64_t rx_ns)
{
	int8_t key = -1;
	if (s->video && r->keyed) {
		uint8_t plain[BUF];
		size_t n = srtp_unprotect_rtp(&r->rx, p, len, roc_of(s, rd16(p + 2)), plain);
		if (n)
			key = (int8_t)vp8_keyframe(plain, n);
	}
	event_t *e = &events[nevents % EVENTS];
	e->rid = rid;
	e->ssrc = s->ssrc;
	e->t_ns = rx_ns;
	e->pt = p[1] & 0x7f;
	e->key = key;
	nevents++;
}

static void on_rtp(int rid, receiver_t *r, const uint8_t *p, size_t len, int64_t rx_ns)
{
	if (len < 12)
		return;
	uint32_t ssrc = rd32(p + 8);
	uint16_t seq = rd16(p + 2);
	stream_t *s = find_stream(r, ssrc, 0);
	if (!s) {
		s = find_stream(r, ssrc, 1);
		s->video = video_pt[p[1] & 0x7f];
		s->highest = seq;
		s->first_ext = seq;
		s->win_base_ext = seq;
		add_event(rid, r, s, p, len, rx_ns);
	} else {
		if (rx_ns - s->last_rx_ns > SILENCE_NS)
			add_event(rid, r, s, p, len, rx_ns);
		uint16_t delta = (uint16_t)(seq - s->highest);
		if (delta > 0 && delta < 0x8000) {
			if (seq < s->highest)
				s->cycles += 0x10000;
			if (delta > 1 && delta <= 64 && s->video)
				send_nack(r, ssrc, (uint16_t)(s->highest + 1), delta - 1);
			s->highest = seq;
		}
	}
	if (watch_gen && s->video && s->watch_gen != watch_gen && !r->first_new_ns)
		r->first_new_ns = rx_ns;
	s->received++;
	s->win_received++;
	s->win_octets += len;
	s->last_rx_ns = rx_ns;
	int stamped = r->probe && (p[1] & 0x80) && s->video;
	if (r->keyed && (stamped || decrypt_all)) {
		uint8_t plain[BUF];
		size_t n = srtp_unprotect_rtp(&r->rx, p, len, roc_of(s, seq), plain);
		if (stamped && n >= 12 + TRAILER_LEN && rd32(plain + n - TRAILER_LEN) == TRAILER_MAGIC && nlatency < LAT_MAX) {
			uint64_t sent = ((uint64_t)rd32(plain + n - 8) << 32) | rd32(plain + n - 4);
			latency_us[nlatency++] = (int32_t)((now_ns(CLOCK_MONOTONIC) - (int64_t)sent) / 1000);
		}
	}
}

static void on_rtcp(receiver_t *r, const uint8_t *p, size_t len)
{
	if (!r->keyed)
		return;
	uint8_t plain[BUF];
	size_t n = srtp_unprotect_rtcp(&r->rx, p, len, plain);
	for (size_t at = 0; at + 4 <= n;) {
		size_t plen = ((size_t)rd16(plain + at + 2) + 1) * 4;
		if (at + plen > n)
			break;
		if (plain[at + 1] == 200 && plen >= 28) {
			stream_t *s = find_stream(r, rd32(plain + at + 4), 0);
			if (s) {
				s->lsr = rd32(plain + at + 10);
				s->lsr_at_ms = now_ns(CLOCK_MONOTONIC) / 1000000;
			}
		}
		at += plen;
	}
}

static void drain(int si)
{
	sock_t *so = &socks[si];
	static struct sockaddr_in from[BATCH];
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t bufs[BATCH][BUF];
	static uint8_t ctl[BATCH][64];
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = BUF;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctl[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		int k = recvmmsg(so->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (k <= 0)
			return;
		int64_t now = now_ns(CLOCK_REALTIME);
		batches_total++;
		for (int i = 0; i < k; i++) {
			int64_t rx_ns = now;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
				if (c->cmsg_level != SOL_SOCKET)
					continue;
				if (c->cmsg_type == SO_TIMESTAMPNS) {
					struct timespec t;
					memcpy(&t, CMSG_DATA(c), sizeof(t));
					rx_ns = (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
				} else if (c->cmsg_type == SO_RXQ_OVFL) {
					uint32_t d;
					memcpy(&d, CMSG_DATA(c), 4);
					if (d > so->ovfl_seen)
						so->ovfl_seen = d;
				}
			}
			int64_t delay = now - rx_ns;
			if (delay < 0)
				delay = 0;
			if (delay > delay_max_ns)
				delay_max_ns = delay;
			int64_t b = delay / HBUCKET_NS;
			hist[b < HBUCKETS ? b : HBUCKETS]++;
			packets_total++;
			int rid = so->owner >= 0 ? so->owner : addr_map_get(&by_src, addr_key(&from[i]));
			if (rid < 0) {
				unmapped++; /* a transport whose keys have not come yet */
				continue;
			}
			receiver_t *r = receivers[rid];
			const uint8_t *p = bufs[i];
			size_t len = msgs[i].msg_len;
			if (len >= 8 && p[1] >= 192 && p[1] <= 223)
				on_rtcp(r, p, len);
			else
				on_rtp(rid, r, p, len, rx_ns);
		}
		if (k < BATCH)
			return;
	}
}

/* Receiver reports: up to 31 blocks per RR, one SRTCP packet each. */
static void send_reports(void)
{
	int64_t now_ms = now_ns(CLOCK_MONOTONIC) / 1000000;
	uint8_t b[8 + 24 * 31];
	for (int i = 0; i < nreceivers; i++) {
		receiver_t *r = receivers[i];
		if (!r->keyed)
			continue;
		int nb = 0;
		for (int j = 0; j < r->cap; j++) {
			stream_t *s = &r->tab[j];
			if (!s->used)
				continue;
			int64_t ext = s->cycles + s->highest;
			int64_t expected = ext - s->first_ext + 1;
			int64_t exp_int = expected - s->last_rr_expected;
			int64_t rec_int = (int64_t)(s->received - s->last_rr_received);
			int64_t lost_int = exp_int - rec_int > 0 ? exp_int - rec_int : 0;
			int64_t cum = expected - (int64_t)s->received;
			s->last_rr_expected = expected;
			s->last_rr_received = s->received;
			uint8_t *k = b + 8 + 24 * nb;
			wr32(k, s->ssrc);
			k[4] = exp_int > 0 ? (uint8_t)(lost_int * 256 / exp_int > 255 ? 255 : lost_int * 256 / exp_int) : 0;
			if (cum < 0)
				cum = 0;
			if (cum > 0x7fffff)
				cum = 0x7fffff;
			k[5] = cum >> 16;
			k[6] = cum >> 8;
			k[7] = cum;
			wr32(k + 8, (uint32_t)ext);
			wr32(k + 12, 0);
			wr32(k + 16, s->lsr);
			wr32(k + 20, s->lsr_at_ms ? (uint32_t)((now_ms - s->lsr_at_ms) * 65536 / 1000) : 0);
			if (++nb == 31) {
				b[0] = 0x80 | nb; b[1] = 201; wr16(b + 2, (uint16_t)((8 + 24 * nb) / 4 - 1)); wr32(b + 4, r->ssrc);
				send_rtcp(r, b, 8 + 24 * nb);
				nb = 0;
			}
		}
		if (nb) {
			b[0] = 0x80 | nb; b[1] = 201; wr16(b + 2, (uint16_t)((8 + 24 * nb) / 4 - 1)); wr32(b + 4, r->ssrc);
			send_rtcp(r, b, 8 + 24 * nb);
		}
	}
}

static receiver_t *by_name(const char *name)
{
	for (int i = 0; i < nreceivers; i++)
		if (strcmp(receivers[i]->name, name) == 0)
			return receivers[i];
	return NULL;
}

static int64_t hist_percentile(double p, uint64_t total)
{
	if (!total)
		return 0;
	uint64_t want = (uint64_t)(p / 100.0 * total + 0.999999), seen = 0;
	for (int i = 0; i <= HBUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return (int64_t)(i + 1) * HBUCKET_NS;
	}
	return delay_max_ns;
}

static void mark(void)
{
	window_start_ns = now_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < nsocks; i++)
		socks[i].ovfl_mark = socks[i].ovfl_seen;
	nlatency = 0;
	memset(hist, 0, sizeof(hist));
	delay_max_ns = 0;
	for (int i = 0; i < nreceivers; i++) {
		receiver_t *r = receivers[i];
		for (int j = 0; j < r->cap; j++) {
			stream_t *s = &r->tab[j];
			if (!s->used)
				continue;
			s->win_base_ext = s->cycles + s->highest + 1;
			s->win_received = 0;
			s->win_octets = 0;
		}
	}
}

static void report(long id)
{
	const char *groups[64];
	int ng = 0;
	for (int i = 0; i < nreceivers; i++) {
		int seen = 0;
		for (int g = 0; g < ng; g++)
			seen |= strcmp(groups[g], receivers[i]->group) == 0;
		if (!seen && ng < 64)
			groups[ng++] = receivers[i]->group;
	}
	uint64_t drops = 0, total = 0;
	for (int i = 0; i <= HBUCKETS; i++)
		total += hist[i];
	printf("{\"id\":%ld,\"seconds\":%.3f,\"groups\":{", id, (now_ns(CLOCK_MONOTONIC) - window_start_ns) / 1e9);
	for (int g = 0; g < ng; g++) {
		uint64_t recv = 0, packets = 0, octets = 0;
		int64_t expected = 0, lost = 0;
		for (int i = 0; i < nreceivers; i++) {
			receiver_t *r = receivers[i];
			if (strcmp(r->group, groups[g]) != 0)
				continue;
			recv++;
			for (int j = 0; j < r->cap; j++) {
				stream_t *s = &r->tab[j];
				if (!s->used)
					continue;
				int64_t base = s->win_base_ext > s->first_ext ? s->win_base_ext : s->first_ext;
				int64_t exp = s->cycles + s->highest - base + 1;
				if (exp < 0)
					exp = 0;
				packets += s->win_received;
				octets += s->win_octets;
				expected += exp > (int64_t)s->win_received ? exp : (int64_t)s->win_received;
				lost += exp - (int64_t)s->win_received > 0 ? exp - (int64_t)s->win_received : 0;
			}
		}
		printf("%s", g ? "," : "");
		json_str(groups[g]);
		printf(":{\"receivers\":%lu,\"packets\":%lu,\"octets\":%lu,\"expected\":%ld,\"lost\":%ld}", recv, packets, octets, expected, lost);
	}
	for (int i = 0; i < nsocks; i++)
		drops += socks[i].ovfl_seen - socks[i].ovfl_mark;
	printf("},\"latencyUs\":[");
	for (int i = 0; i < nlatency; i++)
		printf("%s%d", i ? "," : "", latency_us[i]);
	printf("],\"nacksSent\":%lu,\"rtcpSent\":%lu,\"sendErrors\":%lu,\"socketDrops\":%lu,\"packetsTotal\":%lu,\"batchesTotal\":%lu,\"unmapped\":%lu,\"sockets\":%d,"
	       "\"readDelayUs\":{\"n\":%lu,\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},\"cpuSeconds\":%.3f}\n",
	       nacks_sent, rtcp_sent, send_errors, drops, packets_total, batches_total, unmapped, nsocks, total, hist_percentile(50, total) / 1e3,
	       hist_percentile(99, total) / 1e3, hist_percentile(99.9, total) / 1e3, delay_max_ns / 1e3, cpu_seconds());
}

static void events_since(long id, double since_ms)
{
	printf("{\"id\":%ld,\"events\":[", id);
	uint64_t from = nevents > EVENTS ? nevents - EVENTS : 0;
	int first = 1;
	for (uint64_t i = from; i < nevents; i++) {
		event_t *e = &events[i % EVENTS];
		if (e->t_ns / 1e6 < since_ms)
			continue;
		printf("%s{\"receiver\":", first ? "" : ",");
		json_str(receivers[e->rid]->name);
		printf(",\"ssrc\":%u,\"atMs\":%.3f,\"pt\":%u,\"key\":%d}", e->ssrc, e->t_ns / 1e6, e->pt, e->key);
		first = 0;
	}
	printf("]}\n");
}

static int open_socket(int owner)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int size = owner >= 0 ? 1 << 21 : 1 << 24, one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	size = 1 << 22;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	struct sockaddr_in a;
	if (bench_bind_addr(&a) != 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	socklen_t al = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	sock_t *so = &socks[nsocks];
	so->fd = fd;
	so->port = ntohs(a.sin_port);
	so->owner = owner;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)nsocks + 1 };
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
	return nsocks++;
}

/* Binds a receiver: probes (and all, with `shared 0`) on their own socket, the rest shared. */
static int bind_receiver(const char *name, const char *group, int probe)
{
	if (nreceivers >= MAX_RECEIVERS || nsocks >= MAX_RECEIVERS)
		return -1;
	int si;
	if (probe || shared_count <= 0) {
		si = open_socket(nreceivers);
	} else {
		if (shared_base < 0) {
			shared_base = nsocks;
			for (int i = 0; i < shared_count; i++)
				if (open_socket(-1) < 0)
					return -1;
		}
		si = shared_base + (next_shared++ % shared_count);
	}
	if (si < 0)
		return -1;
	receiver_t *r = calloc(1, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->group, sizeof(r->group), "%s", group);
	r->probe = probe;
	r->sock = si;
	r->ssrc = (uint32_t)random() ^ ((uint32_t)random() << 16);
	r->index = nreceivers;
	receivers[nreceivers++] = r;
	return socks[si].port;
}

static int reporting;

static void command(char *line)
{
	char cmd[32] = "";
	long id = 0;
	int used = 0;
	if (sscanf(line, "%ld %31s %n", &id, cmd, &used) < 2)
		return;
	char *args = line + used;
	if (!strcmp(cmd, "bind")) {
		char name[96], group[32];
		int probe = 0;
		sscanf(args, "%95s %31s %d", name, group, &probe);
		printf("{\"id\":%ld,\"port\":%d}\n", id, bind_receiver(name, group, probe));
	} else if (!strcmp(cmd, "key")) {
		char name[96], suite[8], mine[128], sfu[128], ip[64];
		int port = 0;
		uint8_t k1[32], k2[32];
		sscanf(args, "%95s %7s %127s %127s %63s %d", name, suite, mine, sfu, ip, &port);
		receiver_t *r = by_name(name);
		int gcm = strcmp(suite, "gcm") == 0;
		int n1 = hex_bytes(mine, k1, 32), n2 = hex_bytes(sfu, k2, 32);
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
		srtp_t tx, rx;
		int ok = r && port > 0 && port < 65536 && inet_pton(AF_INET, ip, &to.sin_addr) == 1 && srtp_init(&tx, k1, n1, gcm) == 0;
		if (ok && srtp_init(&rx, k2, n2, gcm) != 0) {
			srtp_free(&tx);
			ok = 0;
		}
		if (ok) {
			if (r->keyed) {
				/* moved to another transport: the old one's packets are no longer this receiver's */
				if (socks[r->sock].owner < 0 && addr_map_get(&by_src, addr_key(&r->sfu)) == r->index)
					addr_map_set(&by_src, addr_key(&r->sfu), -1);
				srtp_free(&r->tx);
				srtp_free(&r->rx);
			}
			r->tx = tx;
			r->rx = rx;
			r->sfu = to;
			r->keyed = 1;
			if (socks[r->sock].owner < 0 && addr_map_set(&by_src, addr_key(&to), r->index) != 0)
				ok = 0; /* the map is full */
		}
		printf("{\"id\":%ld,\"ok\":%s}\n", id, ok ? "true" : "false");
	} else if (!strcmp(cmd, "videopts")) {
		for (char *t = strtok(args, ","); t; t = strtok(NULL, ","))
			video_pt[atoi(t) & 0x7f] = 1;
		printf("{\"id\":%ld}\n", id);
	} else if (!strcmp(cmd, "shared")) {
		shared_count = atoi(args);
		printf("{\"id\":%ld}\n", id);
	} else if (!strcmp(cmd, "decryptall")) {
		decrypt_all = atoi(args);
		printf("{\"id\":%ld}\n", id);
	} else if (!strcmp(cmd, "start")) {
		reporting = 1;
		printf("{\"id\":%ld}\n", id);
	} else if (!strcmp(cmd, "mark")) {
		mark();
		printf("{\"id\":%ld}\n", id);
	} else if (!strcmp(cmd, "report")) {
		report(id);
	} else if (!strcmp(cmd, "received")) {
		/* packets received so far from the streams of these SSRCs, at every receiver */
		uint64_t total = 0;
		for (char *t = strtok(args, ","); t; t = strtok(NULL, ",")) {
			uint32_t ssrc = (uint32_t)strtoul(t, NULL, 10);
			for (int i = 0; i < nreceivers; i++) {
				stream_t *st = receivers[i]->cap ? find_stream(receivers[i], ssrc, 0) : NULL;
				if (st)
					total += st->received;
			}
		}
		printf("{\"id\":%ld,\"received\":%lu}\n", id, total);
	} else if (!strcmp(cmd, "watch")) {
		watch_gen++;
		for (int i = 0; i < nreceivers; i++) {
			receiver_t *r = receivers[i];
			r->first_new_ns = 0;
			for (int j = 0; j < r->cap; j++)
				if (r->tab[j].used)
					r->tab[j].watch_gen = watch_gen;
		}
		printf("{\"id\":%ld}\n", id);
	} else if (!strcmp(cmd, "arrivals")) {
		printf("{\"id\":%ld,\"arrivals\":{", id);
		for (int i = 0; i < nreceivers; i++) {
			printf("%s", i ? "," : "");
			json_str(receivers[i]->name);
			if (receivers[i]->first_new_ns)
				printf(":%.3f", receivers[i]->first_new_ns / 1e6);
			else
				printf(":null");
		}
		printf("}}\n");
	} else if (!strcmp(cmd, "events")) {
		events_since(id, atof(args));
	} else if (!strcmp(cmd, "stop")) {
		printf("{\"id\":%ld}\n", id);
		fflush(stdout);
		exit(0);
	} else {
		printf("{\"id\":%ld,\"error\":\"unknown command\"}\n", id);
	}
	fflush(stdout);
}

/* Sends RTP-like datagrams round-robin to ports at a fixed rate with sendmmsg (bench:datagram). */
static int blast(int argc, char **argv)
{
	if (argc < 7)
		return 2;
	long pps = atol(argv[2]);
	double seconds = atof(argv[3]);
	int payload = atoi(argv[4]), gcm = atoi(argv[5]), nports = argc - 6;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int size = 1 << 22;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	struct sockaddr_in *to = calloc(nports, sizeof(*to));
	for (int i = 0; i < nports; i++) {
		to[i].sin_family = AF_INET;
		to[i].sin_port = htons(atoi(argv[6 + i]));
		to[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	srtp_t s;
	uint8_t master[28];
	for (int i = 0; i < 28; i++)
		master[i] = (uint8_t)i;
	srtp_init(&s, master, 28, 1);
	static uint8_t bufs[BATCH][BUF];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint16_t *seq = calloc(nports, sizeof(uint16_t));
	uint8_t plain[BUF];
	memset(plain, 0xab, sizeof(plain));
	int64_t start = now_ns(CLOCK_MONOTONIC), end = start + (int64_t)(seconds * 1e9);
	double cpu0 = cpu_seconds();
	uint64_t sent = 0, due = 0;
	int port = 0;
	while (now_ns(CLOCK_MONOTONIC) < end) {
		due = (uint64_t)((now_ns(CLOCK_MONOTONIC) - start) / 1e9 * pps);
		while (sent < due) {
			int k = 0;
			for (; k < BATCH && sent + k < due; k++) {
				int p = (port + k) % nports;
				plain[0] = 0x80;
				plain[1] = 101;
				wr16(plain + 2, seq[p]++);
				wr32(plain + 4, 0);
				wr32(plain + 8, 0x1000 + p);
				size_t len = 12 + payload;
				if (gcm)
					len = srtp_protect_rtp(&s, plain, len, 0, bufs[k]);
				else
					memcpy(bufs[k], plain, len);
				iov[k].iov_base = bufs[k];
				iov[k].iov_len = len;
				memset(&msgs[k].msg_hdr, 0, sizeof(msgs[k].msg_hdr));
				msgs[k].msg_hdr.msg_iov = &iov[k];
				msgs[k].msg_hdr.msg_iovlen = 1;
				msgs[k].msg_hdr.msg_name = &to[p];
				msgs[k].msg_hdr.msg_namelen = sizeof(to[p]);
			}
			int n = sendmmsg(fd, msgs, k, 0);
			if (n <= 0)
				break;
			port = (port + n) % nports;
			sent += n;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	double cpu = cpu_seconds() - cpu0;
	printf("{\"sent\":%lu,\"seconds\":%.3f,\"cpuSeconds\":%.3f,\"usPerPacket\":%.3f}\n", sent, (now_ns(CLOCK_MONOTONIC) - start) / 1e9, cpu, sent ? cpu * 1e6 / sent : 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "blast"))
		return blast(argc, argv);
	srandom((unsigned)now_ns(CLOCK_MONOTONIC) ^ (unsigned)getpid());
	latency_us = malloc(sizeof(int32_t) * LAT_MAX);
	epfd = epoll_create1(0);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
	epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
	static char line[1 << 16];
	size_t have = 0;
	int64_t next_report = now_ns(CLOCK_MONOTONIC) + 1000000000LL;
	window_start_ns = now_ns(CLOCK_MONOTONIC);
	struct epoll_event evs[256];
	for (;;) {
		int64_t wait_ms = (next_report - now_ns(CLOCK_MONOTONIC)) / 1000000;
		int n = epoll_wait(epfd, evs, 256, wait_ms < 0 ? 0 : (int)wait_ms + 1);
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;
			if (tag) {
				drain((int)tag - 1);
				continue;
			}
			ssize_t got = read(0, line + have, sizeof(line) - 1 - have);
			if (got == 0)
				return 0; /* the harness went away */
			if (got < 0)
				continue;
			have += (size_t)got;
			char *start = line, *nl;
			while ((nl = memchr(start, '\n', line + have - start))) {
				*nl = 0;
				command(start);
				start = nl + 1;
			}
			have = (size_t)(line + have - start);
			memmove(line, start, have);
		}
		if (now_ns(CLOCK_MONOTONIC) >= next_report) {
			if (reporting)
				send_reports();
			next_report += 1000000000LL;
		}
	}
}
