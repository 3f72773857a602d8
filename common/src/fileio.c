/*
 * common/src/fileio.c
 *		File writes every part needs the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include "tide/common.h"

int
tide_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *p = buf;

	while (n > 0)
	{
		ssize_t		k = pwrite(fd, p, n, (off_t) off);

		if (k < 0)
		{
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t) k;
		off += (uint64_t) k;
	}
	return 0;
}

int
tide_fsync_path(const char *path)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	int			rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}
