/*
 * rtp-gen: the load generator of bench:fanout and bench:switch, in C (Node's per-datagram cost
 * with per-packet SRTP made the Node generator alone take most of a slow core; see
 * docs/benchmarks.md). It plays every synthetic hall's camera (VP8, up to 3 simulcast layers,
 * from the clip the harness encoded once) and microphone (Opus) into the SFU over SRTP, at the
 * clip's pace, video through a pacer at 2.5x its bitrate as libwebrtc sends. It answers the
 * SFU's RTCP as a browser would, but at once: a PLI or FIR makes that layer send a keyframe
 * immediately (the switch benchmark measures the SFU, not an encoder's reaction); a NACK is
 * answered on the layer's RTX stream from a history of what was sent. The last packet of every
 * frame carries a trailer with a counter and its send time (CLOCK_MONOTONIC ns), as
 * scripts/bench/fanout/generator.ts does, so probes and the wire capture measure latency.
 *
 * All halls send from one UDP socket (each SFU plain transport is comedia and learns that tuple;
 * its RTCP comes back to the socket and is told apart by the transport's address and port: with
 * several media nodes, bench:cascade's, ports repeat across nodes), in batches with sendmmsg
 * once per 1 ms tick. It binds to DIEMCAU_BENCH_BIND_IP, or loopback.
 *
 * A hall added again under the same id has moved to another SFU transport (bench:cascade: its
 * node was lost and the control plane placed it elsewhere): it starts over there as a browser's
 * new connection does, with the new keys, new sequence numbers and a keyframe first, and the old
 * transport's RTCP is no longer its own.
 *
 * Its own headroom: how late each frame and audio packet left against its schedule (histogram),
 * what a stall skipped, drops at its socket (SO_RXQ_OVFL), its CPU.
 *
 * Usage: rtp-gen <clip file written by scripts/bench/fanout/native-gen.ts>
 * Commands on stdin `<id> <command> [args]`, answers on stdout as one JSON line with the id:
 *   hall <id> <sfu ip> <sfu port> <gcm|cm> <our key hex> <SFU's key hex> <mic ssrc> <mic pt>
 *        <cam pt> <rtx pt> <ssrc0> <ssrc1> <ssrc2> <rtx0> <rtx1> <rtx2> <max layer>
 *        (an id it has already: the hall moved to that transport, see above)
 *   layers <id> <max layer> | start | stats | stop
 *
 * One file of about 750 lines, like the Node generator it replaces: the clip, the pacer, the
 * RTCP answers and the headroom belong together; the SRTP is in srtp.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "common.h"
#include "srtp.h"

#define MAX_HALLS 1024
#define MAX_PAYLOAD 1160
#define HIST 1024
#define QMAX 1024
#define BATCH 64
#define PKT 1400
#define TRAILER_MAGIC 0x44434231u
#define TRAILER_LEN 16
#define PACING_FACTOR 2.5
#define KFLOG 256
/*
 * As libwebrtc's packet history: a packet is not sent again within an RTT of its last sending
 * (a floor of 20 ms here), nor more than 10 times; an overloaded SFU that NACKs in bulk does
 * not get a retransmission storm a browser would not send.
 */
#define RTX_MIN_INTERVAL_NS 20000000LL
#define RTX_MAX 10
#define HBUCKET_NS 10000
#define HBUCKETS 100000

typedef struct {
	uint8_t key;
	uint32_t len;
	const uint8_t *data;
} frame_t;

typedef struct {
	uint32_t kbps, n, nkeys;
	frame_t *frames;
	uint32_t *keys;
} clip_layer_t;

/* A packet as the generator can rebuild it (no bytes kept: the clip has them). */
typedef struct {
	uint32_t frame, ts, counter, roc;
	uint16_t seq, chunk, nchunks, pid;
	uint8_t layer, tl0, marker, stamp, valid;
	int16_t kflog; /* index into the keyframe log when this is the first packet of a requested keyframe, else -1 */
	uint8_t rtx_count;
	int64_t sent_ns, rtx_ns;
} desc_t;

typedef struct {
	uint32_t ssrc, rtx_ssrc, rtx_roc, roc, cursor, last_ts;
	uint16_t seq, rtx_seq, pid;
	uint8_t tl0;
	uint64_t packets, octets;
	desc_t hist[HIST];
} layer_t;

typedef struct {
	char id[64];
	struct sockaddr_in sfu;
	srtp_t tx, rx;
	uint32_t mic_ssrc, mic_roc, audio_cursor, audio_ts, ts_base;
	uint16_t mic_seq;
	uint8_t mic_pt, cam_pt, rtx_pt;
	uint64_t audio_packets, audio_octets, keyframe_requests, nacked;
	int max_layer;
	layer_t layers[3];
	double next_frame_at, next_audio_at, budget, last_pace_at;
	desc_t q[QMAX];
	int qhead, qlen;
	int started;
} hall_t;

typedef struct {
	int hall, layer;
	double at_ms, sent_ms;
	char kind[4];
} kflog_t;

static clip_layer_t clip[3];
static int clip_layers;
static uint32_t clip_fps;
static frame_t *audio;
static uint32_t naudio;
static hall_t *halls[MAX_HALLS];
static int nhalls;
static addr_map_t hall_by_addr;
static int sock_fd, sock_port, running;
static double t0_ms;
static uint32_t stamp_counter;
static uint64_t sent, sent_octets, skipped, send_errors;
static uint32_t ovfl_seen, ovfl_mark;
static kflog_t kflog[KFLOG];
static uint64_t nkflog;
static uint32_t late_hist[HBUCKETS + 1];
static int64_t late_max_ns;
static uint64_t late_n;

static double mono_ms(void) { return now_ns(CLOCK_MONOTONIC) / 1e6; }
static double wall_ms(void) { return now_ns(CLOCK_REALTIME) / 1e6; }

static void record_late(double late_ms)
{
	int64_t ns = (int64_t)(late_ms * 1e6);
	if (ns < 0)
		ns = 0;
	if (ns > late_max_ns)
		late_max_ns = ns;
	int64_t b = ns / HBUCKET_NS;
	late_hist[b < HBUCKETS ? b : HBUCKETS]++;
	late_n++;
}

static double late_percentile(double p)
{
	if (!late_n)
		return 0;
	uint64_t want = (uint64_t)(p / 100.0 * late_n + 0.999999), seen = 0;
	for (int i = 0; i <= HBUCKETS; i++) {
		seen += late_hist[i];
		if (seen >= want)
			return (i + 1) * HBUCKET_NS / 1e6;
	}
	return late_max_ns / 1e6;
}

/* ---- the clip ---- */

static uint32_t le32(const uint8_t *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24); }

static int load_clip(const char *file)
{
	FILE *f = fopen(file, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(size);
	if (fread(b, 1, size, f) != (size_t)size)
		return -1;
	fclose(f);
	if (memcmp(b, "DCLP", 4) != 0 || le32(b + 4) != 1)
		return -1;
	clip_fps = le32(b + 8);
	clip_layers = (int)le32(b + 12);
	const uint8_t *p = b + 16;
	for (int l = 0; l < clip_layers && l < 3; l++) {
		clip[l].kbps = le32(p);
		clip[l].n = le32(p + 4);
		p += 8;
		clip[l].frames = calloc(clip[l].n, sizeof(frame_t));
		clip[l].keys = calloc(clip[l].n, sizeof(uint32_t));
		for (uint32_t i = 0; i < clip[l].n; i++) {
			clip[l].frames[i].key = p[0];
			clip[l].frames[i].len = le32(p + 1);
			clip[l].frames[i].data = p + 5;
			if (p[0])
				clip[l].keys[clip[l].nkeys++] = i;
			p += 5 + clip[l].frames[i].len;
		}
	}
	naudio = le32(p);
	p += 4;
	audio = calloc(naudio, sizeof(frame_t));
	for (uint32_t i = 0; i < naudio; i++) {
		audio[i].len = le32(p);
		audio[i].data = p + 4;
		p += 4 + audio[i].len;
	}
	return clip_layers > 0 && naudio > 0 ? 0 : -1;
}

/* ---- sending ---- */

static struct mmsghdr msgs[BATCH];
static struct iovec iovs[BATCH];
static uint8_t bufs[BATCH][PKT + 32];
static int nbatch;

static void flush(void)
{
	int off = 0;
	while (off < nbatch) {
		int n = sendmmsg(sock_fd, msgs + off, nbatch - off, 0);
		if (n <= 0) {
			send_errors += nbatch - off;
			break;
		}
		off += n;
	}
	nbatch = 0;
}

/* Encrypts a plain RTP packet into the batch, to the hall's SFU transport. */
static void queue_rtp(hall_t *h, const uint8_t *plain, size_t len, uint32_t roc)
{
	if (nbatch == BATCH)
		flush();
	size_t n = srtp_protect_rtp(&h->tx, plain, len, roc, bufs[nbatch]);
	iovs[nbatch].iov_base = bufs[nbatch];
	iovs[nbatch].iov_len = n;
	memset(&msgs[nbatch].msg_hdr, 0, sizeof(msgs[nbatch].msg_hdr));
	msgs[nbatch].msg_hdr.msg_iov = &iovs[nbatch];
	msgs[nbatch].msg_hdr.msg_iovlen = 1;
	msgs[nbatch].msg_hdr.msg_name = &h->sfu;
	msgs[nbatch].msg_hdr.msg_namelen = sizeof(h->sfu);
	nbatch++;
	sent++;
	sent_octets += n;
}

static void header(uint8_t *p, int marker, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	wr16(p + 2, seq);
	wr32(p + 4, ts);
	wr32(p + 8, ssrc);
}

/* The plain RTP packet a descriptor stands for (RFC 7741 descriptor as rtp.ts writes it). */
static size_t build(hall_t *h, const desc_t *d, uint8_t *p)
{
	layer_t *L = &h->layers[d->layer];
	const frame_t *f = &clip[d->layer].frames[d->frame];
	uint32_t per = (f->len + d->nchunks - 1) / d->nchunks;
	uint32_t from = d->chunk * per, to = from + per < f->len ? from + per : f->len;
	header(p, d->marker, h->cam_pt, d->seq, d->ts, L->ssrc);
	p[12] = 0x80 | (d->chunk == 0 ? 0x10 : 0);
	p[13] = 0xe0;
	p[14] = 0x80 | (d->pid >> 8);
	p[15] = d->pid & 0xff;
	p[16] = d->tl0;
	p[17] = 0x20;
	memcpy(p + 18, f->data + from, to - from);
	size_t len = 18 + (to - from);
	if (d->stamp) {
		wr32(p + len, TRAILER_MAGIC);
		wr32(p + len + 4, d->counter);
		len += TRAILER_LEN; /* the send time goes in at send */
	}
	return len;
}

static size_t send_desc(hall_t *h, desc_t *d)
{
	uint8_t plain[PKT];
	size_t len = build(h, d, plain);
	int64_t t = now_ns(CLOCK_MONOTONIC);
	if (d->stamp) {
		wr32(plain + len - 8, (uint32_t)((uint64_t)t >> 32));
		wr32(plain + len - 4, (uint32_t)t);
	}
	desc_t *kept = &h->layers[d->layer].hist[d->seq & (HIST - 1)];
	if (kept->valid && kept->seq == d->seq)
		kept->sent_ns = t;
	if (d->kflog >= 0 && (uint64_t)d->kflog < KFLOG)
		kflog[d->kflog].sent_ms = wall_ms();
	h->layers[d->layer].packets++;
	h->layers[d->layer].octets += len;
	queue_rtp(h, plain, len, d->roc);
	return len;
}

/* One frame of a layer into the pacer; a keyframe when `key` (the next one in the clip). */
static void produce(hall_t *h, int l, double t, int key, int kflog_index)
{
	layer_t *L = &h->layers[l];
	clip_layer_t *c = &clip[l];
	if (key && c->nkeys) {
		uint32_t next = c->keys[0];
		for (uint32_t i = 0; i < c->nkeys; i++)
			if (c->keys[i] >= L->cursor) {
				next = c->keys[i];
				break;
			}
		L->cursor = next;
	}
	uint32_t idx = L->cursor;
	L->cursor = (L->cursor + 1) % c->n;
	uint32_t ts = h->ts_base + (uint32_t)llround((t - t0_ms) * 90.0);
	if ((int32_t)(ts - L->last_ts) <= 0 && L->packets)
		ts = L->last_ts + 1;
	L->last_ts = ts;
	L->pid = (L->pid + 1) & 0x7fff;
	L->tl0++;
	const frame_t *f = &c->frames[idx];
	uint16_t n = (uint16_t)(f->len ? (f->len + MAX_PAYLOAD - 1) / MAX_PAYLOAD : 1);
	for (uint16_t i = 0; i < n; i++) {
		desc_t d = { .frame = idx, .ts = ts, .seq = L->seq, .chunk = i, .nchunks = n, .pid = L->pid, .layer = (uint8_t)l, .tl0 = L->tl0, .marker = i == n - 1, .stamp = i == n - 1, .valid = 1, .kflog = (int16_t)(i == 0 ? kflog_index : -1), .roc = L->roc };
		if (d.stamp)
			d.counter = stamp_counter++;
		L->seq++;
		if (L->seq == 0)
			L->roc++;
		L->hist[d.seq & (HIST - 1)] = d;
		if (h->qlen < QMAX) {
			h->q[(h->qhead + h->qlen) % QMAX] = d;
			h->qlen++;
		}
	}
}

static void pace(hall_t *h, double now)
{
	double kbps = 0;
	for (int i = 0; i <= h->max_layer && i < clip_layers; i++)
		kbps += clip[i].kbps;
	double bytes_per_ms = kbps * PACING_FACTOR / 8.0;
	h->budget += (now - h->last_pace_at) * bytes_per_ms;
	if (h->budget > 2 * 1200)
		h->budget = 2 * 1200;
	h->last_pace_at = now;
	while (h->qlen && h->budget > 0) {
		desc_t *d = &h->q[h->qhead];
		h->qhead = (h->qhead + 1) % QMAX;
		h->qlen--;
		h->budget -= (double)send_desc(h, d);
	}
}

static void send_audio(hall_t *h)
{
	uint8_t p[PKT];
	const frame_t *a = &audio[h->audio_cursor];
	h->audio_cursor = (h->audio_cursor + 1) % naudio;
	header(p, 0, h->mic_pt, h->mic_seq, h->audio_ts, h->mic_ssrc);
	memcpy(p + 12, a->data, a->len);
	queue_rtp(h, p, 12 + a->len, h->mic_roc);
	h->mic_seq++;
	if (h->mic_seq == 0)
		h->mic_roc++;
	h->audio_ts += 960;
	h->audio_packets++;
	h->audio_octets += 12 + a->len;
}

static void tick(void)
{
	double now = mono_ms(), frame_ms = 1000.0 / clip_fps;
	for (int i = 0; i < nhalls; i++) {
		hall_t *h = halls[i];
		if (!h->started) {
			/* halls do not capture in step: spread their frame and audio times over one period */
			h->started = 1;
			h->next_frame_at = now + (random() % 1000) / 1000.0 * frame_ms;
			h->next_audio_at = now + (random() % 1000) / 1000.0 * 20.0;
			h->last_pace_at = now;
			continue;
		}
		/* catch up at most a few periods after a stall instead of bursting a second of media */
		if (now - h->next_frame_at > 5 * frame_ms) {
			skipped += (uint64_t)((now - h->next_frame_at) / frame_ms);
			h->next_frame_at = now;
		}
		while (h->next_frame_at <= now) {
			record_late(now - h->next_frame_at);
			for (int l = 0; l <= h->max_layer && l < clip_layers; l++)
				produce(h, l, h->next_frame_at, 0, -1);
			h->next_frame_at += frame_ms;
		}
		pace(h, now);
		if (now - h->next_audio_at > 5 * 20.0) {
			skipped += (uint64_t)((now - h->next_audio_at) / 20.0);
			h->next_audio_at = now;
		}
		while (h->next_audio_at <= now) {
			record_late(now - h->next_audio_at);
			send_audio(h);
			h->next_audio_at += 20.0;
		}
	}
	flush();
}

/* Sender reports for every layer sent and the microphone, one SRTCP compound per hall. */
static void sender_reports(void)
{
	double wall = wall_ms(), now = mono_ms();
	uint64_t secs = (uint64_t)(wall / 1000.0) + 2208988800ULL;
	uint32_t frac = (uint32_t)(fmod(wall, 1000.0) / 1000.0 * 4294967296.0);
	for (int i = 0; i < nhalls; i++) {
		hall_t *h = halls[i];
		uint8_t b[28 * 4], out[28 * 4 + 32];
		size_t n = 0;
		for (int l = 0; l <= h->max_layer && l < clip_layers; l++) {
			layer_t *L = &h->layers[l];
			uint8_t *s = b + n;
			s[0] = 0x80; s[1] = 200; wr16(s + 2, 6); wr32(s + 4, L->ssrc);
			wr32(s + 8, (uint32_t)secs); wr32(s + 12, frac);
			wr32(s + 16, h->ts_base + (uint32_t)llround((now - t0_ms) * 90.0));
			wr32(s + 20, (uint32_t)L->packets); wr32(s + 24, (uint32_t)L->octets);
			n += 28;
		}
		uint8_t *s = b + n;
		s[0] = 0x80; s[1] = 200; wr16(s + 2, 6); wr32(s + 4, h->mic_ssrc);
		wr32(s + 8, (uint32_t)secs); wr32(s + 12, frac);
		wr32(s + 16, h->audio_ts);
		wr32(s + 20, (uint32_t)h->audio_packets); wr32(s + 24, (uint32_t)h->audio_octets);
		n += 28;
		size_t len = srtp_protect_rtcp(&h->tx, b, n, out);
		if (sendto(sock_fd, out, len, MSG_DONTWAIT, (struct sockaddr *)&h->sfu, sizeof(h->sfu)) < 0)
			send_errors++;
	}
}

/* ---- the SFU's RTCP: keyframe requests and NACKs ---- */

static void keyframe_request(hall_t *h, int hi, uint32_t ssrc, const char *kind)
{
	for (int l = 0; l < 3; l++) {
		if (h->layers[l].ssrc != ssrc)
			continue;
		h->keyframe_requests++;
		int idx = (int)(nkflog % KFLOG);
		kflog_t *k = &kflog[idx];
		k->hall = hi;
		k->layer = l;
		k->at_ms = wall_ms();
		k->sent_ms = 0;
		snprintf(k->kind, sizeof(k->kind), "%s", kind);
		nkflog++;
		if (l <= h->max_layer)
			produce(h, l, mono_ms(), 1, idx); /* at once */
	}
}

static void nack(hall_t *h, uint32_t ssrc, uint16_t seq)
{
	for (int l = 0; l < 3; l++) {
		layer_t *L = &h->layers[l];
		if (L->ssrc != ssrc)
			continue;
		desc_t *d = &L->hist[seq & (HIST - 1)];
		if (!d->valid || d->seq != seq)
			return;
		int64_t now = now_ns(CLOCK_MONOTONIC);
		if (d->rtx_count >= RTX_MAX || now - (d->rtx_ns ? d->rtx_ns : d->sent_ns) < RTX_MIN_INTERVAL_NS)
			return;
		d->rtx_count++;
		d->rtx_ns = now;
		h->nacked++;
		/* RFC 4588: the original's header with the RTX payload type, sequence and SSRC, then the original sequence number */
		uint8_t orig[PKT], p[PKT + 2];
		size_t len = build(h, d, orig);
		if (d->stamp) {
			wr32(orig + len - 8, (uint32_t)((uint64_t)d->sent_ns >> 32));
			wr32(orig + len - 4, (uint32_t)d->sent_ns);
		}
		header(p, d->marker, h->rtx_pt, L->rtx_seq, d->ts, L->rtx_ssrc);
		wr16(p + 12, seq);
		memcpy(p + 14, orig + 12, len - 12);
		queue_rtp(h, p, len + 2, L->rtx_roc);
		L->rtx_seq++;
		if (L->rtx_seq == 0)
			L->rtx_roc++;
		return;
	}
}

static void on_rtcp(int hi, const uint8_t *pkt, size_t len)
{
	hall_t *h = halls[hi];
	uint8_t b[4096];
	size_t n = srtp_unprotect_rtcp(&h->rx, pkt, len, b);
	for (size_t at = 0; at + 4 <= n;) {
		int fmt = b[at] & 0x1f, pt = b[at + 1];
		size_t plen = ((size_t)rd16(b + at + 2) + 1) * 4;
		if (at + plen > n)
			break;
		if (pt == 206 && fmt == 1 && plen >= 12)
			keyframe_request(h, hi, rd32(b + at + 8), "pli");
		else if (pt == 206 && fmt == 4)
			for (size_t i = at + 12; i + 8 <= at + plen; i += 8)
				keyframe_request(h, hi, rd32(b + i), "fir");
		else if (pt == 205 && fmt == 1) {
			uint32_t media = rd32(b + at + 8);
			for (size_t i = at + 12; i + 4 <= at + plen; i += 4) {
				uint16_t pid = rd16(b + i), blp = rd16(b + i + 2);
				nack(h, media, pid);
				for (int k = 0; k < 16; k++)
					if (blp & (1 << k))
						nack(h, media, (uint16_t)(pid + k + 1));
			}
		}
		at += plen;
	}
	flush();
}

static void drain(void)
{
	static struct sockaddr_in from[BATCH];
	static struct mmsghdr m[BATCH];
	static struct iovec io[BATCH];
	static uint8_t rb[BATCH][4096];
	static uint8_t ctl[BATCH][64];
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			io[i].iov_base = rb[i];
			io[i].iov_len = sizeof(rb[i]);
			memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
			m[i].msg_hdr.msg_iov = &io[i];
			m[i].msg_hdr.msg_iovlen = 1;
			m[i].msg_hdr.msg_name = &from[i];
			m[i].msg_hdr.msg_namelen = sizeof(from[i]);
			m[i].msg_hdr.msg_control = ctl[i];
			m[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		int k = recvmmsg(sock_fd, m, BATCH, MSG_DONTWAIT, NULL);
		if (k <= 0)
			return;
		for (int i = 0; i < k; i++) {
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr); c; c = CMSG_NXTHDR(&m[i].msg_hdr, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
					uint32_t d;
					memcpy(&d, CMSG_DATA(c), 4);
					if (d > ovfl_seen)
						ovfl_seen = d;
				}
			}
			int hi = addr_map_get(&hall_by_addr, addr_key(&from[i]));
			size_t len = m[i].msg_len;
			if (hi >= 0 && len >= 8 && rb[i][1] >= 192 && rb[i][1] <= 223)
				on_rtcp(hi, rb[i], len);
		}
		if (k < BATCH)
			return;
	}
}

/* ---- commands ---- */

static hall_t *hall_named(const char *id)
{
	for (int i = 0; i < nhalls; i++)
		if (!strcmp(halls[i]->id, id))
			return halls[i];
	return NULL;
}

static void stats(long id)
{
	printf("{\"id\":%ld,\"packets\":%lu,\"octets\":%lu,\"keyframeRequests\":{", id, sent, sent_octets);
	uint64_t nacked = 0;
	for (int i = 0; i < nhalls; i++) {
		printf("%s", i ? "," : "");
		json_str(halls[i]->id);
		printf(":%lu", halls[i]->keyframe_requests);
		nacked += halls[i]->nacked;
	}
	printf("},\"nacked\":%lu,\"keyframeLog\":[", nacked);
	uint64_t from = nkflog > KFLOG ? nkflog - KFLOG : 0;
	for (uint64_t i = from; i < nkflog; i++) {
		kflog_t *k = &kflog[i % KFLOG];
		printf("%s{\"hall\":", i > from ? "," : "");
		json_str(halls[k->hall]->id);
		printf(",\"layer\":%d,\"at\":%.3f,\"kind\":\"%s\",\"sentAt\":%.3f}", k->layer, k->at_ms, k->kind, k->sent_ms);
	}
	printf("],\"loopDelayP99Ms\":0,\"loopDelayMaxMs\":0,\"lateP50Ms\":%.3f,\"lateP99Ms\":%.3f,\"lateMaxMs\":%.3f,\"skipped\":%lu,"
	       "\"ports\":[%d],\"socketDrops\":%u,\"sendErrors\":%lu,\"cpuSeconds\":%.3f}\n",
	       late_percentile(50), late_percentile(99), late_max_ns / 1e6, skipped, sock_port, ovfl_seen - ovfl_mark, send_errors, cpu_seconds());
	memset(late_hist, 0, sizeof(late_hist));
	late_max_ns = 0;
	late_n = 0;
	skipped = 0;
	ovfl_mark = ovfl_seen;
}

static void command(char *line)
{
	char cmd[32] = "";
	long id = 0;
	int used = 0;
	if (sscanf(line, "%ld %31s %n", &id, cmd, &used) < 2)
		return;
	char *args = line + used;
	if (!strcmp(cmd, "hall")) {
		char name[64], ip[64], suite[8], mine[128], theirs[128];
		unsigned port, mic_ssrc, mic_pt, cam_pt, rtx_pt, s[3], r[3];
		int max_layer;
		int got = sscanf(args, "%63s %63s %u %7s %127s %127s %u %u %u %u %u %u %u %u %u %u %d", name, ip, &port, suite, mine, theirs, &mic_ssrc, &mic_pt, &cam_pt, &rtx_pt, &s[0], &s[1], &s[2], &r[0], &r[1], &r[2], &max_layer);
		uint8_t k1[32], k2[32];
		int gcm = !strcmp(suite, "gcm");
		srtp_t tx, rx;
		struct sockaddr_in sfu = { .sin_family = AF_INET, .sin_port = htons(port) };
		hall_t *old = got == 17 ? hall_named(name) : NULL;
		int ok = got == 17 && (old || nhalls < MAX_HALLS) && inet_pton(AF_INET, ip, &sfu.sin_addr) == 1;
		if (ok && srtp_init(&tx, k1, hex_bytes(mine, k1, 32), gcm) != 0)
			ok = 0;
		if (ok && srtp_init(&rx, k2, hex_bytes(theirs, k2, 32), gcm) != 0) {
			srtp_free(&tx);
			ok = 0;
		}
		if (ok) {
			hall_t *h = old;
			int index = nhalls;
			uint64_t keyframe_requests = 0, nacked = 0;
			if (old) {
				/* moved: the old transport's RTCP is not this hall's any more; its counters go on */
				for (index = 0; halls[index] != old; index++)
					;
				addr_map_set(&hall_by_addr, addr_key(&old->sfu), -1);
				srtp_free(&old->tx);
				srtp_free(&old->rx);
				keyframe_requests = old->keyframe_requests;
				nacked = old->nacked;
				memset(h, 0, sizeof(*h));
			} else {
				h = calloc(1, sizeof(hall_t));
			}
			snprintf(h->id, sizeof(h->id), "%s", name);
			h->sfu = sfu;
			h->tx = tx;
			h->rx = rx;
			h->keyframe_requests = keyframe_requests;
			h->nacked = nacked;
			h->mic_ssrc = mic_ssrc;
			h->mic_pt = (uint8_t)mic_pt;
			h->cam_pt = (uint8_t)cam_pt;
			h->rtx_pt = (uint8_t)rtx_pt;
			h->max_layer = max_layer;
			h->mic_seq = (uint16_t)random();
			h->audio_cursor = (uint32_t)random() % naudio;
			h->audio_ts = (uint32_t)random();
			h->ts_base = (uint32_t)random();
			for (int l = 0; l < 3; l++) {
				h->layers[l].ssrc = s[l];
				h->layers[l].rtx_ssrc = r[l];
				h->layers[l].seq = (uint16_t)random();
				h->layers[l].rtx_seq = (uint16_t)random();
				h->layers[l].pid = (uint16_t)(random() & 0x7fff);
			}
			if (addr_map_set(&hall_by_addr, addr_key(&sfu), index) != 0)
				fprintf(stderr, "rtp-gen: the address map is full; RTCP of %s is not read\n", name);
			if (!old)
				halls[nhalls++] = h;
			/* the first frame of every layer is a keyframe: the clip starts with one (cursor 0) */
		}
		printf("{\"id\":%ld,\"ok\":%s}\n", id, ok ? "true" : "false");
	} else if (!strcmp(cmd, "layers")) {
		char name[64];
		int max = 0;
		sscanf(args, "%63s %d", name, &max);
		hall_t *h = hall_named(name);
		if (h) {
			int old = h->max_layer;
			h->max_layer = max;
			/* a layer that starts, starts with a keyframe, at once */
			if (h->started)
				for (int l = old + 1; l <= max && l < clip_layers; l++)
					produce(h, l, mono_ms(), 1, -1);
		}
		printf("{\"id\":%ld}\n", id);
	} else if (!strcmp(cmd, "start")) {
		running = 1;
		printf("{\"id\":%ld}\n", id);
	} else if (!strcmp(cmd, "stats")) {
		stats(id);
	} else if (!strcmp(cmd, "stop")) {
		printf("{\"id\":%ld}\n", id);
		fflush(stdout);
		exit(0);
	} else {
		printf("{\"id\":%ld,\"error\":\"unknown command\"}\n", id);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2 || load_clip(argv[1]) != 0) {
		fprintf(stderr, "rtp-gen: cannot load the clip %s\n", argc > 1 ? argv[1] : "(none)");
		return 2;
	}
	srandom((unsigned)now_ns(CLOCK_MONOTONIC) ^ (unsigned)getpid());
	t0_ms = mono_ms();
	sock_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int size = 1 << 22, one = 1;
	if (setsockopt(sock_fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(sock_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	size = 1 << 21;
	if (setsockopt(sock_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(sock_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(sock_fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	struct sockaddr_in a;
	if (bench_bind_addr(&a) != 0 || bind(sock_fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "rtp-gen: cannot bind to %s\n", getenv("DIEMCAU_BENCH_BIND_IP") ? getenv("DIEMCAU_BENCH_BIND_IP") : "127.0.0.1");
		return 2;
	}
	socklen_t al = sizeof(a);
	getsockname(sock_fd, (struct sockaddr *)&a, &al);
	sock_port = ntohs(a.sin_port);

	int ep = epoll_create1(0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = { .it_interval = { 0, 1000000 }, .it_value = { 0, 1000000 } };
	timerfd_settime(tfd, 0, &its, NULL);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN };
	ev.data.u32 = 0;
	epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, sock_fd, &ev);
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	static char line[1 << 16];
	size_t have = 0;
	double next_sr = mono_ms() + 1000;
	struct epoll_event evs[8];
	for (;;) {
		int n = epoll_wait(ep, evs, 8, -1);
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;
			if (tag == 1) {
				drain();
			} else if (tag == 2) {
				uint64_t expirations;
				if (read(tfd, &expirations, sizeof(expirations)) > 0 && running) {
					tick();
					if (mono_ms() >= next_sr) {
						sender_reports();
						next_sr += 1000;
					}
				}
			} else {
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
		}
	}
}
