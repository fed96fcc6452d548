/*
 * res_phoneprov (Rust) - inotify for the files the module keeps in memory: a change in a
 * watched directory shows as a pending event, which a request can ask for without a stat.
 *
 * Licensed under the GNU General Public License version 2 only.
 */

#include <errno.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "pp_glue.h"

/* Filesystems whose changes this kernel sees (and reports) itself: not a network
 * filesystem, where another machine may write. */
static int is_local(long type)
{
	switch (type) {
	case 0xEF53: /* ext2, ext3, ext4 */
	case 0x58465342: /* xfs */
	case 0x9123683E: /* btrfs */
	case 0x01021994: /* tmpfs */
	case 0x794C7630: /* overlayfs */
	case 0x2FC12FC1: /* zfs */
	case 0xF2F52010: /* f2fs */
		return 1;
	default:
		return 0;
	}
}

int pp_watch_open(void)
{
	return inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}

int pp_watch_dir(int fd, const char *dir)
{
	struct statfs fs;

	if (statfs(dir, &fs) || !is_local((long) fs.f_type)) {
		return 0;
	}
	return inotify_add_watch(fd, dir, IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM
		| IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF) >= 0;
}

int pp_watch_pending(int fd)
{
	int bytes = 0;

	if (ioctl(fd, FIONREAD, &bytes)) {
		return 1;
	}
	return bytes > 0;
}

int pp_watch_read(int fd)
{
	/* Room for at least one event with the longest name. */
	char buf[sizeof(struct inotify_event) + NAME_MAX + 1]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len = read(fd, buf, sizeof(buf));
	int lost = 0;
	char *p;

	if (len <= 0) {
		return len < 0 && errno != EAGAIN ? -1 : 0;
	}
	for (p = buf; p < buf + len; ) {
		const struct inotify_event *e = (const struct inotify_event *) p;

		if (e->mask & (IN_IGNORED | IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF)) {
			lost = 1;
		}
		p += sizeof(*e) + e->len;
	}
	return lost ? 2 : 1;
}
