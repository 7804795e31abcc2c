// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: the Kafka wire protocol in front of /dev/mq.
 *
 * One process, one thread, one epoll loop.  Every connection reads one
 * request frame at a time into a buffer of exactly its size (at most
 * max_request bytes), answers it into its output buffer, and reads the next
 * only once that answer is under max_pending_out bytes: a client that does
 * not read its answers stops being read from, and one whose answers cannot
 * be sent for idle_timeout_ms is closed.  A request that must wait (a Fetch
 * for more bytes, a JoinGroup for the other members, an acks=all Produce
 * for the high watermark) parks its connection until it is answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "kafkad.h"

#define DEFAULT_CONFIG	"/etc/mqdev/mqdev-kafkad.conf"
#define TICK_MS		100	/* groups' session timeouts and the like */
#define PARK_POLL_MS	5	/* parked Fetches look for records this often, */
#define PARK_POLL_MAX	160	/* less often the longer they wait */
#define RECORD_MAX	(8 << 20) /* the largest max_record of a topic */

static volatile sig_atomic_t stopping;

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void logmsg(const struct daemon *d, const char *fmt, ...)
{
	va_list ap;

	if (!d->cfg.verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "mqdev-kafkad: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen_host, "127.0.0.1");
	cfg->port = 9092;
	cfg->max_connections = 256;
	cfg->max_request = 1024 * 1024 + 64 * 1024;
	cfg->max_response = 1024 * 1024;
	cfg->max_pending_out = 256 * 1024;
	cfg->idle_timeout_ms = 600 * 1000;
	cfg->first_request_ms = 10 * 1000;
	cfg->create_partitions = 1;
	cfg->create_capacity = 0;
	cfg->group_initial_delay_ms = 0;
	cfg->group_max_size = 256;
	cfg->max_consumers = 256;
	cfg->max_producers = 1024;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	unsigned long long n;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	if (shift && n > ULLONG_MAX >> shift)
		return -ERANGE;
	n <<= shift;
	end += !!shift;
	if (*end || n < min || n > max)
		return -ERANGE;
	*v = n;
	return 0;
}

/* HOST:PORT, :PORT or HOST */
static int parse_listen(struct config *cfg, const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t hlen = colon ? (size_t)(colon - s) : strlen(s);
	uint64_t port;

	if (hlen >= sizeof(cfg->listen_host))
		return -EINVAL;
	if (colon) {
		if (parse_u64(colon + 1, 1, 65535, &port))
			return -EINVAL;
		cfg->port = port;
	}
	if (hlen) {
		memcpy(cfg->listen_host, s, hlen);
		cfg->listen_host[hlen] = 0;
	}
	return 0;
}

static int parse_bool(const char *s, bool *v)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
		*v = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
		*v = false;
	else
		return -EINVAL;
	return 0;
}

/* One setting, from the config file or the command line (--set). */
static int config_set(struct config *cfg, const char *key, const char *val)
{
	uint64_t v;

#define NUM(name, field, min, max)					\
	if (!strcmp(key, name)) {					\
		if (parse_u64(val, min, max, &v))			\
			return -EINVAL;					\
		cfg->field = v;						\
		return 0;						\
	}
	if (!strcmp(key, "listen"))
		return parse_listen(cfg, val);
	if (!strcmp(key, "advertised_host")) {
		if (strlen(val) >= sizeof(cfg->advertised_host))
			return -EINVAL;
		strcpy(cfg->advertised_host, val);
		return 0;
	}
	if (!strcmp(key, "auto_create_topics"))
		return parse_bool(val, &cfg->auto_create);
	if (!strcmp(key, "verbose"))
		return parse_bool(val, &cfg->verbose);
	if (!strcmp(key, "allow_simple_commit"))
		return parse_bool(val, &cfg->allow_simple_commit);
	NUM("max_connections", max_connections, 1, 65536);
	NUM("max_request", max_request, 4096, 64 << 20);
	NUM("max_response", max_response, 4096, 64 << 20);
	NUM("max_pending_out", max_pending_out, 4096, 64 << 20);
	NUM("idle_timeout_ms", idle_timeout_ms, 100, 86400000);
	NUM("first_request_ms", first_request_ms, 100, 86400000);
	NUM("create_partitions", create_partitions, 1, 1024);
	NUM("create_capacity", create_capacity, 0, UINT64_MAX);
	NUM("group_initial_delay_ms", group_initial_delay_ms, 0, 600000);
	NUM("group_max_size", group_max_size, 1, 1024);
	NUM("max_consumers", max_consumers, 1, 65536);
	NUM("max_producers", max_producers, 1, 65536);
	NUM("advertised_port", advertised_port, 0, 65535);
#undef NUM
	return -ENOENT;
}

/* The rest of a long (comment) line: true if there was an end to it. */
static bool skip_line(FILE *f)
{
	int ch;

	while ((ch = getc(f)) != EOF)
		if (ch == '\n')
			return true;
	return true;
}

static int config_load(struct config *cfg, const char *path, bool must)
{
	char line[512], *key, *val, *end;
	unsigned int n = 0;
	int err = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		if (!must && errno == ENOENT)
			return 0;
		fprintf(stderr, "mqdev-kafkad: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		n++;
		key = line + strspn(line, " \t");
		/* A line longer than the buffer is not read as two. */
		if (!strchr(line, '\n') && !feof(f)) {
			if (*key == '#' && skip_line(f))
				continue;
			fprintf(stderr, "mqdev-kafkad: %s:%u: line too long\n",
				path, n);
			err = -EINVAL;
			break;
		}
		if (*key == '#' || *key == '\n' || !*key)
			continue;
		val = strchr(key, '=');
		if (!val) {
			err = -EINVAL;
		} else {
			*val++ = 0;
			for (end = val + strlen(val); end > val &&
			     strchr(" \t\r\n", end[-1]); end--)
				end[-1] = 0;
			val += strspn(val, " \t");
			for (end = key + strlen(key); end > key &&
			     strchr(" \t", end[-1]); end--)
				end[-1] = 0;
			err = config_set(cfg, key, val);
		}
		if (err) {
			fprintf(stderr, "mqdev-kafkad: %s:%u: %s\n", path, n,
				err == -ENOENT ? "unknown setting" :
				"bad line or value");
			break;
		}
	}
	fclose(f);
	return err ? -1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: mqdev-kafkad [OPTION]...\n"
"The Kafka wire protocol in front of /dev/mq: one broker, node 0.\n"
"\n"
"  -l, --listen HOST:PORT  where to listen (default 127.0.0.1:9092)\n"
"  -c, --config FILE       settings (default " DEFAULT_CONFIG ", if any)\n"
"  -s, --set KEY=VALUE     one setting, after the file's\n"
"      --auto-create       Metadata creates topics it is asked for\n"
"  -v, --verbose           log connections and refusals to stderr\n"
"  -h, --help              this text\n"
"\n"
"Settings (config file lines KEY = VALUE): listen, advertised_host,\n"
"advertised_port, max_connections, max_request, max_response,\n"
"max_pending_out, idle_timeout_ms, first_request_ms, auto_create_topics,\n"
"create_partitions, create_capacity, group_initial_delay_ms,\n"
"group_max_size, max_producers, max_consumers, allow_simple_commit,\n"
"verbose.\n"
"See mqdev-kafkad(8).\n"
"\n"
"The daemon acts on /dev/mq with its own credentials for whoever connects:\n"
"keep it on loopback unless every host that can reach it may do so.\n");
}

static int parse_args(struct daemon *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "auto-create", no_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	char *eq;
	int o;

	config_defaults(&d->cfg);
	/*
	 * The file first, so that options override it wherever they stand:
	 * -c FILE, -cFILE, --config FILE and --config=FILE.
	 */
	for (o = 1; o < argc && strcmp(argv[o], "--"); o++) {
		if (!strcmp(argv[o], "-c") || !strcmp(argv[o], "--config"))
			config = ++o < argc ? argv[o] : NULL;
		else if (!strncmp(argv[o], "--config=", 9))
			config = argv[o] + 9;
		else if (!strncmp(argv[o], "-c", 2))
			config = argv[o] + 2;
	}
	if (config_load(&d->cfg, config ? config : DEFAULT_CONFIG, !!config))
		return -1;
	while ((o = getopt_long(argc, argv, "l:c:s:vh", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			if (parse_listen(&d->cfg, optarg)) {
				fprintf(stderr, "mqdev-kafkad: bad --listen %s\n",
					optarg);
				return -1;
			}
			break;
		case 'c':
			break;
		case 's':
			eq = strchr(optarg, '=');
			if (eq)
				*eq = 0;
			if (!eq || config_set(&d->cfg, optarg, eq + 1)) {
				fprintf(stderr, "mqdev-kafkad: bad --set %s\n",
					optarg);
				return -1;
			}
			break;
		case 'a':
			d->cfg.auto_create = true;
			break;
		case 'v':
			d->cfg.verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mqdev-kafkad: unexpected argument %s\n",
			argv[optind]);
		return -1;
	}
	if (!d->cfg.advertised_host[0])
		strcpy(d->cfg.advertised_host, d->cfg.listen_host);
	if (!d->cfg.advertised_port)
		d->cfg.advertised_port = d->cfg.port;
	return 0;
}

static int listen_socket(struct daemon *d)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	if (inet_pton(AF_INET, d->cfg.listen_host, &sin.sin_addr) != 1) {
		fprintf(stderr, "mqdev-kafkad: %s is not an IPv4 address\n",
			d->cfg.listen_host);
		return -1;
	}
	sin.sin_port = htons(d->cfg.port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(fd, 128)) {
		fprintf(stderr, "mqdev-kafkad: %s:%u: %s\n",
			d->cfg.listen_host, d->cfg.port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void conn_update_events(struct daemon *d, struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	size_t pending = c->out.len - c->out_sent;

	if (!c->parked && !c->closing && pending < d->cfg.max_pending_out)
		ev.events |= EPOLLIN;
	if (pending)
		ev.events |= EPOLLOUT;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_park_clear(struct conn *c)
{
	if (c->park_free && c->park_state)
		c->park_free(c->park_state);
	c->park_state = NULL;
	c->park_free = NULL;
	c->park = NULL;
	c->parked = false;
	free(c->frame);
	c->frame = NULL;
	c->frame_len = c->frame_got = 0;
	c->size_got = 0;
}

/*
 * Out of file descriptors, the listener stays readable and accept() fails
 * at once: it is disarmed until a connection closes or the next tick.
 */
static void accept_pause(struct daemon *d, bool pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN };

	if (pause == d->accept_paused)
		return;
	ev.data.ptr = NULL;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->lfd, &ev);
	d->accept_paused = pause;
	if (pause)
		logmsg(d, "out of file descriptors: not accepting for now");
}

static void conn_close(struct daemon *d, struct conn *c)
{
	struct conn **pp;

	for (pp = &d->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	logmsg(d, "connection %llu from %s closed",
	       (unsigned long long)c->id, c->peer);
	groups_conn_gone(d, c);
	conn_park_clear(c);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	kw_free(&c->out);
	free(c);
	d->nconns--;
	accept_pause(d, false);
}

static void accept_conns(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_in sin;
	socklen_t slen;
	struct conn *c;
	int fd, one = 1;

	for (;;) {
		slen = sizeof(sin);
		fd = accept4(d->lfd, (struct sockaddr *)&sin, &slen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_pause(d, true);
			return;
		}
		/* Over the cap: the newcomer is turned away, others carry on. */
		c = d->nconns < d->cfg.max_connections ? calloc(1, sizeof(*c)) :
			NULL;
		if (!c) {
			logmsg(d, "connection refused: %u open", d->nconns);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->id = ++d->next_conn_id;
		c->last_io_ms = d->now_ms;
		c->opened_ms = d->now_ms;
		snprintf(c->peer, sizeof(c->peer), "%s:%u",
			 inet_ntoa(sin.sin_addr), ntohs(sin.sin_port));
		/*
		 * An answer is never larger than this, nor the output queue:
		 * a Fetch answer may hold one record past max_response.
		 */
		kw_init(&c->out, (size_t)d->cfg.max_pending_out +
			d->cfg.max_response + RECORD_MAX + 65536);
		ev.data.ptr = c;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = d->conns;
		d->conns = c;
		d->nconns++;
		logmsg(d, "connection %llu from %s", (unsigned long long)c->id,
		       c->peer);
	}
}

/* Start an answer to the request being served: its size, then its id. */
size_t conn_begin_answer(struct conn *c)
{
	size_t mark = c->out.len;

	kw_i32(&c->out, 0);
	kw_i32(&c->out, c->req.corr);
	return mark;
}

void conn_end_answer(struct daemon *d, struct conn *c, size_t mark)
{
	kw_put_i32_at(&c->out, mark, (int32_t)(c->out.len - mark - 4));
}

/* A parked request was answered elsewhere (a group): read on. */
void conn_unpark(struct daemon *d, struct conn *c)
{
	conn_park_clear(c);
	conn_update_events(d, c);
}

/*
 * Serve the request in c->frame: 0, or -1 to close the connection (a
 * malformed request, or an answer that would not fit).
 */
static int conn_serve(struct daemon *d, struct conn *c)
{
	struct request *rq = &c->req;
	struct kr r;
	size_t mark;
	int ret;

	kr_init(&r, c->frame, c->frame_len);
	rq->key = kr_i16(&r);
	rq->version = kr_i16(&r);
	rq->corr = kr_i32(&r);
	rq->client_id = kr_str(&r);
	/*
	 * ApiVersions v3 has the flexible header (tagged fields); a later
	 * version is answered in v0 whatever its header holds.
	 */
	if (rq->key == API_API_VERSIONS && rq->version == 3)
		kr_skip_tags(&r);
	if (r.err)
		return -1;
	rq->body = r.p;
	rq->body_len = kr_left(&r);

	mark = conn_begin_answer(c);
	c->served = true;
	ret = handle_request(d, c, rq);
	if (ret == H_CLOSE || c->out.err) {
		logmsg(d, "connection %llu: bad request key %d version %d",
		       (unsigned long long)c->id, rq->key, rq->version);
		return -1;
	}
	if (ret == H_PARK) {
		c->out.len = mark;
		c->parked = true;
		c->park_wait_ms = PARK_POLL_MS;
		c->park_next_ms = d->now_ms + PARK_POLL_MS;
		return 0;
	}
	if (ret == H_SILENT)
		c->out.len = mark;
	else
		conn_end_answer(d, c, mark);
	conn_park_clear(c);
	return 0;
}

/* Read what there is, serving each complete frame; -1 to close. */
static int conn_read(struct daemon *d, struct conn *c)
{
	ssize_t n;
	uint32_t size;

	while (!c->parked && c->out.len - c->out_sent < d->cfg.max_pending_out) {
		if (c->size_got < 4) {
			n = read(c->fd, c->size_buf + c->size_got,
				 4 - c->size_got);
		} else {
			n = read(c->fd, c->frame + c->frame_got,
				 c->frame_len - c->frame_got);
		}
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->last_io_ms = d->now_ms;
		if (c->size_got < 4) {
			c->size_got += n;
			if (c->size_got < 4)
				continue;
			size = be32get(c->size_buf);
			/* header: key, version, correlation id, client id */
			if (size < 10 || size > d->cfg.max_request) {
				logmsg(d, "connection %llu: frame of %u bytes",
				       (unsigned long long)c->id, size);
				return -1;
			}
			c->frame = malloc(size);
			if (!c->frame)
				return -1;
			c->frame_len = size;
			c->frame_got = 0;
			continue;
		}
		c->frame_got += n;
		if (c->frame_got < c->frame_len)
			continue;
		if (conn_serve(d, c))
			return -1;
	}
	return 0;
}

static int conn_write(struct daemon *d, struct conn *c)
{
	ssize_t n;

	while (c->out_sent < c->out.len) {
		n = send(c->fd, c->out.buf + c->out_sent,
			 c->out.len - c->out_sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return errno == EINTR ? 0 : -1;
		c->out_sent += n;
		c->last_io_ms = d->now_ms;
	}
	/*
	 * What was sent goes, once it is as much as what is not (or 64
	 * KiB): the buffer's limit bounds unsent bytes, and a client that
	 * reads slowly but reads is not closed for what it did read.
	 * Answers are not being written now.
	 */
	if (c->out_sent < c->out.len) {
		if (c->out_sent < 65536 &&
		    c->out_sent < c->out.len - c->out_sent)
			return 0;
		memmove(c->out.buf, c->out.buf + c->out_sent,
			c->out.len - c->out_sent);
		c->out.len -= c->out_sent;
		c->out_sent = 0;
		return 0;
	}
	/* All sent: the buffer starts over (kept, up to 64 KiB). */
	c->out.len = c->out_sent = 0;
	if (c->out.cap > 65536) {
		kw_free(&c->out);
	}
	return 0;
}

static void conn_event(struct daemon *d, struct conn *c, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		conn_close(d, c);
		return;
	}
	if ((events & EPOLLOUT) && conn_write(d, c)) {
		conn_close(d, c);
		return;
	}
	if ((events & EPOLLIN) && conn_read(d, c)) {
		conn_close(d, c);
		return;
	}
	/* Answers written while reading go out now if they can. */
	if (c->out.len > c->out_sent && conn_write(d, c)) {
		conn_close(d, c);
		return;
	}
	conn_update_events(d, c);
}

/*
 * Parked requests that poll (Fetch, acks=all Produce) look again, and
 * connections idle or stuck too long are closed.
 */
/*
 * @woken: something was produced, every parked request looks; otherwise
 * each when its time comes, from PARK_POLL_MS after it parked to
 * PARK_POLL_MAX apart (records of another producer, or a watermark moved
 * by a replica, are seen that late at worst).
 */
static void conns_tick(struct daemon *d, bool woken)
{
	struct conn *c, *next;
	bool final;
	int ret;
	size_t mark;

	for (c = d->conns; c; c = next) {
		next = c->next;
		if (c->parked && c->park) {
			final = d->now_ms >= c->deadline_ms;
			if (!final && !woken && d->now_ms < c->park_next_ms)
				continue;
			mark = conn_begin_answer(c);
			ret = c->park(d, c, final);
			if (ret == H_PARK && !final) {
				c->out.len = mark;
				c->park_next_ms = d->now_ms + c->park_wait_ms;
				if (c->park_wait_ms < PARK_POLL_MAX)
					c->park_wait_ms *= 2;
				continue;
			}
			if (ret == H_CLOSE || ret == H_PARK || c->out.err) {
				conn_close(d, c);
				continue;
			}
			if (ret == H_SILENT)
				c->out.len = mark;
			else
				conn_end_answer(d, c, mark);
			conn_park_clear(c);
			conn_event(d, c, 0);
			continue;
		}
		/*
		 * Every client is 127.0.0.1 on loopback: no cap per peer
		 * helps there.  A connection must at least send a whole
		 * request soon, or it goes.
		 */
		if (!c->served &&
		    d->now_ms - c->opened_ms > d->cfg.first_request_ms) {
			logmsg(d, "connection %llu sent no request: closed",
			       (unsigned long long)c->id);
			conn_close(d, c);
			continue;
		}
		if (!c->parked &&
		    d->now_ms - c->last_io_ms > d->cfg.idle_timeout_ms) {
			logmsg(d, "connection %llu idle: closed",
			       (unsigned long long)c->id);
			conn_close(d, c);
		}
	}
}

static bool any_polling(const struct daemon *d)
{
	const struct conn *c;

	for (c = d->conns; c; c = c->next)
		if (c->parked && c->park)
			return true;
	return false;
}

static void on_signal(int sig)
{
	stopping = 1;
}

static int run(struct daemon *d)
{
	struct epoll_event evs[64], ev = { .events = EPOLLIN };
	uint64_t last_tick = 0, last_poll = 0;
	bool woken;
	int n, i, timeout;

	ev.data.ptr = NULL;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->lfd, &ev))
		return -1;
	while (!stopping) {
		timeout = any_polling(d) ? PARK_POLL_MS : TICK_MS;
		n = epoll_wait(d->epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR)
			return -1;
		d->now_ms = now_ms();
		for (i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				accept_conns(d);
			else
				conn_event(d, evs[i].data.ptr, evs[i].events);
		}
		if (d->produced || d->now_ms - last_poll >= PARK_POLL_MS) {
			woken = d->produced;
			d->produced = false;
			last_poll = d->now_ms;
			conns_tick(d, woken);
		}
		if (d->now_ms - last_tick >= TICK_MS) {
			last_tick = d->now_ms;
			accept_pause(d, false);
			groups_tick(d);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { .lfd = -1, .mqfd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	int err, ret = 1;

	if (parse_args(&d, argc, argv))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	d.now_ms = now_ms();
	d.mqfd = mqdev_open();
	if (d.mqfd < 0) {
		fprintf(stderr, "mqdev-kafkad: /dev/mq: %s\n", strerror(-d.mqfd));
		return 1;
	}
	err = mqdev_nl_open(&d.nl);
	if (err) {
		fprintf(stderr, "mqdev-kafkad: mqdev's netlink family: %s\n",
			strerror(-err));
		goto out;
	}
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.lfd = listen_socket(&d);
	if (d.epfd < 0 || d.lfd < 0)
		goto out;
	fprintf(stderr, "mqdev-kafkad: listening on %s:%u\n",
		d.cfg.listen_host, d.cfg.port);
	ret = run(&d) ? 1 : 0;
out:
	while (d.conns)
		conn_close(&d, d.conns);
	groups_free(&d);
	producers_free(&d);
	topics_free(&d);
	if (d.nl)
		mqdev_nl_close(d.nl);
	if (d.lfd >= 0)
		close(d.lfd);
	if (d.epfd >= 0)
		close(d.epfd);
	close(d.mqfd);
	return ret;
}
