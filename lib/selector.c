/* selector — label selectors (see selector.h). */
#include "selector.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SEL_MAX_TEXT 4096
#define SEL_MAX_REQS 64
#define SEL_MAX_VALUES 64

enum sel_op { OP_EQ, OP_NE, OP_EXISTS, OP_NOT_EXISTS, OP_IN, OP_NOTIN };

struct sel_req {
	char *key;
	enum sel_op op;
	char **values;
	size_t n_values;
};

struct selector {
	struct sel_req reqs[SEL_MAX_REQS];
	size_t n;
};

void selector_free(struct selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->reqs[i].key);
		for (size_t j = 0; j < s->reqs[i].n_values; j++)
			free(s->reqs[i].values[j]);
		free(s->reqs[i].values);
	}
	free(s);
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '/';
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Read a key or value word at *p into a new string (may be empty). */
static char *word(const char **p)
{
	const char *s = *p;
	char *w;

	while (word_char(**p))
		(*p)++;
	w = strndup(s, (size_t)(*p - s));
	return w;
}

static int add_value(struct sel_req *r, char *v)
{
	char **nv;

	if (!v)
		return -ENOMEM;
	if (r->n_values >= SEL_MAX_VALUES) {
		free(v);
		return -E2BIG;
	}
	nv = realloc(r->values, (r->n_values + 1) * sizeof(*nv));
	if (!nv) {
		free(v);
		return -ENOMEM;
	}
	r->values = nv;
	r->values[r->n_values++] = v;
	return 0;
}

/* Parse one requirement at *p into r. */
static int parse_req(const char **p, struct sel_req *r, struct err *e)
{
	const char *q;
	int ret;

	*p = skip_ws(*p);
	if (**p == '!') {
		(*p)++;
		*p = skip_ws(*p);
		r->op = OP_NOT_EXISTS;
		r->key = word(p);
		if (!r->key)
			return -ENOMEM;
		if (!*r->key) {
			err_set(e, "a key is needed after '!'");
			return -EINVAL;
		}
		return 0;
	}
	r->key = word(p);
	if (!r->key)
		return -ENOMEM;
	if (!*r->key) {
		err_set(e, "a key is needed at \"%.40s\"", *p);
		return -EINVAL;
	}
	*p = skip_ws(*p);
	if (**p == ',' || **p == '\0') {
		r->op = OP_EXISTS;
		return 0;
	}
	if ((*p)[0] == '!' && (*p)[1] == '=') {
		r->op = OP_NE;
		*p += 2;
	} else if ((*p)[0] == '=' && (*p)[1] == '=') {
		r->op = OP_EQ;
		*p += 2;
	} else if ((*p)[0] == '=') {
		r->op = OP_EQ;
		*p += 1;
	} else if (strncmp(*p, "in", 2) == 0 || strncmp(*p, "notin", 5) == 0) {
		r->op = (*p)[0] == 'i' ? OP_IN : OP_NOTIN;
		*p += r->op == OP_IN ? 2 : 5;
		*p = skip_ws(*p);
		if (**p != '(') {
			err_set(e, "'(' expected after \"%s\"", r->op == OP_IN ? "in" : "notin");
			return -EINVAL;
		}
		(*p)++;
		for (;;) {
			*p = skip_ws(*p);
			if ((ret = add_value(r, word(p))) < 0) {
				if (ret == -E2BIG)
					err_set(e, "more than %d values", SEL_MAX_VALUES);
				return ret;
			}
			*p = skip_ws(*p);
			if (**p == ',') {
				(*p)++;
				continue;
			}
			if (**p == ')') {
				(*p)++;
				return 0;
			}
			err_set(e, "',' or ')' expected at \"%.40s\"", *p);
			return -EINVAL;
		}
	} else {
		err_set(e, "unexpected \"%.40s\" after key \"%s\"", *p, r->key);
		return -EINVAL;
	}
	*p = skip_ws(*p);
	q = *p;
	ret = add_value(r, word(p));
	if (ret < 0)
		return ret;
	if (*p == q && **p != ',' && **p != '\0' && **p != ' ') {
		err_set(e, "bad value at \"%.40s\"", *p);
		return -EINVAL;
	}
	return 0;
}

int selector_parse(const char *text, struct selector **out, struct err *e)
{
	struct selector *s;
	const char *p = text;
	int r = 0;

	if (strlen(text) > SEL_MAX_TEXT) {
		err_set(e, "selector: longer than %d bytes", SEL_MAX_TEXT);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (*skip_ws(p) == '\0') {
		err_set(e, "selector: empty");
		r = -EINVAL;
		goto out;
	}
	for (;;) {
		if (s->n == SEL_MAX_REQS) {
			err_set(e, "selector: more than %d requirements", SEL_MAX_REQS);
			r = -EINVAL;
			goto out;
		}
		r = parse_req(&p, &s->reqs[s->n++], e);
		if (r < 0)
			goto out;
		p = skip_ws(p);
		if (*p == '\0')
			break;
		if (*p != ',') {
			err_set(e, "',' expected at \"%.40s\"", p);
			r = -EINVAL;
			goto out;
		}
		p++;
	}
out:
	if (r < 0) {
		if (r == -EINVAL)
			err_prefix(e, "selector \"%.200s\"", text);
		selector_free(s);
		return r;
	}
	*out = s;
	return 0;
}

static bool in_values(const struct sel_req *r, const char *v)
{
	for (size_t i = 0; i < r->n_values; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

bool selector_match(const struct selector *s, const json_t *labels)
{
	if (!s)
		return true;
	for (size_t i = 0; i < s->n; i++) {
		const struct sel_req *r = &s->reqs[i];
		const char *v = json_string_value(json_object_get(labels, r->key));
		bool ok;

		switch (r->op) {
		case OP_EQ:
		case OP_IN:
			ok = v && in_values(r, v);
			break;
		case OP_NE:
		case OP_NOTIN:
			ok = !v || !in_values(r, v);
			break;
		case OP_EXISTS:
			ok = v != NULL;
			break;
		default:
			ok = v == NULL;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}
