/*
 * libFuzzer target: the checks of an imported workspace archive
 * (wsarchive_import), on any bytes (a tar, gzip-compressed or not).
 *
 * Whatever the input, no crash and no leak; and when it is accepted, what
 * would reach the engine must be harmless, checked here with independent
 * code on the restore tars: relative names with no "." or ".." component,
 * only files, directories, symbolic links and hard links, no set-uid or
 * set-gid bit, no absolute link target, hard links to relative names.
 */
#include "wsarchive.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static bool bad_path(const char *p)
{
	if (!p || !*p || p[0] == '/')
		return true;
	for (const char *c = p; *c;) {
		const char *s = strchr(c, '/');
		size_t k = s ? (size_t)(s - c) : strlen(c);

		if ((k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return true;
		if (!s)
			break;
		c = s + 1;
	}
	return false;
}

static void check_restore(int fd)
{
	struct archive *r = archive_read_new();
	struct archive_entry *e;

	lseek(fd, 0, SEEK_SET);
	archive_read_support_format_tar(r);
	if (archive_read_open_fd(r, fd, 10240) != ARCHIVE_OK) {
		archive_read_free(r);
		return; /* an empty tar */
	}
	while (archive_read_next_header(r, &e) == ARCHIVE_OK) {
		unsigned t = archive_entry_filetype(e);
		const char *hl = archive_entry_hardlink(e), *sl;

		if (bad_path(archive_entry_pathname(e)) || (archive_entry_perm(e) & 06000) ||
		    (hl && bad_path(hl)))
			abort();
		if (!hl && t != AE_IFREG && t != AE_IFDIR && t != AE_IFLNK)
			abort();
		sl = t == AE_IFLNK ? archive_entry_symlink(e) : NULL;
		if (t == AE_IFLNK && (!sl || sl[0] == '/'))
			abort();
	}
	archive_read_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int in = memfd_create("in", 0), h = memfd_create("h", 0), w = memfd_create("w", 0);
	char *spec = NULL;
	size_t len = 0;
	struct err e;

	if (in < 0 || h < 0 || w < 0 || write(in, data, size) != (ssize_t)size)
		abort();
	lseek(in, 0, SEEK_SET);
	if (wsarchive_import(in, h, w, size & 1, 1 << 20, &spec, &len, NULL, &e) == 0) {
		if (!spec || spec[len] != '\0' || len == 0)
			abort();
		check_restore(h);
		check_restore(w);
	}
	free(spec);
	close(in);
	close(h);
	close(w);
	return 0;
}
