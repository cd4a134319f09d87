/* SPDX-License-Identifier: MIT */
/*
 * evtchn-dump: show the event channel port tables of a running VMM that
 * embeds libevtchn, through the socket it opened with
 * evtchn_host_debug_start().
 *
 *   evtchn-dump [-s SOCKET] [--list] [DOMID...]
 *
 * Without DOMIDs it lists the domains and dumps each.  Exit status 0, 1 when
 * the VMM cannot be reached or answers with an error, 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static const char *sock_path;

static void usage(FILE *f)
{
	fprintf(f, "usage: evtchn-dump [-s SOCKET] [--list] [DOMID...]\n"
		   "  -s, --socket PATH  the VMM's debug socket (default: "
		   "$EVTCHN_DEBUG_SOCKET)\n"
		   "  -l, --list         list the domains only\n"
		   "  -h, --help         this text\n");
}

/* Send @req, copy the answer to stdout (or into *@copy); 0, or 1 after a
 * message. */
static int request(const char *req, char **copy)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* The VMM answers within its own 2 s deadline. */
	struct timeval tv = { .tv_sec = 10 };
	char buf[4096], line[64], *acc = NULL;
	size_t acclen = 0, total = 0;
	int fd, rc = 0;
	ssize_t n;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("evtchn-dump: socket");
		return 1;
	}
	strcpy(sa.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "evtchn-dump: %s: %s\n", sock_path,
			strerror(errno));
		close(fd);
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(line, sizeof(line), "%s\n", req);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		perror("evtchn-dump: write");
		close(fd);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		/* An answer that is an error says so in its first bytes. */
		if (!copy && total == 0 && !strncmp(buf, "error:", 6))
			rc = 1;
		total += (size_t)n;
		if (copy) {
			char *p = realloc(acc, acclen + (size_t)n + 1);

			if (!p) {
				rc = 1;
				break;
			}
			acc = p;
			memcpy(acc + acclen, buf, (size_t)n);
			acclen += (size_t)n;
			acc[acclen] = 0;
		} else {
			fwrite(buf, 1, (size_t)n, stdout);
		}
	}
	if (n < 0) {
		perror("evtchn-dump: read");
		rc = 1;
	} else if (total == 0) {
		fprintf(stderr, "evtchn-dump: %s: no answer\n", sock_path);
		rc = 1;
	}
	close(fd);
	if (copy)
		*copy = acc;
	else
		free(acc);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char req[64], *list = NULL, *line;
	bool list_only = false;
	int c, rc = 0;

	sock_path = getenv("EVTCHN_DEBUG_SOCKET");
	while ((c = getopt_long(argc, argv, "s:lh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'l':
			list_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!sock_path || !*sock_path) {
		fprintf(stderr, "evtchn-dump: no socket: give -s PATH or set "
				"EVTCHN_DEBUG_SOCKET\n");
		return 2;
	}
	if (strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "evtchn-dump: socket path too long\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		char *end;
		unsigned long id;

		errno = 0;
		id = strtoul(argv[i], &end, 0);
		if (errno || *end || end == argv[i] || id >= 0x7ff0) {
			fprintf(stderr, "evtchn-dump: bad domain id \"%s\"\n",
				argv[i]);
			return 2;
		}
	}
	if (list_only)
		return request("list", NULL);
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			snprintf(req, sizeof(req), "dump %s", argv[i]);
			rc |= request(req, NULL);
		}
		return rc;
	}
	/* Every domain: list, then dump each. */
	if (request("list", &list))
		return 1;
	for (line = list; line && *line; line = strchr(line, '\n') + 1) {
		unsigned id;

		if (sscanf(line, "domain %u:", &id) == 1) {
			snprintf(req, sizeof(req), "dump %u", id);
			rc |= request(req, NULL);
		}
		if (!strchr(line, '\n'))
			break;
	}
	free(list);
	return rc;
}
