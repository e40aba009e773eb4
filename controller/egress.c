/* egress — the workspaces' nftables table (see egress.h). */
#include "egress.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct egress {
	char table[64];          /* "klangk-<instance>" */
	pthread_mutex_t mu;      /* guards bridges and applied; serialises nft */
	json_t *bridges;         /* object used as a set of bridge names */
	bool applied;            /* the table is there as we last built it */
	bool absent;             /* we removed it and applied nothing since */
};

int egress_new(const char *instance, struct egress **out, struct err *e)
{
	struct egress *g = calloc(1, sizeof(*g));

	if (!g || !(g->bridges = json_object())) {
		free(g);
		return -ENOMEM;
	}
	if ((size_t)snprintf(g->table, sizeof(g->table), "klangk-%s", instance) >=
	    sizeof(g->table)) {
		err_set(e, "instance id %s is too long for a table name", instance);
		json_decref(g->bridges);
		free(g);
		return -ENAMETOOLONG;
	}
	pthread_mutex_init(&g->mu, NULL);
	*out = g;
	return 0;
}

void egress_free(struct egress *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	json_decref(g->bridges);
	free(g);
}

/* One interval set of destinations: first (may be NULL), then the deny
 * list's CIDRs of family. */
static int render_set(struct buf *out, const char *name, const char *type,
		      const struct cfg_isolation *iso, int family, const char *first)
{
	const char *sep = "\t\telements = { ";
	int r = buf_printf(out, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n"
				"\t\tauto-merge\n", name, type);

	if (r == 0 && first) {
		r = buf_printf(out, "%s%s", sep, first);
		sep = ", ";
	}
	for (size_t i = 0; r == 0 && i < iso->n_egress_deny; i++) {
		if (iso->egress_deny[i].family != family)
			continue;
		r = buf_printf(out, "%s%s", sep, iso->egress_deny[i].text);
		sep = ", ";
	}
	if (r == 0 && sep[0] == ',')
		r = buf_puts(out, " }\n");
	return r == 0 ? buf_puts(out, "\t}\n") : r;
}

/* The instance's own bridges, as a set of names (own) and of pairs of a
 * name with itself (same): see the forward chain. */
static int render_bridges(struct buf *out, const char *const *bridges, size_t n)
{
	int r = buf_puts(out, "\tset own {\n\t\ttype ifname\n");

	for (size_t i = 0; r == 0 && i < n; i++)
		r = buf_printf(out, "%s\"%s\"", i ? ", " : "\t\telements = { ", bridges[i]);
	if (r == 0 && n)
		r = buf_puts(out, " }\n");
	if (r == 0)
		r = buf_puts(out, "\t}\n\tset same {\n\t\ttype ifname . ifname\n");
	for (size_t i = 0; r == 0 && i < n; i++)
		r = buf_printf(out, "%s\"%s\" . \"%s\"", i ? ", " : "\t\telements = { ",
			       bridges[i], bridges[i]);
	if (r == 0 && n)
		r = buf_puts(out, " }\n");
	return r == 0 ? buf_puts(out, "\t}\n") : r;
}

/*
 * Each instance judges its own bridges (@own) and leaves another Klangk
 * instance's on the same host to that instance's table.  With
 * br_netfilter on, the other instance's tenants' traffic within their own
 * bridge passes this forward hook too, and only that instance knows which
 * pairs are its own: a rule on "kt*" at both ends would drop it.  Input
 * from our bridges is dropped (the other instance drops input from its
 * own); traffic between our bridge and any other tenant bridge, ours or
 * not, is dropped from either side; the deny lists are ours to apply to
 * our workspaces alone.  A bridge joins @own (egress_allow) before the
 * first container on it starts.
 */
#define BR EGRESS_BRIDGE_PREFIX
static const char chains[] =
	"\tchain input {\n"
	"\t\ttype filter hook input priority filter - 10; policy accept;\n"
	"\t\tiifname @own ct state established,related accept\n"
	"\t\tiifname @own counter drop\n"
	"\t}\n"
	"\tchain forward {\n"
	"\t\ttype filter hook forward priority filter - 10; policy accept;\n"
	"\t\tiifname \"" BR "*\" ct state established,related accept\n"
	"\t\tiifname @own oifname \"" BR "*\" iifname . oifname != @same counter drop\n"
	"\t\tiifname \"" BR "*\" oifname @own iifname . oifname != @same counter drop\n"
	"\t\tiifname @own ip daddr @deny4 counter drop\n"
	"\t\tiifname @own ip6 daddr @deny6 counter drop\n"
	"\t}\n";
#undef BR

int egress_render(const char *instance, const struct cfg_isolation *iso,
		  const char *const *bridges, size_t n, struct buf *out)
{
	/* Creating the table first makes the delete succeed when it is
	 * absent; the three lines are one transaction. */
	int r = buf_printf(out, "table inet klangk-%s\ndelete table inet klangk-%s\n"
				"table inet klangk-%s {\n", instance, instance, instance);

	if (r == 0)
		r = render_bridges(out, bridges, n);
	if (r == 0)
		r = render_set(out, "deny4", "ipv4_addr", iso, AF_INET, "169.254.0.0/16");
	if (r == 0)
		r = render_set(out, "deny6", "ipv6_addr", iso, AF_INET6, NULL);
	if (r == 0)
		r = buf_puts(out, chains);
	return r == 0 ? buf_puts(out, "}\n") : r;
}

/* Write all of s to fd; EPIPE (nft exited early) is left to its status. */
static void write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, s, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		len -= (size_t)w;
	}
}

/*
 * Run `nft [-c] -f /dev/stdin` with script on its standard input; its
 * standard error becomes the reason in e when it fails.  SIGPIPE is
 * ignored (lib/stopper.c), so an early exit of nft shows as its status,
 * not as our death.
 */
static int run_nft(bool check, const char *script, struct err *e)
{
	char *argv[] = { "nft", check ? "-c" : "-f", check ? "-f" : "/dev/stdin",
			 check ? "/dev/stdin" : NULL, NULL };
	int in[2] = { -1, -1 }, errp[2] = { -1, -1 }, status = 0, r = -EIO;
	posix_spawn_file_actions_t fa;
	char msg[512];
	ssize_t got = 0, k;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 1);
	r = posix_spawnp(&pid, "nft", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		err_set(e, "cannot run nft (apt-get install nftables, or set "
			   "KLANGK_EGRESS_FIREWALL=off): %s", strerror(r));
		r = -r;
		goto out;
	}
	close(in[0]);
	close(errp[1]);
	in[0] = errp[1] = -1;
	write_all(in[1], script, strlen(script));
	close(in[1]);
	in[1] = -1;
	/* The first bytes are the reason; the rest is read and dropped, so
	 * that nft never blocks on a full pipe. */
	for (;;) {
		char sink[512];
		bool room = (size_t)got < sizeof(msg) - 1;

		k = room ? read(errp[0], msg + got, sizeof(msg) - 1 - (size_t)got) :
			   read(errp[0], sink, sizeof(sink));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (room)
			got += k;
	}
	msg[got] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
	if (r < 0)
		err_set(e, "nft %s failed: %s", check ? "-c" : "-f",
			got ? msg : "(no message)");
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return r;
}

/* Render from the known bridges, check, swap.  Called with g->mu held. */
static int apply_locked(struct egress *g, const struct cfg_isolation *iso, struct err *e)
{
	const char **names = calloc(json_object_size(g->bridges) + 1, sizeof(*names));
	const char *name;
	json_t *v;
	struct buf b;
	size_t n = 0;
	int r;

	if (!names)
		return -ENOMEM;
	json_object_foreach(g->bridges, name, v)
		names[n++] = name;
	buf_init(&b, 0);
	r = egress_render(g->table + strlen("klangk-"), iso, names, n, &b);
	if (r == 0)
		r = run_nft(true, b.data, e);
	if (r == 0)
		r = run_nft(false, b.data, e);
	g->applied = r == 0;
	g->absent = false;
	buf_free(&b);
	free(names);
	return r;
}

static int add_bridge(struct egress *g, const char *bridge)
{
	if (json_object_size(g->bridges) >= EGRESS_MAX_BRIDGES)
		return -ENOSPC;
	return json_object_set_new(g->bridges, bridge, json_true()) == 0 ? 0 : -ENOMEM;
}

int egress_apply(struct egress *g, const struct cfg_isolation *iso,
		 const char *const *bridges, size_t n, struct err *e)
{
	int r = 0;

	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = add_bridge(g, bridges[i]);
	if (r == 0)
		r = apply_locked(g, iso, e);
	pthread_mutex_unlock(&g->mu);
	return r;
}

int egress_allow(struct egress *g, const struct cfg_isolation *iso,
		 const char *bridge, struct err *e)
{
	char script[512];
	int r = 0;

	pthread_mutex_lock(&g->mu);
	if (g->applied && json_object_get(g->bridges, bridge))
		goto out;
	r = add_bridge(g, bridge);
	if (r == 0 && !g->applied) {
		r = apply_locked(g, iso, e);
		goto out;
	}
	/* One element into the live table: adding one that is there is
	 * not an error, so this too can be repeated. */
	snprintf(script, sizeof(script),
		 "add element inet %s own { \"%s\" }\n"
		 "add element inet %s same { \"%s\" . \"%s\" }\n",
		 g->table, bridge, g->table, bridge, bridge);
	if (r == 0)
		r = run_nft(false, script, e);
	if (r < 0)
		/* Someone removed the table: build it whole next time. */
		g->applied = false;
out:
	pthread_mutex_unlock(&g->mu);
	return r;
}

void egress_forget(struct egress *g, const char *bridge)
{
	pthread_mutex_lock(&g->mu);
	json_object_del(g->bridges, bridge);
	pthread_mutex_unlock(&g->mu);
}

int egress_remove(struct egress *g, struct err *e)
{
	char script[160];
	int r;

	snprintf(script, sizeof(script), "table inet %s\ndelete table inet %s\n",
		 g->table, g->table);
	pthread_mutex_lock(&g->mu);
	/* A bridge known here that the caller's listing did not show was
	 * allowed since (a tenant's first network, made after the listing):
	 * its containers need the table. */
	if (json_object_size(g->bridges)) {
		pthread_mutex_unlock(&g->mu);
		return 0;
	}
	r = g->absent ? 0 : run_nft(false, script, e);
	if (r == 0) {
		g->applied = false;
		g->absent = true;
	}
	pthread_mutex_unlock(&g->mu);
	return r;
}
