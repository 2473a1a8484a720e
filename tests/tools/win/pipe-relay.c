/*
 * pipe-relay: a Windows named pipe in front of a loopback TCP port, for
 * the tests under Wine (tests/windows/agent-wine.bats): the Linux
 * ssh-agent, reached through tests/tools/tcp-unix-relay.py, answers on
 * the pipe as Windows OpenSSH's agent does.  Built by `make windows` into
 * build-win/tests/tools/pipe-relay.exe.
 *
 *   pipe-relay [-h FILE] PIPE PORT
 *
 * Creates the pipe PIPE (e.g. \\.\pipe\openssh-ssh-agent) with one
 * instance, prints "ready" on stdout once a client can open it, and
 * relays each client in turn to 127.0.0.1:PORT, both ways, until both
 * sides end.  -h, --hold-until FILE: the relay first opens its own pipe as
 * a client, so that its one instance is busy (ERROR_PIPE_BUSY for
 * others), prints "ready", and lets go once FILE exists.  Runs until
 * killed.  Exit 100: usage; 111: the pipe or Winsock failed.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define BUFSZ	16384

struct session {
	HANDLE pipe;	/* the server end, overlapped */
	SOCKET sock;
};

static wchar_t *
wide(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
	wchar_t *w;

	if (n <= 0 || (w = calloc((size_t)n, sizeof(*w))) == NULL)
		return NULL;
	MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
	return w;
}

/* One overlapped read or write on the pipe, waited for; bytes moved, or
 * -1 (the client went, or the I/O was cancelled). */
static long
pipe_io(HANDLE h, HANDLE ev, int writing, void *p, DWORD n)
{
	OVERLAPPED ov;
	DWORD got = 0;
	BOOL ok;

	memset(&ov, 0, sizeof(ov));
	ov.hEvent = ev;
	ResetEvent(ev);
	ok = writing ? WriteFile(h, p, n, NULL, &ov) :
	    ReadFile(h, p, n, NULL, &ov);
	if (!ok && GetLastError() != ERROR_IO_PENDING)
		return -1;
	if (!GetOverlappedResult(h, &ov, &got, TRUE))
		return -1;
	return (long)got;
}

/* The client's bytes to the port; at the client's end, half-closes the
 * socket so that the far side sees it. */
static DWORD WINAPI
pipe_to_sock(LPVOID arg)
{
	struct session *s = arg;
	char b[BUFSZ];
	HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
	long n;
	int k, off;

	while (ev != NULL && (n = pipe_io(s->pipe, ev, 0, b, sizeof(b))) > 0) {
		for (off = 0; off < n; off += k) {
			k = send(s->sock, b + off, (int)(n - off), 0);
			if (k <= 0)
				goto out;
		}
	}
 out:
	shutdown(s->sock, SD_SEND);
	if (ev != NULL)
		CloseHandle(ev);
	return 0;
}

/* The port's bytes to the client, until the far side ends; then lets
 * the client read what is left and wakes the other direction. */
static void
sock_to_pipe(struct session *s)
{
	char b[BUFSZ];
	HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
	long k;
	int n;

	while (ev != NULL && (n = recv(s->sock, b, sizeof(b), 0)) > 0) {
		if ((k = pipe_io(s->pipe, ev, 1, b, (DWORD)n)) != n)
			break;
	}
	FlushFileBuffers(s->pipe);
	CancelIoEx(s->pipe, NULL);
	if (ev != NULL)
		CloseHandle(ev);
}

static SOCKET
dial(unsigned short port)
{
	struct sockaddr_in sa;
	SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

	if (s == INVALID_SOCKET)
		return s;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		closesocket(s);
		return INVALID_SOCKET;
	}
	return s;
}

/* Waits for a client on the instance h: 0, or -1 if it came and went. */
static int
await_client(HANDLE h)
{
	OVERLAPPED ov;
	DWORD n;
	int r = 0;

	memset(&ov, 0, sizeof(ov));
	if ((ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL)
		return -1;
	if (!ConnectNamedPipe(h, &ov)) {
		switch (GetLastError()) {
		case ERROR_PIPE_CONNECTED:
			break;
		case ERROR_IO_PENDING:
			if (!GetOverlappedResult(h, &ov, &n, TRUE))
				r = -1;
			break;
		default:
			r = -1;
		}
	}
	CloseHandle(ov.hEvent);
	return r;
}

/* Holds the one instance as a client until the file exists. */
static int
hold(const wchar_t *wpipe, const char *file)
{
	wchar_t *wf = wide(file);
	HANDLE c;

	if (wf == NULL)
		return -1;
	c = CreateFileW(wpipe, GENERIC_READ | GENERIC_WRITE, 0, NULL,
	    OPEN_EXISTING, 0, NULL);
	if (c == INVALID_HANDLE_VALUE) {
		free(wf);
		return -1;
	}
	printf("ready\n");
	fflush(stdout);
	/* the test makes the file once a client waits: look every 10 ms */
	while (GetFileAttributesW(wf) == INVALID_FILE_ATTRIBUTES)
		Sleep(10);
	CloseHandle(c);
	free(wf);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: pipe-relay [-h FILE] PIPE PORT\n");
	return 100;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "hold-until", required_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *holdfile = NULL;
	struct session s;
	wchar_t *wpipe;
	WSADATA wsa;
	HANDLE h, th;
	char *end;
	long port;
	int c;

	while ((c = getopt_long(argc, argv, "h:", longopts, NULL)) != -1) {
		if (c != 'h')
			return usage();
		holdfile = optarg;
	}
	if (argc - optind != 2)
		return usage();
	port = strtol(argv[optind + 1], &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return usage();
	if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0 ||
	    (wpipe = wide(argv[optind])) == NULL)
		return 111;
	h = CreateNamedPipeW(wpipe, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
	    FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE |
	    PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, BUFSZ, BUFSZ, 0, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		fprintf(stderr, "pipe-relay: cannot create '%s': error %lu\n",
		    argv[optind], (unsigned long)GetLastError());
		return 111;
	}
	if (holdfile != NULL) {
		if (hold(wpipe, holdfile) != 0) {
			fprintf(stderr, "pipe-relay: cannot hold '%s'\n",
			    argv[optind]);
			return 111;
		}
		DisconnectNamedPipe(h);
	} else {
		printf("ready\n");
		fflush(stdout);
	}
	for (;;) {
		if (await_client(h) != 0) {
			DisconnectNamedPipe(h);
			continue;
		}
		s.pipe = h;
		/* no agent behind the port: the client sees the pipe end */
		if ((s.sock = dial((unsigned short)port)) != INVALID_SOCKET) {
			if ((th = CreateThread(NULL, 0, pipe_to_sock, &s, 0,
			    NULL)) != NULL) {
				sock_to_pipe(&s);
				WaitForSingleObject(th, INFINITE);
				CloseHandle(th);
			}
			closesocket(s.sock);
		}
		DisconnectNamedPipe(h);
	}
}
