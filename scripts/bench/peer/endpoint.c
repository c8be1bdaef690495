/*
 * bench:peer's WebRTC endpoint: the far end of N subscriber PeerConnections and of the
 * publisher's, for both SFUs under test (diemcau's mediasoup worker and Janus). One process,
 * one thread, epoll + recvmmsg, so that the receivers cost far less than the SFU they measure.
 *
 * Per peer it does what a browser's network stack does up to SRTP: ICE (as the controlling
 * agent, nominating at once, towards an ICE-lite SFU; or as the controlled agent answering the
 * checks of a full ICE SFU), then a DTLS 1.2 client handshake with the use_srtp extension
 * (OpenSSL), and exports the SRTP keys (RFC 5764). After that:
 *  - a "sink" peer counts the RTP it receives per SSRC from the clear headers (received,
 *    expected from the sequence numbers, bytes) without decrypting, and keeps the first packets
 *    of each stream so that the caller can check they decrypt with the exported keys;
 *  - a "relay" peer forwards datagrams between a local UDP port, where the load generator sends
 *    its SRTP, and the ICE path to the SFU (and the SFU's RTCP back to the generator).
 * Receivers send no RTCP (the same for both SFUs).
 *
 * Commands on stdin, one per line; answers and events on stdout, one per line:
 *   peer <id> <bind-ip> <relay:0|1>        -> bound <id> <port> <relay-port|0>
 *   connect <id> <controlling:0|1> <remote-ip> <remote-port> <local-ufrag> <local-pwd>
 *           <remote-ufrag> <remote-pwd> <remote-sha256-fingerprint> <srtp-profiles>
 *                                          -> later: ready <id> <profile> <client-key> <server-key>
 *                                             (master key||salt, base64) or failed <id> <reason>
 *   mark                                   -> ok   (starts the counting window)
 *   stats                                  -> stream <id> <ssrc> <pt> <win-received> <win-expected>
 *                                               <win-bytes> <total-received>  ... peer <id> <ice>
 *                                               <dtls> <rtcp-in> <relayed-out> <relayed-in>
 *                                               <full-batches> ... end
 *   samples <id>                           -> sample <id> <ssrc> <hex> ... end
 *   quit
 * At start it prints: fingerprint <sha-256 of its certificate>.
 *
 * One file of some 700 lines on purpose: build-endpoint.sh compiles it with one cc command
 * against the system's OpenSSL, with no build system and nothing else to keep in step.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS 8
#define SAMPLES 3
#define BATCH 64
#define MTU 1200
#define BUF 2048

typedef struct {
  uint32_t ssrc;
  uint8_t pt;
  uint32_t cycles;
  uint16_t highest;
  uint64_t first_ext;
  uint64_t win_base;
  uint64_t win_received, win_bytes, received;
  int nsamples;
  unsigned char *sample[SAMPLES];
  int sample_len[SAMPLES];
} stream_t;

typedef struct {
  char id[64];
  int fd, relay_fd;
  struct sockaddr_in remote;
  int have_remote;
  struct sockaddr_in relay_src;
  int have_relay_src;
  char lufrag[64], lpwd[128], rufrag[64], rpwd[128];
  char expected_fp[160], profiles[160];
  int controlling;
  int ice; /* 0 idle, 1 checking, 2 connected, -1 failed */
  int checks;
  double next_check, dtls_at;
  uint64_t tiebreaker;
  SSL *ssl;
  BIO *rbio, *wbio;
  int dtls; /* 0 none, 1 handshaking, 2 done, -1 failed */
  stream_t streams[MAX_STREAMS];
  int nstreams;
  uint64_t rtcp_in, relayed_out, relayed_in, full_batches;
} peer_t;

static SSL_CTX *ctx;
static peer_t **peers;
static int npeers, cap_peers;
static int ep;
static char fingerprint[160];

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

static peer_t *find_peer(const char *id) {
  for (int i = 0; i < npeers; i++)
    if (strcmp(peers[i]->id, id) == 0) return peers[i];
  return NULL;
}

/* ---------- STUN (RFC 5389) and ICE (RFC 8445) ---------- */

static uint32_t crc_table[256];
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}
static uint32_t crc32_of(const unsigned char *b, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ b[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static void put16(unsigned char *b, uint16_t v) { b[0] = v >> 8; b[1] = v & 0xff; }
static void put32(unsigned char *b, uint32_t v) { b[0] = v >> 24; b[1] = v >> 16; b[2] = v >> 8; b[3] = v; }
static uint16_t get16(const unsigned char *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t get32(const unsigned char *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }

/* Appends an attribute; returns the new length. */
static int stun_attr(unsigned char *m, int len, uint16_t type, const void *val, uint16_t vlen) {
  put16(m + len, type);
  put16(m + len + 2, vlen);
  if (vlen) memcpy(m + len + 4, val, vlen);
  int pad = (4 - vlen % 4) % 4;
  memset(m + len + 4 + vlen, 0, pad);
  return len + 4 + vlen + pad;
}

/* Adds MESSAGE-INTEGRITY (key = pwd) and FINGERPRINT, fixing the header length for each. */
static int stun_finish(unsigned char *m, int len, const char *pwd) {
  put16(m + 2, (uint16_t)(len - 20 + 24));
  unsigned char mac[20];
  unsigned int maclen = 0;
  HMAC(EVP_sha1(), pwd, (int)strlen(pwd), m, (size_t)len, mac, &maclen);
  len = stun_attr(m, len, 0x0008, mac, 20);
  put16(m + 2, (uint16_t)(len - 20 + 8));
  unsigned char fp[4];
  put32(fp, crc32_of(m, (size_t)len) ^ 0x5354554eu);
  len = stun_attr(m, len, 0x8028, fp, 4);
  return len;
}

static void send_check(peer_t *p, int nominate) {
  unsigned char m[512];
  put16(m, 0x0001);
  put32(m + 4, 0x2112A442u);
  RAND_bytes(m + 8, 12);
  int len = 20;
  char user[200];
  snprintf(user, sizeof user, "%s:%s", p->rufrag, p->lufrag);
  len = stun_attr(m, len, 0x0006, user, (uint16_t)strlen(user));
  unsigned char prio[4];
  put32(prio, 0x6e7f1effu);
  len = stun_attr(m, len, 0x0024, prio, 4);
  unsigned char tb[8];
  for (int i = 0; i < 8; i++) tb[i] = (unsigned char)(p->tiebreaker >> (56 - 8 * i));
  len = stun_attr(m, len, p->controlling ? 0x802A : 0x8029, tb, 8);
  if (nominate) len = stun_attr(m, len, 0x0025, NULL, 0);
  len = stun_finish(m, len, p->rpwd);
  sendto(p->fd, m, (size_t)len, 0, (struct sockaddr *)&p->remote, sizeof p->remote);
}

static void start_dtls(peer_t *p);

static void on_stun(peer_t *p, const unsigned char *b, int n, const struct sockaddr_in *src) {
  if (n < 20) return;
  uint16_t type = get16(b);
  if (type == 0x0001) {
    /* A connectivity check: answer it (XOR-MAPPED-ADDRESS, integrity with our password). */
    unsigned char m[256];
    put16(m, 0x0101);
    memcpy(m + 4, b + 4, 16);
    int len = 20;
    unsigned char xa[8];
    xa[0] = 0;
    xa[1] = 1;
    put16(xa + 2, ntohs(src->sin_port) ^ 0x2112);
    put32(xa + 4, ntohl(src->sin_addr.s_addr) ^ 0x2112A442u);
    len = stun_attr(m, len, 0x0020, xa, 8);
    len = stun_finish(m, len, p->lpwd);
    sendto(p->fd, m, (size_t)len, 0, (const struct sockaddr *)src, sizeof *src);
    if (!p->controlling && p->ice == 1) {
      /* The controlling SFU found the pair (it nominates aggressively): DTLS may start. */
      p->remote = *src;
      p->have_remote = 1;
      p->ice = 2;
      p->dtls_at = now_s() + 0.02;
    }
  } else if (type == 0x0101 && p->controlling && p->ice == 1) {
    p->ice = 2;
    p->dtls_at = now_s();
  }
}

/* ---------- DTLS-SRTP (RFC 5764) ---------- */

static int verify_any(int ok, X509_STORE_CTX *store) {
  (void)ok;
  (void)store;
  return 1; /* self-signed: the fingerprint from the signalling is checked after the handshake */
}

static unsigned int dtls_timer(SSL *ssl, unsigned int previous_us) {
  (void)ssl;
  /* Retransmit a lost flight after 100 ms, doubling (OpenSSL's default waits a whole second). */
  if (previous_us == 0) return 100000;
  return previous_us >= 2000000 ? 2000000 : previous_us * 2;
}

static void fp_hex(const unsigned char *md, unsigned int n, char *outbuf) {
  for (unsigned int i = 0; i < n; i++) sprintf(outbuf + 3 * i, i + 1 < n ? "%02X:" : "%02X", md[i]);
}

/* Sends what OpenSSL wrote, one datagram per run of whole records up to the MTU. */
static void flush_dtls(peer_t *p) {
  unsigned char buf[16384];
  int n;
  while ((n = BIO_read(p->wbio, buf, sizeof buf)) > 0) {
    int at = 0;
    while (at < n) {
      int end = at;
      while (end + 13 <= n) {
        int rec = 13 + get16(buf + end + 11);
        if (end > at && end + rec - at > MTU) break;
        end += rec;
      }
      if (end == at) end = n;
      if (p->have_remote) sendto(p->fd, buf + at, (size_t)(end - at), 0, (struct sockaddr *)&p->remote, sizeof p->remote);
      at = end;
    }
  }
}

static void b64(const unsigned char *in, int n, char *outbuf) { EVP_EncodeBlock((unsigned char *)outbuf, in, n); }

static void dtls_step(peer_t *p) {
  int r = SSL_do_handshake(p->ssl);
  flush_dtls(p);
  if (r == 1) {
    X509 *cert = SSL_get1_peer_certificate(p->ssl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char fp[160] = "";
    if (cert) {
      X509_digest(cert, EVP_sha256(), md, &mdlen);
      fp_hex(md, mdlen, fp);
      X509_free(cert);
    }
    if (strcasecmp(fp, p->expected_fp) != 0) {
      p->dtls = -1;
      out("failed %s fingerprint-mismatch %s", p->id, fp);
      return;
    }
    SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(p->ssl);
    if (!prof) {
      p->dtls = -1;
      out("failed %s no-srtp-profile", p->id);
      return;
    }
    int klen = 16, slen = prof->id == SRTP_AES128_CM_SHA1_80 ? 14 : 12;
    unsigned char km[2 * (16 + 14)], ck[30], sk[30];
    if (SSL_export_keying_material(p->ssl, km, (size_t)(2 * (klen + slen)), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1) {
      p->dtls = -1;
      out("failed %s export", p->id);
      return;
    }
    memcpy(ck, km, (size_t)klen);
    memcpy(ck + klen, km + 2 * klen, (size_t)slen);
    memcpy(sk, km + klen, (size_t)klen);
    memcpy(sk + klen, km + 2 * klen + slen, (size_t)slen);
    char cb[64], sb[64];
    b64(ck, klen + slen, cb);
    b64(sk, klen + slen, sb);
    p->dtls = 2;
    out("ready %s %s %s %s", p->id, prof->name, cb, sb);
    return;
  }
  int e = SSL_get_error(p->ssl, r);
  if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
    p->dtls = -1;
    char reason[256];
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    for (char *c = reason; *c; c++)
      if (*c == ' ') *c = '_';
    out("failed %s dtls %s", p->id, reason);
  }
}

static void start_dtls(peer_t *p) {
  p->ssl = SSL_new(ctx);
  if (SSL_set_tlsext_use_srtp(p->ssl, p->profiles) != 0) {
    p->dtls = -1;
    out("failed %s bad-profiles", p->id);
    return;
  }
  p->rbio = BIO_new(BIO_s_mem());
  p->wbio = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(p->rbio, -1);
  BIO_set_mem_eof_return(p->wbio, -1);
  SSL_set_bio(p->ssl, p->rbio, p->wbio);
  SSL_set_options(p->ssl, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu(p->ssl, MTU);
  DTLS_set_link_mtu(p->ssl, MTU);
  DTLS_set_timer_cb(p->ssl, dtls_timer);
  SSL_set_connect_state(p->ssl);
  p->dtls = 1;
  dtls_step(p);
}

static void on_dtls(peer_t *p, const unsigned char *b, int n) {
  if (p->dtls < 1) return;
  BIO_write(p->rbio, b, n);
  if (p->dtls == 1) {
    dtls_step(p);
  } else {
    unsigned char scratch[BUF];
    while (SSL_read(p->ssl, scratch, sizeof scratch) > 0) {
    }
    flush_dtls(p);
  }
}

/* ---------- RTP counting ---------- */

static void on_rtp(peer_t *p, const unsigned char *b, int n) {
  if (n < 12) return;
  if (b[1] >= 192 && b[1] <= 223) {
    p->rtcp_in++;
    return;
  }
  uint32_t ssrc = get32(b + 8);
  uint16_t seq = get16(b + 2);
  stream_t *s = NULL;
  for (int i = 0; i < p->nstreams; i++)
    if (p->streams[i].ssrc == ssrc) {
      s = &p->streams[i];
      break;
    }
  if (!s) {
    if (p->nstreams == MAX_STREAMS) return;
    s = &p->streams[p->nstreams++];
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->pt = b[1] & 0x7f;
    s->highest = seq;
    s->first_ext = seq;
    s->win_base = seq;
  } else {
    uint16_t delta = (uint16_t)(seq - s->highest);
    if (delta != 0 && delta < 0x8000) {
      if (seq < s->highest) s->cycles += 0x10000;
      s->highest = seq;
    }
  }
  s->received++;
  s->win_received++;
  s->win_bytes += (uint64_t)n;
  if (s->nsamples < SAMPLES) {
    s->sample[s->nsamples] = malloc((size_t)n);
    memcpy(s->sample[s->nsamples], b, (size_t)n);
    s->sample_len[s->nsamples++] = n;
  }
}

/* ---------- sockets ---------- */

static struct mmsghdr msgs[BATCH];
static struct iovec iovs[BATCH];
static unsigned char bufs[BATCH][BUF];
static struct sockaddr_in addrs[BATCH];

static void on_readable(peer_t *p, int relay) {
  int fd = relay ? p->relay_fd : p->fd;
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iovs[i].iov_base = bufs[i];
      iovs[i].iov_len = BUF;
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
      msgs[i].msg_hdr.msg_control = NULL;
      msgs[i].msg_hdr.msg_controllen = 0;
      msgs[i].msg_hdr.msg_flags = 0;
    }
    int got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (got <= 0) return;
    if (got == BATCH) p->full_batches++;
    for (int i = 0; i < got; i++) {
      unsigned char *b = bufs[i];
      int n = (int)msgs[i].msg_len;
      if (n < 1) continue;
      if (relay) {
        p->relay_src = addrs[i];
        p->have_relay_src = 1;
        if (p->dtls == 2 && p->have_remote) {
          sendto(p->fd, b, (size_t)n, 0, (struct sockaddr *)&p->remote, sizeof p->remote);
          p->relayed_out++;
        }
        continue;
      }
      if (b[0] <= 3) {
        on_stun(p, b, n, &addrs[i]);
      } else if (b[0] >= 20 && b[0] <= 63) {
        on_dtls(p, b, n);
      } else if (b[0] >= 128 && b[0] <= 191) {
        if (p->relay_fd >= 0) {
          if (p->have_relay_src) {
            sendto(p->relay_fd, b, (size_t)n, 0, (struct sockaddr *)&p->relay_src, sizeof p->relay_src);
            p->relayed_in++;
          }
        } else {
          on_rtp(p, b, n);
        }
      }
    }
    if (got < BATCH) return;
  }
}

static int udp_socket(const char *ip, int *port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int size = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  *port = ntohs(a.sin_port);
  return fd;
}

static void add_peer(const char *id, const char *ip, int relay) {
  if (find_peer(id)) {
    out("error %s exists", id);
    return;
  }
  peer_t *p = calloc(1, sizeof *p);
  snprintf(p->id, sizeof p->id, "%s", id);
  int port = 0, rport = 0;
  p->fd = udp_socket(ip, &port);
  p->relay_fd = relay ? udp_socket("127.0.0.1", &rport) : -1;
  if (p->fd < 0 || (relay && p->relay_fd < 0)) {
    out("error %s bind %s", id, strerror(errno));
    free(p);
    return;
  }
  RAND_bytes((unsigned char *)&p->tiebreaker, sizeof p->tiebreaker);
  if (npeers == cap_peers) {
    cap_peers = cap_peers ? 2 * cap_peers : 64;
    peers = realloc(peers, sizeof *peers * (size_t)cap_peers);
  }
  int index = npeers;
  peers[npeers++] = p;
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.u64 = (uint64_t)index << 1;
  epoll_ctl(ep, EPOLL_CTL_ADD, p->fd, &ev);
  if (relay) {
    ev.data.u64 = (uint64_t)index << 1 | 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, p->relay_fd, &ev);
  }
  out("bound %s %d %d", id, port, rport);
}

static void connect_peer(char **a) {
  peer_t *p = find_peer(a[1]);
  if (!p) {
    out("failed %s unknown-peer", a[1]);
    return;
  }
  p->controlling = atoi(a[2]);
  memset(&p->remote, 0, sizeof p->remote);
  p->remote.sin_family = AF_INET;
  p->remote.sin_port = htons((uint16_t)atoi(a[4]));
  inet_pton(AF_INET, a[3], &p->remote.sin_addr);
  p->have_remote = 1;
  snprintf(p->lufrag, sizeof p->lufrag, "%s", a[5]);
  snprintf(p->lpwd, sizeof p->lpwd, "%s", a[6]);
  snprintf(p->rufrag, sizeof p->rufrag, "%s", a[7]);
  snprintf(p->rpwd, sizeof p->rpwd, "%s", a[8]);
  snprintf(p->expected_fp, sizeof p->expected_fp, "%s", a[9]);
  snprintf(p->profiles, sizeof p->profiles, "%s", a[10]);
  p->ice = 1;
  p->next_check = now_s();
}

static void stats(void) {
  for (int i = 0; i < npeers; i++) {
    peer_t *p = peers[i];
    for (int k = 0; k < p->nstreams; k++) {
      stream_t *s = &p->streams[k];
      uint64_t ext = s->cycles + s->highest;
      uint64_t base = s->win_base > s->first_ext ? s->win_base : s->first_ext;
      uint64_t expected = ext + 1 > base ? ext + 1 - base : 0;
      out("stream %s %u %u %llu %llu %llu %llu", p->id, s->ssrc, s->pt, (unsigned long long)s->win_received, (unsigned long long)expected,
          (unsigned long long)s->win_bytes, (unsigned long long)s->received);
    }
    out("peer %s %d %d %llu %llu %llu %llu", p->id, p->ice, p->dtls, (unsigned long long)p->rtcp_in, (unsigned long long)p->relayed_out,
        (unsigned long long)p->relayed_in, (unsigned long long)p->full_batches);
  }
  out("end");
}

static void mark(void) {
  for (int i = 0; i < npeers; i++) {
    peer_t *p = peers[i];
    for (int k = 0; k < p->nstreams; k++) {
      stream_t *s = &p->streams[k];
      s->win_base = s->cycles + s->highest + 1;
      s->win_received = 0;
      s->win_bytes = 0;
    }
    p->full_batches = 0;
  }
  out("ok");
}

static void samples(const char *id) {
  peer_t *p = find_peer(id);
  if (p) {
    for (int k = 0; k < p->nstreams; k++) {
      stream_t *s = &p->streams[k];
      for (int j = 0; j < s->nsamples; j++) {
        char *hex = malloc((size_t)s->sample_len[j] * 2 + 1);
        for (int c = 0; c < s->sample_len[j]; c++) sprintf(hex + 2 * c, "%02x", s->sample[j][c]);
        out("sample %s %u %s", p->id, s->ssrc, hex);
        free(hex);
      }
    }
  }
  out("end");
}

static void command(char *line) {
  char *a[16];
  int n = 0;
  for (char *t = strtok(line, " \t\r"); t && n < 16; t = strtok(NULL, " \t\r")) a[n++] = t;
  if (n == 0) return;
  if (strcmp(a[0], "peer") == 0 && n == 4) add_peer(a[1], a[2], atoi(a[3]));
  else if (strcmp(a[0], "connect") == 0 && n == 11) connect_peer(a);
  else if (strcmp(a[0], "mark") == 0) mark();
  else if (strcmp(a[0], "stats") == 0) stats();
  else if (strcmp(a[0], "samples") == 0 && n == 2) samples(a[1]);
  else if (strcmp(a[0], "quit") == 0) exit(0);
  else out("error unknown-command %s", a[0]);
}

static EVP_PKEY *make_key_and_cert(X509 **cert) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_set_version(x, 2);
  unsigned char serial[8];
  RAND_bytes(serial, sizeof serial);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(get32(serial) & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(x), -86400);
  X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"diemcau-bench-peer", -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  *cert = x;
  return key;
}

int main(void) {
  crc_init();
  X509 *cert = NULL;
  EVP_PKEY *key = make_key_and_cert(&cert);
  ctx = SSL_CTX_new(DTLS_client_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_any);
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  X509_digest(cert, EVP_sha256(), md, &mdlen);
  fp_hex(md, mdlen, fingerprint);

  ep = epoll_create1(0);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event sev = {.events = EPOLLIN};
  sev.data.u64 = UINT64_MAX;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
  out("fingerprint %s", fingerprint);

  char line[8192];
  int linelen = 0;
  struct epoll_event evs[256];
  double next_timers = 0;
  int busy = 0;
  for (;;) {
    int n = epoll_wait(ep, evs, 256, 10);
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == UINT64_MAX) {
        char buf[4096];
        ssize_t r = read(0, buf, sizeof buf);
        if (r == 0) exit(0);
        for (ssize_t k = 0; k < r; k++) {
          if (buf[k] == '\n') {
            line[linelen] = 0;
            command(line);
            linelen = 0;
          } else if (linelen < (int)sizeof line - 1) {
            line[linelen++] = buf[k];
          }
        }
        continue;
      }
      on_readable(peers[tag >> 1], (int)(tag & 1));
      busy = 1;
    }
    if (busy) {
      /* Let packets gather for a millisecond (the buffers hold far more): one wake-up then serves
       * many sockets, instead of one wake-up, one epoll_wait and one recvmmsg per packet. The
       * SFU, too, then rarely pays for waking this process up as it sends. */
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
      busy = 0;
    }
    double t = now_s();
    if (t < next_timers) continue;
    next_timers = t + 0.01;
    for (int i = 0; i < npeers; i++) {
      peer_t *p = peers[i];
      if (p->ice == 1 && p->controlling && t >= p->next_check) {
        if (++p->checks > 400) {
          p->ice = -1;
          out("failed %s ice-timeout", p->id);
          continue;
        }
        send_check(p, 1);
        p->next_check = t + 0.05;
      } else if (p->ice == 2 && p->dtls == 0 && t >= p->dtls_at) {
        start_dtls(p);
      } else if (p->dtls == 1) {
        if (DTLSv1_handle_timeout(p->ssl) > 0) flush_dtls(p);
      } else if (p->ice == 2 && p->controlling && t >= p->next_check) {
        send_check(p, 0); /* consent / keepalive, as browsers send every few seconds */
        p->next_check = t + 2.5;
      }
    }
  }
}
