/*
 * wsarchive — the workspace archive of `klangkc export` and `klangkc
 * import`: a gzip-compressed tar (pax) holding
 *
 *   workspace.yaml   the Workspace object: apiVersion, kind, metadata (name,
 *                    namespace, labels) and spec; no status, ids or leases
 *   home/...         the home directory /home/<namespace>; home/work/ is the
 *                    shared work directory (its own volume)
 *
 * Export turns the engine's tar of /home/<ns> (GET /containers/{id}/archive)
 * into that.  Import reads an archive that may come from anyone: every
 * member is checked before anything is created, and what goes to the
 * engine (PUT /containers/{id}/archive) is a new tar built from the checked
 * members only — path, type, permissions without set-uid/set-gid, owner,
 * time, size, link target — never the archive's own extended attributes,
 * capabilities or ACLs.  Refused: a member outside workspace.yaml and
 * home/, an absolute path, a ".." or "." component or an empty one, a
 * device, FIFO or socket, a symbolic link whose target is absolute or
 * leaves the home, a hard link to anything but an earlier regular file of
 * the home, a member below a symbolic link of the archive, a path given
 * twice, more than the limits of bytes or members, and a workspace.yaml
 * that is missing, twice, or over WS_MAX_OBJECT bytes.
 */
#ifndef KLANGK_WSARCHIVE_H
#define KLANGK_WSARCHIVE_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSARCHIVE_SPEC "workspace.yaml"
#define WSARCHIVE_HOME "home"
/* Restored into the home with the files: the workspace image's entrypoint
 * then gives the home to the workspace user and removes it (engines
 * disagree on the owners of extracted files). */
#define WSARCHIVE_MARKER ".klangk-imported"
#define WSARCHIVE_MAX_MEMBERS 1000000
#define WSARCHIVE_DEFAULT_MAX_BYTES (4LL * 1024 * 1024 * 1024)

/*
 * A member's name as an archive path: "workspace.yaml" (returns 1), "home"
 * or "home/REL" (returns 2, *rel points into name: "" for the home itself,
 * else REL without a trailing slash, written to rel_buf).  A leading "./"
 * is allowed.  -EINVAL with the reason in e otherwise.
 */
int wsarchive_member(const char *name, char *rel_buf, size_t rel_len,
		     struct err *e);

/* Whether the symbolic link at `rel` (relative to the home) with `target`
 * would point outside the home: an absolute or empty target, or one whose
 * ".." components climb above it. */
bool wsarchive_link_escapes(const char *rel, const char *target);

/*
 * Export: write to out_fd the archive made of spec (YAML text) and the
 * engine's tars of /home/<ns> (home_fd: members "<ns>", "<ns>/..."; its
 * work/ is left out) and of /home/<ns>/work (work_fd: "work", "work/..."),
 * renamed to "home", "home/..." and "home/work", "home/work/...".  The work
 * directory is read on its own because an engine reading a stopped
 * container may not see a volume mounted inside another.
 */
int wsarchive_export(int out_fd, const char *spec, size_t spec_len,
		     int home_fd, int work_fd, const char *ns, struct err *e);

struct wsarchive_stats {
	int64_t members;   /* of the home */
	int64_t bytes;     /* file contents */
};

/*
 * Import: read the archive at in_fd, checking every member (above).  The
 * home's members go into plain tars to extract into the container: with
 * split_work, one per volume: home_fd (names relative to the home, to
 * extract into /home/<ns>; work/ left out) and work_fd (relative to
 * home/work/, to extract into /home/<ns>/work); without, all of them to
 * home_fd (work's as "work/...") and work_fd gets an empty tar.  home_fd
 * also gets WSARCHIVE_MARKER.  Podman needs the split (writing into a
 * stopped container it does not see a volume mounted inside another);
 * Docker refuses it when a link in work/ points into the home (it checks
 * links against the directory extracted into).  max_bytes caps the
 * contents (uncompressed).
 * spec: workspace.yaml's text (new, NUL-terminated).  On failure nothing is
 * returned and the two files hold garbage: the caller throws them away.
 */
int wsarchive_import(int in_fd, int home_fd, int work_fd, bool split_work,
		     int64_t max_bytes, char **spec, size_t *spec_len, struct wsarchive_stats *st,
		     struct err *e);

#endif
