/*
 * page — the terminal page's static files, bundled into the binary at
 * build time (gateway/web/build.js writes build/gateway/page_assets.c from
 * gateway/web/src and the pinned xterm.js packages in
 * gateway/web/package-lock.json), so the gateway serves them from memory
 * and the page loads nothing from anywhere else.
 */
#ifndef KLANGK_PAGE_H
#define KLANGK_PAGE_H

#include <stddef.h>

struct page_asset {
	const char *path;            /* "/", "/assets/app.js", ... */
	const char *type;            /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Defined by the generated page_assets.c. */
extern const struct page_asset page_assets[];
extern const size_t page_n_assets;

/* The asset at path (borrowed, static), or NULL. */
const struct page_asset *page_find(const char *path);

/* The headers every page response carries: what the page may load and
 * connect to (its own origin only), and that no other page may frame it. */
#define PAGE_CSP "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " \
		 "connect-src 'self'; img-src 'self' data:; font-src 'self'; " \
		 "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

#endif
