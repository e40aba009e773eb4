/*
 * page — lookup of the bundled page files (see page.h).
 */
#include "page.h"

#include <string.h>

const struct page_asset *page_find(const char *path)
{
	for (size_t i = 0; i < page_n_assets; i++)
		if (strcmp(page_assets[i].path, path) == 0)
			return &page_assets[i];
	return NULL;
}
