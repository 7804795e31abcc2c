// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration file: "key = value" lines and '#' comments; global
 * keys first, then one section per mirrored topic, "[out TOPIC]" (mqdev to
 * Kafka) or "[in TOPIC]" (Kafka to mqdev), TOPIC being mqdev's.  Every
 * error names the file and the line, and nothing starts on a bad file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/conf.h"
#include "mirror.h"

#define DEFAULT_STATUS	"/run/mqdev-mirror/status"
#define DEFAULT_GROUP	"mqdev-mirror"

static int set_str(char **dst, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int parse_ms(const char *val, uint32_t min, uint32_t max,
		    uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || end == val || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int global_set(struct config *cfg, const char *key, const char *val,
		      int line)
{
	struct kprop *kp;

	if (!strcmp(key, "bootstrap_servers"))
		return set_str(&cfg->bootstrap, val);
	if (!strcmp(key, "status_file"))
		return set_str(&cfg->status_file, val);
	if (!strcmp(key, "group"))
		return set_str(&cfg->group, val);
	if (!strcmp(key, "retry_max_ms"))
		return parse_ms(val, 100, 3600000, &cfg->retry_max_ms);
	if (!strcmp(key, "status_ms"))
		return parse_ms(val, 100, 60000, &cfg->status_ms);
	if (!strcmp(key, "resume_settle_ms"))
		return parse_ms(val, 0, 600000, &cfg->settle_ms);
	if (!strncmp(key, "kafka.", 6) && key[6]) {
		if (cfg->nprops == MAX_KAFKA_PROPS)
			return -E2BIG;
		kp = &cfg->props[cfg->nprops];
		kp->key = strdup(key + 6);
		kp->val = strdup(val);
		kp->line = line;
		cfg->nprops++;
		return kp->key && kp->val ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

static int parse_bool(const char *val, bool *out)
{
	if (!strcmp(val, "true") || !strcmp(val, "yes"))
		*out = true;
	else if (!strcmp(val, "false") || !strcmp(val, "no"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int link_set(struct link *l, const char *key, const char *val)
{
	if (l->dir == DIR_OUT && !strcmp(key, "transactional"))
		return parse_bool(val, &l->transactional);
	if (l->dir == DIR_OUT && !strcmp(key, "transactional_id"))
		return set_str(&l->txn_id, val);
	if (!strcmp(key, "kafka_topic"))
		return set_str(&l->kafka_topic, val);
	if (l->dir == DIR_IN && !strcmp(key, "group"))
		return set_str(&l->group, val);
	if (l->dir == DIR_IN && !strcmp(key, "session"))
		return set_str(&l->session, val);
	return -ENOENT;
}

/* A name mqdev takes: non-empty, short enough, no '/' (nor Kafka's). */
static bool name_ok(const char *name)
{
	char buf[MQDEV_NAME_SIZE];

	return *name && !strchr(name, '/') && !mqdev_name_set(buf, name);
}

static struct link *link_new(struct config *cfg, char *sect, int line,
			     const char **why)
{
	struct link *l, **tail;
	char *name;
	enum dir dir;

	if (!strncmp(sect, "out ", 4)) {
		dir = DIR_OUT;
	} else if (!strncmp(sect, "in ", 3)) {
		dir = DIR_IN;
	} else {
		*why = "a section is [out TOPIC] or [in TOPIC]";
		return NULL;
	}
	name = conf_trim(sect + (dir == DIR_OUT ? 4 : 3));
	if (!name_ok(name)) {
		*why = "not an mqdev topic name";
		return NULL;
	}
	for (l = cfg->links; l; l = l->next) {
		if (!strcmp(l->topic, name)) {
			*why = "topic mirrored twice";
			return NULL;
		}
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->topic = strdup(name))) {
		free(l);
		*why = strerror(ENOMEM);
		return NULL;
	}
	l->dir = dir;
	l->line = line;
	for (tail = &cfg->links; *tail; tail = &(*tail)->next)
		;
	*tail = l;
	return l;
}

/* An earlier link goes the same way with the same Kafka topic. */
static bool kafka_topic_taken(const struct config *cfg, const struct link *l)
{
	const struct link *o;

	for (o = cfg->links; o != l; o = o->next)
		if (o->dir == l->dir && !strcmp(o->kafka_topic, l->kafka_topic))
			return true;
	return false;
}

#define TXN_ID_PREFIX	"mqdev-mirror."

/* The Kafka topic's: every instance, on any host, that writes it fences. */
static int txn_id_default(struct link *l)
{
	size_t size = sizeof(TXN_ID_PREFIX) + strlen(l->kafka_topic);

	l->txn_id = malloc(size);
	if (!l->txn_id)
		return -ENOMEM;
	snprintf(l->txn_id, size, TXN_ID_PREFIX "%s", l->kafka_topic);
	return 0;
}

/* Defaults, and what a section left unsaid. */
static int config_finish(struct config *cfg)
{
	char name[MQDEV_NAME_SIZE + 16];
	struct link *l;
	int err = 0;

	if (!cfg->bootstrap) {
		say(LOG_ERR, "%s: bootstrap_servers is not set", cfg->path);
		return -EINVAL;
	}
	if (!cfg->links) {
		say(LOG_ERR, "%s: no [out TOPIC] or [in TOPIC] section: "
		    "nothing to mirror", cfg->path);
		return -EINVAL;
	}
	if (!cfg->status_file)
		err = set_str(&cfg->status_file, DEFAULT_STATUS);
	if (!err && !cfg->group)
		err = set_str(&cfg->group, DEFAULT_GROUP);
	for (l = cfg->links; !err && l; l = l->next) {
		if (!l->kafka_topic)
			err = set_str(&l->kafka_topic, l->topic);
		if (!err && kafka_topic_taken(cfg, l)) {
			say(LOG_ERR, "%s:%d: Kafka topic %s is mirrored twice",
			    cfg->path, l->line, l->kafka_topic);
			err = -EINVAL;
		}
		if (!err && l->txn_id && !l->transactional) {
			say(LOG_ERR, "%s:%d: transactional_id without "
			    "transactional = true", cfg->path, l->line);
			err = -EINVAL;
		}
		if (!err && l->transactional && !l->txn_id)
			err = txn_id_default(l);
		if (!err && l->dir == DIR_IN && !l->group)
			err = set_str(&l->group, cfg->group);
		snprintf(name, sizeof(name), "mirror.%s", l->topic);
		if (!err && l->dir == DIR_IN && !l->session)
			err = set_str(&l->session, name);
		if (!err && l->dir == DIR_IN && !name_ok(l->session)) {
			say(LOG_ERR, "%s:%d: session %s: not a producer name",
			    cfg->path, l->line, l->session);
			err = -EINVAL;
		}
	}
	return err;
}

static int config_line(struct config *cfg, struct link **cur, char *s,
		       int line)
{
	const char *why = NULL;
	char *eq, *key, *val, *end;
	int err;

	if (*s == '[') {
		end = strchr(s, ']');
		if (!end || *conf_trim(end + 1)) {
			why = "a section is [out TOPIC] or [in TOPIC]";
		} else {
			*end = '\0';
			*cur = link_new(cfg, s + 1, line, &why);
		}
		if (why)
			say(LOG_ERR, "%s:%d: %s", cfg->path, line, why);
		return why ? -EINVAL : 0;
	}
	eq = strchr(s, '=');
	if (!eq) {
		say(LOG_ERR, "%s:%d: expected key = value", cfg->path, line);
		return -EINVAL;
	}
	*eq = '\0';
	key = conf_trim(s);
	val = conf_trim(eq + 1);
	if (!*val) {
		say(LOG_ERR, "%s:%d: %s: no value", cfg->path, line, key);
		return -EINVAL;
	}
	err = *cur ? link_set(*cur, key, val) : global_set(cfg, key, val, line);
	if (err == -ENOENT)
		say(LOG_ERR, "%s:%d: unknown key %s%s", cfg->path, line, key,
		    *cur ? " in a topic's section" : "");
	else if (err == -E2BIG)
		say(LOG_ERR, "%s:%d: more than %d kafka.* keys", cfg->path,
		    line, MAX_KAFKA_PROPS);
	else if (err)
		say(LOG_ERR, "%s:%d: %s = %s: %s", cfg->path, line, key, val,
		    err == -EINVAL ? "bad value" : strerror(-err));
	return err;
}

/**
 * config_load() - read the configuration file
 * @cfg: filled; config_free() it even on failure
 * @path: the file
 *
 * Return: 0, or -errno after saying what is wrong and where.
 */
int config_load(struct config *cfg, const char *path)
{
	struct link *cur = NULL;
	char buf[1024], *s;
	int line = 0, err = 0;
	FILE *f;

	memset(cfg, 0, sizeof(*cfg));
	cfg->retry_max_ms = 30000;
	cfg->status_ms = 1000;
	cfg->settle_ms = 2000;
	cfg->path = strdup(path);
	f = fopen(path, "r");
	if (!f) {
		err = -errno;
		say(LOG_ERR, "%s: %s", path, strerror(errno));
		return err;
	}
	while (!err && fgets(buf, sizeof(buf), f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			say(LOG_ERR, "%s:%d: line longer than %zu bytes", path,
			    line, sizeof(buf) - 2);
			err = -EINVAL;
			break;
		}
		s = strchr(buf, '#');
		if (s)
			*s = '\0';
		s = conf_trim(buf);
		if (*s)
			err = config_line(cfg, &cur, s, line);
	}
	fclose(f);
	return err ? err : config_finish(cfg);
}

void config_free(struct config *cfg)
{
	struct link *l;
	unsigned int i;

	while ((l = cfg->links)) {
		cfg->links = l->next;
		free(l->topic);
		free(l->kafka_topic);
		free(l->group);
		free(l->session);
		free(l->txn_id);
		free(l->parts);
		free(l->kafka_refused);
		free(l);
	}
	for (i = 0; i < cfg->nprops; i++) {
		free(cfg->props[i].key);
		free(cfg->props[i].val);
	}
	free(cfg->path);
	free(cfg->bootstrap);
	free(cfg->status_file);
	free(cfg->group);
	memset(cfg, 0, sizeof(*cfg));
}
