// SPDX-License-Identifier: GPL-2.0
/*
 * mqctl: the console tool for /dev/mq, in the spirit of Kafka's
 * kafka-topics, kafka-console-producer and kafka-console-consumer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "libmqdev.h"
#include "mqstats.h"

static bool json;

/*
 * The signal (SIGINT or SIGTERM) that asked mqctl to stop, or 0.  The
 * handlers are installed without SA_RESTART, so that a call asleep in the
 * kernel (a produce waiting for room, a consumer waiting for records, a
 * read of standard input) returns EINTR; every loop that sleeps looks here
 * after an EINTR, and before it sleeps again.
 */
static volatile sig_atomic_t stop;
/* A producer's descriptor, made non-blocking when a stop signal comes. */
static volatile sig_atomic_t stop_fd = -1;

static void on_signal(int sig)
{
	int saved_errno = errno;

	if (sig != SIGALRM && !stop)
		stop = sig;
	/*
	 * The kernel answers a produce call that a signal cut short with the
	 * count it appended, and the library then asks again for the rest:
	 * non-blocking, that call and every later one get EAGAIN at once
	 * instead of waiting for room again.
	 */
	if (stop_fd >= 0)
		fcntl(stop_fd, F_SETFL, fcntl(stop_fd, F_GETFL) | O_NONBLOCK);
	/*
	 * A signal that lands after a loop looked at stop, and before it went
	 * to sleep, does not wake that sleep: until mqctl is gone, SIGALRM
	 * interrupts whatever sleeps, every second.
	 */
	alarm(1);
	errno = saved_errno;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mqctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* What an error means, in the words of the thing that was asked for. */
static const char *explain(int err)
{
	switch (-err) {
	case ENOENT:	return "no such topic";
	case EEXIST:	return "a topic of that name exists already";
	case EACCES:	return "permission denied by the topic's mode";
	case EPERM:	return "only the topic's owner or an administrator may do that";
	case ENOSPC:	return "a limit was reached (max_topics or max_bytes of the mqdev module)";
	case EMSGSIZE:	return "message too large for the topic";
	case ERANGE:	return "offset beyond the end of the partition";
	case EIDRM:	return "the topic was deleted";
	case ENOLINK:	return "too few replicas in sync for acks=all (the topic's min_insync)";
	case EAGAIN:	return "the partition is full";
	case ENODEV:
	case ENXIO:	return "no /dev/mq: is the mqdev module loaded?";
	default:	return strerror(-err);
	}
}

static void check(int err, const char *what, const char *name)
{
	if (err < 0)
		die("%s '%s': %s", what, name, explain(err));
}

static unsigned long long parse_number(const char *s, const char *what,
				       bool suffixes)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		die("%s: '%s' is not a number", what, s);
	if (suffixes && *end) {
		int shift = 0;

		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: die("%s: unknown suffix in '%s' (K, M or G)", what, s);
		}
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
		v <<= shift;
	}
	if (*end)
		die("%s: '%s' is not a number", what, s);
	return v;
}

static void json_string(FILE *f, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, "\\u%04x", p[i]);
		else
			fputc(p[i], f);
	}
	fputc('"', f);
}

static const char *human_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= (1ULL << 30) && !(bytes & ((1ULL << 30) - 1)))
		snprintf(buf, len, "%" PRIu64 " GiB", bytes >> 30);
	else if (bytes >= (1ULL << 20) && !(bytes & ((1ULL << 20) - 1)))
		snprintf(buf, len, "%" PRIu64 " MiB", bytes >> 20);
	else if (bytes >= 1024 && !(bytes & 1023))
		snprintf(buf, len, "%" PRIu64 " KiB", bytes >> 10);
	else
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	return buf;
}

static int open_dev(void)
{
	int fd = mqdev_open();

	if (fd < 0)
		die("%s: %s", MQDEV_DEVICE, fd == -ENOENT ?
		    "no such device: is the mqdev module loaded?" :
		    explain(fd));
	return fd;
}

/* ---- mqctl topic ... --------------------------------------------------- */

static uint64_t parse_duration(const char *s, const char *what);

static const char topic_usage[] =
"usage: mqctl topic create NAME [--partitions N] [--capacity SIZE]\n"
"                               [--on-full block|overwrite] [--mode MODE]\n"
"                               [--durable [--min-insync N]] [--ttl DURATION]\n"
"       mqctl topic list\n"
"       mqctl topic describe NAME\n"
"       mqctl topic delete NAME\n"
"\n"
"  --partitions N    1 to 256 (default 1)\n"
"  --capacity SIZE   bytes per partition, a power of two; K, M, G suffixes\n"
"                    (default 1M)\n"
"  --on-full POLICY  block: producers wait for consumers (flow control);\n"
"                    overwrite: the oldest records are dropped (retention)\n"
"  --mode MODE       octal permission bits, like a file's (default 0644)\n"
"  --durable         replicated: consumers see only what its replicas (a disk\n"
"                    daemon, a mirror) confirmed safe; blocks when full\n"
"  --min-insync N    replicas in sync that an acks=all producer needs\n"
"                    (default 1)\n"
"  --ttl DURATION    records expire this long after their append (30s, 7d):\n"
"                    no consumer is given them afterwards (default: never)\n";

static int topic_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "partitions", required_argument, NULL, 'p' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "on-full", required_argument, NULL, 'f' },
		{ "mode", required_argument, NULL, 'm' },
		{ "durable", no_argument, NULL, 'd' },
		{ "min-insync", required_argument, NULL, 'i' },
		{ "ttl", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1);
	uint64_t ttl = 0;
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "p:c:f:m:di:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			ttl = parse_duration(optarg, "--ttl");
			break;
		case 'p':
			cfg.partitions = parse_number(optarg, "--partitions", false);
			if (!cfg.partitions || cfg.partitions > MQDEV_MAX_PARTITIONS)
				die("--partitions: 1 to %d", MQDEV_MAX_PARTITIONS);
			break;
		case 'c':
			cfg.capacity = parse_number(optarg, "--capacity", true);
			break;
		case 'f':
			if (!strcmp(optarg, "overwrite"))
				cfg.flags |= MQDEV_TOPIC_OVERWRITE;
			else if (strcmp(optarg, "block"))
				die("--on-full: block or overwrite, not '%s'", optarg);
			break;
		case 'm':
			cfg.mode = strtoul(optarg, NULL, 8);
			if (!cfg.mode || cfg.mode > 0777)
				die("--mode: octal permission bits, like 0640");
			break;
		case 'd':
			cfg.flags |= MQDEV_TOPIC_DURABLE;
			break;
		case 'i':
			cfg.min_insync = parse_number(optarg, "--min-insync",
						      false);
			break;
		case 'h':
			fputs(topic_usage, stdout);
			return 0;
		default:
			fputs(topic_usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1)
		die("topic create: one topic name, please (see --help)");
	if (cfg.min_insync && !(cfg.flags & MQDEV_TOPIC_DURABLE))
		die("--min-insync: for a --durable topic");
	if ((cfg.flags & MQDEV_TOPIC_DURABLE) &&
	    (cfg.flags & MQDEV_TOPIC_OVERWRITE))
		die("--durable: a durable topic blocks when full: it never drops "
		    "what may not be safe yet");

	fd = open_dev();
	opt = mqdev_topic_create(fd, argv[optind], &cfg);
	if (opt == -EINVAL)
		die("create topic '%s': invalid name or settings (names are 1 to %d "
		    "of [A-Za-z0-9._-]; capacity a power of two from 4K to the "
		    "module's max_partition_bytes)", argv[optind], MQDEV_NAME_MAX);
	check(opt, "create topic", argv[optind]);
	if (ttl)
		check(mqdev_topic_set_ttl(fd, argv[optind], ttl),
		      "set the TTL of topic", argv[optind]);
	if (json)
		printf("{\"created\":\"%s\"}\n", argv[optind]);
	else
		printf("Created topic %s.\n", argv[optind]);
	return 0;
}

static int topic_list(int argc, char **argv)
{
	char (*names)[MQDEV_NAME_SIZE];
	int fd, n, i;

	if (argc > 1)
		die("topic list takes no arguments");
	fd = open_dev();
	n = mqdev_topic_list(fd, &names);
	if (n < 0)
		die("list topics: %s", explain(n));
	if (json) {
		fputc('[', stdout);
		for (i = 0; i < n; i++) {
			if (i)
				fputc(',', stdout);
			json_string(stdout, names[i], strlen(names[i]));
		}
		puts("]");
	} else {
		for (i = 0; i < n; i++)
			puts(names[i]);
	}
	free(names);
	return 0;
}

static int topic_describe(int argc, char **argv)
{
	struct mqdev_partition_info parts[MQDEV_MAX_PARTITIONS];
	struct mqdev_topic_info info;
	char cap[32], maxrec[32];
	const char *policy;
	uint64_t ttl = 0;
	bool durable;
	uint32_t i;
	int fd;

	if (argc != 2)
		die("topic describe: one topic name, please");
	fd = open_dev();
	check(mqdev_topic_describe(fd, argv[1], &info, parts,
				   MQDEV_MAX_PARTITIONS), "describe topic", argv[1]);
	policy = info.flags & MQDEV_TOPIC_OVERWRITE ? "overwrite" : "block";
	durable = info.flags & MQDEV_TOPIC_DURABLE;
	if (json) {
		printf("{\"topic\":\"%s\",\"partitions\":%u,\"capacity\":%" PRIu64
		       ",\"on_full\":\"%s\",\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u,"
		       "\"max_record\":%u,\"durable\":%s,\"min_insync\":%u,"
		       "\"replicas\":%u,\"partition_info\":[", argv[1],
		       info.partitions, (uint64_t)info.capacity, policy, info.mode,
		       info.uid, info.gid, info.max_record,
		       durable ? "true" : "false", info.min_insync,
		       info.replicas);
		for (i = 0; i < info.partitions; i++)
			printf("%s{\"partition\":%u,\"first_offset\":%" PRIu64
			       ",\"next_offset\":%" PRIu64 ",\"records\":%" PRIu64
			       ",\"bytes_used\":%" PRIu64 ",\"high_watermark\":%"
			       PRIu64 ",\"in_sync\":%u}", i ? "," : "", i,
			       (uint64_t)parts[i].first_offset,
			       (uint64_t)parts[i].next_offset,
			       (uint64_t)parts[i].records,
			       (uint64_t)parts[i].bytes_used,
			       (uint64_t)parts[i].high_watermark,
			       parts[i].in_sync);
		puts("]}");
		return 0;
	}
	printf("Topic: %s\tPartitions: %u\tCapacity: %s\tOnFull: %s\t"
	       "Mode: %04o\tOwner: %u:%u\tMaxRecord: %s\n", argv[1],
	       info.partitions, human_size(info.capacity, cap, sizeof(cap)),
	       policy, info.mode, info.uid, info.gid,
	       human_size(info.max_record, maxrec, sizeof(maxrec)));
	if (durable)
		printf("Durable: yes\tMinInSync: %u\tReplicas: %u\n",
		       info.min_insync, info.replicas);
	if (!mqdev_topic_get_ttl(fd, argv[1], &ttl) && ttl)
		printf("TTL: %.9gs\n", ttl / 1e9);
	printf("%-10s %14s %14s %12s %12s %14s %8s\n", "PARTITION",
	       "FIRST-OFFSET", "NEXT-OFFSET", "RECORDS", "BYTES-USED",
	       "HIGH-WATERMARK", "IN-SYNC");
	for (i = 0; i < info.partitions; i++)
		printf("%-10u %14" PRIu64 " %14" PRIu64 " %12" PRIu64 " %12" PRIu64
		       " %14" PRIu64 " %8u\n", i,
		       (uint64_t)parts[i].first_offset,
		       (uint64_t)parts[i].next_offset, (uint64_t)parts[i].records,
		       (uint64_t)parts[i].bytes_used,
		       (uint64_t)parts[i].high_watermark, parts[i].in_sync);
	return 0;
}

static int topic_delete(int argc, char **argv)
{
	int fd;

	if (argc != 2)
		die("topic delete: one topic name, please");
	fd = open_dev();
	check(mqdev_topic_delete(fd, argv[1]), "delete topic", argv[1]);
	if (json)
		printf("{\"deleted\":\"%s\"}\n", argv[1]);
	else
		printf("Deleted topic %s.\n", argv[1]);
	return 0;
}

static int cmd_topic(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(topic_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "create"))
		return topic_create(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return topic_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "describe"))
		return topic_describe(argc - 1, argv + 1);
	if (!strcmp(argv[1], "delete"))
		return topic_delete(argc - 1, argv + 1);
	die("topic: unknown command '%s' (create, list, describe, delete)",
	    argv[1]);
	return 2;
}

/* ---- mqctl exchange ... ------------------------------------------------ */

static const char exchange_usage[] =
"usage: mqctl exchange create NAME [--type direct|fanout|topic|headers]\n"
"                                  [--alternate TOPIC] [--mode MODE]\n"
"       mqctl exchange list\n"
"       mqctl exchange describe NAME\n"
"       mqctl exchange delete NAME\n"
"       mqctl exchange bind NAME TOPIC [--key PATTERN] [--partition P]\n"
"                                     [--header K=V ...] [--match all|any]\n"
"       mqctl exchange bind NAME --to-exchange DEST [--key PATTERN]\n"
"       mqctl exchange unbind NAME TOPIC [--key PATTERN] [--partition P]\n"
"                                     [--header K=V ...] [--match all|any]\n"
"       mqctl exchange unbind NAME --to-exchange DEST [--key PATTERN]\n"
"       mqctl exchange program NAME FILE|-\n"
"       mqctl exchange program NAME --detach\n"
"\n"
"  --type TYPE        direct: the routing key equals the binding key (default);\n"
"                     fanout: every binding; topic: dot-separated words, '*'\n"
"                     one word, '#' zero or more (AMQP 0-9-1); headers: the\n"
"                     records' headers match the binding's\n"
"  --header K=V       (headers exchange) match records with header K of value\n"
"                     V; K alone: with a header K of any value; repeatable\n"
"  --match all|any    all of the binding's headers must match (default), or\n"
"                     any one\n"
"  program FILE       attach the classic BPF routing program in FILE, in\n"
"                     tcpdump -ddd's format (a count, then 'code jt jf k'\n"
"                     lines); --detach removes it\n"
"  --alternate TOPIC  messages no binding matches go there\n"
"  --mode MODE        octal permission bits, like a file's (default 0644)\n"
"  --key PATTERN      the binding key (default empty)\n"
"  --partition P      copies go to partition P (default: by the message's key,\n"
"                     else in turn)\n"
"  --to-exchange      the destination is an exchange: messages routed to it are\n"
"                     routed again by its bindings (no cycles; a message\n"
"                     passes through at most 8 exchanges)\n";

static const char *const exchange_types[] = {
	"direct", "fanout", "topic", "headers"
};

#define MAX_HEADERS	64

/* --header K=V, or K alone for a null value, into @h. */
static void parse_header(char *arg, struct mqdev_header *h)
{
	char *eq = strchr(arg, '=');

	h->key = arg;
	h->key_len = eq ? (uint32_t)(eq - arg) : strlen(arg);
	h->value = eq ? eq + 1 : NULL;
	h->value_len = eq ? (int32_t)strlen(eq + 1) : -1;
}

/* Headers as K=V,K2=V2 (a null value: K), or a JSON array of pairs. */
static void print_header_block(const unsigned char *p, uint32_t len)
{
	uint32_t count, at = 4, i, klen;
	int32_t vlen;

	if (len < 4)
		return;
	memcpy(&count, p, 4);
	for (i = 0; i < count && len - at >= 8; i++) {
		memcpy(&klen, p + at, 4);
		memcpy(&vlen, p + at + 4, 4);
		at += 8;
		if (klen > len - at || (vlen > 0 && (uint32_t)vlen > len - at - klen))
			return;
		if (json) {
			fputs(i ? ",[" : "[", stdout);
			json_string(stdout, (const char *)p + at, klen);
			fputc(',', stdout);
			if (vlen < 0)
				fputs("null", stdout);
			else
				json_string(stdout, (const char *)p + at + klen, vlen);
			fputc(']', stdout);
		} else {
			printf("%s%.*s", i ? "," : "", (int)klen, p + at);
			if (vlen >= 0)
				printf("=%.*s", (int)vlen, p + at + klen);
		}
		at += klen + (vlen > 0 ? vlen : 0);
	}
}

/* An exchange's errors, in its words; the rest as a topic's. */
static void check_exchange(int err, const char *what, const char *name)
{
	if (err == -ENOENT)
		die("%s '%s': no such exchange, topic or binding", what, name);
	if (err == -EEXIST)
		die("%s '%s': it exists already", what, name);
	if (err == -EACCES)
		die("%s '%s': permission denied by the exchange's or the topic's "
		    "mode", what, name);
	if (err == -ENOSPC)
		die("%s '%s': a limit was reached (max_exchanges or "
		    "max_exchange_bindings of the mqdev module)", what, name);
	if (err == -EDQUOT)
		die("%s '%s': over your limit (max_user_exchanges or "
		    "max_user_bindings)", what, name);
	if (err == -ELOOP)
		die("%s '%s': the binding would make a cycle of exchanges, or a "
		    "chain deeper than %d", what, name, MQDEV_EXCHANGE_MAX_DEPTH);
	if (err == -E2BIG)
		die("%s '%s': the key has more than %d '#' words, or the "
		    "exchange's keys too many words (max_exchange_nodes)", what,
		    name, MQDEV_ROUTING_KEY_MAX_HASHES);
	if (err == -EINVAL)
		die("%s '%s': invalid name, key or settings (keys are at most %d "
		    "bytes; in a topic key '*' and '#' are whole words)", what,
		    name, MQDEV_ROUTING_KEY_MAX);
	check(err, what, name);
}

static int exchange_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "alternate", required_argument, NULL, 'a' },
		{ "mode", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	LIBMQDEV_OPTS(mqdev_exchange_opts, cfg);
	unsigned int t;
	int opt;

	while ((opt = getopt_long(argc, argv, "t:a:m:h", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			for (t = 0; t < MQDEV_EXCHANGE_TYPES; t++)
				if (!strcmp(optarg, exchange_types[t]))
					break;
			if (t == MQDEV_EXCHANGE_TYPES)
				die("--type: direct, fanout, topic or headers, "
				    "not '%s'", optarg);
			cfg.type = t;
			break;
		case 'a': cfg.alternate = optarg; break;
		case 'm':
			cfg.mode = strtoul(optarg, NULL, 8);
			if (!cfg.mode || cfg.mode > 0777)
				die("--mode: octal permission bits, like 0640");
			break;
		case 'h': fputs(exchange_usage, stdout); return 0;
		default: fputs(exchange_usage, stderr); return 2;
		}
	}
	if (optind != argc - 1)
		die("exchange create: one exchange name, please (see --help)");
	check_exchange(mqdev_exchange_create(open_dev(), argv[optind], &cfg),
		       "create exchange", argv[optind]);
	if (json)
		printf("{\"created\":\"%s\"}\n", argv[optind]);
	else
		printf("Created exchange %s.\n", argv[optind]);
	return 0;
}

static int exchange_list(int argc, char **argv)
{
	char (*names)[MQDEV_NAME_SIZE];
	int n, i;

	if (argc > 1)
		die("exchange list takes no arguments");
	n = mqdev_exchange_list(open_dev(), &names);
	if (n < 0)
		die("list exchanges: %s", explain(n));
	if (json)
		fputc('[', stdout);
	for (i = 0; i < n; i++) {
		if (!json) {
			puts(names[i]);
			continue;
		}
		if (i)
			fputc(',', stdout);
		json_string(stdout, names[i], strlen(names[i]));
	}
	if (json)
		puts("]");
	free(names);
	return 0;
}

static void print_binding(const struct mqdev_binding_info *b, uint32_t i,
			  bool headers)
{
	const char *match = b->match == MQDEV_MATCH_ANY ? "any" : "all";
	char part[16] = "any";

	if (b->partition != MQDEV_PARTITION_ANY)
		snprintf(part, sizeof(part), "%u", b->partition);
	if (b->flags & MQDEV_BINDING_EXCHANGE)
		snprintf(part, sizeof(part), "exchange");
	if (!json) {
		printf("%5u %-32s %-24s %9s %12" PRIu64 " %8" PRIu64 " %8u",
		       i, b->topic, b->key_len ? b->key : "\"\"", part,
		       (uint64_t)b->routed, (uint64_t)b->failed, b->uid);
		if (headers) {
			printf(" %s ", match);
			print_header_block(b->headers, b->headers_len);
		}
		putchar('\n');
		return;
	}
	printf("%s{\"index\":%u,\"%s\":\"%s\",\"key\":", i ? "," : "", i,
	       b->flags & MQDEV_BINDING_EXCHANGE ? "exchange" : "topic",
	       b->topic);
	json_string(stdout, b->key, b->key_len);
	printf(",\"partition\":\"%s\",\"routed\":%" PRIu64 ",\"failed\":%"
	       PRIu64 ",\"uid\":%u", part, (uint64_t)b->routed,
	       (uint64_t)b->failed, b->uid);
	if (headers) {
		printf(",\"match\":\"%s\",\"headers\":[", match);
		print_header_block(b->headers, b->headers_len);
		putchar(']');
	}
	putchar('}');
}

static int exchange_describe(int argc, char **argv)
{
	struct mqdev_binding_info *binds = NULL;
	struct mqdev_exchange_info info;
	uint32_t room = 0, i;
	int fd, err;

	if (argc != 2)
		die("exchange describe: one exchange name, please");
	fd = open_dev();
	/* Bindings may come between the calls: ask until they all fit. */
	for (;;) {
		err = mqdev_exchange_describe(fd, argv[1], &info, binds, room);
		check_exchange(err, "describe exchange", argv[1]);
		if (info.bindings_count <= room)
			break;
		room = info.bindings_count + 16;
		free(binds);
		binds = calloc(room, sizeof(*binds));
		if (!binds)
			die("describe exchange: out of memory");
	}
	if (json) {
		printf("{\"exchange\":\"%s\",\"type\":\"%s\",\"alternate\":\"%s\","
		       "\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u,\"producers\":%u,"
		       "\"routed\":%" PRIu64 ",\"alternated\":%" PRIu64
		       ",\"refused\":%" PRIu64 ",\"dropped\":%" PRIu64
		       ",\"program\":%u,\"out_of_range\":%" PRIu64
		       ",\"failed\":%" PRIu64 ",\"over_budget\":%" PRIu64
		       ",\"bindings\":[", argv[1],
		       exchange_types[info.type], info.alternate, info.mode,
		       info.uid, info.gid, info.producers,
		       (uint64_t)info.routed, (uint64_t)info.alternated,
		       (uint64_t)info.refused, (uint64_t)info.dropped,
		       info.prog_len, (uint64_t)info.prog_out_of_range,
		       (uint64_t)info.failed, (uint64_t)info.over_budget);
	} else {
		printf("Exchange: %s\tType: %s\tMode: %04o\tOwner: %u:%u\t"
		       "Producers: %u\tAlternate: %s\n", argv[1],
		       exchange_types[info.type], info.mode, info.uid, info.gid,
		       info.producers, info.alternate[0] ? info.alternate : "-");
		printf("Routed: %" PRIu64 "\tAlternated: %" PRIu64
		       "\tRefused: %" PRIu64 "\tDropped: %" PRIu64
		       "\tFailed copies: %" PRIu64 "\n",
		       (uint64_t)info.routed, (uint64_t)info.alternated,
		       (uint64_t)info.refused, (uint64_t)info.dropped,
		       (uint64_t)info.failed);
		if (info.prog_len)
			printf("Program: %u instructions\tOut of range: %" PRIu64
			       "\n", info.prog_len,
			       (uint64_t)info.prog_out_of_range);
		if (info.over_budget)
			printf("Over the routing budget: %" PRIu64 "\n",
			       (uint64_t)info.over_budget);
		printf("%5s %-32s %-24s %9s %12s %8s %8s%s\n", "INDEX",
		       "DESTINATION", "KEY", "PARTITION", "ROUTED", "FAILED",
		       "BINDER", info.type == MQDEV_EXCHANGE_HEADERS ?
		       " MATCH HEADERS" : "");
	}
	for (i = 0; i < info.bindings_count; i++)
		print_binding(&binds[i], i,
			      info.type == MQDEV_EXCHANGE_HEADERS);
	if (json)
		puts("]}");
	free(binds);
	return 0;
}

static int exchange_delete(int argc, char **argv)
{
	if (argc != 2)
		die("exchange delete: one exchange name, please");
	check_exchange(mqdev_exchange_delete(open_dev(), argv[1]),
		       "delete exchange", argv[1]);
	if (json)
		printf("{\"deleted\":\"%s\"}\n", argv[1]);
	else
		printf("Deleted exchange %s.\n", argv[1]);
	return 0;
}

/* bind and unbind: the same arguments. */
static int exchange_bind(int argc, char **argv, bool bind)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "partition", required_argument, NULL, 'p' },
		{ "to-exchange", no_argument, NULL, 'x' },
		{ "header", required_argument, NULL, 'H' },
		{ "match", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct mqdev_header hdrs[MAX_HEADERS];
	LIBMQDEV_OPTS(mqdev_bind_opts, bo, .headers = hdrs);
	const char *key = "", *what = bind ? "bind" : "unbind";
	int opt, err, fd;

	while ((opt = getopt_long(argc, argv, "k:p:xH:m:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			if (bo.nheaders == MAX_HEADERS)
				die("--header: at most %d", MAX_HEADERS);
			parse_header(optarg, &hdrs[bo.nheaders++]);
			break;
		case 'm':
			if (!strcmp(optarg, "any"))
				bo.match = MQDEV_MATCH_ANY;
			else if (strcmp(optarg, "all"))
				die("--match: all or any, not '%s'", optarg);
			break;
		case 'k': key = optarg; break;
		case 'x': bo.to_exchange = true; break;
		case 'p':
			bo.partition = parse_number(optarg, "--partition", false);
			bo.partition_set = true;
			break;
		case 'h': fputs(exchange_usage, stdout); return 0;
		default: fputs(exchange_usage, stderr); return 2;
		}
	}
	if (optind != argc - 2)
		die("exchange %s: an exchange and a topic, please (see --help)",
		    what);
	if (bo.to_exchange && bo.partition_set)
		die("exchange %s: --partition is a topic's, not an exchange's",
		    what);
	fd = open_dev();
	err = bind ? mqdev_exchange_bind(fd, argv[optind], argv[optind + 1],
					 key, &bo) :
		     mqdev_exchange_unbind(fd, argv[optind], argv[optind + 1],
					   key, &bo);
	check_exchange(err, what, argv[optind]);
	if (json)
		printf("{\"%sed\":\"%s\",\"%s\":\"%s\"}\n", what,
		       argv[optind], bo.to_exchange ? "exchange" : "topic",
		       argv[optind + 1]);
	else
		printf("%s exchange %s %s %s %s, key '%s'.\n",
		       bind ? "Bound" : "Unbound", argv[optind],
		       bind ? "to" : "from",
		       bo.to_exchange ? "exchange" : "topic", argv[optind + 1],
		       key);
	return 0;
}

/*
 * A classic BPF program in tcpdump -ddd's format: the number of
 * instructions, then one "code jt jf k" line each, in decimal.  Blank
 * lines and lines starting with '#' are skipped.  Returns the count.
 */
static uint32_t read_program(FILE *f, const char *name,
			     struct sock_filter *insns, uint32_t room)
{
	unsigned long code, jt, jf, k, count = 0;
	uint32_t n = 0, line = 0;
	bool have_count = false;
	char buf[256], *p;

	while (fgets(buf, sizeof(buf), f)) {
		line++;
		p = buf + strspn(buf, " \t");
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		if (!have_count) {
			if (sscanf(p, "%lu", &count) != 1 || !count || count > room)
				die("%s:%u: the instruction count first (1 to %u)",
				    name, line, room);
			have_count = true;
			continue;
		}
		if (sscanf(p, "%lu %lu %lu %lu", &code, &jt, &jf, &k) != 4 ||
		    code > 0xffff || jt > 0xff || jf > 0xff || k > 0xffffffffUL)
			die("%s:%u: not 'code jt jf k' (tcpdump -ddd)", name, line);
		if (n == count)
			die("%s:%u: more instructions than the count, %lu", name,
			    line, count);
		insns[n++] = (struct sock_filter){ code, jt, jf, k };
	}
	if (!have_count || n != count)
		die("%s: %u instructions, but the count says %lu", name, n, count);
	return n;
}

static int exchange_program(int argc, char **argv)
{
	static struct sock_filter insns[MQDEV_PROG_MAX_INSNS];
	char log[256];
	uint32_t n = 0;
	FILE *f;
	int err;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		fputs(exchange_usage, stdout);
		return 0;
	}
	if (argc != 3)
		die("exchange program: an exchange and a file (or --detach), "
		    "please");
	if (strcmp(argv[2], "--detach")) {
		f = strcmp(argv[2], "-") ? fopen(argv[2], "r") : stdin;
		if (!f)
			die("%s: %s", argv[2], strerror(errno));
		n = read_program(f, argv[2], insns, MQDEV_PROG_MAX_INSNS);
		if (f != stdin)
			fclose(f);
	}
	err = mqdev_exchange_program(open_dev(), argv[1], n ? insns : NULL, n,
				     log, sizeof(log));
	if (err == -EINVAL && log[0])
		die("exchange program '%s': refused: %s", argv[1], log);
	check_exchange(err, "exchange program", argv[1]);
	if (json)
		printf("{\"exchange\":\"%s\",\"program\":%u}\n", argv[1], n);
	else if (n)
		printf("Attached a program of %u instructions to exchange %s.\n",
		       n, argv[1]);
	else
		printf("Detached the program of exchange %s.\n", argv[1]);
	return 0;
}

static int cmd_exchange(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(exchange_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "create"))
		return exchange_create(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return exchange_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "describe"))
		return exchange_describe(argc - 1, argv + 1);
	if (!strcmp(argv[1], "delete"))
		return exchange_delete(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bind"))
		return exchange_bind(argc - 1, argv + 1, true);
	if (!strcmp(argv[1], "unbind"))
		return exchange_bind(argc - 1, argv + 1, false);
	if (!strcmp(argv[1], "program"))
		return exchange_program(argc - 1, argv + 1);
	die("exchange: unknown command '%s' (create, list, describe, delete, "
	    "bind, unbind, program)", argv[1]);
	return 2;
}

/*
 * mqctl produce --exchange: one message per line, routed by the exchange;
 * each copy's topic, partition and offset with -v.  A line no binding
 * takes is reported (and with --mandatory, refused: mqctl stops there).
 */
static int produce_exchange(const char *ex, const char *rkey, const char *key,
			    bool mandatory, bool verbose,
			    const struct mqdev_header *hdrs, unsigned int nhdrs)
{
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, so, .key = key,
		      .key_len = key ? strlen(key) : 0, .mandatory = mandatory,
		      .record_flags = nhdrs ? MQDEV_RECORD_HEADERS : 0);
	struct mqdev_exchange_ack acks[64];
	size_t cap = 0, n = 0, dropped = 0, room = 0;
	char *line = NULL, *msg = NULL;
	int fd = open_dev(), err, i, hlen = 0;
	ssize_t len;

	/* the header block goes first in every message's value */
	if (nhdrs) {
		/* a headers exchange looks no further into a value */
		room = MQDEV_ROUTE_HEADERS_MAX;
		msg = malloc(room);
		if (!msg)
			die("produce: out of memory");
		hlen = mqdev_headers_encode(msg, room, hdrs, nhdrs);
		if (hlen < 0)
			die("--header: more than %d bytes of headers",
			    MQDEV_ROUTE_HEADERS_MAX);
	}

	check_exchange(mqdev_exchange_attach(fd, ex), "produce to exchange", ex);
	stop_fd = fd;
	while (!stop && (len = getline(&line, &cap, stdin)) >= 0) {
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		n++;
		if (nhdrs) {
			if (room < hlen + (size_t)len) {
				room = hlen + len;
				msg = realloc(msg, room);
				if (!msg)
					die("produce: out of memory");
			}
			memcpy(msg + hlen, line, len);
		}
		err = mqdev_exchange_send(fd, rkey, nhdrs ? msg : line,
					  nhdrs ? hlen + len : len, &so, acks,
					  64);
		if (stop && (err == -EINTR || err == -EAGAIN))
			break;
		if (err == -ENOENT) {
			dropped++;
			fprintf(stderr, "mqctl: line %zu: no binding matches "
				"'%s': dropped (counted by the exchange)\n", n,
				rkey);
			continue;
		}
		if (err == -EHOSTUNREACH)
			die("line %zu: no binding matches '%s' and --mandatory "
			    "refuses it", n, rkey);
		if (err == -ENOBUFS)
			die("line %zu: more than %d copies", n, 64);
		check_exchange(err, "produce to exchange", ex);
		for (i = 0; i < err; i++) {
			if (acks[i].error) {
				fprintf(stderr, "mqctl: line %zu: the copy to "
					"topic %s failed: %s\n", n,
					acks[i].topic,
					strerror(acks[i].error));
				continue;
			}
			if (!verbose)
				continue;
			if (json)
				printf("{\"topic\":\"%s\",\"partition\":%u,"
				       "\"offset\":%" PRIu64 "}\n", acks[i].topic,
				       acks[i].partition,
				       (uint64_t)acks[i].offset);
			else
				printf("topic %s partition %u offset %" PRIu64
				       "\n", acks[i].topic, acks[i].partition,
				       (uint64_t)acks[i].offset);
		}
	}
	fflush(stdout);
	free(line);
	free(msg);
	close(fd);
	if (stop)
		return 128 + stop;
	return dropped ? 1 : 0;
}

/* ---- mqctl produce ------------------------------------------------------- */

static const char produce_usage[] =
"usage: mqctl produce TOPIC [--key K | --key-separator SEP] [--partition P]\n"
"                           [--producer NAME] [--acks all|1] [-v]\n"
"                           [--delay DURATION | --at TIME] [--ttl DURATION]\n"
"       mqctl produce --exchange EX --routing-key K [--key K] [--mandatory]\n"
"                           [--header K=V ...] [-v]\n"
"\n"
"Sends one message per line of standard input.\n"
"  --key K              every message gets key K (which picks the partition)\n"
"  --key-separator SEP  each line is KEY<SEP>VALUE\n"
"  --partition P        send to partition P instead\n"
"  --producer NAME      send as idempotent producer NAME: every record gets\n"
"                       its id and a sequence number (see mqctl verify)\n"
"  --acks all           on a durable topic, each message is acknowledged only\n"
"                       once its replicas confirmed it (Kafka's acks=all);\n"
"                       1 (the default): once appended\n"
"  -v, --verbose        print the partition and offset of every message\n"
"                       (with --delay or --at: its partition and id)\n"
"  --delay DURATION     the kernel appends each message this long after it\n"
"                       is sent: a number with ns, us, ms, s, m, h or d\n"
"                       (30s, 1.5m; seconds without a unit)\n"
"  --at TIME            or at TIME: @SECONDS since the epoch (@1700000000.5)\n"
"                       or YYYY-MM-DDTHH:MM:SS[Z] (local time without Z)\n"
"  --ttl DURATION       each message expires this long after it is sent:\n"
"                       it is never delivered afterwards\n"
"  --exchange EX        send through exchange EX instead of to a topic; -v\n"
"                       prints every copy's topic, partition and offset\n"
"  --routing-key K      the routing key of every message (with --exchange)\n"
"  --header K=V         (with --exchange) every message gets header K=V (K\n"
"                       alone: a null value), for a headers exchange\n"
"  --mandatory          refuse a message no binding matches, and stop; else\n"
"                       it goes to the exchange's alternate topic, or is\n"
"                       dropped, counted, and reported (exit status 1)\n"
"\n"
"SIGINT (Ctrl-C) or SIGTERM stops it at once, even while it waits for room in\n"
"a full topic: it sends what fits without waiting, says on standard error how\n"
"many of the lines it read were not sent (\"mqctl: interrupted: 37 lines not\n"
"sent\"), and exits with 128 + the signal's number (130, 143).  Lines the\n"
"topic took are not counted; lines not read yet are not either.\n";

struct produce_state {
	bool verbose;
	int failed;
	size_t answered;	/* messages appended or refused */
	const char *topic;
};

static void on_ack(void *ctx, const struct mqdev_ack *ack)
{
	struct produce_state *st = ctx;

	st->answered++;
	if (ack->error) {
		fprintf(stderr, "mqctl: message %" PRIuPTR " to '%s': %s\n",
			(uintptr_t)ack->opaque, st->topic, explain(ack->error));
		st->failed++;
		return;
	}
	if (!st->verbose)
		return;
	if (json)
		printf("{\"partition\":%u,\"offset\":%" PRIu64 "}\n",
		       ack->partition, ack->offset);
	else
		printf("partition %u offset %" PRIu64 "\n", ack->partition,
		       ack->offset);
}

/* Nothing more to read right now: a person typing, not a pipe of lines. */
static bool stdin_idle(void)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

/*
 * What a send or flush says once a stop signal came: -EINTR (it was asleep),
 * or -EAGAIN (it would have slept: on_signal() made the descriptor
 * non-blocking).
 */
static bool produce_stopped(int err)
{
	return stop && (err == -EINTR || err == -EAGAIN);
}

/* A duration: a number and a unit (ns, us, ms, s, m, h, d; s if none). */
static uint64_t parse_duration(const char *s, const char *what)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "", 1e9 }, { "m", 60e9 }, { "h", 3600e9 }, { "d", 86400e9 },
	};
	char *end;
	double v = strtod(s, &end);
	size_t i;

	if (end == s || !(v >= 0))
		die("%s: a duration such as 30s or 1.5m, not '%s'", what, s);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit) && v * units[i].ns < 1.8e19)
			return (uint64_t)(v * units[i].ns);
	die("%s: a duration such as 30s or 1.5m, not '%s'", what, s);
	return 0;
}

/* A time: @SECONDS since the epoch, or an ISO 8601 date and time. */
static uint64_t parse_time(const char *s)
{
	struct tm tm = {};
	double secs;
	char *end;
	time_t t;

	if (s[0] == '@') {
		secs = strtod(s + 1, &end);
		if (end == s + 1 || *end || !(secs >= 0) || secs > 1.8e10)
			die("--at: @SECONDS since the epoch, not '%s'", s);
		return (uint64_t)(secs * 1e9);
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z")))
		die("--at: @SECONDS or YYYY-MM-DDTHH:MM:SS[Z], not '%s'", s);
	t = *end ? timegm(&tm) : (tm.tm_isdst = -1, mktime(&tm));
	if (t < 0)
		die("--at: '%s' is before 1970", s);
	return (uint64_t)t * 1000000000;
}

/* --delay, --at and --ttl, and where a scheduled message's id goes. */
struct produce_when {
	struct mqdev_send_opts opts;
	uint64_t id;
	bool scheduled;
};

static int produce_send(struct mqdev_producer *p, struct produce_when *w,
			const char *k, size_t klen, const char *value,
			size_t vlen, uint32_t partition, size_t n,
			struct produce_state *st)
{
	int err;

	err = mqdev_producer_send_opts(p, k, klen, value, vlen, partition,
				       (void *)(uintptr_t)n, &w->opts);
	if (!w->scheduled)
		return err;
	/* Scheduled: answered now, not at a flush. */
	st->answered++;
	if (err || !st->verbose)
		return err;
	if (json)
		printf("{\"scheduled\":%" PRIu64 "}\n", w->id);
	else
		printf("scheduled id %" PRIu64 "\n", w->id);
	return 0;
}

static int cmd_produce(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "key-separator", required_argument, NULL, 's' },
		{ "partition", required_argument, NULL, 'p' },
		{ "producer", required_argument, NULL, 'P' },
		{ "acks", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "delay", required_argument, NULL, 'D' },
		{ "at", required_argument, NULL, 'A' },
		{ "ttl", required_argument, NULL, 'T' },
		{ "exchange", required_argument, NULL, 'x' },
		{ "routing-key", required_argument, NULL, 'r' },
		{ "mandatory", no_argument, NULL, 'M' },
		{ "header", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct mqdev_header hdrs[MAX_HEADERS];
	unsigned int nhdrs = 0;
	const char *exchange = NULL, *rkey = NULL;
	bool mandatory = false;
	struct produce_state st = {};
	struct produce_when w = {
		.opts = { .sz = sizeof(w.opts), .sched_id = &w.id },
	};
	LIBMQDEV_OPTS(mqdev_producer_opts, popts, .ack_fn = on_ack,
		      .ack_ctx = &st);
	uint32_t partition = MQDEV_PARTITION_ANY;
	const char *key = NULL, *sep = NULL, *producer = NULL;
	struct mqdev_session *session = NULL;
	struct mqdev_producer *p;
	char *line = NULL, *value, *k;
	size_t cap = 0, klen, n = 0;
	ssize_t len;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "k:s:p:P:a:vD:A:T:h", opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'D':
			w.opts.delay_ns = parse_duration(optarg, "--delay");
			w.scheduled = true;
			break;
		case 'A':
			w.opts.deliver_at = parse_time(optarg);
			w.scheduled = true;
			break;
		case 'T': w.opts.ttl_ns = parse_duration(optarg, "--ttl"); break;
		case 'a':
			if (!strcmp(optarg, "all"))
				popts.flags |= MQDEV_PRODUCER_ACKS_ALL;
			else if (strcmp(optarg, "1"))
				die("--acks: all or 1, not '%s'", optarg);
			break;
		case 'k': key = optarg; break;
		case 's': sep = optarg; break;
		case 'P': producer = optarg; break;
		case 'p':
			partition = parse_number(optarg, "--partition", false);
			break;
		case 'v': st.verbose = true; break;
		case 'x': exchange = optarg; break;
		case 'r': rkey = optarg; break;
		case 'M': mandatory = true; break;
		case 'H':
			if (nhdrs == MAX_HEADERS)
				die("--header: at most %d", MAX_HEADERS);
			parse_header(optarg, &hdrs[nhdrs++]);
			break;
		case 'h': fputs(produce_usage, stdout); return 0;
		default: fputs(produce_usage, stderr); return 2;
		}
	}
	if (exchange || rkey || mandatory || nhdrs) {
		if (!exchange || !rkey || optind != argc || sep || producer ||
		    partition != MQDEV_PARTITION_ANY || popts.flags ||
		    w.scheduled || w.opts.ttl_ns)
			die("produce --exchange EX --routing-key K: no topic, and "
			    "only --key, --mandatory, --header and -v (see "
			    "--help)");
		return produce_exchange(exchange, rkey, key, mandatory,
					st.verbose, hdrs, nhdrs);
	}
	if (optind != argc - 1)
		die("produce: one topic name, please (see --help)");
	if (key && sep)
		die("produce: --key or --key-separator, not both");
	if (w.opts.delay_ns && w.opts.deliver_at)
		die("produce: --delay or --at, not both");
	if (w.scheduled && producer)
		die("produce: --delay and --at are not for --producer");
	/* a delay of 0 is one from now: due at once */
	if (w.scheduled && !w.opts.delay_ns && !w.opts.deliver_at)
		w.opts.deliver_at = 1;
	st.topic = argv[optind];
	err = mqdev_producer_new(st.topic, &popts, &p);
	check(err, "produce to", st.topic);
	if (partition != MQDEV_PARTITION_ANY &&
	    partition >= mqdev_producer_partitions(p))
		die("--partition: topic '%s' has partitions 0 to %u", st.topic,
		    mqdev_producer_partitions(p) - 1);
	if (producer) {
		check(mqdev_session_new(producer, 0, &session), "be producer",
		      producer);
		check(mqdev_producer_bind(p, session), "be producer", producer);
	}
	stop_fd = mqdev_producer_fd(p);

	while (!stop && (len = getline(&line, &cap, stdin)) >= 0) {
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		k = (char *)key;
		klen = key ? strlen(key) : 0;
		value = line;
		if (sep) {
			char *at = strstr(line, sep);

			if (!at)
				die("line %zu has no key separator '%s'", n + 1, sep);
			k = line;
			klen = at - line;
			value = at + strlen(sep);
		}
		err = produce_send(p, &w, k, klen, value, len - (value - line),
				   partition, ++n, &st);
		if (produce_stopped(err))
			break;
		check(err, "produce to", st.topic);
		/* interactive input goes out line by line */
		if (stdin_idle()) {
			err = mqdev_producer_flush(p);
			if (produce_stopped(err))
				break;
			check(err, "produce to", st.topic);
			fflush(stdout);
		}
	}
	/* Once stopped, this sends only what fits now: it never waits. */
	err = mqdev_producer_flush(p);
	if (!produce_stopped(err))
		check(err, "produce to", st.topic);
	fflush(stdout);
	mqdev_producer_free(p);
	mqdev_session_free(session);
	free(line);
	if (stop) {
		fprintf(stderr, "mqctl: interrupted: %zu line%s not sent\n",
			n - st.answered, n - st.answered == 1 ? "" : "s");
		return 128 + stop;
	}
	return st.failed ? 1 : 0;
}

/* ---- mqctl consume ------------------------------------------------------- */

static const char consume_usage[] =
"usage: mqctl consume TOPIC [--from earliest|latest|OFFSET] [--from-beginning]\n"
"                           [--partition P] [--count N] [--timeout MS]\n"
"                           [--keys] [--headers] [--no-hold] [--copy]\n"
"                           [--group G [--commit manual|auto]]\n"
"                           [--share-group G [--reject-if PATTERN]\n"
"                            [--dlq TOPIC [--dlq-expired]] [--max-deliveries N]\n"
"                            [--backoff D1,D2,...] [--release-if PATTERN]]\n"
"                           [--group G --retry-topic T [--reconsume-if PATTERN]\n"
"                            [--dlq TOPIC] [--max-deliveries N]\n"
"                            [--backoff D1,D2,...]]\n"
"\n"
"Prints one value per line.  Without --partition it reads every partition;\n"
"without --count or --timeout it follows the topic until interrupted\n"
"(SIGINT or SIGTERM, which end even a wait for records at once; it exits 0).\n"
"  --from WHERE      earliest, latest (the default) or an offset\n"
"  --from-beginning  the same as --from earliest\n"
"  --count N         stop after N records\n"
"  --timeout MS      stop when no record came for MS milliseconds\n"
"  --keys            print KEY<TAB>VALUE\n"
"  --headers         print each record's headers first, K=V,K2=V2<TAB>\n"
"  --no-hold         read without holding: on a topic that blocks when\n"
"                    full, records read this way are not freed\n"
"  --copy            read with read(2), not the mapped ring (the kernel\n"
"                    counts these as read: see mqctl stats)\n"
"  --group G         read as a member of consumer group G: the group's\n"
"                    members share the partitions, and it goes on where it\n"
"                    left off (--from earliest|latest: where a new group starts)\n"
"  --commit manual   commit records only once they are written out (default)\n"
"  --commit auto     commit every second, whatever was written\n"
"  --share-group G   read as a member of share group G: any\n"
"                    member takes any record, in no promised order, and\n"
"                    each is accepted once written out (--from earliest|\n"
"                    latest: where a new group starts)\n"
"  --reject-if PAT   with --share-group: reject, not accept, a record whose\n"
"                    value contains PAT (for testing)\n"
"  --release-if PAT  with --share-group: release it instead (for testing\n"
"                    retries), with the group's back-off\n"
"  --dlq TOPIC       a new share group's dead-letter topic: a record\n"
"                    rejected, or past --max-deliveries, goes there (see\n"
"                    mqctl dlq)\n"
"  --dlq-expired     with --dlq: a record whose TTL passed before a member\n"
"                    took it goes there too (reason expired), not only\n"
"                    counted\n"
"  --max-deliveries N  a new share group's deliveries of a record (5)\n"
"  --backoff LIST    a new share group's retry schedule, by delivery: a\n"
"                    release waits 10s, then 30s, ... (RocketMQ's is\n"
"                    10s,30s,1m,2m,3m,4m,5m,6m,7m,8m,9m,10m,20m,30m,1h,2h)\n"
"  --retry-topic T   with --group: read T too, in the same group: the\n"
"                    records handed back come again from there (RocketMQ's\n"
"                    %RETRY%group); with it --dlq, --max-deliveries (17)\n"
"                    and --backoff (RocketMQ's, from 10s) apply to them\n"
"  --reconsume-if PAT  with --retry-topic: print, then hand back a record\n"
"                    whose value contains PAT: RocketMQ's RECONSUME_LATER\n"
"                    (for testing); past --max-deliveries it goes to --dlq\n"
"A later member joins with the group's settings: --dlq, --dlq-expired,\n"
"--max-deliveries or --backoff other than the group's are refused.\n";

struct consume_opts {
	uint32_t whence;
	uint64_t offset;
	uint32_t partition;
	uint64_t count;
	int timeout;
	bool keys;
	bool headers;
	bool hold;
	const char *group;
	bool auto_commit;
	const char *share_group;
	const char *reject_if;
	const char *release_if;
	const char *dlq;
	uint32_t max_deliveries;
	uint32_t backoff[MQDEV_SHARE_BACKOFF_LEVELS];
	uint32_t nr_backoff;
	uint32_t dlq_flags;	/* MQDEV_SHARE_DLQ_* */
	const char *retry_topic;
	const char *reconsume_if;
};

/* A record's headers, as JSON pairs or as K=V,K2=V2 (a null value: K). */
static void print_headers(const struct mqdev_record *rec)
{
	struct mqdev_header_iter it = {};
	struct mqdev_header h;
	int n = 0;

	if (json)
		fputs(",\"headers\":[", stdout);
	while (mqdev_record_header_next(rec, &it, &h) > 0) {
		if (json) {
			fputs(n++ ? ",[" : "[", stdout);
			json_string(stdout, h.key, h.key_len);
			fputc(',', stdout);
			if (h.value)
				json_string(stdout, h.value, h.value_len);
			else
				fputs("null", stdout);
			fputc(']', stdout);
			continue;
		}
		if (n++)
			fputc(',', stdout);
		fwrite(h.key, 1, h.key_len, stdout);
		if (h.value) {
			fputc('=', stdout);
			fwrite(h.value, 1, h.value_len, stdout);
		}
	}
	fputs(json ? "]" : "\t", stdout);
}

static void print_record(const struct mqdev_record *rec,
			 const struct consume_opts *o)
{
	const void *value;
	uint32_t len;

	/* A header block that does not add up: the value as it stands. */
	if (mqdev_record_payload(rec, &value, &len)) {
		value = mqdev_record_value(rec);
		len = mqdev_record_value_len(rec);
	}
	if (json) {
		printf("{\"partition\":%u,\"offset\":%" PRIu64
		       ",\"timestamp\":%" PRIu64 ",\"key\":", rec->partition,
		       (uint64_t)rec->offset, (uint64_t)rec->timestamp);
		if (rec->flags & MQDEV_RECORD_NULL_KEY)
			fputs("null", stdout);
		else
			json_string(stdout, mqdev_record_key(rec), rec->key_len);
		fputs(",\"value\":", stdout);
		if (value)
			json_string(stdout, value, len);
		else
			fputs("null", stdout);
		if (rec->flags & MQDEV_RECORD_HEADERS)
			print_headers(rec);
		puts("}");
		return;
	}
	if (o->headers)
		print_headers(rec);
	if (o->keys) {
		fwrite(mqdev_record_key(rec), 1, rec->key_len, stdout);
		fputc('\t', stdout);
	}
	fwrite(value, 1, len, stdout);
	fputc('\n', stdout);
}

static void consume_seek(struct mqdev_consumer *c, const char *topic,
			 const struct consume_opts *o)
{
	uint32_t flags = o->hold ? MQDEV_SEEK_HOLD : 0;
	uint32_t p, n = mqdev_consumer_partitions(c);
	int err;

	if (o->partition != MQDEV_PARTITION_ALL && o->partition >= n)
		die("--partition: topic '%s' has partitions 0 to %u", topic, n - 1);
	for (p = 0; p < n; p++) {
		if (o->partition != MQDEV_PARTITION_ALL && p != o->partition)
			continue;
		err = mqdev_consumer_seek(c, p, o->whence, o->offset, flags, NULL);
		if (err == -ERANGE)
			die("--from %" PRIu64 ": beyond the end of partition %u of "
			    "'%s'", o->offset, p, topic);
		check(err, "consume from", topic);
	}
}

static bool share_rejects(const struct mqdev_record *rec, const char *pat)
{
	return pat && rec && memmem(mqdev_record_value(rec),
				    mqdev_record_value_len(rec), pat,
				    strlen(pat));
}

/* Accept, or reject or release what --reject-if or --release-if name. */
static uint32_t share_verdict(const struct mqdev_record *rec,
			      const struct consume_opts *o)
{
	if (share_rejects(rec, o->reject_if))
		return MQDEV_SHARE_REJECT;
	if (share_rejects(rec, o->release_if))
		return MQDEV_SHARE_RELEASE;
	return MQDEV_SHARE_ACCEPT;
}

/* --backoff 10s,30s,1m: milliseconds each, a level per delivery. */
static void parse_backoff(char *list, struct consume_opts *o)
{
	uint64_t ns;
	char *d;

	for (d = strtok(list, ","); d; d = strtok(NULL, ",")) {
		if (o->nr_backoff == MQDEV_SHARE_BACKOFF_LEVELS)
			die("--backoff: at most %d levels",
			    MQDEV_SHARE_BACKOFF_LEVELS);
		ns = parse_duration(d, "--backoff");
		if (ns < 1000000 || ns > MQDEV_SHARE_MAX_BACKOFF_MS * 1000000ULL)
			die("--backoff: '%s': from 1ms to 24h", d);
		o->backoff[o->nr_backoff++] = ns / 1000000;
	}
	if (!o->nr_backoff)
		die("--backoff: a list such as 10s,30s,1m");
}

/* Accept only what is still as it was read; else let it go again. */
static int share_ack_one(struct mqdev_share *s, const struct mqdev_delivery *d,
			 uint32_t type)
{
	LIBMQDEV_OPTS(mqdev_share_ack_opts, opts, .read = d, .nr_read = 1);
	int err;

	err = mqdev_share_ack(s, d->partition, d->offset, d->offset + 1, type,
			      &opts);
	if (err == -ENODATA)
		err = mqdev_share_ack(s, d->partition, d->offset,
				      d->offset + 1, MQDEV_SHARE_RELEASE, NULL);
	return err;
}

/* Print, then accept (or reject) each record of a run, one by one. */
static int share_finish(struct mqdev_share *s, const struct mqdev_delivery *d,
			int n, const struct consume_opts *o)
{
	uint32_t type;
	int i, err;

	for (i = 0; i < n; i++)
		if (d[i].rec)
			print_record(d[i].rec, o);
	/* Written out first: only then are they done. */
	if (fflush(stdout) == EOF)
		return -EIO;
	for (i = 0; i < n; i++) {
		/* Never accept what was not read: the ring took it first. */
		if (!d[i].rec)
			type = MQDEV_SHARE_RELEASE;
		else
			type = share_verdict(d[i].rec, o);
		err = share_ack_one(s, &d[i], type);
		if (err)
			return err;
	}
	return 0;
}

/* Does the kernel know MQDEV_SHARE_DLQ_EXPIRED? */
/* CLOCK_MONOTONIC in ms: a wait's deadline across the signals it meets. */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * A share-group acquire waiting up to @timeout_ms (-1: no limit) in all: a
 * signal that does not stop mqctl does not start the wait over.
 */
static int share_acquire_within(struct mqdev_share *s,
				struct mqdev_delivery *d, int want,
				int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms, left = timeout_ms;
	int n;

	for (;;) {
		n = mqdev_share_acquire_wait(s, MQDEV_PARTITION_ANY, d, want,
					     (int)left);
		if (n != -EINTR || stop)
			return n;
		if (timeout_ms >= 0) {
			left = end - mono_ms();
			if (left <= 0)
				return 0;	/* none within it */
		}
	}
}

static bool share_dlq_expired_known(void)
{
	int fd = mqdev_open();
	uint64_t feat = fd < 0 ? 0 : mqdev_features(fd);

	if (fd >= 0)
		close(fd);
	return feat & MQDEV_FEAT_SHARE_DLQ_EXPIRED;
}

/* A join's refusal, said of what was wrong with it. */
static void share_join_check(int err, const struct consume_opts *o)
{
	if (!o->dlq)
		check(err, "join share group", o->share_group);
	if (err == -EINVAL && o->dlq_flags && !share_dlq_expired_known())
		die("--dlq-expired: this kernel's mqdev cannot (no "
		    "MQDEV_FEAT_SHARE_DLQ_EXPIRED)");
	if (err == -EINVAL)
		die("--dlq '%s': not the topic consumed, a valid name", o->dlq);
	if (err == -ENOENT || err == -EACCES)
		die("--dlq '%s': %s", o->dlq, err == -ENOENT ? "no such topic" :
		    "you may not produce to it");
	if (err == -EOPNOTSUPP)
		die("--dlq '%s': a single-writer topic or a durable one", o->dlq);
	check(err, "join share group", o->share_group);
}

/*
 * mqctl consume --share-group: acquire, print, accept.  An idle member
 * sleeps in the kernel until a record may be acquired (or --timeout).
 */
static int consume_share(const char *topic, const struct consume_opts *o)
{
	LIBMQDEV_OPTS(mqdev_share_opts, sopts, .reset = o->whence,
		      .dlq_topic = o->dlq, .max_deliveries = o->max_deliveries,
		      .backoff_ms = o->backoff, .nr_backoff = o->nr_backoff,
		      .dlq_flags = o->dlq_flags);
	struct mqdev_delivery d[64];
	struct mqdev_share *s;
	uint64_t got = 0;
	int n, err, want;

	if (o->whence == MQDEV_SEEK_OFFSET || o->partition !=
	    MQDEV_PARTITION_ALL || o->group)
		die("--share-group: the group decides partitions and offsets");
	err = mqdev_share_new(topic, o->share_group, &sopts, &s);
	if (err == -EEXIST)
		die("join share group '%s': '%s' has a consumer group of that "
		    "name, or the share group has other settings (join with "
		    "no --dlq, --dlq-expired, --max-deliveries, --backoff to "
		    "take the group's; see mqctl dlq info, group describe)",
		    o->share_group, topic);
	share_join_check(err, o);
	while (!stop && (!o->count || got < o->count)) {
		want = 64;
		if (o->count && o->count - got < 64)
			want = o->count - got;
		/* -1 (none given): no limit; a stop signal ends the wait. */
		n = share_acquire_within(s, d, want, o->timeout);
		if (n == -EINTR)
			continue;
		check(n < 0 ? n : 0, "acquire from", topic);
		if (!n)		/* none within --timeout */
			break;
		err = share_finish(s, d, n, o);
		if (err == -EIO && stop)
			break;
		if (err == -EIO)
			die("consume from '%s': writing out: %s", topic,
			    strerror(errno));
		check(err, "accept for share group", o->share_group);
		got += n;
	}
	/* What was acquired and not written out goes back at once. */
	mqdev_share_free(s);
	return 0;
}

/* A consumer of @topic: a member of --group, or to be sought. */
static struct mqdev_consumer *consume_open(const char *topic,
					   const struct mqdev_consumer_opts *copts,
					   const struct consume_opts *o)
{
	struct mqdev_consumer *c;
	int err;

	check(mqdev_consumer_new(topic, copts, &c), "consume from", topic);
	if (!o->group)
		return c;
	if (o->whence == MQDEV_SEEK_OFFSET || o->partition !=
	    MQDEV_PARTITION_ALL)
		die("--group: the group decides partitions and offsets");
	err = mqdev_consumer_join(c, o->group, o->whence);
	if (err == -ENOSPC)
		die("join group '%s': the group has as many members as it "
		    "may have (256)", o->group);
	check(err, "join group", o->group);
	return c;
}

/*
 * Wait up to @timeout ms for a record of any of @n consumers: 1 when there
 * may be one, 0 on time-out, or -errno.  One consumer waits its own way.
 */
static int consume_wait(struct mqdev_consumer **c, int n, int timeout)
{
	struct pollfd pfd[2];
	int i, err;

	if (n == 1)
		return mqdev_consumer_wait(c[0], timeout);
	for (i = 0; i < n; i++) {
		/* Ready already (or its assignment changed): no sleep. */
		err = mqdev_consumer_wait(c[i], 0);
		if (err)
			return err;
		pfd[i] = (struct pollfd){ .fd = mqdev_consumer_fd(c[i]),
					  .events = POLLIN | POLLPRI };
	}
	err = poll(pfd, n, timeout);
	return err < 0 ? -errno : err > 0;
}

/* --reconsume-if: hand @rec back to the group, to come again later. */
static void consume_reconsume(struct mqdev_consumer *c,
			      const struct mqdev_record *rec,
			      const struct consume_opts *o)
{
	LIBMQDEV_OPTS(mqdev_reconsume_opts, ropts,
		      .retry_topic = o->retry_topic, .dlq_topic = o->dlq,
		      .max_deliveries = o->max_deliveries,
		      .backoff_ms = o->backoff, .nr_backoff = o->nr_backoff,
		      .error = "mqctl --reconsume-if");
	int err = mqdev_consumer_reconsume_later(c, rec, &ropts);

	/* Not retried (its headers would be made up): dead-lettered whole. */
	if (err == -EBADMSG && o->dlq) {
		ropts.dead_now = true;
		err = mqdev_consumer_reconsume_later(c, rec, &ropts);
	}
	if (err == -ENOENT || err == -EACCES || err == -EOPNOTSUPP ||
	    err == -EINVAL)
		die("reconsume later: --retry-topic '%s' or --dlq '%s': %s",
		    o->retry_topic, o->dlq ? o->dlq : "", strerror(-err));
	/* A poison record: said, and committed past as any other. */
	if (err == -EBADMSG) {
		fprintf(stderr, "mqctl: partition %u offset %" PRIu64
			": malformed header block: not retried, and no "
			"--dlq\n", rec->partition,
			(uint64_t)rec->offset);
		return;
	}
	/* Taken away meanwhile: its new owner has it. */
	if (err < 0 && err != -ESTALE)
		check(err, "reconsume later in group", o->group);
}

/*
 * Print what is ready, hand back what --reconsume-if names, and commit
 * once written out.
 */
static void consume_run(struct mqdev_consumer *c, const char *topic,
			const struct consume_opts *o, uint64_t *got)
{
	const struct mqdev_record *rec;
	int err;

	while ((!o->count || *got < o->count) &&
	       (rec = mqdev_consumer_peek(c))) {
		print_record(rec, o);
		if (share_rejects(rec, o->reconsume_if))
			consume_reconsume(c, rec, o);
		if (mqdev_consumer_release(c) == 0)
			(*got)++;
	}
	check(mqdev_consumer_error(c), "consume from", topic);
	/*
	 * A stop signal may cut a write to a slow reader short: what was not
	 * written out is not done, and is not committed.
	 */
	if (fflush(stdout) == EOF) {
		if (!stop)
			die("consume from '%s': writing out: %s", topic,
			    strerror(errno));
		return;
	}
	/* written out: now they may count as done */
	if (o->group && !o->auto_commit) {
		err = mqdev_consumer_commit(c);
		if (err && err != -ESTALE)
			check(err, "commit for group", o->group);
	}
}

static int cmd_consume(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "from-beginning", no_argument, NULL, 'b' },
		{ "partition", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "keys", no_argument, NULL, 'k' },
		{ "headers", no_argument, NULL, 'e' },
		{ "no-hold", no_argument, NULL, 'H' },
		{ "copy", no_argument, NULL, 'C' },
		{ "group", required_argument, NULL, 'g' },
		{ "commit", required_argument, NULL, 'c' },
		{ "share-group", required_argument, NULL, 's' },
		{ "reject-if", required_argument, NULL, 'r' },
		{ "release-if", required_argument, NULL, 'R' },
		{ "dlq", required_argument, NULL, 'D' },
		{ "max-deliveries", required_argument, NULL, 'M' },
		{ "backoff", required_argument, NULL, 'B' },
		{ "dlq-expired", no_argument, NULL, 'X' },
		{ "retry-topic", required_argument, NULL, 'T' },
		{ "reconsume-if", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct consume_opts o = {
		.whence = MQDEV_SEEK_LATEST, .partition = MQDEV_PARTITION_ALL,
		.timeout = -1, .hold = true,
	};
	LIBMQDEV_OPTS(mqdev_consumer_opts, copts);
	struct mqdev_consumer *c[2] = { NULL, NULL };
	uint64_t got = 0;
	int opt, err, i;

	while ((opt = getopt_long(argc, argv, "f:bp:n:t:kh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (!strcmp(optarg, "earliest")) {
				o.whence = MQDEV_SEEK_EARLIEST;
			} else if (!strcmp(optarg, "latest")) {
				o.whence = MQDEV_SEEK_LATEST;
			} else {
				o.whence = MQDEV_SEEK_OFFSET;
				o.offset = parse_number(optarg, "--from", false);
			}
			break;
		case 'b': o.whence = MQDEV_SEEK_EARLIEST; break;
		case 'p':
			o.partition = parse_number(optarg, "--partition", false);
			break;
		case 'n': o.count = parse_number(optarg, "--count", false); break;
		case 't':
			o.timeout = parse_number(optarg, "--timeout", false);
			if (o.timeout < 0)
				die("--timeout: too large");
			break;
		case 'k': o.keys = true; break;
		case 'e': o.headers = true; break;
		case 'H': o.hold = false; break;
		case 'C': copts.flags |= MQDEV_CONSUMER_COPY; break;
		case 'g': o.group = optarg; break;
		case 'c':
			if (!strcmp(optarg, "auto"))
				o.auto_commit = true;
			else if (strcmp(optarg, "manual"))
				die("--commit: manual or auto, not '%s'", optarg);
			break;
		case 's': o.share_group = optarg; break;
		case 'r': o.reject_if = optarg; break;
		case 'R': o.release_if = optarg; break;
		case 'D': o.dlq = optarg; break;
		case 'M':
			o.max_deliveries = parse_number(optarg,
							"--max-deliveries", false);
			if (!o.max_deliveries ||
			    o.max_deliveries > MQDEV_SHARE_MAX_DELIVERIES)
				die("--max-deliveries: from 1 to %d",
				    MQDEV_SHARE_MAX_DELIVERIES);
			break;
		case 'B': parse_backoff(optarg, &o); break;
		case 'X': o.dlq_flags |= MQDEV_SHARE_DLQ_EXPIRED; break;
		case 'T': o.retry_topic = optarg; break;
		case 'L': o.reconsume_if = optarg; break;
		case 'h': fputs(consume_usage, stdout); return 0;
		default: fputs(consume_usage, stderr); return 2;
		}
	}
	if (optind != argc - 1)
		die("consume: one topic name, please (see --help)");
	if ((o.reject_if || o.release_if) && !o.share_group)
		die("--reject-if, --release-if: only with --share-group");
	if ((o.dlq || o.max_deliveries || o.nr_backoff) && !o.share_group &&
	    !o.retry_topic)
		die("--dlq, --max-deliveries, --backoff: only with "
		    "--share-group or --retry-topic");
	if ((o.retry_topic && (!o.group || o.share_group)) ||
	    (o.reconsume_if && !o.retry_topic))
		die("--retry-topic: only with --group; --reconsume-if: only "
		    "with --retry-topic");
	/* RocketMQ always has a %DLQ%: without one the last is dropped. */
	if (o.retry_topic && !o.dlq)
		fprintf(stderr, "mqctl: --retry-topic without --dlq: a record "
			"past --max-deliveries is dropped\n");
	if (o.dlq_flags && (!o.dlq || !o.share_group))
		die("--dlq-expired: only with --dlq TOPIC, of a --share-group");
	if (o.share_group)
		return consume_share(argv[optind], &o);

	/* --commit auto: a member commits every second */
	copts.auto_commit_ms = o.auto_commit ? 1000 : 0;
	c[0] = consume_open(argv[optind], &copts, &o);
	if (!o.group)
		consume_seek(c[0], argv[optind], &o);
	/* The group's retries, read in the same group. */
	if (o.retry_topic)
		c[1] = consume_open(o.retry_topic, &copts, &o);

	while (!stop && (!o.count || got < o.count)) {
		err = consume_wait(c, o.retry_topic ? 2 : 1, o.timeout);
		if (err == -EINTR)
			continue;	/* a stop signal ends the loop */
		if (err == -EIDRM)
			break;
		check(err, "consume from", argv[optind]);
		if (!err)
			break;		/* --timeout with nothing new */
		consume_run(c[0], argv[optind], &o, &got);
		if (c[1])
			consume_run(c[1], o.retry_topic, &o, &got);
	}
	for (i = 0; i < 2 && c[i]; i++) {
		if (o.group && !ferror(stdout)) {
			err = mqdev_consumer_commit(c[i]);
			if (err && err != -ESTALE)
				check(err, "commit for group", o.group);
		}
		if (mqdev_consumer_lost(c[i]))
			fprintf(stderr, "mqctl: %" PRIu64 " records were "
				"overwritten before they could be read\n",
				mqdev_consumer_lost(c[i]));
		mqdev_consumer_free(c[i]);
	}
	return 0;
}

/* ---- mqctl group ... and mqctl watch ---------------------------------------- */

static const char group_usage[] =
"usage: mqctl group list\n"
"       mqctl group describe GROUP [--topic T]\n"
"       mqctl group reset GROUP --topic T --to earliest|latest|OFFSET|@TIME\n"
"                         [--partition P] [--force]\n"
"       mqctl group delete GROUP [--topic T | --share] [--force]\n"
"\n"
"  --to @TIME   the first record at or after TIME, in seconds since the\n"
"               epoch (fractions allowed), as 'date +%s.%N' prints it\n"
"  --force      reset although the group has members (they are moved);\n"
"               delete although it has members (they are evicted)\n"
"  --share      delete the share groups named GROUP on every topic; without\n"
"               it and --topic, only the consumer groups of the name go\n"
"\n"
"A group belongs to the user that made it; its topic's owner may delete it.\n"
"The list shows each group's kind: consumer, or share.  A share group is\n"
"described as its in-flight window in each partition and the records in\n"
"it by state.  It outlives its members: what they did not finish waits for\n"
"the next one.\n";

static struct mqdev_nl *open_nl(void)
{
	struct mqdev_nl *nl;
	int err = mqdev_nl_open(&nl);

	if (err)
		die("control channel: %s", err == -ENODEV ?
		    "no mqdev netlink family: is the mqdev module loaded?" :
		    explain(err));
	return nl;
}

static void nl_check(struct mqdev_nl *nl, int err, const char *what,
		     const char *name)
{
	if (err < 0)
		die("%s '%s': %s", what, name, *mqdev_nl_error(nl) ?
		    mqdev_nl_error(nl) : explain(err));
}

static uint64_t total_lag(const struct mqdev_group_info *g)
{
	uint64_t lag = 0;
	uint32_t i;

	for (i = 0; i < g->nr_parts; i++)
		lag += g->part[i].lag;
	return lag;
}

static const char *group_kind(const struct mqdev_group_info *g)
{
	return g->type == MQDEV_GROUP_TYPE_SHARE ? "share" : "consumer";
}

/* A share group has no generation nor lag: "-" (null) for them. */
static int print_group_row(void *ctx, const struct mqdev_group_info *g)
{
	bool share = g->type == MQDEV_GROUP_TYPE_SHARE;
	char gen[16] = "-", lag[24] = "-";
	int *n = ctx;

	if (!share) {
		snprintf(gen, sizeof(gen), "%u", g->generation);
		snprintf(lag, sizeof(lag), "%" PRIu64, total_lag(g));
	}
	if (json)
		printf("%s{\"group\":\"%s\",\"topic\":\"%s\",\"members\":%u,"
		       "\"generation\":%s,\"lag\":%s,\"type\":\"%s\"}",
		       (*n)++ ? "," : "", g->group, g->topic, g->members,
		       share ? "null" : gen, share ? "null" : lag,
		       group_kind(g));
	else
		printf("%-24s %-24s %-8s %8u %11s %12s\n", g->group, g->topic,
		       group_kind(g), g->members, gen, lag);
	return 0;
}

static const struct mqdev_member_info *
member_by_id(const struct mqdev_group_info *g, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < g->nr_members; i++)
		if (g->member[i].id == id)
			return &g->member[i];
	return NULL;
}

static int share_describe(const char *group, const char *topic);

static int print_group_detail(void *ctx, const struct mqdev_group_info *g)
{
	const struct mqdev_member_info *m;
	const struct mqdev_group_partition *p;
	char owner[64];
	int *n = ctx;
	uint32_t i;

	if (g->type == MQDEV_GROUP_TYPE_SHARE) {
		if ((*n)++)
			putchar(json ? ',' : '\n');
		/* Deleted since it was listed: nothing to say of it. */
		share_describe(g->group, g->topic);
		return 0;
	}

	if (json) {
		printf("%s{\"group\":\"%s\",\"topic\":\"%s\",\"generation\":%u,"
		       "\"members\":[", (*n)++ ? "," : "", g->group, g->topic,
		       g->generation);
		for (i = 0; i < g->nr_members; i++)
			printf("%s{\"id\":%u,\"pid\":%u,\"comm\":\"%s\","
			       "\"partitions\":%u}", i ? "," : "", g->member[i].id,
			       g->member[i].pid, g->member[i].comm,
			       g->member[i].partitions);
		fputs("],\"partitions\":[", stdout);
		for (i = 0; i < g->nr_parts; i++) {
			p = &g->part[i];
			printf("%s{\"partition\":%u,\"current_offset\":", i ? "," : "",
			       p->partition);
			if (p->committed)
				printf("%" PRIu64, p->position);
			else
				fputs("null", stdout);
			printf(",\"position\":%" PRIu64 ",\"log_end_offset\":%" PRIu64
			       ",\"lag\":%" PRIu64 ",\"owner\":", p->position, p->end,
			       p->lag);
			if (p->owned)
				printf("%u}", p->owner);
			else
				fputs("null}", stdout);
		}
		fputs("]}", stdout);
		return 0;
	}
	if ((*n)++)
		putchar('\n');
	printf("%-20s %-20s %9s %15s %15s %10s  %s\n", "GROUP", "TOPIC",
	       "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "OWNER");
	for (i = 0; i < g->nr_parts; i++) {
		char cur[24];

		p = &g->part[i];
		m = p->owned ? member_by_id(g, p->owner) : NULL;
		if (m)
			snprintf(owner, sizeof(owner), "member-%u (pid %u, %s)",
				 m->id, m->pid, m->comm);
		else
			snprintf(owner, sizeof(owner), "-");
		if (p->committed)
			snprintf(cur, sizeof(cur), "%" PRIu64, p->position);
		else
			snprintf(cur, sizeof(cur), "- (%" PRIu64 ")", p->position);
		printf("%-20s %-20s %9u %15s %15" PRIu64 " %10" PRIu64 "  %s\n",
		       g->group, g->topic, p->partition, cur, p->end, p->lag,
		       owner);
	}
	printf("(generation %u, %u member%s)\n", g->generation, g->members,
	       g->members == 1 ? "" : "s");
	return 0;
}

static int group_list(struct mqdev_nl *nl, int argc, char **argv)
{
	int n = 0;

	if (argc > 1)
		die("group list takes no arguments");
	if (json)
		putchar('[');
	else
		printf("%-24s %-24s %-8s %8s %11s %12s\n", "GROUP", "TOPIC",
		       "KIND", "MEMBERS", "GENERATION", "LAG");
	nl_check(nl, mqdev_group_get(nl, NULL, NULL, print_group_row, &n),
		 "list groups", "*");
	if (json)
		puts("]");
	return 0;
}

/* A share group's windows, one line (or object) a partition. */
static void print_share_part(const struct mqdev_share_info *in, uint32_t p)
{
	if (json) {
		printf("%s{\"partition\":%u,\"start\":%" PRIu64 ",\"end\":%"
		       PRIu64 ",\"available\":%u,\"acquired\":%u,"
		       "\"acknowledged\":%u,\"rejected\":%u}", p ? "," : "", p,
		       (uint64_t)in->start, (uint64_t)in->end, in->available,
		       in->acquired, in->acknowledged, in->rejected);
		return;
	}
	printf("%9u %12" PRIu64 " %12" PRIu64 " %9u %9u %12u %9u\n", p,
	       (uint64_t)in->start, (uint64_t)in->end, in->available,
	       in->acquired, in->acknowledged, in->rejected);
}

/* A descriptor attached to consume @topic, or the end of mqctl. */
static int attach_consume(const char *topic, struct mqdev_attach *at)
{
	int fd = mqdev_open();

	check(fd < 0 ? fd : 0, "open", MQDEV_DEVICE);
	memset(at, 0, sizeof(*at));
	check(mqdev_name_set(at->name, topic), "attach to", topic);
	at->flags = MQDEV_ATTACH_CONSUME;
	if (ioctl(fd, MQDEV_IOC_ATTACH, at))
		check(-errno, "attach to", topic);
	return fd;
}

/* 0, or -ENOENT when @topic has no share group @group. */
static int share_describe(const char *group, const char *topic)
{
	struct mqdev_share_info in;
	struct mqdev_attach at;
	uint32_t p;
	int fd, err;

	fd = attach_consume(topic, &at);
	err = mqdev_share_describe(fd, group, 0, &in);
	if (err == -ENOENT) {
		close(fd);
		return err;
	}
	check(err, "describe share group", group);
	if (json)
		printf("{\"group\":\"%s\",\"topic\":\"%s\",\"type\":\"share\","
		       "\"members\":%u,\"lock_ms\":%u,\"max_deliveries\":%u,"
		       "\"lost\":%" PRIu64 ",\"rejected_total\":%" PRIu64
		       ",\"partitions\":[", group, topic,
		       in.members, in.lock_ms, in.max_deliveries,
		       (uint64_t)in.lost, (uint64_t)in.rejected_total);
	else
		printf("Share group %s on %s: %u members, locks of %u ms, at "
		       "most %u deliveries, %" PRIu64 " lost to the ring, %"
		       PRIu64 " rejected in all\n"
		       "%9s %12s %12s %9s %9s %12s %9s\n",
		       group, topic, in.members, in.lock_ms, in.max_deliveries,
		       (uint64_t)in.lost, (uint64_t)in.rejected_total,
		       "PARTITION", "START", "END", "AVAILABLE", "ACQUIRED",
		       "ACKNOWLEDGED", "REJECTED");
	print_share_part(&in, 0);	/* partition 0's, described above */
	for (p = 1; p < at.partitions; p++) {
		check(mqdev_share_describe(fd, group, p, &in),
		      "describe share group", group);
		print_share_part(&in, p);
	}
	if (json)
		puts("]}");
	close(fd);
	return 0;
}

static int group_describe(struct mqdev_nl *nl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "topic", required_argument, NULL, 't' },
		{}
	};
	const char *topic = NULL;
	int n = 0, opt;

	while ((opt = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (opt != 't') {
			fputs(group_usage, stderr);
			return 2;
		}
		topic = optarg;
	}
	if (optind != argc - 1)
		die("group describe: one group name, please");
	argv += optind - 1;
	if (topic && !share_describe(argv[1], topic))
		return 0;
	if (json)
		putchar('[');
	nl_check(nl, mqdev_group_get(nl, argv[1], topic, print_group_detail, &n),
		 "describe group", argv[1]);
	if (json)
		puts("]");
	if (!n)
		die("describe group '%s': no such group (on a topic you may read)",
		    argv[1]);
	return 0;
}

static void parse_reset_to(const char *to, uint32_t *whence, uint64_t *value)
{
	char *end;
	double secs;

	*value = 0;
	if (!strcmp(to, "earliest")) {
		*whence = MQDEV_SEEK_EARLIEST;
	} else if (!strcmp(to, "latest")) {
		*whence = MQDEV_SEEK_LATEST;
	} else if (to[0] == '@') {
		secs = strtod(to + 1, &end);
		if (end == to + 1 || *end || secs < 0)
			die("--to: @SECONDS since the epoch, not '%s'", to);
		*whence = MQDEV_SEEK_TIMESTAMP;
		*value = (uint64_t)(secs * 1e9);
	} else {
		*whence = MQDEV_SEEK_OFFSET;
		*value = parse_number(to, "--to", false);
	}
}

static int group_reset(struct mqdev_nl *nl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "topic", required_argument, NULL, 't' },
		{ "to", required_argument, NULL, 'o' },
		{ "partition", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{}
	};
	uint32_t whence = 0, partition = MQDEV_PARTITION_ALL;
	const char *topic = NULL, *to = NULL;
	bool force = false;
	uint64_t value = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "t:o:p:f", opts, NULL)) != -1) {
		switch (opt) {
		case 't': topic = optarg; break;
		case 'o': to = optarg; break;
		case 'p':
			partition = parse_number(optarg, "--partition", false);
			break;
		case 'f': force = true; break;
		default: fputs(group_usage, stderr); return 2;
		}
	}
	if (optind != argc - 1 || !topic || !to)
		die("group reset: GROUP --topic T --to WHERE (see --help)");
	parse_reset_to(to, &whence, &value);
	nl_check(nl, mqdev_group_reset(nl, argv[optind], topic, partition,
				       whence, value, force),
		 "reset group", argv[optind]);
	if (!json)
		printf("Reset group %s on %s to %s.\n", argv[optind], topic, to);
	else
		printf("{\"reset\":\"%s\",\"topic\":\"%s\"}\n", argv[optind],
		       topic);
	return 0;
}

/* The topics of the share groups of a name: as many as there are. */
struct share_topics {
	char	(*names)[MQDEV_NAME_SIZE];
	int	n;
};

static int share_topic(void *ctx, const struct mqdev_group_info *info)
{
	struct share_topics *t = ctx;
	void *grown;

	if (info->type != MQDEV_GROUP_TYPE_SHARE)
		return 0;
	grown = realloc(t->names, (t->n + 1) * sizeof(*t->names));
	if (!grown)
		return -ENOMEM;
	t->names = grown;
	memcpy(t->names[t->n++], info->topic, MQDEV_NAME_SIZE);
	return 0;
}

/* --share: the share groups named @group, on each topic that has one. */
static void share_groups_delete(struct mqdev_nl *nl, const char *group,
				bool force)
{
	struct share_topics t = {};
	int i;

	nl_check(nl, mqdev_group_get(nl, group, NULL, share_topic, &t),
		 "find share group", group);
	if (!t.n)
		die("delete group %s: no such share group", group);
	for (i = 0; i < t.n; i++)
		nl_check(nl, mqdev_group_delete(nl, group, t.names[i], force),
			 "delete group", group);
	free(t.names);
}

static int group_delete(struct mqdev_nl *nl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "topic", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "share", no_argument, NULL, 's' },
		{}
	};
	const char *topic = NULL;
	bool force = false, share = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "t:fs", opts, NULL)) != -1) {
		if (opt == 't') {
			topic = optarg;
		} else if (opt == 'f') {
			force = true;
		} else if (opt == 's') {
			share = true;
		} else {
			fputs(group_usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1)
		die("group delete: one group name, please");
	if (share && topic)
		die("group delete: --share or --topic, not both");
	if (share)
		share_groups_delete(nl, argv[optind], force);
	else
		nl_check(nl, mqdev_group_delete(nl, argv[optind], topic, force),
			 "delete group", argv[optind]);
	if (json)
		printf("{\"deleted\":\"%s\"}\n", argv[optind]);
	else
		printf("Deleted group %s.\n", argv[optind]);
	return 0;
}

static int cmd_group(int argc, char **argv)
{
	struct mqdev_nl *nl;
	int ret;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(group_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	nl = open_nl();
	if (!strcmp(argv[1], "list"))
		ret = group_list(nl, argc - 1, argv + 1);
	else if (!strcmp(argv[1], "describe"))
		ret = group_describe(nl, argc - 1, argv + 1);
	else if (!strcmp(argv[1], "reset"))
		ret = group_reset(nl, argc - 1, argv + 1);
	else if (!strcmp(argv[1], "delete"))
		ret = group_delete(nl, argc - 1, argv + 1);
	else
		die("group: unknown command '%s' (list, describe, reset, delete)",
		    argv[1]);
	mqdev_nl_close(nl);
	return ret;
}

static int cmd_watch(int argc, char **argv)
{
	static const char *const names[] = {
		[MQDEV_CMD_EVENT_REBALANCE] = "rebalance",
		[MQDEV_CMD_EVENT_TOPIC_NEW] = "topic-created",
		[MQDEV_CMD_EVENT_TOPIC_DEL] = "topic-deleted",
	};
	LIBMQDEV_OPTS(mqdev_event, ev);
	struct mqdev_nl *nl;
	int err;

	if (argc > 1) {
		fputs("usage: mqctl watch\n\nPrints control-channel events "
		      "(rebalances, topics created and deleted) as they happen.\n",
		      strcmp(argv[1], "--help") ? stderr : stdout);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	nl = open_nl();
	nl_check(nl, mqdev_nl_subscribe(nl), "watch", "events");
	while (!stop) {
		err = mqdev_nl_event(nl, &ev, 500);
		if (err == -EINTR || !err)
			continue;
		nl_check(nl, err, "watch", "events");
		if (ev.cmd > MQDEV_CMD_EVENT_TOPIC_DEL || !names[ev.cmd])
			continue;
		if (json && ev.cmd == MQDEV_CMD_EVENT_REBALANCE)
			printf("{\"event\":\"%s\",\"group\":\"%s\",\"topic\":"
			       "\"%s\",\"generation\":%u,\"members\":%u}\n",
			       names[ev.cmd], ev.group, ev.topic, ev.generation,
			       ev.members);
		else if (json)
			printf("{\"event\":\"%s\",\"topic\":\"%s\"}\n",
			       names[ev.cmd], ev.topic);
		else if (ev.cmd == MQDEV_CMD_EVENT_REBALANCE)
			printf("rebalance group %s topic %s generation %u "
			       "members %u\n", ev.group, ev.topic, ev.generation,
			       ev.members);
		else
			printf("%s %s\n", names[ev.cmd], ev.topic);
		fflush(stdout);
	}
	mqdev_nl_close(nl);
	return 0;
}

/* ---- mqctl verify ------------------------------------------------------- */

static const char verify_usage[] =
"usage: mqctl verify TOPIC [--group G] [--timeout MS]\n"
"\n"
"Reads a topic and checks, per partition and producer, that the sequence\n"
"numbers of idempotent producers run on without gaps (records lost) or\n"
"repeats (records twice).  Prints each one found and a summary; exits 1 if\n"
"it found any.  It neither joins nor commits for any group.\n"
"  --group G     from where group G stands, instead of the earliest record\n"
"                (a record sent before that is not expected from 0)\n"
"  --timeout MS  wait MS milliseconds for more records at the end (0)\n";

static void print_anomaly(void *ctx, const struct mqdev_anomaly *a)
{
	if (json) {
		printf("{\"anomaly\":\"%s\",\"partition\":%u,\"producer_id\":%"
		       PRIu64 ",\"expected\":%u,\"sequence\":%u,\"offset\":%"
		       PRIu64 ",\"missing\":%u}\n",
		       a->kind == MQDEV_ANOMALY_GAP ? "gap" : "repeat", a->partition,
		       a->producer_id, a->expected, a->sequence, a->offset,
		       a->count);
	} else if (a->kind == MQDEV_ANOMALY_GAP) {
		printf("gap: partition %u producer %" PRIu64 ": %u missing, "
		       "sequence %u where %u was due (offset %" PRIu64 ")\n",
		       a->partition, a->producer_id, a->count, a->sequence,
		       a->expected, a->offset);
	} else {
		printf("repeat: partition %u producer %" PRIu64 ": sequence %u "
		       "again, %u was due (offset %" PRIu64 ")\n", a->partition,
		       a->producer_id, a->sequence, a->expected, a->offset);
	}
}

struct group_positions {
	uint32_t nr;
	uint64_t *offset;
	bool found;
};

static int collect_positions(void *ctx, const struct mqdev_group_info *g)
{
	struct group_positions *gp = ctx;
	uint32_t i;

	if (g->type == MQDEV_GROUP_TYPE_SHARE)	/* has no positions */
		return 0;
	gp->found = true;
	for (i = 0; i < g->nr_parts; i++)
		if (g->part[i].partition < gp->nr)
			gp->offset[g->part[i].partition] = g->part[i].position;
	return 0;
}

/* Seek every partition to where @group stands in @topic. */
static void verify_seek_group(struct mqdev_consumer *c, const char *topic,
			      const char *group)
{
	uint32_t n = mqdev_consumer_partitions(c), p;
	struct group_positions gp = { .nr = n };
	struct mqdev_nl *nl = open_nl();
	int err;

	gp.offset = calloc(n, sizeof(*gp.offset));
	if (!gp.offset)
		die("out of memory");
	nl_check(nl, mqdev_group_get(nl, group, topic, collect_positions, &gp),
		 "describe group", group);
	if (!gp.found)
		die("group '%s' has not read topic '%s'", group, topic);
	for (p = 0; p < n; p++) {
		err = mqdev_consumer_seek(c, p, MQDEV_SEEK_OFFSET, gp.offset[p],
					  0, NULL);
		if (err == -ERANGE)	/* reclaimed: from the oldest kept */
			err = mqdev_consumer_seek(c, p, MQDEV_SEEK_EARLIEST, 0,
						  0, NULL);
		check(err, "read", topic);
	}
	free(gp.offset);
	mqdev_nl_close(nl);
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	LIBMQDEV_OPTS(mqdev_consumer_opts, copts);
	LIBMQDEV_OPTS(mqdev_verify_stats, st);
	struct mqdev_verifier *v;
	struct mqdev_consumer *c;
	const char *group = NULL, *topic;
	int opt, err, timeout = 0;

	while ((opt = getopt_long(argc, argv, "g:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'g': group = optarg; break;
		case 't':
			timeout = parse_number(optarg, "--timeout", false);
			if (timeout < 0)
				die("--timeout: too large");
			break;
		case 'h': fputs(verify_usage, stdout); return 0;
		default: fputs(verify_usage, stderr); return 2;
		}
	}
	if (optind != argc - 1)
		die("verify: one topic name, please (see --help)");
	topic = argv[optind];
	check(mqdev_verifier_new(group ? 0 : MQDEV_VERIFY_FROM_START,
				 print_anomaly, NULL, &v), "verify", topic);
	copts.verifier = v;
	check(mqdev_consumer_new(topic, &copts, &c), "read", topic);
	if (group)
		verify_seek_group(c, topic, group);
	else
		check(mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
					  MQDEV_SEEK_EARLIEST, 0, 0, NULL),
		      "read", topic);

	while (!stop) {
		while (mqdev_consumer_peek(c))
			mqdev_consumer_release(c);
		check(mqdev_consumer_error(c), "read", topic);
		err = mqdev_consumer_wait(c, timeout);
		if (err == -EINTR)
			continue;
		if (err == -EIDRM || !err)
			break;
		check(err, "read", topic);
	}
	mqdev_verifier_stats(v, &st);
	if (json)
		printf("{\"records\":%" PRIu64 ",\"streams\":%" PRIu64
		       ",\"gaps\":%" PRIu64 ",\"missing\":%" PRIu64
		       ",\"repeats\":%" PRIu64 ",\"aborted\":%" PRIu64 "}\n",
		       st.records, st.producers, st.gaps, st.missing, st.repeats,
		       mqdev_consumer_aborted(c));
	else
		printf("%s: %" PRIu64 " records in %" PRIu64 " (partition, "
		       "producer) streams checked (%" PRIu64 " of them aborted): %" PRIu64
		       " gaps (%" PRIu64 " records missing), %" PRIu64
		       " repeats\n", topic, st.records, st.producers,
		       mqdev_consumer_aborted(c), st.gaps, st.missing,
		       st.repeats);
	mqdev_consumer_free(c);
	mqdev_verifier_free(v);
	return st.gaps || st.repeats ? 1 : 0;
}

/* ---- mqctl stats and mqctl top -------------------------------------------- */

static const char stats_usage[] =
"usage: mqctl stats [TOPIC] [--json | --prometheus]\n"
"\n"
"The counters of TOPIC, or of every topic you may read: per partition\n"
"records and bytes in and out, drops, refusals by reason, producers' waits\n"
"for room, wake-ups; per consumer group commits, rebalances and lag; and\n"
"without TOPIC what the module holds against its limits.\n"
"\n"
"  --prometheus  the Prometheus text format, e.g. for node_exporter's\n"
"                textfile collector\n"
"\n"
"\"Out\" counts what read(2) copied; readers of the mapped ring read\n"
"without the kernel: see their group's commits and lag.\n";

static uint64_t refused_sum(const struct mqdev_stats *st)
{
	uint64_t n = 0;
	int r;

	for (r = 0; r < MQDEV_STATS_REFUSALS; r++)
		n += st->refused[r];
	return n;
}

static void json_refusals(const struct mqdev_stats *st)
{
	const char *name;
	uint32_t r;

	fputs("\"refused\":{", stdout);
	for (r = 0; (name = mqdev_stats_refusal_name(r)); r++)
		printf("%s\"%s\":%" PRIu64, r ? "," : "", name, st->refused[r]);
	putchar('}');
}

static void json_part(const struct mqdev_stats *st)
{
	printf("{\"topic\":\"%s\",", st->topic);
	if (st->kind == MQDEV_STATS_PARTITION)
		printf("\"partition\":%u,\"records_in\":%" PRIu64
		       ",\"bytes_in\":%" PRIu64 ",\"records_out\":%" PRIu64
		       ",\"bytes_out\":%" PRIu64 ",\"drops\":%" PRIu64
		       ",\"waits\":%" PRIu64 ",\"wait_ns\":%" PRIu64
		       ",\"reader_wakeups\":%" PRIu64
		       ",\"producer_wakeups\":%" PRIu64
		       ",\"kept_records\":%" PRIu64 ",\"kept_bytes\":%" PRIu64
		       ",", st->partition, st->records_in, st->bytes_in,
		       st->records_out, st->bytes_out, st->drops, st->waits,
		       st->wait_ns, st->reader_wakeups, st->producer_wakeups,
		       st->kept_records, st->kept_bytes);
	json_refusals(st);
	putchar('}');
}

static void json_group(const struct mqdev_stats *g)
{
	uint32_t p;

	printf("{\"topic\":\"%s\",\"group\":\"%s\",\"members\":%u,"
	       "\"commits\":%" PRIu64 ",\"rebalances\":%" PRIu64
	       ",\"lag\":%" PRIu64 ",\"partition_lag\":[", g->topic, g->group,
	       g->members, g->commits, g->rebalances, g->lag);
	for (p = 0; p < g->nr_parts; p++)
		printf("%s%" PRIu64, p ? "," : "", g->part_lag[p]);
	fputs("]}", stdout);
}

static void json_module(const struct mqdev_stats_module *m)
{
	const struct mqdev_stats_charge *c;
	uint32_t k;

	fputs("{", stdout);
	for (k = 0; k < m->nr_charges; k++) {
		c = &m->charge[k];
		printf("%s\"%s\":{\"used\":%" PRIu64 ",", k ? "," : "",
		       mqdev_stats_charge_name(k) ?: "unknown", c->used);
		if (c->limit != UINT64_MAX)
			printf("\"limit\":%" PRIu64 ",", c->limit);
		printf("\"user_used\":%" PRIu64 ",\"user_limit\":%" PRIu64 "}",
		       c->user_used, c->user_limit);
	}
	fputs("}", stdout);
}

/* Every kind of message of @s, in one JSON array each. */
static void stats_json(const struct mqstats *s, bool module)
{
	static const char *const keys[] = { "partitions", "topics", "groups" };
	uint32_t kind;
	size_t i;
	int n;

	putchar('{');
	for (kind = MQDEV_STATS_PARTITION; kind <= MQDEV_STATS_GROUP; kind++) {
		printf("%s\"%s\":[", kind ? "," : "", keys[kind]);
		for (i = 0, n = 0; i < s->n; i++) {
			if (s->v[i].kind != kind)
				continue;
			if (n++)
				putchar(',');
			if (kind == MQDEV_STATS_GROUP)
				json_group(&s->v[i]);
			else
				json_part(&s->v[i]);
		}
		putchar(']');
	}
	if (module) {
		fputs(",\"module\":", stdout);
		json_module(&s->module);
	}
	puts("}");
}

static void stats_text(const struct mqstats *s, bool module)
{
	const struct mqdev_stats *st;
	const struct mqdev_stats_charge *c;
	char lim[32];
	size_t i;
	uint32_t k;

	printf("%-20s %4s %10s %10s %12s %12s %8s %8s %7s %10s\n", "TOPIC",
	       "PART", "RECS-IN", "RECS-OUT", "BYTES-IN", "BYTES-OUT", "DROPS",
	       "REFUSED", "WAITS", "WAIT-MS");
	for (i = 0; i < s->n; i++) {
		st = &s->v[i];
		if (st->kind == MQDEV_STATS_PARTITION)
			printf("%-20s %4u %10" PRIu64 " %10" PRIu64 " %12" PRIu64
			       " %12" PRIu64 " %8" PRIu64 " %8" PRIu64 " %7" PRIu64
			       " %10" PRIu64 "\n", st->topic, st->partition,
			       st->records_in, st->records_out, st->bytes_in,
			       st->bytes_out, st->drops, refused_sum(st),
			       st->waits, st->wait_ns / 1000000);
		else if (st->kind == MQDEV_STATS_TOPIC && refused_sum(st))
			printf("%-20s %4s %10s %10s %12s %12s %8s %8" PRIu64
			       "\n", st->topic, "-", "", "", "", "", "",
			       refused_sum(st));
	}
	printf("\n%-20s %-20s %7s %10s %10s %12s\n", "TOPIC", "GROUP",
	       "MEMBERS", "COMMITS", "REBALANCES", "LAG");
	for (i = 0; i < s->n; i++) {
		st = &s->v[i];
		if (st->kind == MQDEV_STATS_GROUP)
			printf("%-20s %-20s %7u %10" PRIu64 " %10" PRIu64
			       " %12" PRIu64 "\n", st->topic, st->group,
			       st->members, st->commits, st->rebalances, st->lag);
	}
	if (!module)
		return;
	printf("\n%-16s %14s %14s %14s %14s\n", "KIND", "USED", "LIMIT",
	       "YOURS", "YOUR-LIMIT");
	for (k = 0; k < s->module.nr_charges; k++) {
		c = &s->module.charge[k];
		snprintf(lim, sizeof(lim), "%" PRIu64, c->limit);
		printf("%-16s %14" PRIu64 " %14s %14" PRIu64 " %14" PRIu64 "\n",
		       mqdev_stats_charge_name(k) ?: "unknown", c->used,
		       c->limit == UINT64_MAX ? "-" : lim, c->user_used,
		       c->user_limit);
	}
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prometheus",	no_argument,	NULL, 'p' },
		{ "help",	no_argument,	NULL, 'h' },
		{}
	};
	const char *topic = NULL;
	bool prometheus = false;
	struct mqdev_nl *nl;
	struct mqstats s;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': prometheus = true; break;
		case 'h': fputs(stats_usage, stdout); return 0;
		default: fputs(stats_usage, stderr); return 2;
		}
	}
	if (optind < argc)
		topic = argv[optind++];
	if (optind < argc || (json && prometheus)) {
		fputs(stats_usage, stderr);
		return 2;
	}
	nl = open_nl();
	err = mqstats_take(nl, topic, &s);
	nl_check(nl, err, "stats", topic ? topic : "all topics");
	if (topic && !s.n)
		die("stats '%s': %s", topic, "no such topic, or you may not read it");
	if (prometheus)
		err = mqstats_prometheus(&s, stdout);
	else if (json)
		stats_json(&s, !topic);
	else
		stats_text(&s, !topic);
	mqstats_free(&s);
	mqdev_nl_close(nl);
	if (err || fflush(stdout))
		die("stats: cannot write the output");
	return 0;
}

static const char top_usage[] =
"usage: mqctl top [--interval SECONDS] [-n N | --once]\n"
"\n"
"Rates per topic and group, refreshed every SECONDS (default 2) until\n"
"interrupted, or N times: records and bytes in and out per second,\n"
"refusals and drops per second, each group's lag and commits per second.\n";

/* A topic's partitions added up. */
struct top_row {
	char		topic[MQDEV_NAME_SIZE];
	char		group[MQDEV_NAME_SIZE];	/* "": the topic's row */
	uint64_t	v[6];	/* recs in, out, bytes in, out, refused, drops */
	uint64_t	lag;
	uint64_t	commits;
};

struct top_table {
	struct top_row	*row;
	size_t		n;
};

static struct top_row *top_find(struct top_table *t, const char *topic,
				const char *group)
{
	struct top_row *row;
	size_t i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->row[i].topic, topic) &&
		    !strcmp(t->row[i].group, group))
			return &t->row[i];
	row = realloc(t->row, (t->n + 1) * sizeof(*row));
	if (!row)
		die("top: out of memory");
	t->row = row;
	row = memset(&t->row[t->n++], 0, sizeof(*row));
	snprintf(row->topic, sizeof(row->topic), "%s", topic);
	snprintf(row->group, sizeof(row->group), "%s", group);
	return row;
}

static void top_take(struct mqdev_nl *nl, struct top_table *t)
{
	const struct mqdev_stats *st;
	struct top_row *row;
	struct mqstats s;
	size_t i;

	nl_check(nl, mqstats_take(nl, NULL, &s), "top", "all topics");
	t->n = 0;
	for (i = 0; i < s.n; i++) {
		st = &s.v[i];
		row = top_find(t, st->topic, st->kind == MQDEV_STATS_GROUP ?
			       st->group : "");
		row->v[0] += st->records_in;
		row->v[1] += st->records_out;
		row->v[2] += st->bytes_in;
		row->v[3] += st->bytes_out;
		row->v[4] += refused_sum(st);
		row->v[5] += st->drops;
		row->lag += st->lag;
		row->commits += st->commits;
	}
	mqstats_free(&s);
}

static double top_rate(const struct top_table *was, const struct top_row *now,
		       int k, double secs)
{
	size_t i;

	for (i = 0; i < was->n; i++)
		if (!strcmp(was->row[i].topic, now->topic) &&
		    !strcmp(was->row[i].group, now->group))
			return (k < 6 ? now->v[k] - was->row[i].v[k] :
				now->commits - was->row[i].commits) / secs;
	return 0;
}

static void top_print(const struct top_table *was, const struct top_table *now,
		      double secs)
{
	const struct top_row *r;
	size_t i;

	if (isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);
	printf("mqdev top: rates over %.1f s\n\n%-20s %10s %10s %12s %12s "
	       "%9s %9s\n", secs, "TOPIC", "RECS-IN/s", "RECS-OUT/s",
	       "BYTES-IN/s", "BYTES-OUT/s", "REFUSED/s", "DROPS/s");
	for (i = 0; i < now->n; i++) {
		r = &now->row[i];
		if (!*r->group)
			printf("%-20s %10.1f %10.1f %12.0f %12.0f %9.1f %9.1f\n",
			       r->topic, top_rate(was, r, 0, secs),
			       top_rate(was, r, 1, secs), top_rate(was, r, 2, secs),
			       top_rate(was, r, 3, secs), top_rate(was, r, 4, secs),
			       top_rate(was, r, 5, secs));
	}
	printf("\n%-20s %-20s %12s %10s\n", "TOPIC", "GROUP", "LAG",
	       "COMMITS/s");
	for (i = 0; i < now->n; i++) {
		r = &now->row[i];
		if (*r->group)
			printf("%-20s %-20s %12" PRIu64 " %10.1f\n", r->topic,
			       r->group, r->lag, top_rate(was, r, 6, secs));
	}
	fflush(stdout);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval",	required_argument,	NULL, 'i' },
		{ "once",	no_argument,		NULL, '1' },
		{ "help",	no_argument,		NULL, 'h' },
		{}
	};
	struct top_table t[2] = {};
	unsigned long long iterations = 0, i;
	double interval = 2, start, secs;
	struct timespec ts;
	struct mqdev_nl *nl;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "i:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || !(interval >= 0.1 && interval <= 3600))
				die("top: --interval: 0.1 to 3600 seconds");
			break;
		case 'n': iterations = parse_number(optarg, "-n", false); break;
		case '1': iterations = 1; break;
		case 'h': fputs(top_usage, stdout); return 0;
		default: fputs(top_usage, stderr); return 2;
		}
	}
	if (optind < argc || json) {
		fputs(top_usage, stderr);
		return 2;
	}
	nl = open_nl();
	top_take(nl, &t[0]);
	start = now_seconds();
	for (i = 0; !stop && (!iterations || i < iterations); i++) {
		ts.tv_sec = (time_t)interval;
		ts.tv_nsec = (long)((interval - ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
			;
		if (stop)
			break;
		top_take(nl, &t[(i + 1) % 2]);
		secs = now_seconds() - start;
		start += secs;
		top_print(&t[i % 2], &t[(i + 1) % 2], secs);
	}
	free(t[0].row);
	free(t[1].row);
	mqdev_nl_close(nl);
	return 0;
}

/* ---- mqctl scheduled ------------------------------------------------------ */

static const char scheduled_usage[] =
"usage: mqctl scheduled list TOPIC\n"
"       mqctl scheduled cancel TOPIC ID...\n"
"\n"
"The messages sent to TOPIC with a delay or a due time (mqctl produce)\n"
"that are not due yet.\n"
"  list    each one's id, due time, partition, owner and size, in id\n"
"          order, and the topic's counts of messages dropped expired or\n"
"          for want of room (read permission on the topic needed)\n"
"  cancel  drop the messages of these ids before they are due (yours, or\n"
"          any on a topic you own)\n";

static void print_sched_row(const struct mqdev_sched_info *e, bool first)
{
	uint64_t id = e->id, due = e->due;

	if (json) {
		printf("%s{\"id\":%" PRIu64 ",\"due\":%" PRIu64
		       ",\"partition\":%u,\"uid\":%u,\"key_len\":%u"
		       ",\"value_len\":%u}", first ? "" : ",", id, due,
		       e->partition, e->uid, e->key_len, e->value_len);
		return;
	}
	printf("%-10" PRIu64 " %10" PRIu64 ".%09" PRIu64 " %9u %7u %7u %7u\n",
	       id, due / 1000000000, due % 1000000000, e->partition,
	       e->uid, e->key_len, e->value_len);
}

static int scheduled_list(const char *topic)
{
	static struct mqdev_sched_info page[256];
	struct mqdev_sched_list req = {};
	uint64_t n = 0;
	uint32_t i;

	if (json)
		printf("{\"messages\":[");
	else
		printf("%-10s %20s %9s %7s %7s %7s\n", "ID", "DUE", "PARTITION",
		       "UID", "KEY", "VALUE");
	do {
		req.entries = (uintptr_t)page;
		req.count = sizeof(page) / sizeof(page[0]);
		req.entry_size = sizeof(page[0]);
		check(mqdev_scheduled_list(topic, &req), "list scheduled of",
		      topic);
		for (i = 0; i < req.count; i++)
			print_sched_row(&page[i], !n++);
		req.start = req.next;
	} while (req.next);
	if (json)
		printf("],\"scheduled\":%" PRIu64 ",\"expired\":%" PRIu64
		       ",\"dropped\":%" PRIu64 "}\n", (uint64_t)req.scheduled,
		       (uint64_t)req.expired, (uint64_t)req.dropped);
	else
		printf("scheduled %" PRIu64 ", expired %" PRIu64
		       ", dropped %" PRIu64 "\n", (uint64_t)req.scheduled,
		       (uint64_t)req.expired, (uint64_t)req.dropped);
	return 0;
}

static int scheduled_cancel(const char *topic, int argc, char **argv)
{
	struct mqdev_producer *p;
	int i, failed = 0, err;

	check(mqdev_producer_new(topic, NULL, &p), "cancel scheduled of",
	      topic);
	for (i = 0; i < argc; i++) {
		err = mqdev_producer_cancel(p, parse_number(argv[i], "ID",
							    false));
		if (err) {
			fprintf(stderr, "mqctl: cancel %s on '%s': %s\n",
				argv[i], topic, explain(err));
			failed = 1;
		}
	}
	mqdev_producer_free(p);
	return failed;
}

static int cmd_scheduled(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") ||
			  !strcmp(argv[1], "--help"))) {
		fputs(scheduled_usage, stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "list"))
		return scheduled_list(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "cancel"))
		return scheduled_cancel(argv[2], argc - 3, argv + 3);
	fputs(scheduled_usage, stderr);
	return 2;
}

/* ---- mqctl dlq: dead-letter topics of share groups -------------------- */

static const char dlq_usage[] =
"usage: mqctl dlq list DLQ_TOPIC\n"
"       mqctl dlq show DLQ_TOPIC OFFSET [--partition P]\n"
"       mqctl dlq info TOPIC GROUP\n"
"       mqctl dlq redrive DLQ_TOPIC [--group G] [--timeout MS] [--to TOPIC]\n"
"                         [--skip-bad]\n"
"\n"
"A share group's dead-letter topic (mqctl consume --share-group G --dlq T)\n"
"gets a dead letter of each record rejected or delivered too often: the\n"
"record's key, value and headers, and mqdev.dlq.* headers naming where it\n"
"came from, its deliveries and why.\n"
"  list     one line per dead letter: partition, offset, where from,\n"
"           deliveries, reason\n"
"  show     one dead letter whole: headers, key, value\n"
"  info     a share group's dead-letter topic, retry schedule and counts\n"
"           (dead letters written; not written: full, gone, failed)\n"
"  redrive  produce each dead letter not yet redriven back to its topic\n"
"           and partition, with its key, value and own headers; consumer\n"
"           group G (mqctl-redrive) of DLQ_TOPIC remembers how far it got,\n"
"           so a second redrive does not repeat one.  It stops when no\n"
"           dead letter came for --timeout MS (500).  Back into its topic\n"
"           means EVERY group of that topic gets it again, not only the\n"
"           share group that failed it; --to TOPIC sends all of them to\n"
"           TOPIC instead (a retry topic only that group reads), the key\n"
"           picking the partition.  Records the kernel did not write as\n"
"           dead letters (no MQDEV_RECORD_DEAD_LETTER) are skipped and\n"
"           counted.  One that cannot be sent (topic gone, EACCES, too\n"
"           many headers) stops it, exit 1, not committed past; with\n"
"           --skip-bad it is reported, committed past and counted failed\n";

/* Where a dead letter came from, read from its mqdev.dlq.* headers. */
struct dead_letter {
	char topic[MQDEV_NAME_SIZE];
	char reason[32];
	uint32_t partition;
	uint64_t offset, deliveries;
	bool ok;		/* it has topic, partition and offset */
};

static bool header_named(const struct mqdev_header *h, const char *name)
{
	return h->key_len == strlen(name) && !memcmp(h->key, name, h->key_len);
}

static void header_value(const struct mqdev_header *h, char *buf, size_t size)
{
	size_t n = h->value_len > 0 ? (size_t)h->value_len : 0;

	if (n >= size)
		n = size - 1;
	memcpy(buf, h->value, n);
	buf[n] = 0;
}

static bool dead_header(const struct mqdev_header *h)
{
	return h->key_len >= strlen(MQDEV_DLQ_HDR_PREFIX) &&
	       !memcmp(h->key, MQDEV_DLQ_HDR_PREFIX,
		       strlen(MQDEV_DLQ_HDR_PREFIX));
}

static void dead_letter_read(const struct mqdev_record *rec,
			     struct dead_letter *d)
{
	struct mqdev_header_iter it = {};
	struct mqdev_header h;
	char num[24];
	int seen = 0;

	memset(d, 0, sizeof(*d));
	while (mqdev_record_header_next(rec, &it, &h) > 0) {
		if (!dead_header(&h))
			continue;
		header_value(&h, num, sizeof(num));
		if (header_named(&h, MQDEV_DLQ_HDR_TOPIC)) {
			header_value(&h, d->topic, sizeof(d->topic));
			seen |= 1;
		} else if (header_named(&h, MQDEV_DLQ_HDR_PARTITION)) {
			d->partition = strtoul(num, NULL, 10);
			seen |= 2;
		} else if (header_named(&h, MQDEV_DLQ_HDR_OFFSET)) {
			d->offset = strtoull(num, NULL, 10);
			seen |= 4;
		} else if (header_named(&h, MQDEV_DLQ_HDR_COUNT)) {
			d->deliveries = strtoull(num, NULL, 10);
		} else if (header_named(&h, MQDEV_DLQ_HDR_REASON)) {
			header_value(&h, d->reason, sizeof(d->reason));
		}
	}
	d->ok = seen == 7;
}

static int dlq_list_one(void *ctx, const struct mqdev_record *rec)
{
	struct dead_letter d;

	(void)ctx;
	dead_letter_read(rec, &d);
	if (json) {
		printf("{\"partition\":%u,\"offset\":%" PRIu64 ",\"topic\":",
		       rec->partition, (uint64_t)rec->offset);
		json_string(stdout, d.topic, strlen(d.topic));
		printf(",\"from_partition\":%u,\"from_offset\":%" PRIu64
		       ",\"deliveries\":%" PRIu64 ",\"reason\":", d.partition,
		       d.offset, d.deliveries);
		json_string(stdout, d.reason, strlen(d.reason));
		puts("}");
	} else if (d.ok) {
		printf("%u\t%" PRIu64 "\t%s/%u@%" PRIu64 "\t%" PRIu64 "\t%s\n",
		       rec->partition, (uint64_t)rec->offset, d.topic,
		       d.partition, d.offset, d.deliveries, d.reason);
	} else {
		printf("%u\t%" PRIu64 "\tnot a dead letter\n", rec->partition,
		       (uint64_t)rec->offset);
	}
	return 0;
}

/* Every record of @c to @fn until none came for @timeout ms. */
static void dlq_drain(struct mqdev_consumer *c, const char *topic,
		      int timeout, mqdev_record_fn fn, void *ctx)
{
	int n;

	do {
		n = mqdev_consumer_poll(c, timeout, 64, fn, ctx);
		if (n == -EINTR)
			break;
		check(n, "read dead letters of", topic);
	} while (n && !stop);
}

static int dlq_list(const char *topic)
{
	struct mqdev_consumer *c;

	check(mqdev_consumer_new(topic, NULL, &c), "read dead letters of",
	      topic);
	check(mqdev_consumer_seek(c, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
				  0, 0, NULL), "read dead letters of", topic);
	if (!json)
		puts("PARTITION\tOFFSET\tFROM\tDELIVERIES\tREASON");
	dlq_drain(c, topic, 100, dlq_list_one, NULL);
	mqdev_consumer_free(c);
	return 0;
}

static int dlq_show(const char *topic, int argc, char **argv)
{
	struct consume_opts o = { .headers = true, .keys = true };
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	uint64_t offset;
	uint32_t p = 0;

	if (argc == 3 && !strcmp(argv[1], "--partition"))
		p = parse_number(argv[2], "--partition", false);
	else if (argc != 1)
		die("dlq show: DLQ_TOPIC OFFSET [--partition P]");
	offset = parse_number(argv[0], "OFFSET", false);
	check(mqdev_consumer_new(topic, NULL, &c), "read dead letters of",
	      topic);
	check(mqdev_consumer_seek(c, p, MQDEV_SEEK_OFFSET, offset, 0, NULL),
	      "read dead letters of", topic);
	if (mqdev_consumer_wait(c, 100) <= 0 || !(rec = mqdev_consumer_peek(c)) ||
	    rec->offset != offset)
		die("dlq show: no dead letter at %u/%" PRIu64 " of '%s'", p,
		    offset, topic);
	print_record(rec, &o);
	mqdev_consumer_free(c);
	return 0;
}

static int dlq_info(const char *topic, const char *group)
{
	struct mqdev_share_dlq_info info;
	struct mqdev_consumer *c;
	uint32_t i;
	int err;

	check(mqdev_consumer_new(topic, NULL, &c), "describe", topic);
	err = mqdev_share_dlq_info(mqdev_consumer_fd(c), group, &info);
	if (err == -ENOENT)
		die("dlq info: '%s' has no share group '%s' now", topic, group);
	check(err, "describe share group", group);
	mqdev_consumer_free(c);
	printf(json ? "{\"dlq\":\"%s\",\"expired\":%s,\"written\":%" PRIu64
	       ",\"full\":%" PRIu64 ",\"gone\":%" PRIu64 ",\"failed\":%"
	       PRIu64 ",\"backoff_ms\":[" :
	       "dlq\t%s\nexpired\t%s\nwritten\t%" PRIu64 "\nfull\t%" PRIu64
	       "\ngone\t%" PRIu64 "\nfailed\t%" PRIu64 "\nbackoff_ms\t",
	       info.topic, info.flags & MQDEV_SHARE_DLQ_EXPIRED ?
	       (json ? "true" : "yes") : (json ? "false" : "no"),
	       (uint64_t)info.written, (uint64_t)info.full,
	       (uint64_t)info.gone, (uint64_t)info.failed);
	for (i = 0; i < info.nr_backoff; i++)
		printf("%s%u", i ? "," : "", info.backoff_ms[i]);
	puts(json ? "]}" : "");
	return 0;
}

struct redrive {
	const char *dlq;
	const char *to;			/* --to, or NULL: each one's own topic */
	bool skip_bad;			/* --skip-bad */
	struct mqdev_producer *p;
	char topic[MQDEV_NAME_SIZE];	/* @p's */
	int error;			/* its last ack's */
	uint64_t done, forged, bad;
};

static void redrive_ack(void *ctx, const struct mqdev_ack *ack)
{
	((struct redrive *)ctx)->error = ack->error;
}

/* A producer of @topic: the one open if it is that topic's.  0 or -errno. */
static int redrive_producer(struct redrive *r, const char *topic)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, popts, .ack_fn = redrive_ack,
		      .ack_ctx = r);
	int err;

	if (r->p && !strcmp(r->topic, topic))
		return 0;
	mqdev_producer_free(r->p);
	r->p = NULL;
	err = mqdev_producer_new(topic, &popts, &r->p);
	if (err < 0)
		return err;
	snprintf(r->topic, sizeof(r->topic), "%s", topic);
	return 0;
}

/* Send the dead letter @rec from @d; 0 or -errno. */
static int redrive_send(struct redrive *r, const struct mqdev_record *rec,
			const struct dead_letter *d)
{
	LIBMQDEV_OPTS(mqdev_send_opts, so);
	struct mqdev_header hdrs[256], h;
	struct mqdev_header_iter it = {};
	const void *value;
	uint32_t len;
	int err;

	if (mqdev_record_payload(rec, &value, &len))
		return -EBADMSG;
	while ((err = mqdev_record_header_next(rec, &it, &h)) > 0) {
		if (dead_header(&h))
			continue;
		if (so.nr_headers == sizeof(hdrs) / sizeof(hdrs[0]))
			return -E2BIG;
		hdrs[so.nr_headers++] = h;
	}
	so.headers = hdrs;
	so.flags = rec->flags & (MQDEV_MSG_NULL_KEY | MQDEV_MSG_NULL_VALUE);
	err = redrive_producer(r, r->to ? r->to : d->topic);
	if (err)
		return err;
	r->error = 0;
	/* Into another topic its key picks the partition, as in a produce. */
	err = mqdev_producer_send_opts(r->p, mqdev_record_key(rec),
				       rec->key_len, value, len,
				       r->to ? MQDEV_PARTITION_ANY :
				       d->partition, NULL, &so);
	if (!err)
		err = mqdev_producer_flush(r->p) < 0 ? -EIO : r->error;
	return err;
}

/*
 * The dead letter's key, value and own headers, back where it came from
 * (or to --to).  A record the kernel did not write as a dead letter is
 * skipped, whatever headers it has: anyone who may produce to the
 * dead-letter topic could have forged them.  Return: 0 when it may be
 * committed past, or the error that stopped it being sent.
 */
static int redrive_one(struct redrive *r, const struct mqdev_record *rec)
{
	const char *to;
	struct dead_letter d;
	int err;

	dead_letter_read(rec, &d);
	if (!(rec->flags & MQDEV_RECORD_DEAD_LETTER) || !d.ok) {
		fprintf(stderr, "mqctl: dlq redrive: %u/%" PRIu64 " of '%s' "
			"skipped: not a dead letter the kernel wrote\n",
			rec->partition, (uint64_t)rec->offset, r->dlq);
		r->forged++;
		return 0;
	}
	to = r->to ? r->to : d.topic;
	err = redrive_send(r, rec, &d);
	if (err) {
		fprintf(stderr, "mqctl: dlq redrive: %u/%" PRIu64 " of '%s' "
			"to '%s': %s%s\n", rec->partition,
			(uint64_t)rec->offset, r->dlq, to,
			err == -E2BIG ? "more than 256 headers" : explain(err),
			r->skip_bad ? ": skipped (--skip-bad)" :
			": stopped before it (--skip-bad goes past it)");
		r->bad++;
		return r->skip_bad ? 0 : err;
	}
	if (!json)
		printf("%u\t%" PRIu64 "\t-> %s/%u\n", rec->partition,
		       (uint64_t)rec->offset, to, d.partition);
	r->done++;
	return 0;
}

static const char redrive_usage[] =
	"dlq redrive: DLQ_TOPIC [--group G] [--timeout MS] [--to TOPIC] "
	"[--skip-bad]";

static int dlq_redrive(const char *topic, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ "to", required_argument, NULL, 'T' },
		{ "skip-bad", no_argument, NULL, 'S' },
		{}
	};
	struct redrive r = { .dlq = topic };
	const char *group = "mqctl-redrive";
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	int opt, timeout = 500, err = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "g:t:T:S", opts, NULL)) != -1) {
		if (opt == 'g')
			group = optarg;
		else if (opt == 't')
			timeout = parse_number(optarg, "--timeout", false);
		else if (opt == 'T')
			r.to = optarg;
		else if (opt == 'S')
			r.skip_bad = true;
		else
			die("%s", redrive_usage);
	}
	if (optind != argc)
		die("%s", redrive_usage);
	check(mqdev_consumer_new(topic, NULL, &c), "read dead letters of",
	      topic);
	check(mqdev_consumer_join(c, group, MQDEV_SEEK_EARLIEST), "join group",
	      group);
	/*
	 * Committed after each dead letter: a redrive cut short repeats at
	 * most the one it was on (at least once, as the groups are).  One it
	 * cannot send is not committed past unless --skip-bad says so.
	 */
	while (!err && !stop && mqdev_consumer_wait(c, timeout) > 0) {
		while ((rec = mqdev_consumer_peek(c))) {
			err = redrive_one(&r, rec);
			if (err)
				break;
			check(mqdev_consumer_release(c), "read dead letters of",
			      topic);
			check(mqdev_consumer_commit(c), "commit redrive group",
			      group);
		}
		check(mqdev_consumer_error(c), "read dead letters of", topic);
	}
	mqdev_consumer_free(c);
	mqdev_producer_free(r.p);
	if (json)
		printf("{\"redriven\":%" PRIu64 ",\"not_dead_letters\":%" PRIu64
		       ",\"failed\":%" PRIu64 "}\n", r.done, r.forged, r.bad);
	else
		printf("redriven\t%" PRIu64 "\nnot dead letters\t%" PRIu64
		       "\nfailed\t%" PRIu64 "\n", r.done, r.forged, r.bad);
	return err ? 1 : 0;
}

static int cmd_dlq(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(dlq_usage, stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "list"))
		return dlq_list(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "show"))
		return dlq_show(argv[2], argc - 3, argv + 3);
	if (argc == 4 && !strcmp(argv[1], "info"))
		return dlq_info(argv[2], argv[3]);
	if (argc >= 3 && !strcmp(argv[1], "redrive"))
		return dlq_redrive(argv[2], argc - 2, argv + 2);
	fputs(dlq_usage, stderr);
	return 2;
}

static const char usage[] =
"usage: mqctl [--json] COMMAND ...\n"
"\n"
"  topic create|list|describe|delete   manage topics\n"
"  produce TOPIC                       send lines of standard input\n"
"  exchange create|list|describe|delete|bind|unbind\n"
"                                      manage exchanges (AMQP-style routing)\n"
"  consume TOPIC                       print records (--group G: as a\n"
"                                      consumer group's member)\n"
"  group list|describe|reset|delete    manage consumer groups\n"
"  scheduled list|cancel TOPIC         delayed messages not yet due\n"
"  dlq list|show|info|redrive          share groups' dead letters\n"
"  verify TOPIC                        find lost and repeated records\n"
"  stats [TOPIC]                       counters (--json, --prometheus)\n"
"  top                                 rates per topic and group\n"
"  watch                               print rebalances and topic events\n"
"\n"
"Every command takes --help.  --json prints JSON for scripts.\n";

int main(int argc, char **argv)
{
	/* No SA_RESTART: a stop signal must end a sleep in the kernel. */
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	argv++, argc--;
	while (argc && !strcmp(argv[0], "--json")) {
		json = true;
		argv++, argc--;
	}
	if (!argc) {
		fputs(usage, stderr);
		return 2;
	}
	/* --json may also come after the command */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
			memmove(argv + i, argv + i + 1, (argc - i) * sizeof(*argv));
			argc--, i--;
		}
	}
	if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[0], "topic"))
		return cmd_topic(argc, argv);
	if (!strcmp(argv[0], "produce"))
		return cmd_produce(argc, argv);
	if (!strcmp(argv[0], "exchange"))
		return cmd_exchange(argc, argv);
	if (!strcmp(argv[0], "consume"))
		return cmd_consume(argc, argv);
	if (!strcmp(argv[0], "group"))
		return cmd_group(argc, argv);
	if (!strcmp(argv[0], "scheduled"))
		return cmd_scheduled(argc, argv);
	if (!strcmp(argv[0], "dlq"))
		return cmd_dlq(argc, argv);
	if (!strcmp(argv[0], "watch"))
		return cmd_watch(argc, argv);
	if (!strcmp(argv[0], "verify"))
		return cmd_verify(argc, argv);
	if (!strcmp(argv[0], "stats"))
		return cmd_stats(argc, argv);
	if (!strcmp(argv[0], "top"))
		return cmd_top(argc, argv);
	die("unknown command '%s' (see mqctl --help)", argv[0]);
	return 2;
}
