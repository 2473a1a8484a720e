/*
 * Validators for the identifiers that pass between the stages and into the
 * files we write.  Pure functions of their argument; nothing else here.
 * Character classes are spelled out (not isalpha() and friends), so the
 * locale never widens them.
 */
#include <string.h>

#include "valid.h"

static int
in_set(const char *s, size_t min, size_t max, const char *extra, int lower,
    int upper)
{
	size_t n, i;
	unsigned char c;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= '0' && c <= '9')
			continue;
		if (lower && c >= 'a' && c <= 'z')
			continue;
		if (upper && c >= 'A' && c <= 'Z')
			continue;
		if (extra != NULL && c != '\0' && strchr(extra, c) != NULL)
			continue;
		return 0;
	}
	return 1;
}

static int
is_xdigit(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

int
cx_instance_id_valid(const char *id)
{
	size_t n, i;

	if (id == NULL || strncmp(id, "i-", 2) != 0)
		return 0;
	n = strlen(id + 2);
	if (n != 8 && n != 17)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_xdigit((unsigned char)id[2 + i]))
			return 0;
	return 1;
}

int
cx_region_valid(const char *region)
{
	if (!in_set(region, 1, 32, "-", 1, 0))
		return 0;
	if (region[0] < 'a' || region[0] > 'z' ||
	    region[strlen(region) - 1] == '-' || strstr(region, "--") != NULL)
		return 0;
	return 1;
}

int
cx_profile_name_valid(const char *name)
{
	return in_set(name, 1, 128, "._+@/-", 1, 1);
}

int
cx_access_key_id_valid(const char *id)
{
	return in_set(id, 1, 128, NULL, 0, 1);
}

int
cx_secret_valid(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) == 0 || n > 4096)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int
cx_line_value_valid(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") == NULL;
}

int
cx_line_name_valid(const char *s)
{
	return s != NULL && *s != '\0' && strpbrk(s, "\r\n[]") == NULL;
}

int
cx_ssh_word_valid(const char *s)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0' || strlen(s) > 255)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f)
			return 0;
		if (strchr("#\"'\\%,*?!`$=", *p) != NULL)
			return 0;
	}
	return 1;
}

int
cx_ssh_path_valid(const char *s)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0' || strlen(s) > 4096)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < ' ' || *p == 0x7f)
			return 0;
		if (strchr("\"\\$`%#", *p) != NULL)
			return 0;
	}
	return 1;
}
