/* nginx — validate, swap, reload, confirm (see nginx.h). */
#include "nginx.h"

#include "buf.h"
#include "http.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX ".nginx.conf.tmp."
#define CONFIRM_TIMEOUT_MS 10000

static int path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
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

/* The running master's pid from nginx.pid, or 0. */
static pid_t master_pid(const struct ngx *n)
{
	char p[4096], b[32];
	ssize_t k;
	long v;
	int fd;

	if (path(p, sizeof(p), n->dir, "nginx.pid") < 0)
		return 0;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	k = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (k <= 0)
		return 0;
	b[k] = '\0';
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

int ngx_apply(const struct ngx *n, const char *conf, size_t len,
	      const char *generation, struct err *e)
{
	char tmp[4096], live[4096], prefix[4096], errlog[4096];
	struct buf out;
	pid_t pid;
	int fd, r;

	buf_init(&out, 32768);
	snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "%ld", n->dir, (long)getpid());
	if (path(live, sizeof(live), n->dir, "nginx.conf") < 0 ||
	    path(errlog, sizeof(errlog), n->dir, "error.log") < 0)
		return -ENAMETOOLONG;
	snprintf(prefix, sizeof(prefix), "%s/", n->dir);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_set(e, "%s: %s", tmp, strerror(errno));
		return -errno;
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
	if (rename(tmp, live) < 0) {
		r = -errno;
		err_set(e, "rename %s: %s", live, strerror(errno));
		goto fail;
	}
	fsync_dir(n->dir);

	pid = master_pid(n);
	if (pid > 0) {
		if (kill(pid, SIGHUP) < 0) {
			r = -errno;
			err_set(e, "reload nginx (pid %ld): %s", (long)pid, strerror(errno));
			goto out;
		}
	} else if (n->may_start) {
		char *argv[] = { (char *)n->bin, "-p", prefix, "-e", errlog, "-c", live,
				 NULL };

		buf_reset(&out);
		r = run(argv, &out);
		if (r != 0) {
			err_set(e, "starting nginx failed: %s", out.data ? out.data : "");
			r = r < 0 ? r : -EIO;
			goto out;
		}
	} else {
		err_set(e, "no nginx running (pid file %s/nginx.pid) and starting it "
			   "is disabled", n->dir);
		r = -ESRCH;
		goto out;
	}

	/* Confirm: poll the status endpoint (there is no event for "the new
	 * workers are up") with a deadline. */
	{
		long long deadline = now_ms() + CONFIRM_TIMEOUT_MS;
		char serving[128] = "";
		struct err se = { "" };

		r = -ETIMEDOUT;
		while (now_ms() < deadline) {
			if (ngx_serving(n, serving, sizeof(serving), &se) == 0 &&
			    strcmp(serving, generation) == 0) {
				r = 0;
				break;
			}
			usleep(20000);
		}
		if (r < 0)
			err_set(e, "nginx did not confirm generation %s within %d ms "
				   "(serving \"%s\")", generation, CONFIRM_TIMEOUT_MS, serving);
	}
	goto out;
fail:
	unlink(tmp);
out:
	buf_free(&out);
	return r;
}
