/*
 * touch — a workspace's activity record: /klangk/activity/<ns>/<name>
 * (lib/keys.h) gets the current time (lib/timefmt.h), only while the
 * workspace exists.  The controller's idle timeout counts from the latest
 * activity, and activity after an idle stop starts the workspace again.
 * klangkc (touch, start, exec) and the gateway (as the caller: its proof
 * of the right to work in the workspace) write it here; proxy-gen batches
 * its own writes of hosted traffic.
 */
#ifndef KLANGK_TOUCH_H
#define KLANGK_TOUCH_H

#include "err.h"
#include "etcd.h"

/* Record activity now, through c (whose etcd user needs the right to
 * write the key).  -ENOENT when the workspace does not exist; -EACCES when
 * etcd refuses the write. */
int touch_workspace(struct etcd *c, const char *ns, const char *name, struct err *e);

#endif
