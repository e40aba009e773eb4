/* nginx — validate, swap, reload, confirm; start or supervise (see nginx.h). */
#include "nginx.h"

#include "buf.h"
#include "http.h"
#include "log.h"
#include "pgen.h"
#include "stopper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX ".nginx.conf.tmp."
#define CONFIRM_TIMEOUT_MS 10000
/* A supervised nginx that ran this long before dying restarts at once. */
#define STABLE_MS 10000

static int path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int ngx_init(struct ngx *n)
{
	n->child = 0;
	n->stopping = false;
	n->starts = n->deaths = 0;
	if (n->stop_timeout_ms <= 0)
		n->stop_timeout_ms = 5000;
	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->wake_fd < 0)
		return -errno;
	if (pthread_mutex_init(&n->mu, NULL) != 0) {
		close(n->wake_fd);
		return -ENOMEM;
	}
	return 0;
}

void ngx_destroy(struct ngx *n)
{
	pthread_mutex_destroy(&n->mu);
	close(n->wake_fd);
}

int ngx_prepare(const struct ngx *n, struct err *e)
{
	static const char *const sub[] = { "tmp", "tmp/body", "tmp/proxy",
					   "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi",
					   NULL };
	char p[4096];
	struct dirent *de;
	DIR *d;

	if (mkdir(n->dir, 0755) < 0 && errno != EEXIST) {
		err_set(e, "%s: %s", n->dir, strerror(errno));
		return -errno;
	}
	for (const char *const *s = sub; *s; s++) {
		if (path(p, sizeof(p), n->dir, *s) < 0)
			return -ENAMETOOLONG;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err_set(e, "%s: %s", p, strerror(errno));
			return -errno;
		}
	}
	/* A crash between writing and renaming leaves a temp file behind. */
	d = opendir(n->dir);
	if (!d) {
		err_set(e, "%s: %s", n->dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
		    path(p, sizeof(p), n->dir, de->d_name) == 0)
			unlink(p);
	closedir(d);
	return 0;
}

/*
 * Run argv, capturing at most 16 KiB of its stderr+stdout into out.
 * Returns the exit status (0..255), or a negative errno.
 */
static int run(char *const argv[], struct buf *out)
{
	int pfd[2], status;
	pid_t pid;
	char chunk[4096];
	ssize_t k;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		sigset_t none;

		/* The parent may block signals; nginx must not inherit that. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	while ((k = read(pfd[0], chunk, sizeof(chunk))) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (out->len < 16384)
			buf_append(out, chunk, (size_t)k);
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Read the file at path (up to len - 1 bytes) into buf, NUL-terminated:
 * its length, or -1 (absent, unreadable or empty). */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	ssize_t k;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	k = read(fd, buf, len - 1);
	close(fd);
	if (k <= 0)
		return -1;
	buf[k] = '\0';
	return k;
}

/* read_small of /proc/PID/WHAT. */
static ssize_t read_proc(long pid, const char *what, char *buf, size_t len)
{
	char p[96];

	snprintf(p, sizeof(p), "/proc/%ld/%s", pid, what);
	return read_small(p, buf, len);
}

/* The running master's pid from nginx.pid, or 0. */
static pid_t pidfile_master(const struct ngx *n)
{
	char p[4096], b[32], cmd[256];
	long v;

	if (path(p, sizeof(p), n->dir, "nginx.pid") < 0 || read_small(p, b, sizeof(b)) < 0)
		return 0;
	b[strcspn(b, "\n")] = '\0';
	{
		char *end;

		errno = 0;
		v = strtol(b, &end, 10);
		if (errno || *end || v <= 1)
			return 0;
	}
	if (kill((pid_t)v, 0) < 0)
		return 0;
	/* A stale pid file may name a pid reused by another program: signal
	 * only an nginx. */
	if (read_proc(v, "cmdline", cmd, sizeof(cmd)) >= 0 && !strstr(cmd, "nginx"))
		return 0;
	return (pid_t)v;
}

int ngx_serving(const struct ngx *n, char *out, size_t len, struct err *e)
{
	struct http_client *h = NULL;
	struct buf body;
	char sock[4096];
	long status = 0;
	int r;

	if (path(sock, sizeof(sock), n->dir, "status.sock") < 0)
		return -ENAMETOOLONG;
	buf_init(&body, 4096);
	r = http_client_new(&h);
	if (r < 0)
		return r;
	{
		struct http_request req = {
			.method = "GET",
			.url = "http://proxy-gen/generation",
			.unix_socket = sock,
			.timeout_ms = 2000,
			.connect_timeout_ms = 1000,
			.max_body = 4096,
		};

		r = http_do(h, &req, &status, &body, e);
	}
	if (r == 0 && status != 200) {
		err_set(e, "nginx status endpoint: HTTP %ld", status);
		r = -EIO;
	}
	if (r == 0) {
		size_t l = body.len;

		while (l && (body.data[l - 1] == '\n' || body.data[l - 1] == '\r'))
			l--;
		if (l >= len) {
			r = -E2BIG;
		} else {
			memcpy(out, body.data, l);
			out[l] = '\0';
		}
	}
	if (r == -ECONNREFUSED || r == -EIO)
		r = r == -EIO ? r : -ENOENT;
	http_client_free(h);
	buf_free(&body);
	return r;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t ngx_master(struct ngx *n)
{
	pid_t pid;

	if (n->mode != NGX_MODE_SUPERVISE)
		return pidfile_master(n);
	pthread_mutex_lock(&n->mu);
	pid = n->child;
	pthread_mutex_unlock(&n->mu);
	return pid;
}

int ngx_live_generation(const struct ngx *n, char *out, size_t len)
{
	char p[4096], head[512];
	ssize_t k;
	int fd;

	if (path(p, sizeof(p), n->dir, "nginx.conf") < 0)
		return -ENAMETOOLONG;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	k = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (k <= 0)
		return -ENOENT;
	head[k] = '\0';
	return pgen_file_generation(head, (size_t)k, out, len);
}

static void wake(struct ngx *n)
{
	uint64_t one = 1;

	if (write(n->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is already non-zero: the wake-up is pending. */
	}
}

/*
 * A master that was killed leaves its unix socket file behind, and a new
 * master then cannot bind it: remove it before starting one (only when no
 * master runs on the pid file).
 */
static void clear_stale_socket(const struct ngx *n)
{
	char p[4096];

	if (pidfile_master(n) == 0 && path(p, sizeof(p), n->dir, PGEN_STATUS_SOCK) == 0)
		unlink(p);
}

/*
 * Fork and exec the supervised master (n->mu held): in the foreground, in
 * its own process group (so that workers orphaned by a crashed master can
 * be killed), and told to go when the thread that forked it — one that
 * lives as long as proxy-gen — dies.
 */
static int spawn_locked(struct ngx *n, struct err *e)
{
	char prefix[4096], errlog[4096], live[4096];
	char *argv[] = { (char *)n->bin, "-g", "daemon off;", "-p", prefix, "-e",
			 errlog, "-c", live, NULL };
	pid_t parent = getpid(), pid;

	snprintf(prefix, sizeof(prefix), "%s/", n->dir);
	if (path(errlog, sizeof(errlog), n->dir, "error.log") < 0 ||
	    path(live, sizeof(live), n->dir, "nginx.conf") < 0)
		return -ENAMETOOLONG;
	clear_stale_socket(n);
	pid = fork();
	if (pid < 0) {
		err_set(e, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		sigset_t none;
		int fd;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	n->child = pid;
	n->starts++;
	wake(n);
	return 0;
}

/* Wait up to ms (-1: forever) for fd to become readable; 1, 0 or -errno. */
static int wait_fd(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&pfd, 1, ms);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static void drain_wake(struct ngx *n)
{
	uint64_t v;

	if (read(n->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending. */
	}
}

/* Stop the supervised master pid: graceful, then fast, then kill. */
static void stop_master(struct ngx *n, pid_t pid, int pidfd)
{
	int status;

	kill(pid, SIGQUIT);
	if (wait_fd(pidfd, (int)n->stop_timeout_ms) == 0) {
		log_warn("nginx did not stop gracefully in time; terminating it", NULL);
		kill(pid, SIGTERM);
		if (wait_fd(pidfd, 5000) == 0)
			kill(-pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL); /* workers left behind, if any */
}

void ngx_supervise(struct ngx *n)
{
	long long started = 0;
	int failures = 0;

	for (;;) {
		struct pollfd pfd[2];
		char st[32];
		int pidfd, status;
		pid_t pid;
		bool stopping;

		pthread_mutex_lock(&n->mu);
		pid = n->child;
		stopping = n->stopping;
		pthread_mutex_unlock(&n->mu);
		if (pid <= 0) {
			if (stopping)
				return;
			wait_fd(n->wake_fd, -1);
			drain_wake(n);
			continue;
		}
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			/* Already reaped cannot be (only we reap it): treat as
			 * dead and look again. */
			log_error("pidfd_open of nginx failed", "error", strerror(errno), NULL);
			pthread_mutex_lock(&n->mu);
			n->child = 0;
			pthread_mutex_unlock(&n->mu);
			continue;
		}
		if (started == 0)
			started = now_ms();
		if (stopping) {
			stop_master(n, pid, pidfd);
			close(pidfd);
			pthread_mutex_lock(&n->mu);
			n->child = 0;
			pthread_mutex_unlock(&n->mu);
			return;
		}
		pfd[0] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = n->wake_fd, .events = POLLIN };
		while (poll(pfd, 2, -1) < 0 && errno == EINTR)
			;
		if (!(pfd[0].revents & POLLIN)) {
			drain_wake(n);
			close(pidfd);
			continue; /* woken: look at the state again */
		}
		close(pidfd);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		/* Workers of a master that crashed keep the listening sockets:
		 * they go with it. */
		kill(-pid, SIGKILL);
		if (WIFEXITED(status))
			snprintf(st, sizeof(st), "exit %d", WEXITSTATUS(status));
		else
			snprintf(st, sizeof(st), "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		pthread_mutex_lock(&n->mu);
		n->child = 0;
		stopping = n->stopping;
		if (!stopping)
			n->deaths++;
		pthread_mutex_unlock(&n->mu);
		if (stopping)
			return;
		if (now_ms() - started >= STABLE_MS)
			failures = 0;
		{
			long d = stopper_backoff_ms(failures++, 200, 10000);
			char ds[32];

			snprintf(ds, sizeof(ds), "%ld", d);
			log_error("nginx exited unexpectedly; restarting it", "status", st,
				  "delay_ms", ds, NULL);
			/* A nap that ngx_shutdown cuts short. */
			if (wait_fd(n->wake_fd, (int)d) > 0)
				drain_wake(n);
		}
		pthread_mutex_lock(&n->mu);
		if (!n->stopping && n->child == 0) {
			struct err e = { "" };

			if (spawn_locked(n, &e) < 0)
				log_error("restarting nginx failed", "error", e.msg, NULL);
			started = now_ms();
		}
		pthread_mutex_unlock(&n->mu);
	}
}

void ngx_shutdown(struct ngx *n)
{
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_mutex_unlock(&n->mu);
	wake(n);
}

/* Signal the running nginx to load the live file, or start one. */
static int reload_or_start(struct ngx *n, const char *prefix, const char *errlog,
			   const char *live, struct err *e)
{
	struct buf out;
	pid_t pid;
	int r = 0;

	if (n->mode == NGX_MODE_SUPERVISE) {
		pthread_mutex_lock(&n->mu);
		if (n->stopping) {
			err_set(e, "stopping");
			r = -ECANCELED;
		} else if (n->child > 0) {
			if (kill(n->child, SIGHUP) < 0) {
				r = -errno;
				err_set(e, "reload nginx (pid %ld): %s", (long)n->child, strerror(errno));
			}
		} else {
			r = spawn_locked(n, e);
		}
		pthread_mutex_unlock(&n->mu);
		return r;
	}
	pid = pidfile_master(n);
	if (pid > 0) {
		if (kill(pid, SIGHUP) < 0) {
			err_set(e, "reload nginx (pid %ld): %s", (long)pid, strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (n->mode == NGX_MODE_EXTERNAL) {
		err_set(e, "no nginx running (pid file %s/nginx.pid) and starting it "
			   "is disabled (--no-start)", n->dir);
		return -ESRCH;
	}
	buf_init(&out, 32768);
	clear_stale_socket(n);
	{
		/* Daemonizes: run() returns once the master is in the background. */
		char *argv[] = { (char *)n->bin, "-p", (char *)prefix, "-e", (char *)errlog,
				 "-c", (char *)live, NULL };

		r = run(argv, &out);
	}
	if (r != 0) {
		err_set(e, "starting nginx failed: %s", out.data ? out.data : "");
		r = r < 0 ? r : -EIO;
	} else {
		pthread_mutex_lock(&n->mu);
		n->starts++;
		pthread_mutex_unlock(&n->mu);
	}
	buf_free(&out);
	return r;
}

/*
 * Draining the old workers.  A reload starts new workers before it tells
 * the old ones to stop, and until an old worker handles that it still
 * accepts connections on the shared listening socket with the old
 * configuration: a route that a new worker already served can 404 on the
 * next connection.  nginx sets the title "worker process is shutting down"
 * right before it closes its listening sockets, in the same step of its
 * single-threaded loop, so a worker with that title (or gone) accepts no
 * more.  The children of the master come from /proc (CONFIG_PROC_CHILDREN,
 * on in Debian's kernels); without it nothing is awaited.
 */
#define MAX_WORKERS 512

/* Is pid a worker of master m that still takes new connections? */
static bool worker_accepting(pid_t m, pid_t pid)
{
	char buf[128];
	const char *c;
	char st;
	long pp;

	/* "pid (comm) S ppid ...": comm may hold anything but ends at the
	 * last ')'. */
	if (read_proc(pid, "stat", buf, sizeof(buf)) < 0)
		return false;
	c = strrchr(buf, ')');
	if (!c || sscanf(c + 1, " %c %ld", &st, &pp) != 2 || pp != (long)m || st == 'Z')
		return false;
	if (read_proc(pid, "cmdline", buf, sizeof(buf)) < 0)
		return false;
	return strncmp(buf, "nginx: worker process", 21) == 0 && !strstr(buf, "shutting down");
}

/* The workers of master m that accept connections now, into out (up to
 * MAX_WORKERS); returns how many. */
static size_t accepting_workers(pid_t m, pid_t out[MAX_WORKERS])
{
	char what[64], buf[4096];
	size_t n = 0;

	if (m <= 0)
		return 0;
	snprintf(what, sizeof(what), "task/%ld/children", (long)m);
	if (read_proc(m, what, buf, sizeof(buf)) < 0)
		return 0;
	for (char *s = buf, *end; n < MAX_WORKERS; s = end) {
		long v = strtol(s, &end, 10);

		if (end == s)
			break;
		if (v > 0 && worker_accepting(m, (pid_t)v))
			out[n++] = (pid_t)v;
	}
	return n;
}

/* Wait until none of old[0..n) accepts connections, until deadline_ms. */
static int drain_old_workers(struct ngx *n, pid_t m, const pid_t *old, size_t cnt,
			     long long deadline_ms)
{
	for (;;) {
		size_t left = 0;

		for (size_t i = 0; i < cnt; i++)
			left += worker_accepting(m, old[i]);
		if (left == 0)
			return 0;
		if (n->cancel && *n->cancel)
			return -ECANCELED;
		if (now_ms() >= deadline_ms)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

int ngx_apply(struct ngx *n, const char *conf, size_t len,
	      const char *generation, enum ngx_stage *stage, struct err *e)
{
	char tmp[4096], live[4096], prefix[4096], errlog[4096];
	enum ngx_stage failed = NGX_STAGE_WRITE;
	pid_t master = 0, old[MAX_WORKERS];
	size_t n_old = 0;
	struct buf out;
	int fd, r;

	buf_init(&out, 32768);
	snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "%ld", n->dir, (long)getpid());
	if (path(live, sizeof(live), n->dir, "nginx.conf") < 0 ||
	    path(errlog, sizeof(errlog), n->dir, "error.log") < 0) {
		r = -ENAMETOOLONG;
		goto out;
	}
	snprintf(prefix, sizeof(prefix), "%s/", n->dir);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		err_set(e, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	r = write_all(fd, conf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0) {
		err_set(e, "%s: %s", tmp, strerror(-r));
		goto fail;
	}

	/* Validate exactly the bytes that will be renamed into place. */
	failed = NGX_STAGE_VALIDATE;
	{
		char *argv[] = { (char *)n->bin, "-t", "-q", "-p", prefix, "-e", errlog,
				 "-c", tmp, NULL };

		r = run(argv, &out);
	}
	if (r != 0) {
		err_set(e, "nginx -t refused the new configuration (old one keeps "
			   "serving): %s", out.data ? out.data : "(no output)");
		r = r < 0 ? r : -EINVAL;
		goto fail;
	}
	failed = NGX_STAGE_SWAP;
	if (rename(tmp, live) < 0) {
		r = -errno;
		err_set(e, "rename %s: %s", live, strerror(errno));
		goto fail;
	}
	fsync_dir(n->dir);

	/* The workers that will have to stop taking connections before the
	 * new generation is the only one answering. */
	master = ngx_master(n);
	n_old = accepting_workers(master, old);

	failed = NGX_STAGE_RELOAD;
	r = reload_or_start(n, prefix, errlog, live, e);
	if (r < 0)
		goto out;

	/* Confirm: poll the status endpoint (there is no event for "the new
	 * workers are up") with a deadline. */
	failed = NGX_STAGE_CONFIRM;
	{
		long long deadline = now_ms() + CONFIRM_TIMEOUT_MS;
		char serving[128] = "";
		struct err se = { "" };

		r = -ETIMEDOUT;
		while (now_ms() < deadline) {
			if (n->cancel && *n->cancel) {
				r = -ECANCELED;
				break;
			}
			if (ngx_serving(n, serving, sizeof(serving), &se) == 0 &&
			    strcmp(serving, generation) == 0) {
				r = 0;
				break;
			}
			usleep(20000);
		}
		if (r == 0)
			r = drain_old_workers(n, master, old, n_old, deadline);
		if (r == -ECANCELED)
			err_set(e, "stopped while waiting for nginx to confirm generation %s",
				generation);
		else if (r < 0 && strcmp(serving, generation) == 0)
			err_set(e, "nginx serves generation %s, but its old workers still "
				   "took connections after %d ms", generation, CONFIRM_TIMEOUT_MS);
		else if (r < 0)
			err_set(e, "nginx did not confirm generation %s within %d ms "
				   "(serving \"%s\")", generation, CONFIRM_TIMEOUT_MS, serving);
	}
	goto out;
fail:
	unlink(tmp);
out:
	if (stage)
		*stage = r < 0 ? failed : NGX_STAGE_NONE;
	buf_free(&out);
	return r;
}
