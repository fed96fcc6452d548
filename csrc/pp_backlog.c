/*
 * res_phoneprov (Rust) - the accept backlog of the listening socket a connection came in
 * on. Asterisk's TCP/TLS servers listen with a backlog of 10: when more phones than that
 * connect at once (a building powering up), the kernel drops the rest of their handshakes
 * and they wait for TCP to retry, a second and more.
 *
 * Licensed under the GNU General Public License version 2 only.
 */

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "pp_glue.h"

/* Whether the listening address `l` accepts connections to the local address `c`: the
 * same port, and the same address or a wildcard one (an IPv6 wildcard accepts IPv4 too). */
static int accepts(const struct sockaddr_storage *l, const struct sockaddr_storage *c)
{
	if (l->ss_family == AF_INET && c->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *) l, *b = (const void *) c;

		return a->sin_port == b->sin_port
			&& (a->sin_addr.s_addr == htonl(INADDR_ANY) || a->sin_addr.s_addr == b->sin_addr.s_addr);
	}
	if (l->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *) l;
		in_port_t port = c->ss_family == AF_INET
			? ((const struct sockaddr_in *) c)->sin_port
			: ((const struct sockaddr_in6 *) c)->sin6_port;

		if (a->sin6_port != port) {
			return 0;
		}
		if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) {
			return 1;
		}
		return c->ss_family == AF_INET6
			&& !memcmp(&a->sin6_addr, &((const struct sockaddr_in6 *) c)->sin6_addr, 16);
	}
	return 0;
}

/* Listening sockets are made while Asterisk starts: low descriptors. Looked for by number
 * rather than in /proc/self/fd, which a chroot may not have. */
#define MAX_FD_LOOKED_AT 65536

int pp_raise_backlog(int conn_fd, int backlog, int *before)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct rlimit lim;
	int limit = MAX_FD_LOOKED_AT;
	int fd;

	if (getsockname(conn_fd, (struct sockaddr *) &local, &len)) {
		return -1;
	}
	if (!getrlimit(RLIMIT_NOFILE, &lim) && lim.rlim_cur < (rlim_t) limit) {
		limit = (int) lim.rlim_cur;
	}
	for (fd = 0; fd < limit; fd++) {
		struct sockaddr_storage addr;
		struct tcp_info info;
		socklen_t alen = sizeof(addr), ilen = sizeof(info);
		int listening = 0;
		socklen_t llen = sizeof(listening);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) || !listening
			|| getsockname(fd, (struct sockaddr *) &addr, &alen) || !accepts(&addr, &local)
			/* A listening socket's tcp_info gives its backlog in tcpi_sacked. */
			|| getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen)) {
			continue;
		}
		*before = (int) info.tcpi_sacked;
		if (*before >= backlog) {
			return 0;
		}
		return listen(fd, backlog) ? -1 : 1;
	}
	return -1;
}
