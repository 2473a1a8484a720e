/*
 * A stand-in for Windows' ssh.exe in doctor-wine.bats: no Win32-OpenSSH
 * can be had here, so this prints what one prints.  "-V": the text of
 * FAKE_SSH_V on stderr (CRLF, as the Windows C runtime writes it); "-G":
 * the file FAKE_SSH_G on stdout; anything else: exit 255 as ssh does.
 * Built by `make windows` (WIN_TOOLS); not part of the toolkit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	const char *v = getenv("FAKE_SSH_V"), *g = getenv("FAKE_SSH_G");
	char buf[4096];
	size_t n;
	FILE *f;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-V") == 0) {
			fprintf(stderr, "%s\n", v ? v : "");
			return 0;
		}
		if (strcmp(argv[i], "-G") == 0) {
			if (g == NULL || (f = fopen(g, "rb")) == NULL)
				return 255;
			while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
				fwrite(buf, 1, n, stdout);
			fclose(f);
			return 0;
		}
	}
	return 255;
}
