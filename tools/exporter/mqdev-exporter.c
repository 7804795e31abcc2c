// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-exporter: mqdev's statistics for Prometheus, over HTTP.
 *
 * One process, one epoll loop: it listens (127.0.0.1:9464 by default) and
 * answers GET /metrics with the text that mqctl stats --prometheus prints
 * (tools/common/mqstats.c), read from the kernel at each scrape; any other
 * path gets 404, any other method 405, and what is not HTTP 400.  One
 * request per connection (Connection: close).
 *
 * Every connection costs a bounded amount: a request buffer of at most
 * MAX_REQUEST bytes (past it: 431), the response (its size is what the
 * statistics of the topics this user may read come to), at most
 * max_connections of them at once (past it a new one is closed at once),
 * and an idle timeout after which a client that sends or reads nothing is
 * dropped, so that one that never reads its answer holds nothing for long.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "libmqdev.h"
#include "mqstats.h"
#include "sig.h"

#define MAX_REQUEST	8192	/* request line and headers */
#define MAX_DRAIN	65536	/* what is read and dropped after an answer */
#define MAX_EVENTS	64

struct config {
	char		listen[64];	/* ADDR:PORT */
	unsigned int	max_connections;
	unsigned int	idle_timeout;	/* seconds */
};

struct conn {
	int		fd;
	bool		used;
	bool		writing;
	bool		draining;	/* answered: reading to the client's end */
	size_t		drained;
	time_t		deadline;	/* CLOCK_MONOTONIC seconds */
	size_t		in_len;
	char		in[MAX_REQUEST];
	char		*out;		/* the response, while writing */
	size_t		out_len;
	size_t		out_off;
};

static const char usage[] =
"usage: mqdev-exporter [--listen ADDR:PORT] [--config FILE]\n"
"                      [--max-connections N] [--idle-timeout SECONDS]\n"
"\n"
"Serves mqdev's statistics to Prometheus at http://ADDR:PORT/metrics, as\n"
"'mqctl stats --prometheus' prints them: the counters of every topic this\n"
"user may read, and what the module holds against its limits.\n"
"\n"
"  --listen ADDR:PORT      an IPv4 address and port (127.0.0.1:9464)\n"
"  --config FILE           'key = value' lines: listen, max_connections,\n"
"                          idle_timeout; options given later override it\n"
"  --max-connections N     clients served at once; more are closed (64)\n"
"  --idle-timeout SECONDS  drop a client silent this long (10)\n";

static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("mqdev-exporter: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static time_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static unsigned int parse_uint(const char *s, const char *what,
			       unsigned int lo, unsigned int hi)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		fail("%s: %u to %u, not '%s'", what, lo, hi, s);
	return v;
}

static void set_option(struct config *c, const char *key, const char *val)
{
	if (!strcmp(key, "listen")) {
		if (strlen(val) >= sizeof(c->listen))
			fail("listen: '%s' is too long", val);
		strcpy(c->listen, val);
	} else if (!strcmp(key, "max_connections")) {
		c->max_connections = parse_uint(val, key, 1, 4096);
	} else if (!strcmp(key, "idle_timeout")) {
		c->idle_timeout = parse_uint(val, key, 1, 3600);
	} else {
		fail("unknown setting '%s'", key);
	}
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]))
		*--e = '\0';
	return s;
}

static void read_config(struct config *c, const char *path)
{
	char line[512], *eq, *key;
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		fail("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		n++;
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq)
			fail("%s:%d: not 'key = value'", path, n);
		*eq = '\0';
		set_option(c, trim(key), trim(eq + 1));
	}
	fclose(f);
}

static int listen_on(const char *spec)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64], *colon;
	int fd, one = 1;

	snprintf(host, sizeof(host), "%s", spec);
	colon = strrchr(host, ':');
	if (!colon)
		fail("listen: ADDR:PORT, not '%s'", spec);
	*colon = '\0';
	sa.sin_port = htons(parse_uint(colon + 1, "listen port", 1, 65535));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		fail("listen: '%s' is not an IPv4 address", host);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64))
		fail("listen on %s: %s", spec, strerror(errno));
	return fd;
}

/* The whole response, headers and body, in one malloc()ed buffer. */
static void respond(struct conn *c, const char *status, const char *extra,
		    const char *type, const char *body, size_t len)
{
	FILE *f = open_memstream(&c->out, &c->out_len);

	if (!f) {
		c->out = NULL;
		c->out_len = 0;
		return;
	}
	fprintf(f, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n%s\r\n", status, type, len, extra);
	fwrite(body, 1, len, f);
	if (fclose(f)) {
		free(c->out);
		c->out = NULL;
		c->out_len = 0;
	}
}

static void respond_text(struct conn *c, const char *status, const char *extra,
			 const char *msg)
{
	respond(c, status, extra, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* A scrape: the statistics now, or 503 with the reason. */
static void respond_metrics(struct conn *c)
{
	struct mqdev_nl *nl;
	struct mqstats s;
	char *body = NULL, msg[256];
	size_t len = 0;
	FILE *f;
	int err;

	err = mqdev_nl_open(&nl);
	if (!err) {
		err = mqstats_take(nl, NULL, &s);
		if (err)
			snprintf(msg, sizeof(msg), "mqdev: %s\n",
				 *mqdev_nl_error(nl) ? mqdev_nl_error(nl) :
				 strerror(-err));
		mqdev_nl_close(nl);
	} else {
		snprintf(msg, sizeof(msg), "mqdev: %s\n", err == -ENODEV ?
			 "the module is not loaded" : strerror(-err));
	}
	if (err) {
		respond_text(c, "503 Service Unavailable", "", msg);
		return;
	}
	f = open_memstream(&body, &len);
	err = f ? mqstats_prometheus(&s, f) : -ENOMEM;
	if (f && fclose(f))
		err = -ENOMEM;
	mqstats_free(&s);
	if (err)
		respond_text(c, "500 Internal Server Error", "",
			     "out of memory\n");
	else
		respond(c, "200 OK", "", "text/plain; version=0.0.4; "
			"charset=utf-8", body, len);
	free(body);
}

/* The request line, once the headers' end has come: what to answer. */
static void handle_request(struct conn *c)
{
	char *sp1, *sp2, *eol = memchr(c->in, '\n', c->in_len);
	char *path;

	if (eol)
		*eol = '\0';
	sp1 = eol ? strchr(c->in, ' ') : NULL;
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		respond_text(c, "400 Bad Request", "", "bad request\n");
		return;
	}
	*sp1 = *sp2 = '\0';
	path = sp1 + 1;
	if (strcmp(c->in, "GET") && strcmp(c->in, "HEAD")) {
		respond_text(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
			     "only GET\n");
	} else if (strcmp(path, "/metrics") && strncmp(path, "/metrics?", 9)) {
		respond_text(c, "404 Not Found", "",
			     "not found: the metrics are at /metrics\n");
	} else {
		respond_metrics(c);
		/* HEAD: the headers alone */
		if (!strcmp(c->in, "HEAD") && c->out) {
			char *end = strstr(c->out, "\r\n\r\n");

			if (end)
				c->out_len = end + 4 - c->out;
		}
	}
}

static void conn_close(int ep, struct conn *c, unsigned int *nr_open)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->used = false;
	(*nr_open)--;
}

/*
 * Answered: say so (FIN) and read what the client still sends, up to
 * MAX_DRAIN, before closing.  Closed with unread bytes, the socket would
 * reset the connection, and the client could lose the answer (a 431 to a
 * request still coming).  True when the connection is done with.
 */
static bool conn_drain(int ep, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	char buf[4096];
	ssize_t n;

	if (!c->draining) {
		c->draining = true;
		shutdown(c->fd, SHUT_WR);
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	while (c->drained < MAX_DRAIN) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return n == 0 || (errno != EAGAIN && errno != EINTR);
		c->drained += n;
	}
	return true;
}

/* Write what the socket takes; true when the connection is done with. */
static bool conn_write(int ep, struct conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL);
		if (n < 0)
			return errno != EAGAIN && errno != EINTR;
		c->out_off += n;
	}
	return conn_drain(ep, c);
}

/* Start answering: from now on the connection only writes. */
static bool conn_answer(int ep, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	c->writing = true;
	if (!c->out)
		return true;		/* no memory for an answer: drop it */
	if (conn_write(ep, c))
		return true;
	if (c->draining)
		return false;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return false;
}

/* Read what came; true when the connection is done with. */
static bool conn_read(int ep, struct conn *c)
{
	ssize_t n;

	for (;;) {
		if (c->in_len == sizeof(c->in) - 1) {
			respond_text(c, "431 Request Header Fields Too Large",
				     "", "request too large\n");
			return conn_answer(ep, c);
		}
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len,
			 0);
		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EINTR;
		c->in_len += n;
		c->in[c->in_len] = '\0';
		if (memmem(c->in, c->in_len, "\r\n\r\n", 4) ||
		    memmem(c->in, c->in_len, "\n\n", 2)) {
			handle_request(c);
			return conn_answer(ep, c);
		}
	}
}

static void conn_accept(int ep, int lfd, struct conn *conns,
			const struct config *cfg, unsigned int *nr_open)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c = NULL;
	unsigned int i;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (*nr_open >= cfg->max_connections) {
			close(fd);	/* full: the client may try again */
			continue;
		}
		for (i = 0; i < cfg->max_connections; i++)
			if (!conns[i].used) {
				c = &conns[i];
				break;
			}
		c->fd = fd;
		c->used = true;
		c->writing = false;
		c->draining = false;
		c->drained = 0;
		c->in_len = 0;
		c->out = NULL;
		c->out_len = c->out_off = 0;
		c->deadline = now() + cfg->idle_timeout;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			c->used = false;
			continue;
		}
		(*nr_open)++;
	}
}

/* Drop whoever has been silent, or not read, past its deadline. */
static void reap_idle(int ep, struct conn *conns, const struct config *cfg,
		      unsigned int *nr_open)
{
	time_t t = now();
	unsigned int i;

	for (i = 0; i < cfg->max_connections; i++)
		if (conns[i].used && t >= conns[i].deadline)
			conn_close(ep, &conns[i], nr_open);
}

static int signal_fd(void)
{
	int fd = stop_signal_fd();

	if (fd < 0)
		fail("signalfd: %s", strerror(-fd));
	return fd;
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "listen",		required_argument, NULL, 'l' },
		{ "config",		required_argument, NULL, 'c' },
		{ "max-connections",	required_argument, NULL, 'm' },
		{ "idle-timeout",	required_argument, NULL, 't' },
		{ "help",		no_argument,	   NULL, 'h' },
		{}
	};
	int opt;

	/* the config file first, whatever its place: options override it */
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'c')
			read_config(cfg, optarg);
		else if (opt == 'h') {
			fputs(usage, stdout);
			exit(0);
		} else if (opt == '?') {
			fputs(usage, stderr);
			exit(2);
		}
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'l')
			set_option(cfg, "listen", optarg);
		else if (opt == 'm')
			set_option(cfg, "max_connections", optarg);
		else if (opt == 't')
			set_option(cfg, "idle_timeout", optarg);
	}
	if (optind < argc)
		fail("unexpected argument '%s' (see --help)", argv[optind]);
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.listen = "127.0.0.1:9464", .max_connections = 64,
		.idle_timeout = 10,
	};
	struct epoll_event ev = { .events = EPOLLIN }, evs[MAX_EVENTS];
	unsigned int nr_open = 0, i;
	int ep, lfd, sfd, n;
	struct conn *conns, *c;
	bool done;

	parse_args(argc, argv, &cfg);
	conns = calloc(cfg.max_connections, sizeof(*conns));
	if (!conns)
		fail("out of memory");
	lfd = listen_on(cfg.listen);
	sfd = signal_fd();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fail("epoll: %s", strerror(errno));
	ev.data.ptr = &lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	fprintf(stderr, "mqdev-exporter: serving http://%s/metrics\n",
		cfg.listen);

	for (;;) {
		n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
		if (n < 0 && errno != EINTR)
			fail("epoll_wait: %s", strerror(errno));
		for (i = 0; n > 0 && i < (unsigned int)n; i++) {
			if (evs[i].data.ptr == &sfd)
				goto out;
			if (evs[i].data.ptr == &lfd) {
				conn_accept(ep, lfd, conns, &cfg, &nr_open);
				continue;
			}
			c = evs[i].data.ptr;
			if (!c->used)
				continue;
			c->deadline = now() + cfg.idle_timeout;
			if (evs[i].events & (EPOLLERR | EPOLLHUP) && !c->writing)
				done = true;
			else if (c->draining)
				done = conn_drain(ep, c);
			else if (c->writing)
				done = conn_write(ep, c);
			else
				done = conn_read(ep, c);
			if (done)
				conn_close(ep, c, &nr_open);
		}
		reap_idle(ep, conns, &cfg, &nr_open);
	}
out:
	for (i = 0; i < cfg.max_connections; i++)
		if (conns[i].used)
			conn_close(ep, &conns[i], &nr_open);
	free(conns);
	close(ep);
	close(lfd);
	close(sfd);
	return 0;
}
