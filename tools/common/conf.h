/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the daemons' "key = value" configuration parsers share
 * (mqdev-persistd, mqdev-mirror).
 */
#ifndef MQDEV_TOOLS_CONF_H
#define MQDEV_TOOLS_CONF_H

#include <ctype.h>
#include <string.h>

/**
 * conf_trim() - strip the white space around a string, in place
 * @s: the string; its trailing white space is overwritten with NULs
 *
 * Return: @s past its leading white space.
 */
static inline char *conf_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

#endif /* MQDEV_TOOLS_CONF_H */
