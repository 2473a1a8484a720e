/*
 * Small helpers the credential providers share: digests for cache file
 * names (the AWS CLI's SHA-1 and our SHA-256 keys) and quoting a profile
 * name for a message.  They call nothing else of the chain.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/cxerr.h"
#include "creds_int.h"

int
cx_creds_sha1_hex(const char *s, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL) != 1 || n != 20)
		return CX_ERR_INTERNAL;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
cx_creds_sha256_hex(const void *p, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_Digest(p, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return CX_ERR_INTERNAL;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

const char *
cx_creds_shell_word(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_.@+-/:=,", s[i]) == NULL)
			break;
	if (s[i] == '\0' && i > 0)
		return s;
	if (strchr(s, '\'') != NULL ||
	    snprintf(buf, len, "'%s'", s) >= (int)len)
		return s;
	return buf;
}
