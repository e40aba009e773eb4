/* Unit tests for lib/wsarchive: member paths, link escapes, and import and
 * export of archives built here with libarchive (good ones and malicious
 * ones). */
#include "t.h"

#include "wsarchive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct m {
	const char *name;
	char type;          /* f file, d dir, l symlink, h hardlink, c char device */
	const char *data;   /* file contents, or link target */
	int mode;
};

#define SPEC_OK "apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: a}\n"

static int tmp(void)
{
	int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);

	if (fd < 0)
		abort();
	return fd;
}

/* A tar (gzip when gz) of the members, in a rewound unnamed file. */
static int make(const struct m *ms, size_t n, bool gz)
{
	int fd = tmp();
	struct archive *w = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	if (gz)
		archive_write_add_filter_gzip(w);
	archive_write_set_format_pax_restricted(w);
	archive_write_open_fd(w, fd);
	for (size_t i = 0; i < n; i++) {
		size_t len = ms[i].data && ms[i].type == 'f' ? strlen(ms[i].data) : 0;

		archive_entry_clear(e);
		archive_entry_set_pathname(e, ms[i].name);
		archive_entry_set_perm(e, ms[i].mode ? ms[i].mode : 0644);
		archive_entry_set_uid(e, 1000);
		archive_entry_set_gid(e, 1000);
		switch (ms[i].type) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)len);
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, ms[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, ms[i].data);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, 0x0101);
			break;
		}
		archive_write_header(w, e);
		if (len)
			archive_write_data(w, ms[i].data, len);
	}
	archive_write_close(w);
	archive_write_free(w);
	archive_entry_free(e);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The members of a plain tar at fd: "name:type:mode:data|" each. */
static void list(int fd, char *out, size_t len)
{
	struct archive *r = archive_read_new();
	struct archive_entry *e;

	out[0] = '\0';
	lseek(fd, 0, SEEK_SET);
	archive_read_support_format_tar(r);
	if (archive_read_open_fd(r, fd, 10240) != ARCHIVE_OK)
		abort();
	while (archive_read_next_header(r, &e) == ARCHIVE_OK) {
		char data[256] = "";
		char t = archive_entry_hardlink(e) ? 'h' :
			 archive_entry_filetype(e) == AE_IFDIR ? 'd' :
			 archive_entry_filetype(e) == AE_IFLNK ? 'l' : 'f';
		size_t n = strlen(out);

		if (t == 'f')
			data[archive_read_data(r, data, sizeof(data) - 1)] = '\0';
		snprintf(out + n, len - n, "%s:%c:%o:%s|", archive_entry_pathname(e), t,
			 (unsigned)archive_entry_perm(e),
			 t == 'l' ? archive_entry_symlink(e) :
			 t == 'h' ? archive_entry_hardlink(e) : data);
	}
	archive_read_free(r);
}

/* Import the members; 0 or the error, with e. */
static bool split = true;

static int import(const struct m *ms, size_t n, int64_t max, char *home, char *work,
		  struct err *e)
{
	int in = make(ms, n, true), h = tmp(), w = tmp();
	char *spec = NULL;
	size_t len = 0;
	int r;

	err_clear(e);
	r = wsarchive_import(in, h, w, split, max, &spec, &len, NULL, e);
	if (r == 0 && home)
		list(h, home, 4096);
	if (r == 0 && work)
		list(w, work, 4096);
	if (r == 0) {
		CHECK(len == strlen(SPEC_OK) && strcmp(spec, SPEC_OK) == 0);
	} else {
		CHECK(spec == NULL);
	}
	free(spec);
	close(in);
	close(h);
	close(w);
	return r;
}

static void test_member(void)
{
	char rel[64];
	struct err e;

	CHECK(wsarchive_member("workspace.yaml", rel, sizeof(rel), &e) == 1);
	CHECK(wsarchive_member("./workspace.yaml", rel, sizeof(rel), &e) == 1);
	CHECK(wsarchive_member("home", rel, sizeof(rel), &e) == 2 && !rel[0]);
	CHECK(wsarchive_member("home/", rel, sizeof(rel), &e) == 2 && !rel[0]);
	CHECK(wsarchive_member("./home/a/b", rel, sizeof(rel), &e) == 2 && !strcmp(rel, "a/b"));
	CHECK(wsarchive_member("home/a/", rel, sizeof(rel), &e) == 2 && !strcmp(rel, "a"));
	CHECK(wsarchive_member("home/.bashrc", rel, sizeof(rel), &e) == 2);
	CHECK(wsarchive_member("home/a..b", rel, sizeof(rel), &e) == 2);
	CHECK(wsarchive_member("/etc/passwd", rel, sizeof(rel), &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "absolute path");
	CHECK(wsarchive_member("/home/a", rel, sizeof(rel), &e) == -EINVAL);
	CHECK(wsarchive_member("home/../x", rel, sizeof(rel), &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "\"..\" component");
	CHECK(wsarchive_member("home/a/../../x", rel, sizeof(rel), &e) == -EINVAL);
	CHECK(wsarchive_member("home/..", rel, sizeof(rel), &e) == -EINVAL);
	CHECK(wsarchive_member("home/./a", rel, sizeof(rel), &e) == -EINVAL);
	CHECK(wsarchive_member("home//a", rel, sizeof(rel), &e) == -EINVAL);
	CHECK(wsarchive_member("homex/a", rel, sizeof(rel), &e) == -EINVAL);
	CHECK(wsarchive_member("other", rel, sizeof(rel), &e) == -EINVAL);
	CHECK(wsarchive_member("../home/a", rel, sizeof(rel), &e) == -EINVAL);
	CHECK(wsarchive_member("home/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			       rel, sizeof(rel), &e) == -EINVAL);
}

static void test_link_escapes(void)
{
	CHECK(!wsarchive_link_escapes("a", "b"));
	CHECK(!wsarchive_link_escapes("a", "./b"));
	CHECK(!wsarchive_link_escapes("d/a", "../b"));
	CHECK(!wsarchive_link_escapes("d/a", "./../b"));
	CHECK(!wsarchive_link_escapes("a", "x/y/../.."));
	CHECK(!wsarchive_link_escapes("work/p/a", "../../.bashrc"));
	CHECK(wsarchive_link_escapes("a", "../x"));
	CHECK(wsarchive_link_escapes("a", ".."));
	CHECK(wsarchive_link_escapes("d/a", "../../x"));
	CHECK(wsarchive_link_escapes("d/a", "x/../../.."));
	CHECK(wsarchive_link_escapes("a", "/etc/passwd"));
	CHECK(wsarchive_link_escapes("a", "/home/alice/x"));
	CHECK(wsarchive_link_escapes("a", ""));
	CHECK(wsarchive_link_escapes("a", NULL));
}

static void test_import_good(void)
{
	static const struct m ms[] = {
		{ "workspace.yaml", 'f', SPEC_OK, 0 },
		{ "home/", 'd', NULL, 0755 },
		{ "home/.bashrc", 'f', "PS1=x", 0644 },
		{ "home/bin/", 'd', NULL, 0755 },
		{ "home/bin/tool", 'f', "#!/bin/sh", 06755 },
		{ "home/link", 'l', "bin/tool", 0 },
		{ "home/same", 'h', "home/.bashrc", 0 },
		{ "home/work/", 'd', NULL, 0755 },
		{ "home/work/p/", 'd', NULL, 0755 },
		{ "home/work/p/main.py", 'f', "print(1)", 0644 },
		{ "home/work/p/up", 'l', "../../.bashrc", 0 },
		{ "home/work/p/h", 'h', "home/work/p/main.py", 0 },
		{ "home/.klangk-imported", 'f', "theirs", 0644 },
	};
	char home[4096], work[4096];
	struct err e;

	CHECK(import(ms, sizeof(ms) / sizeof(ms[0]), 1 << 20, home, work, &e) == 0);
	CHECK(!e.msg[0]);
	CHECK_CONTAINS(home, ".bashrc:f:644:PS1=x|");
	/* set-uid and set-gid dropped */
	CHECK_CONTAINS(home, "bin/tool:f:755:#!/bin/sh|");
	CHECK_CONTAINS(home, "link:l:");
	CHECK_CONTAINS(home, ":bin/tool|");
	CHECK_CONTAINS(home, "same:h:644:.bashrc|");
	/* ours, at the end, empty; the archive's own is not taken */
	CHECK_CONTAINS(home, ".klangk-imported:f:644:|");
	CHECK(!CONTAINS(home, "theirs"));
	CHECK(!CONTAINS(home, "work"));
	CHECK(!CONTAINS(home, "main.py"));
	CHECK_CONTAINS(work, "p/:d:755:|p/main.py:f:644:print(1)|");
	CHECK_CONTAINS(work, "p/up:l:");
	CHECK_CONTAINS(work, "p/h:h:644:p/main.py|");
	CHECK(!CONTAINS(work, ".bashrc:f"));

	/* Not split (Docker): one tar, work's members under work/. */
	split = false;
	CHECK(import(ms, sizeof(ms) / sizeof(ms[0]), 1 << 20, home, work, &e) == 0);
	split = true;
	CHECK_CONTAINS(home, "work/p/main.py:f:644:print(1)|");
	CHECK_CONTAINS(home, "work/p/h:h:644:work/p/main.py|");
	CHECK_CONTAINS(home, ".klangk-imported:f:644:|");
	CHECK(!CONTAINS(home, "|work/:d"));
	CHECK(work[0] == '\0');
}

static void refused(const char *what, const struct m *extra, size_t n, int64_t max,
		    const char *msg)
{
	struct m ms[8] = { { "workspace.yaml", 'f', SPEC_OK, 0 }, { "home/", 'd', NULL, 0755 } };
	struct err e;
	int r;

	memcpy(ms + 2, extra, n * sizeof(*extra));
	r = import(ms, n + 2, max, NULL, NULL, &e);
	if (r >= 0)
		fprintf(stderr, "%s: accepted\n", what);
	CHECK(r < 0);
	CHECK_CONTAINS(e.msg, msg);
}

static void test_import_refused(void)
{
	{
		static const struct m x[] = { { "/etc/cron.d/evil", 'f', "x", 0 } };

		refused("absolute", x, 1, 1 << 20, "absolute path");
	}
	{
		static const struct m x[] = { { "home/../../etc/passwd", 'f', "x", 0 } };

		refused("dotdot", x, 1, 1 << 20, "\"..\" component");
	}
	{
		static const struct m x[] = { { "etc/passwd", 'f', "x", 0 } };

		refused("outside", x, 1, 1 << 20, "not workspace.yaml or under home/");
	}
	{
		static const struct m x[] = { { "home/l", 'l', "/etc", 0 } };

		refused("absolute link", x, 1, 1 << 20, "leaves the home");
	}
	{
		static const struct m x[] = { { "home/d/", 'd', NULL, 0755 },
					      { "home/d/l", 'l', "../../x", 0 } };

		refused("climbing link", x, 2, 1 << 20, "leaves the home");
	}
	{
		static const struct m x[] = { { "home/l", 'l', "sub", 0 },
					      { "home/l/f", 'f', "x", 0 } };

		refused("through a link", x, 2, 1 << 20, "below a symbolic link");
	}
	{
		static const struct m x[] = { { "home/h", 'h', "/etc/shadow", 0 } };

		refused("hard link out", x, 1, 1 << 20, "hard link");
	}
	{
		static const struct m x[] = { { "home/h", 'h', "home/nothing", 0 } };

		refused("hard link to nothing", x, 1, 1 << 20, "hard link");
	}
	{
		static const struct m x[] = { { "home/f", 'f', "x", 0 },
					      { "home/work/h", 'h', "home/f", 0 } };

		refused("hard link across volumes", x, 2, 1 << 20, "hard link");
	}
	{
		static const struct m x[] = { { "home/dev", 'c', NULL, 0 } };

		refused("device", x, 1, 1 << 20, "device");
	}
	{
		static const struct m x[] = { { "home/f", 'f', "x", 0 },
					      { "home/f", 'l', "y", 0 } };

		refused("twice", x, 2, 1 << 20, "given twice");
	}
	{
		static const struct m x[] = { { "home/big", 'f', "0123456789abcdef", 0 } };

		refused("oversize", x, 1, 10, "larger than the limit");
	}
	{
		static const struct m x[] = { { "home/a", 'f', "0123456789", 0 },
					      { "home/b", 'f', "0123456789", 0 } };

		refused("oversize in total", x, 2, 15, "larger than the limit");
	}
	{
		static const struct m x[] = { { "workspace.yaml", 'f', SPEC_OK, 0 } };

		refused("spec twice", x, 1, 1 << 20, "given twice");
	}
	{
		static const struct m x[] = { { "home", 'f', "x", 0 } };

		refused("home not a dir", x, 1, 1 << 20, "not a directory");
	}
	{
		struct m only[] = { { "home/", 'd', NULL, 0755 } };
		struct err e;

		CHECK(import(only, 1, 1 << 20, NULL, NULL, &e) == -EINVAL);
		CHECK_CONTAINS(e.msg, "no workspace.yaml");
	}
	{
		char *big = malloc(300 * 1024);
		struct m ms[] = { { "workspace.yaml", 'f', big, 0 } };
		struct err e;

		memset(big, 'a', 300 * 1024 - 1);
		big[300 * 1024 - 1] = '\0';
		CHECK(import(ms, 1, 1 << 20, NULL, NULL, &e) == -EFBIG);
		CHECK_CONTAINS(e.msg, "workspace.yaml: larger than");
		free(big);
	}
	{
		/* Not an archive at all. */
		int in = tmp(), h = tmp(), w = tmp();
		char *spec = NULL;
		size_t len;
		struct err e;

		CHECK(write(in, "hello, not a tar\n", 17) == 17);
		lseek(in, 0, SEEK_SET);
		CHECK(wsarchive_import(in, h, w, true, 1 << 20, &spec, &len, NULL, &e) < 0);
		CHECK(spec == NULL);
		close(in);
		close(h);
		close(w);
	}
}

static void test_export_roundtrip(void)
{
	/* What the engine gives: /home/alice (with its work/ mount point, and
	 * maybe a stale copy of it) and /home/alice/work. */
	static const struct m hm[] = {
		{ "alice/", 'd', NULL, 0755 },
		{ "alice/.bash_history", 'f', "ls", 0600 },
		{ "alice/x", 'h', "alice/.bash_history", 0 },
		{ "alice/work/", 'd', NULL, 0755 },
		{ "alice/work/stale", 'f', "hidden", 0644 },
	};
	static const struct m wm[] = {
		{ "work/", 'd', NULL, 0755 },
		{ "work/app.py", 'f', "print(2)", 0644 },
	};
	int h = make(hm, 5, false), w = make(wm, 2, false), out = tmp();
	int rh = tmp(), rw = tmp();
	char home[4096], work[4096], *spec = NULL;
	size_t len = 0;
	struct err e = { "" };

	CHECK(wsarchive_export(out, SPEC_OK, strlen(SPEC_OK), h, w, "alice", &e) == 0);
	lseek(out, 0, SEEK_SET);
	CHECK(wsarchive_import(out, rh, rw, true, 1 << 20, &spec, &len, NULL, &e) == 0);
	CHECK(spec && strcmp(spec, SPEC_OK) == 0);
	list(rh, home, sizeof(home));
	list(rw, work, sizeof(work));
	CHECK_CONTAINS(home, ".bash_history:f:600:ls|x:h:644:.bash_history|");
	CHECK(!CONTAINS(home, "stale"));
	CHECK_CONTAINS(work, "app.py:f:644:print(2)|");
	free(spec);

	/* A member the engine should not have sent. */
	{
		static const struct m bad[] = { { "bob/x", 'f', "x", 0 } };
		int b = make(bad, 1, false), o2 = tmp();

		lseek(w, 0, SEEK_SET);
		CHECK(wsarchive_export(o2, SPEC_OK, strlen(SPEC_OK), b, w, "alice", &e) == -EPROTO);
		CHECK_CONTAINS(e.msg, "unexpected member");
		close(b);
		close(o2);
	}
	close(h);
	close(w);
	close(out);
	close(rh);
	close(rw);
}

int main(void)
{
	test_member();
	test_link_escapes();
	test_import_good();
	test_import_refused();
	test_export_roundtrip();
	return T_DONE("wsarchive");
}
