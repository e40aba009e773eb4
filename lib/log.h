/*
 * log — structured logs for the daemons, in logfmt (or JSON with a flag).
 *
 * A log line is a message plus key/value pairs given as a NULL-terminated
 * list of strings:  log_info("reconciled", "workspace", key, "phase", p, NULL);
 * Values are quoted and escaped as logfmt requires, so an error message full
 * of spaces and quotes still yields one parseable line.  Thread-safe: each
 * line is written with one write(2).
 */
#ifndef KLANGK_LOG_H
#define KLANGK_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_setup(enum log_level min, int json);
/* Parse "debug|info|warn|error"; returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);

/* Would a line at lvl be written?  For callers whose values cost work. */
int log_enabled(enum log_level lvl);

void log_emit(enum log_level lvl, const char *msg, ...)
	__attribute__((sentinel));

#define log_debug(...) log_emit(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_emit(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_emit(LOG_ERROR, __VA_ARGS__)

#endif
