/* wsarchive — the workspace export/import archive, with libarchive (see
 * wsarchive.h). */
#include "wsarchive.h"

#include "buf.h"
#include "ws.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BLOCK 65536

int wsarchive_member(const char *name, char *rel_buf, size_t rel_len,
		     struct err *e)
{
	const char *p = name, *c;
	size_t n;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (p[0] == '/') {
		err_set(e, "member \"%s\": absolute path", name);
		return -EINVAL;
	}
	if (strcmp(p, WSARCHIVE_SPEC) == 0)
		return 1;
	n = strlen(WSARCHIVE_HOME);
	if (strncmp(p, WSARCHIVE_HOME, n) != 0 || (p[n] != '\0' && p[n] != '/')) {
		err_set(e, "member \"%s\": not %s or under %s/", name, WSARCHIVE_SPEC,
			WSARCHIVE_HOME);
		return -EINVAL;
	}
	p += n;
	if (*p == '/')
		p++;
	n = strlen(p);
	if (n > 0 && p[n - 1] == '/')
		n--; /* a directory's trailing slash */
	if (n >= rel_len) {
		err_set(e, "member \"%s\": path too long", name);
		return -EINVAL;
	}
	memcpy(rel_buf, p, n);
	rel_buf[n] = '\0';
	/* Every component a plain name: no "..", no ".", none empty. */
	for (c = rel_buf; n > 0;) {
		const char *s = strchr(c, '/');
		size_t k = s ? (size_t)(s - c) : strlen(c);

		if (k == 0 || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.')) {
			err_set(e, "member \"%s\": \"%.*s\" component in its path", name,
				(int)k, c);
			return -EINVAL;
		}
		if (!s)
			break;
		c = s + 1;
	}
	return 2;
}

bool wsarchive_link_escapes(const char *rel, const char *target)
{
	long depth = 0;
	const char *c;

	if (!target || !*target || target[0] == '/')
		return true;
	/* The link's directory: one level per component of rel but its last. */
	for (c = rel; *c; c++)
		if (*c == '/')
			depth++;
	for (c = target; *c;) {
		const char *s = strchr(c, '/');
		size_t k = s ? (size_t)(s - c) : strlen(c);

		if (k == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return true;
		} else if (!(k == 0 || (k == 1 && c[0] == '.'))) {
			depth++;
		}
		if (!s)
			break;
		c = s + 1;
	}
	return false;
}

static int arch_err(struct err *e, struct archive *a, const char *what)
{
	const char *m = archive_error_string(a);

	err_set(e, "%s: %s", what, m ? m : "archive error");
	return -EIO;
}

/* Copy an entry's data from r to w, counting into *bytes (up to max when
 * max >= 0). */
static int copy_data(struct archive *r, struct archive *w, int64_t *bytes,
		     int64_t max, const char *name, struct err *e)
{
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int k = archive_read_data_block(r, &buf, &len, &off);

		if (k == ARCHIVE_EOF)
			return 0;
		if (k < ARCHIVE_WARN)
			return arch_err(e, r, name);
		*bytes += (int64_t)len;
		if (max >= 0 && *bytes > max) {
			err_set(e, "the contents are larger than the limit of %lld bytes",
				(long long)max);
			return -EFBIG;
		}
		if (w && len > 0 && archive_write_data(w, buf, len) != (la_ssize_t)len)
			return arch_err(e, w, name);
	}
}

/* ---- export ---- */

/* The rest of an engine's member name after the directory asked for
 * ("" or "/..."), or NULL when it is not below it.  Engines name members
 * "<top>/..." (the directory's base name); Podman, reading a stopped
 * container's volume, names them "/..." instead. */
static const char *tree_rest(const char *p, const char *top)
{
	size_t tl = strlen(top);

	while (p && p[0] == '.' && p[1] == '/')
		p += 2;
	if (!p)
		return NULL;
	if (p[0] == '/')
		return p[1] ? p : "";
	if (strcmp(p, ".") == 0)
		return "";
	if (strncmp(p, top, tl) == 0 && (p[tl] == '\0' || p[tl] == '/'))
		return p + tl;
	return NULL;
}

/* Copy the members of the engine's tar at tar_fd, named "<top>" and
 * "<top>/...", into w as "<as>" and "<as>/..."; with skip_work, leave out
 * "<top>/work" and below (the work volume, read on its own). */
static int copy_tree(struct archive *w, int tar_fd, const char *top,
		     const char *as, bool skip_work, struct err *e)
{
	struct archive *r = archive_read_new();
	struct archive_entry *ent;
	struct buf name;
	int64_t bytes = 0;
	int ret = 0, k;

	buf_init(&name, 65536);
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	archive_read_support_format_tar(r);
	if (archive_read_open_fd(r, tar_fd, BLOCK) != ARCHIVE_OK) {
		ret = arch_err(e, r, "export: the engine's archive");
		goto out;
	}
	while ((k = archive_read_next_header(r, &ent)) == ARCHIVE_OK || k == ARCHIVE_WARN) {
		const char *p = archive_entry_pathname(ent), *hl, *rest = tree_rest(p, top);

		if (!rest) {
			err_set(e, "export: unexpected member \"%s\" in the engine's archive",
				p ? p : "");
			ret = -EPROTO;
			goto out;
		}
		if (skip_work && strncmp(rest, "/work", 5) == 0 &&
		    (rest[5] == '\0' || rest[5] == '/'))
			continue;
		buf_reset(&name);
		if (buf_printf(&name, "%s%s", as, rest) < 0) {
			ret = -ENAMETOOLONG;
			goto out;
		}
		archive_entry_set_pathname(ent, name.data);
		hl = tree_rest(archive_entry_hardlink(ent), top);
		if (hl) {
			buf_reset(&name);
			if (buf_printf(&name, "%s%s", as, hl) < 0) {
				ret = -ENAMETOOLONG;
				goto out;
			}
			archive_entry_set_hardlink(ent, name.data);
		}
		if (archive_write_header(w, ent) < ARCHIVE_WARN) {
			ret = arch_err(e, w, archive_entry_pathname(ent));
			goto out;
		}
		ret = copy_data(r, w, &bytes, -1, archive_entry_pathname(ent), e);
		if (ret < 0)
			goto out;
	}
	if (k != ARCHIVE_EOF)
		ret = arch_err(e, r, "export: the engine's archive");
out:
	archive_read_free(r);
	buf_free(&name);
	return ret;
}

int wsarchive_export(int out_fd, const char *spec, size_t spec_len,
		     int home_fd, int work_fd, const char *ns, struct err *e)
{
	struct archive *w = archive_write_new();
	struct archive_entry *se = archive_entry_new();
	int ret = 0;

	if (!w || !se) {
		ret = -ENOMEM;
		goto out;
	}
	if (archive_write_add_filter_gzip(w) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
	    archive_write_open_fd(w, out_fd) != ARCHIVE_OK) {
		ret = arch_err(e, w, "export");
		goto out;
	}
	archive_entry_set_pathname(se, WSARCHIVE_SPEC);
	archive_entry_set_filetype(se, AE_IFREG);
	archive_entry_set_perm(se, 0644);
	archive_entry_set_size(se, (la_int64_t)spec_len);
	archive_entry_set_mtime(se, time(NULL), 0);
	if (archive_write_header(w, se) != ARCHIVE_OK ||
	    archive_write_data(w, spec, spec_len) != (la_ssize_t)spec_len) {
		ret = arch_err(e, w, "export: " WSARCHIVE_SPEC);
		goto out;
	}
	ret = copy_tree(w, home_fd, ns, WSARCHIVE_HOME, true, e);
	if (ret == 0)
		ret = copy_tree(w, work_fd, "work", WSARCHIVE_HOME "/work", false, e);
	if (ret == 0 && archive_write_close(w) != ARCHIVE_OK)
		ret = arch_err(e, w, "export");
out:
	archive_entry_free(se);
	archive_write_free(w);
	return ret;
}

/* ---- import ---- */

enum seen { SEEN_DIR = 1, SEEN_FILE, SEEN_LINK, SEEN_HARDLINK };

/* Is any proper prefix of rel a symbolic link of the archive? */
static bool below_symlink(json_t *seen, const char *rel)
{
	char p[4096];
	size_t n = strlen(rel);

	if (n >= sizeof(p))
		return true;
	memcpy(p, rel, n + 1);
	for (size_t i = n; i-- > 0;)
		if (p[i] == '/') {
			p[i] = '\0';
			if (json_integer_value(json_object_get(seen, p)) == SEEN_LINK)
				return true;
		}
	return false;
}

/* Which restore tar a path of the home goes to, and its name there. */
static bool in_work(const char *rel)
{
	return strncmp(rel, "work/", 5) == 0;
}

static const char *part_name(const char *rel, bool split)
{
	return split && in_work(rel) ? rel + 5 : rel;
}

/* Check one member of the home (rel: its path there) and describe it in
 * out: a fresh entry with only what we restore. */
static int check_home_member(struct archive_entry *in, const char *name,
			     const char *rel, bool split, json_t *seen,
			     struct archive_entry *out, struct err *e)
{
	unsigned type = archive_entry_filetype(in);
	enum seen kind;
	const char *hl = archive_entry_hardlink(in);

	if (json_object_get(seen, rel)) {
		err_set(e, "member \"%s\": given twice", name);
		return -EINVAL;
	}
	if (below_symlink(seen, rel)) {
		err_set(e, "member \"%s\": below a symbolic link of the archive", name);
		return -EINVAL;
	}
	archive_entry_set_pathname(out, part_name(rel, split));
	if (hl) {
		char target[4096];
		int m = wsarchive_member(hl, target, sizeof(target), e);

		/* An earlier file, on the same volume (home or work). */
		if (m != 2 || !target[0] ||
		    json_integer_value(json_object_get(seen, target)) != SEEN_FILE ||
		    in_work(target) != in_work(rel)) {
			err_set(e, "member \"%s\": hard link to \"%s\", which is not an "
				   "earlier file of the same directory tree", name, hl);
			return -EINVAL;
		}
		archive_entry_set_hardlink(out, part_name(target, split));
		kind = SEEN_HARDLINK;
	} else if (type == AE_IFREG) {
		archive_entry_set_size(out, archive_entry_size(in));
		kind = SEEN_FILE;
	} else if (type == AE_IFDIR) {
		kind = SEEN_DIR;
	} else if (type == AE_IFLNK) {
		const char *t = archive_entry_symlink(in);

		if (wsarchive_link_escapes(rel, t)) {
			err_set(e, "member \"%s\": symbolic link to \"%s\" leaves the home",
				name, t ? t : "");
			return -EINVAL;
		}
		archive_entry_set_symlink(out, t);
		kind = SEEN_LINK;
	} else {
		err_set(e, "member \"%s\": a device, FIFO or socket", name);
		return -EINVAL;
	}
	if (!hl)
		archive_entry_set_filetype(out, type);
	/* No set-uid or set-gid file comes in through an archive. */
	archive_entry_set_perm(out, archive_entry_perm(in) & 01777);
	archive_entry_set_uid(out, archive_entry_uid(in));
	archive_entry_set_gid(out, archive_entry_gid(in));
	archive_entry_set_mtime(out, archive_entry_mtime(in), 0);
	if (json_object_set_new(seen, rel, json_integer(kind)) < 0)
		return -ENOMEM;
	return 0;
}

/* workspace.yaml's text into sp. */
static int read_spec(struct archive *r, struct archive_entry *ent, const char *name,
		     struct buf *sp, struct err *e)
{
	if (sp->len || archive_entry_filetype(ent) != AE_IFREG || archive_entry_hardlink(ent)) {
		err_set(e, "member \"%s\": %s", name, sp->len ? "given twice" :
			"not a regular file");
		return -EINVAL;
	}
	for (;;) {
		char chunk[8192];
		la_ssize_t got = archive_read_data(r, chunk, sizeof(chunk));

		if (got < 0)
			return arch_err(e, r, name);
		if (got == 0)
			break;
		if (buf_append(sp, chunk, (size_t)got) < 0) {
			err_set(e, "%s: larger than %u bytes", name, WS_MAX_OBJECT);
			return -EFBIG;
		}
	}
	if (sp->len == 0) {
		err_set(e, "%s is empty", name);
		return -EINVAL;
	}
	return 0;
}

static struct archive *restore_writer(int fd, struct err *e)
{
	struct archive *w = archive_write_new();

	if (!w)
		return NULL;
	if (archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
	    archive_write_open_fd(w, fd) != ARCHIVE_OK) {
		arch_err(e, w, "restore archive");
		archive_write_free(w);
		return NULL;
	}
	return w;
}

int wsarchive_import(int in_fd, int home_fd, int work_fd, bool split_work,
		     int64_t max_bytes, char **spec, size_t *spec_len, struct wsarchive_stats *st,
		     struct err *e)
{
	struct archive *r = archive_read_new(), *wh = NULL, *ww = NULL;
	struct archive_entry *ent, *out = archive_entry_new();
	json_t *seen = json_object();
	struct wsarchive_stats s = { 0 };
	struct buf sp;
	char rel[4096];
	int ret = 0, k;

	buf_init(&sp, WS_MAX_OBJECT);
	if (!r || !out || !seen) {
		ret = -ENOMEM;
		goto out;
	}
	archive_read_support_filter_gzip(r);
	archive_read_support_format_tar(r);
	if (archive_read_open_fd(r, in_fd, BLOCK) != ARCHIVE_OK) {
		ret = arch_err(e, r, "not a workspace archive (a .tar.gz)");
		goto out;
	}
	wh = restore_writer(home_fd, e);
	ww = wh ? restore_writer(work_fd, e) : NULL;
	if (!ww) {
		ret = -EIO;
		goto out;
	}
	while ((k = archive_read_next_header(r, &ent)) == ARCHIVE_OK || k == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(ent);
		struct archive *w;
		int m;

		if (!name) {
			err_set(e, "a member without a name");
			ret = -EINVAL;
			goto out;
		}
		m = wsarchive_member(name, rel, sizeof(rel), e);
		if (m < 0) {
			ret = m;
			goto out;
		}
		if (m == 1) {
			ret = read_spec(r, ent, name, &sp, e);
			if (ret < 0)
				goto out;
			continue;
		}
		if (!rel[0] || strcmp(rel, "work") == 0) {
			/* The home and work directories themselves: the
			 * volumes' roots, set up by the image (entrypoint);
			 * only what is inside comes in. */
			if (archive_entry_filetype(ent) != AE_IFDIR || archive_entry_hardlink(ent)) {
				err_set(e, "member \"%s\": not a directory", name);
				ret = -EINVAL;
				goto out;
			}
			continue;
		}
		if (strcmp(rel, WSARCHIVE_MARKER) == 0)
			continue; /* ours: written below */
		if (++s.members > WSARCHIVE_MAX_MEMBERS) {
			err_set(e, "more than %d members", WSARCHIVE_MAX_MEMBERS);
			ret = -EFBIG;
			goto out;
		}
		archive_entry_clear(out);
		ret = check_home_member(ent, name, rel, split_work, seen, out, e);
		if (ret < 0)
			goto out;
		if (archive_entry_filetype(out) == AE_IFREG && !archive_entry_hardlink(out) &&
		    archive_entry_size(out) > max_bytes - s.bytes) {
			err_set(e, "the contents are larger than the limit of %lld bytes",
				(long long)max_bytes);
			ret = -EFBIG;
			goto out;
		}
		w = split_work && in_work(rel) ? ww : wh;
		if (archive_write_header(w, out) != ARCHIVE_OK) {
			ret = arch_err(e, w, name);
			goto out;
		}
		ret = copy_data(r, w, &s.bytes, max_bytes, name, e);
		if (ret < 0)
			goto out;
	}
	if (k != ARCHIVE_EOF) {
		ret = arch_err(e, r, "reading the archive");
		goto out;
	}
	if (sp.len == 0) {
		err_set(e, "no %s in the archive", WSARCHIVE_SPEC);
		ret = -EINVAL;
		goto out;
	}
	/* The mark that asks the image to give the restored files to the
	 * workspace user (the engines disagree on the owners they extract). */
	archive_entry_clear(out);
	archive_entry_set_pathname(out, WSARCHIVE_MARKER);
	archive_entry_set_filetype(out, AE_IFREG);
	archive_entry_set_perm(out, 0644);
	archive_entry_set_size(out, 0);
	archive_entry_set_mtime(out, time(NULL), 0);
	if (archive_write_header(wh, out) != ARCHIVE_OK) {
		ret = arch_err(e, wh, "restore archive");
		goto out;
	}
	if (archive_write_close(wh) != ARCHIVE_OK || archive_write_close(ww) != ARCHIVE_OK) {
		ret = arch_err(e, wh, "restore archive");
		goto out;
	}
	*spec_len = sp.len;
	*spec = buf_steal(&sp);
	if (!*spec) {
		ret = -ENOMEM;
		goto out;
	}
	if (st)
		*st = s;
out:
	archive_entry_free(out);
	archive_read_free(r);
	archive_write_free(wh);
	archive_write_free(ww);
	json_decref(seen);
	buf_free(&sp);
	return ret;
}
