// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration file: "key = value" lines, '#' comments, and
 * "[topic NAME]" sections whose keys override the defaults for one topic.
 * Every error names the file and the line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include "../common/conf.h"
#include "persistd.h"

#define DEFAULT_SEGMENT_BYTES	(64ULL << 20)

static int policy_parse_fsync(struct policy *pol, const char *val)
{
	char *end;
	unsigned long ms;

	if (!strcmp(val, "always")) {
		pol->fsync = FSYNC_ALWAYS;
	} else if (!strcmp(val, "os")) {
		pol->fsync = FSYNC_OS;
	} else if (!strncmp(val, "interval=", 9)) {
		errno = 0;
		ms = strtoul(val + 9, &end, 10);
		if (errno || end == val + 9 || *end || !ms || ms > 3600000)
			return -EINVAL;
		pol->fsync = FSYNC_INTERVAL;
		pol->interval_ms = ms;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_i64(const char *val, int64_t min, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(val, &end, 10);
	if (errno || end == val || *end || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

static int policy_set(struct policy *pol, const char *key, const char *val)
{
	int64_t v;

	if (!strcmp(key, "fsync"))
		return policy_parse_fsync(pol, val);
	if (!strcmp(key, "retention_ms"))
		return parse_i64(val, 0, &pol->retention_ms);
	if (!strcmp(key, "retention_bytes"))
		return parse_i64(val, 0, &pol->retention_bytes);
	if (!strcmp(key, "segment_bytes")) {
		if (parse_i64(val, 4096, &v) || v > (1LL << 40))
			return -EINVAL;
		pol->segment_bytes = v;
		return 0;
	}
	return -ENOENT;
}

static int config_line(struct config *c, struct policy **cur, char *line)
{
	struct policy *nt;
	char *eq, *key, *val;
	size_t len;

	line = conf_trim(line);
	if (!*line || *line == '#')
		return 0;
	if (*line == '[') {
		len = strlen(line);
		if (line[len - 1] != ']' || strncmp(line, "[topic ", 7))
			return -EINVAL;
		line[len - 1] = '\0';
		key = conf_trim(line + 7);
		if (!*key || strlen(key) > MQDEV_NAME_MAX)
			return -EINVAL;
		nt = realloc(c->topics, (c->nr_topics + 1) * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		c->topics = nt;
		*cur = &nt[c->nr_topics++];
		**cur = c->def;	/* what the defaults said so far */
		strcpy((*cur)->topic, key);
		return 0;
	}
	eq = strchr(line, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	key = conf_trim(line);
	val = conf_trim(eq + 1);
	if (!*cur && !strcmp(key, "data_dir")) {
		if (*val != '/' || strlen(val) >= sizeof(c->data_dir))
			return -EINVAL;
		strcpy(c->data_dir, val);
		return 0;
	}
	return policy_set(*cur ? *cur : &c->def, key, val);
}

/**
 * config_load() - read the configuration file
 * @c: filled with the defaults, then what the file says
 * @path: the file, or NULL for the defaults alone
 *
 * Return: 0, or -errno after saying what is wrong where.
 */
int config_load(struct config *c, const char *path)
{
	struct policy *cur = NULL;
	char line[512];
	unsigned int n = 0;
	FILE *f;
	int err = 0;

	memset(c, 0, sizeof(*c));
	strcpy(c->data_dir, "/var/lib/mqdev");
	c->def.fsync = FSYNC_ALWAYS;
	c->def.retention_ms = 7LL * 24 * 3600 * 1000;
	c->def.segment_bytes = DEFAULT_SEGMENT_BYTES;
	if (!path)
		return 0;
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		say(LOG_ERR, "config %s: %s", path, strerror(-err));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		n++;
		err = config_line(c, &cur, line);
		if (err == -ENOENT) {
			say(LOG_ERR, "config %s:%u: unknown setting", path, n);
			break;
		}
		if (err) {
			say(LOG_ERR, "config %s:%u: %s", path, n,
			    err == -ENOMEM ? strerror(ENOMEM) :
			    "not valid (see mqdev-persistd(8))");
			break;
		}
	}
	fclose(f);
	if (err)
		config_free(c);
	return err;
}

/**
 * config_policy() - the settings for a topic
 * @c: the configuration
 * @topic: its name
 *
 * Return: the topic's own section, or the defaults.
 */
const struct policy *config_policy(const struct config *c, const char *topic)
{
	unsigned int i;

	for (i = 0; i < c->nr_topics; i++)
		if (!strcmp(c->topics[i].topic, topic))
			return &c->topics[i];
	return &c->def;
}

void config_free(struct config *c)
{
	free(c->topics);
	c->topics = NULL;
	c->nr_topics = 0;
}
