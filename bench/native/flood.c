// flood: a C load generator for memcache-text queue servers, so the client is never the bottleneck.
// Build: cc -O2 -o flood flood.c        (plain C99 + Linux epoll; no libraries beyond libc)
// N connections, one request in flight each, alternating set/get over Q queues, for T seconds.
// Usage: flood HOST PORT CONNS SECONDS [QUEUES=10] [SIZE=64] [PREFIX=fl]
// Prints: ops/s p50_us p99_us errors
// FLOOD_PROTO=redis: the same workload as RESP LPUSH/RPOP (a Redis list as the queue).
// FLOOD_FILL=N: fill mode. Only sets (LPUSH for redis), the queues taken in turn (set k goes to
//   queue k mod QUEUES, so N items spread evenly), until N sets in total have been acknowledged
//   (STORED / :n); then prints the same line (ops/s = acknowledged sets per second) and exits.
//   Still bounded by SECONDS: if time runs out first, it prints the line, says so on stderr and
//   exits with status 3. Used to queue a backlog before a measured run.
//
// Origin: a copy of flood.c from the shared bench tools beside this checkout (shared/bench/, the
// client issue 12's figures were measured with), so this repository stands on its own. Changes:
// the fill mode above (new: fill_*, conn_t.busy, set_queue(), fill_kick()); the value size is
// checked against the request buffer; a failed connection leaves epoll before its descriptor is
// closed (it was closed first, so the removal failed); the rest (the workload, the reply
// parsing, the output line) is unchanged.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_HEAD 256
#define MAX_SIZE 65536

typedef struct {
  int fd, phase, sets;     // phase 0 = set sent, 1 = get sent
  int busy;                // a request is in flight (fill mode leaves a connection idle at the end)
  char in[1 << 16];
  int inlen;
  double t0;
} conn_t;

static double now(void) {
  struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int nq, size, redis; static const char *prefix; static char *value;
static double *lat; static long nlat, maxlat; static long errors;
// Fill mode: fill_target > 0. Sets acknowledged, sets in flight, the next queue in turn.
static long fill_target, fill_acked, fill_inflight, fill_next;

// Fill mode takes the queues in turn so a backlog is spread evenly; the flood picks at random.
static int set_queue(void) {
  if (fill_target > 0) return (int)(fill_next++ % nq);
  return rand() % nq;
}

static void send_req(conn_t *c) {
  char buf[REQ_HEAD + MAX_SIZE + 2]; int n; int q = c->phase == 0 ? set_queue() : rand() % nq;
  if (redis) {
    char key[128]; int kl = snprintf(key, sizeof key, "%s%d", prefix, q);
    if (c->phase == 0) {
      n = snprintf(buf, REQ_HEAD, "*3\r\n$5\r\nLPUSH\r\n$%d\r\n%s\r\n$%d\r\n", kl, key, size);
      memcpy(buf + n, value, size); n += size; buf[n++] = '\r'; buf[n++] = '\n';
    } else {
      n = snprintf(buf, REQ_HEAD, "*2\r\n$4\r\nRPOP\r\n$%d\r\n%s\r\n", kl, key);
    }
  } else if (c->phase == 0) {
    n = snprintf(buf, REQ_HEAD, "set %s%d 0 0 %d\r\n", prefix, q, size);
    memcpy(buf + n, value, size); n += size; buf[n++] = '\r'; buf[n++] = '\n';
  } else {
    n = snprintf(buf, REQ_HEAD, "get %s%d\r\n", prefix, q);
  }
  c->t0 = now();
  c->busy = 1;
  if (fill_target > 0) fill_inflight++;
  if (write(c->fd, buf, n) != n) { errors++; }
}

// returns 1 when a full reply is in c->in
static int reply_done(conn_t *c) {
  if (redis) {
    char *nl = memchr(c->in, '\n', c->inlen); if (!nl) return 0;
    if (c->in[0] != '$') return 1;            // :N, -ERR, +OK
    long bytes = atol(c->in + 1); if (bytes < 0) return 1;   // $-1 nil
    return c->inlen >= (nl - c->in + 1) + bytes + 2;
  }
  if (c->phase == 0) return c->inlen >= 2 && c->in[c->inlen - 1] == '\n';
  if (c->inlen >= 5 && memcmp(c->in, "END\r\n", 5) == 0) return 1;
  if (c->inlen >= 6 && memcmp(c->in, "VALUE ", 6) == 0) {
    char *nl = memchr(c->in, '\n', c->inlen); if (!nl) return 0;
    // VALUE name flags bytes
    char *p = nl; while (p > c->in && p[-1] != ' ') p--;
    long bytes = atol(p);
    long need = (nl - c->in + 1) + bytes + 2 + 5;
    return c->inlen >= need;
  }
  return c->inlen >= 2 && c->in[c->inlen - 1] == '\n';
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y;
}

// Fill mode: another set may go out only while the acknowledged and in-flight ones are fewer than
// the target, so exactly fill_target are stored (a refused set frees its place for a retry).
static int fill_may_send(void) { return fill_acked + fill_inflight < fill_target; }

// Fill mode: after a refused set or a lost connection, idle connections take up the slack.
static void fill_kick(conn_t *cs, int nc) {
  for (int i = 0; i < nc && fill_may_send(); i++)
    if (cs[i].fd >= 0 && !cs[i].busy) send_req(&cs[i]);
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: flood HOST PORT CONNS SECONDS [QUEUES] [SIZE] [PREFIX]\n"); return 2; }
  const char *host = argv[1]; int port = atoi(argv[2]); int nc = atoi(argv[3]); double secs = atof(argv[4]);
  nq = argc > 5 ? atoi(argv[5]) : 10; size = argc > 6 ? atoi(argv[6]) : 64; prefix = argc > 7 ? argv[7] : "fl";
  redis = getenv("FLOOD_PROTO") && strcmp(getenv("FLOOD_PROTO"), "redis") == 0;
  fill_target = getenv("FLOOD_FILL") ? atol(getenv("FLOOD_FILL")) : 0;
  if (nc < 1 || nq < 1 || size < 0 || size > MAX_SIZE || fill_target < 0) {
    fprintf(stderr, "flood: need CONNS >= 1, QUEUES >= 1, 0 <= SIZE <= %d, FLOOD_FILL >= 0\n", MAX_SIZE);
    return 2;
  }
  value = malloc(size + 1); for (int i = 0; i < size; i++) value[i] = 'a' + i % 26;
  maxlat = 20000000; lat = malloc(sizeof(double) * maxlat);
  int ep = epoll_create1(0);
  conn_t *cs = calloc(nc, sizeof(conn_t));
  struct sockaddr_in sa = {0}; sa.sin_family = AF_INET; sa.sin_port = htons(port); inet_pton(AF_INET, host, &sa.sin_addr);
  for (int i = 0; i < nc; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("connect"); return 1; }
    int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    cs[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  double start = now(), end = start + secs; long ops = 0;
  int filling = getenv("FLOOD_FILL") != NULL;
  for (int i = 0; i < nc && (!filling || fill_may_send()); i++) send_req(&cs[i]);
  struct epoll_event evs[1024];
  while (now() < end && !(filling && fill_acked >= fill_target)) {
    int n = epoll_wait(ep, evs, 1024, 100);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      ssize_t r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
      if (r <= 0) {
        errors++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); c->fd = -1;
        if (filling && c->busy) fill_inflight--;
        c->busy = 0;
        continue;
      }
      c->inlen += r;
      if (reply_done(c)) {
        int stored = strncmp(c->in, redis ? ":" : "STORED", redis ? 1 : 6) == 0;
        if (c->phase == 0 && !stored) errors++;
        if (nlat < maxlat) lat[nlat++] = now() - c->t0;
        c->busy = 0; c->inlen = 0;
        if (filling) {
          fill_inflight--;
          if (stored) { fill_acked++; ops++; }
          if (fill_may_send() && now() < end) send_req(c);
          continue;
        }
        ops++; c->phase ^= 1;
        if (now() < end) send_req(c);
      }
    }
    if (filling && fill_may_send()) fill_kick(cs, nc);
  }
  double el = now() - start;
  qsort(lat, nlat, sizeof(double), cmpd);
  double p50 = nlat ? lat[nlat / 2] * 1e6 : 0, p99 = nlat ? lat[(long)(nlat * 0.99)] * 1e6 : 0;
  printf("%.0f %.0f %.0f %ld\n", el > 0 ? ops / el : 0, p50, p99, errors);
  if (filling && fill_acked < fill_target) {
    fprintf(stderr, "flood: fill stopped after %.1f s with %ld of %ld sets acknowledged\n", el, fill_acked, fill_target);
    return 3;
  }
  return 0;
}
