/*
 * cfg — the settings every binary reads from the environment (the names of
 * the product documents: KLANGK_PORT_RANGE_START, KLANGK_NGINX_PORT, ...).
 * Flags override them; cfg_check validates the result as a whole so that a
 * bad setting is refused at start (or at a reload) with a clear reason.
 */
#ifndef KLANGK_CFG_H
#define KLANGK_CFG_H

#include "engine.h"
#include "err.h"
#include "quantity.h"
#include "ws.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The least CPU and memory an engine accepts for a container (dockerd
 * refuses NanoCpus under 0.01 CPU; both engines memory under 6 MiB). */
#define CFG_MIN_CPU_NANO 10000000LL
#define CFG_MIN_MEMORY 6291456LL
#define CFG_MIN_TMP_SIZE 1048576LL
#define CFG_MAX_CAPS 48
#define CFG_MAX_CIDRS 64

/* A network in CIDR notation, normalised ("169.254.0.0/16", "fd00::/8"). */
struct cfg_cidr {
	int family;               /* AF_INET or AF_INET6 */
	unsigned char addr[16];   /* network byte order; 4 bytes for AF_INET */
	int prefix;
	char text[64];
};

/*
 * Workspace isolation settings (issue 15), parsed and checked by cfg_check
 * from the raw settings in struct cfg.  Resource values use the units of
 * struct ws_resources: nano-CPUs, bytes, pids; a cap of 0 means none.
 */
struct cfg_isolation {
	int64_t default_cpu, default_memory, default_pids;
	int64_t max_cpu, max_memory, max_pids;
	/* Capabilities dropped from the engine's default set, without the
	 * CAP_ prefix ("NET_RAW"), or the single entry "ALL". */
	char cap_drop[CFG_MAX_CAPS][24];
	size_t n_cap_drop;
	bool userns_auto;         /* Podman's user namespace mode "auto" */
	int64_t tmp_size;         /* bytes of the /tmp tmpfs */
	struct cfg_cidr egress_deny[CFG_MAX_CIDRS];
	size_t n_egress_deny;
	/* The controller's nftables table (controller/egress.h), or none
	 * ("off": the workspaces reach the host and the deny list is not
	 * enforced; docs/security.md). */
	bool egress_firewall;
};

struct cfg {
	char etcd_endpoints[4096];
	char docker_host[4096];
	char instance_id[64];
	long port_range_start;     /* KLANGK_PORT_RANGE_START, 9000 */
	long port_range_end;       /* KLANGK_PORT_RANGE_END, start + 999 */
	long nginx_port;           /* KLANGK_NGINX_PORT, 8995 */
	char hosting_hostname[256];/* KLANGK_HOSTING_HOSTNAME, localhost:<nginx> */
	char hosting_proto[16];    /* KLANGK_HOSTING_PROTO, http */
	char hosting_base_path[256];/* KLANGK_HOSTING_BASE_PATH, "" */
	/* KLANGK_HOSTING_DOMAIN, "" = path mode; "apps.example.com[:port]" =
	 * origin mode, one origin per hosted app (lib/hosting.h). */
	char hosting_domain[256];
	/* Members-only apps (lib/hosting.h): where nginx asks the gateway
	 * (KLANGK_GATEWAY_ADDRESS, IPv4:port, 127.0.0.1:8990) and the
	 * gateway's origin as browsers name it, where visitors sign in
	 * (KLANGK_GATEWAY_ORIGIN, "" = http://<gateway address> for nginx,
	 * http://<Host> for the gateway itself). */
	char gateway_address[64];
	char gateway_origin[512];
	char publish_address[64];  /* KLANGK_PUBLISH_ADDRESS, 127.0.0.1 */
	/* KLANGK_PUBLISH: "host" (the default) publishes each hosted port on
	 * its leased host port at the publish address, nginx's upstream;
	 * "none" publishes nothing: nginx reaches the container at its
	 * address on its tenant network, port 8000 + i (docs/operations.md).
	 * cfg_check sets publish_none from it. */
	char publish[8];
	bool publish_none;
	long idle_timeout;         /* KLANGK_IDLE_TIMEOUT_SECONDS, 1800 */
	char data_dir[4096];       /* KLANGK_DATA_DIR */
	char allowed_mount_roots[8192]; /* KLANGK_ALLOWED_MOUNT_ROOTS */
	char protected_paths[8192];  /* KLANGK_PROTECTED_PATHS (lib/mountpolicy.h) */
	char node_name[64];        /* KLANGK_NODE_NAME, "" = one node owns all */
	long node_capacity;        /* KLANGK_NODE_CAPACITY, 0 = ports / 5 */
	/* Restarts of a container that exits on its own (controller/
	 * crashloop.h), in seconds. */
	long restart_backoff_base; /* KLANGK_RESTART_BACKOFF_BASE, 10 */
	long restart_backoff_max;  /* KLANGK_RESTART_BACKOFF_MAX, 300 */
	long restart_backoff_reset;/* KLANGK_RESTART_BACKOFF_RESET, 600 */
	/* Workspace isolation, as written (docs/security.md); cfg_check
	 * parses them into iso. */
	char default_cpu[QUANTITY_MAX_LEN + 1];    /* KLANGK_DEFAULT_CPU, 2 */
	char default_memory[QUANTITY_MAX_LEN + 1]; /* KLANGK_DEFAULT_MEMORY, 8Gi */
	long default_pids;                         /* KLANGK_DEFAULT_PIDS, 16384 */
	char max_cpu[QUANTITY_MAX_LEN + 1];        /* KLANGK_MAX_CPU, "" = no cap */
	char max_memory[QUANTITY_MAX_LEN + 1];     /* KLANGK_MAX_MEMORY, "" */
	long max_pids;                             /* KLANGK_MAX_PIDS, 0 = no cap */
	char cap_drop[1024];       /* KLANGK_CAP_DROP, see CFG_DEFAULT_CAP_DROP */
	char userns[16];           /* KLANGK_USERNS: off | auto */
	char tmp_size[QUANTITY_MAX_LEN + 1];       /* KLANGK_TMP_SIZE, 1Gi */
	char egress_deny[4096];    /* KLANGK_EGRESS_DENY, CIDRs, "" */
	char egress_firewall[16];  /* KLANGK_EGRESS_FIREWALL: nft | off */
	struct cfg_isolation iso;  /* derived by cfg_check */
};

/* Dropped unless KLANGK_CAP_DROP says otherwise ("none" drops nothing,
 * "ALL" everything): raw packets (ARP and IP spoofing on the bridge),
 * device nodes, audit records, chroot and file capabilities. */
#define CFG_DEFAULT_CAP_DROP "AUDIT_WRITE,MKNOD,NET_RAW,SETFCAP,SYS_CHROOT"

/* Fill from the environment with defaults; validates each value. */
int cfg_from_env(struct cfg *c, struct err *e);
/* Validate the whole (after flags were applied); fills derived defaults. */
int cfg_check(struct cfg *c, struct err *e);

/*
 * Apply a configuration file of NAME=value lines (the environment
 * variables' names; '#' comments and blank lines allowed) on top of c.
 * Unknown names and bad values are errors naming the file and line; on
 * error c is unchanged.  Used at start and on SIGHUP (build, validate, swap).
 */
int cfg_load_file(struct cfg *c, const char *path, struct err *e);

/*
 * The limits a workspace's container gets: each field of spec.resources
 * (0 = unset) or else the operator's default; no swap beyond the memory
 * (memory_swap = memory).  A value over the operator's cap or under what
 * the engines accept is refused with every such problem in e, one line
 * each, naming the field ("spec.resources.memory: 64Gi is over the cap
 * 16Gi (KLANGK_MAX_MEMORY)"); the controller reports it as Stalled.
 * Pure: reads c->iso only.
 */
int cfg_resolve_resources(const struct cfg *c, const struct ws_resources *spec,
			  struct engine_resources *out, struct err *e);

/* Parse one CIDR ("10.0.0.0/8", "fd00::/8", or an address alone: a /32 or
 * /128).  Host bits set are refused (-EINVAL), as an ambiguous intent. */
int cfg_parse_cidr(const char *s, struct cfg_cidr *out);

/* Strict integer parsing: the whole string, within [min, max]. */
int cfg_parse_long(const char *s, long min, long max, long *out);
/* Copy s into dst of size n; -ENAMETOOLONG if it does not fit. */
int cfg_copy(char *dst, size_t n, const char *s);

bool cfg_is_base_path(const char *s);
/* "http(s)://host[:port]": lowercase letters, digits, '.' and '-' in the
 * host, no path (an origin as browsers name it; written into nginx's
 * configuration, so nothing else). */
bool cfg_is_origin(const char *s);
/* "a.b.c.d:port", an IPv4 literal and a port 1..65535. */
bool cfg_is_ipv4_port(const char *s);
bool cfg_is_hostname(const char *s);

#endif
