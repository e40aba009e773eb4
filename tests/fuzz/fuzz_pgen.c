/*
 * libFuzzer target: proxy rendering through the stable API
 * (pgen_routes_from_status, pgen_render).
 *
 * The input is "base path[|domain]\nJSON": the JSON object maps status
 * keys to status objects, as proxy-gen's cache does; a domain turns origin
 * mode on.  Whatever it holds, the rendering must not crash, every route it
 * writes must be a line of the strict form
 * "<12-32 lowercase hex>/<port> <upstream>:<port>;" for a port from 1 to
 * 65535, and in origin mode the domain must reach the file only as a
 * lowercase DNS name (dots escaped in the server_name regex) — nothing
 * free-form ever reaches nginx.conf.
 */
#include "pgen.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool route_line_ok(const char *l, size_t len)
{
	static const char tail[] = " 127.0.0.1:";
	size_t i = 8, id = 0, p1 = 0, p2 = 0;
	long a = 0, b = 0;

	if (len < 8 || memcmp(l, "        ", 8) != 0)
		return false;
	while (i < len && ((l[i] >= '0' && l[i] <= '9') || (l[i] >= 'a' && l[i] <= 'f')))
		i++, id++;
	if (id < 12 || id > 32 || i >= len || l[i++] != '/')
		return false;
	while (i < len && l[i] >= '0' && l[i] <= '9' && p1 < 6)
		a = a * 10 + (l[i++] - '0'), p1++;
	if (len - i < sizeof(tail) - 1 || memcmp(l + i, tail, sizeof(tail) - 1) != 0)
		return false;
	i += sizeof(tail) - 1;
	while (i < len && l[i] >= '0' && l[i] <= '9' && p2 < 6)
		b = b * 10 + (l[i++] - '0'), p2++;
	return i + 1 == len && l[i] == ';' && a == b && a >= 1 && a <= 65535;
}

/* Origin mode's server_name line: the fixed prefix, then labels of
 * [a-z0-9-] joined by escaped dots, then "$\";". */
static bool server_name_ok(const char *text)
{
	static const char pre[] = "server_name \"~^(?<klangk_id>[0-9a-f]{12,32})-"
				  "(?<klangk_port>[0-9]{1,5})\\.";
	const char *p = strstr(text, pre);

	if (!p)
		return false;
	for (p += sizeof(pre) - 1; *p != '$'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      (p[0] == '\\' && p[1] == '.' && p++)))
			return false;
	return strncmp(p, "$\";\n", 4) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	char base[300] = "";
	struct pgen_opts o = { .dir = "/srv/nginx", .listen_addr = "127.0.0.1",
			       .listen_port = 8995, .upstream_host = "127.0.0.1" };
	struct pgen_route *routes = NULL;
	size_t n = 0, skipped = 0, off;
	json_error_t jerr;
	json_t *st;
	struct buf out;

	if (!nl || (size_t)(nl - (const char *)data) >= sizeof(base))
		return 0;
	memcpy(base, data, (size_t)(nl - (const char *)data));
	o.base_path = base;
	if (strchr(base, '|')) {
		*strchr(base, '|') = '\0';
		o.domain = base + strlen(base) + 1;
		o.proto = "https";
	}
	off = (size_t)(nl - (const char *)data) + 1;
	st = json_loadb((const char *)data + off, size - off, 0, &jerr);
	if (!json_is_object(st)) {
		json_decref(st);
		return 0;
	}
	buf_init(&out, 64u * 1024 * 1024);
	if (pgen_routes_from_status(st, &routes, &n, &skipped) == 0 &&
	    pgen_render(&o, routes, n, "0123abcd", &out, NULL) == 0) {
		const char *m = strstr(out.data, "$klangk_upstream {\n");
		size_t lines = 0;

		if (!m)
			abort();
		m = strchr(m, '\n') + 1;
		m = strchr(m, '\n') + 1;   /* default "" */
		while (strncmp(m, "    }\n", 6) != 0) {
			const char *e = strchr(m, '\n');

			if (!e || !route_line_ok(m, (size_t)(e - m)))
				abort();
			lines++;
			m = e + 1;
		}
		if (lines != n || (o.domain && *o.domain && !server_name_ok(out.data)))
			abort();
	}
	free(routes);
	buf_free(&out);
	json_decref(st);
	return 0;
}
