/* codec — YAML ⇄ JSON through libyaml and jansson (see codec.h). */
#include "codec.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct anchor {
	char *name;
	json_t *value;   /* owned reference */
	size_t nodes;    /* size of the subtree, for the alias budget */
};

struct loader {
	yaml_parser_t parser;
	struct anchor *anchors;
	size_t n_anchors;
	size_t nodes;      /* nodes in the current document, aliases expanded */
	struct err *e;
	const char *data;  /* the input, for positions of encoding errors */
	size_t len;
};

static void set_mark_error(struct loader *l, const yaml_mark_t *m,
			   const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	err_set(l->e, "line %zu column %zu: %s", m->line + 1, m->column + 1, msg);
}

static void clear_anchors(struct loader *l)
{
	for (size_t i = 0; i < l->n_anchors; i++) {
		free(l->anchors[i].name);
		json_decref(l->anchors[i].value);
	}
	free(l->anchors);
	l->anchors = NULL;
	l->n_anchors = 0;
}

static int add_anchor(struct loader *l, const char *name, json_t *v,
		      size_t nodes)
{
	struct anchor *a;

	/* A later anchor of the same name shadows the earlier one. */
	a = realloc(l->anchors, (l->n_anchors + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	l->anchors = a;
	a[l->n_anchors].name = strdup(name);
	if (!a[l->n_anchors].name)
		return -ENOMEM;
	a[l->n_anchors].value = json_incref(v);
	a[l->n_anchors].nodes = nodes;
	l->n_anchors++;
	return 0;
}

static int next_event(struct loader *l, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&l->parser, ev)) {
		const char *prob = l->parser.problem ? l->parser.problem : "syntax error";

		if (l->parser.error == YAML_READER_ERROR) {
			/* The reader (encoding errors) knows only the byte
			 * offset: turn it into a line and column. */
			size_t line = 1, col = 1, off = l->parser.problem_offset;

			for (size_t i = 0; i < off && i < l->len; i++) {
				col++;
				if (l->data[i] == '\n') {
					line++;
					col = 1;
				}
			}
			err_set(l->e, "line %zu column %zu: %s", line, col, prob);
		} else if (l->parser.context)
			err_set(l->e, "line %zu column %zu: %s %s",
				l->parser.problem_mark.line + 1,
				l->parser.problem_mark.column + 1, prob,
				l->parser.context);
		else
			err_set(l->e, "line %zu column %zu: %s",
				l->parser.problem_mark.line + 1,
				l->parser.problem_mark.column + 1, prob);
		return -EINVAL;
	}
	return 0;
}

static bool is_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Resolve a plain (unquoted, untagged) scalar by the YAML 1.2 core schema. */
static json_t *resolve_plain(const char *s, size_t len)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	static const char *const infs[] = { ".inf", ".Inf", ".INF", "+.inf",
					    "+.Inf", "+.INF", NULL };
	static const char *const ninfs[] = { "-.inf", "-.Inf", "-.INF", NULL };
	static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
	char *end;

	if (strlen(s) != len)  /* an embedded NUL: keep it a string */
		return json_stringn(s, len);
	if (is_one_of(s, nulls))
		return json_null();
	if (is_one_of(s, trues))
		return json_true();
	if (is_one_of(s, falses))
		return json_false();
	if (is_one_of(s, infs) || is_one_of(s, ninfs) || is_one_of(s, nans))
		/* JSON has no infinities or NaN: keep the text. */
		return json_string(s);
	/* Integers: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ */
	{
		const char *p = s, *digits = "0123456789";
		int base = 10;
		long long v;

		if (strncmp(s, "0o", 2) == 0) {
			p = s + 2;
			base = 8;
			digits = "01234567";
		} else if (strncmp(s, "0x", 2) == 0) {
			p = s + 2;
			base = 16;
			digits = "0123456789abcdefABCDEF";
		} else if (*p == '-' || *p == '+') {
			p++;
		}
		if (*p && strspn(p, digits) == strlen(p)) {
			errno = 0;
			v = strtoll(base == 10 ? s : p, &end, base);
			if (errno == ERANGE)
				return json_string(s); /* too big for us: text */
			return json_integer(v);
		}
	}
	/* Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	{
		const char *p = s;
		bool digits = false, dot = false;

		if (*p == '-' || *p == '+')
			p++;
		while ((*p >= '0' && *p <= '9') || (*p == '.' && !dot)) {
			if (*p == '.')
				dot = true;
			else
				digits = true;
			p++;
		}
		if (digits && (*p == 'e' || *p == 'E')) {
			p++;
			if (*p == '-' || *p == '+')
				p++;
			if (!(*p >= '0' && *p <= '9'))
				return json_stringn(s, len);
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (digits && *p == '\0') {
			double d = strtod(s, &end);

			if (*end == '\0' && isfinite(d))
				return json_real(d);
		}
	}
	return json_stringn(s, len);
}

static json_t *scalar_value(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;

	if (tag) {
		if (strcmp(tag, YAML_STR_TAG) == 0)
			return json_stringn(s, len);
		if (strcmp(tag, YAML_NULL_TAG) == 0)
			return json_null();
		/* Other explicit tags resolve like plain scalars. */
		return resolve_plain(s, len);
	}
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, len);
	return resolve_plain(s, len);
}

static int parse_node(struct loader *l, yaml_event_t *ev, int depth,
		      json_t **out, size_t *nodes);

/* Parse the node whose first event is ev (consumed by the caller). */
static int parse_node(struct loader *l, yaml_event_t *ev, int depth,
		      json_t **out, size_t *nodes)
{
	const char *anchor = NULL;
	json_t *v = NULL;
	size_t my_nodes = 1;
	int r = 0;

	if (depth > CODEC_MAX_DEPTH) {
		set_mark_error(l, &ev->start_mark, "nesting deeper than %s levels",
			       "64");
		return -E2BIG;
	}
	if (++l->nodes > CODEC_MAX_NODES) {
		set_mark_error(l, &ev->start_mark, "%s",
			       "document has too many nodes (after expanding aliases)");
		return -E2BIG;
	}

	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		struct anchor *a = NULL;

		for (size_t i = l->n_anchors; i-- > 0;)
			if (strcmp(l->anchors[i].name, name) == 0) {
				a = &l->anchors[i];
				break;
			}
		if (!a) {
			set_mark_error(l, &ev->start_mark, "unknown alias *%s", name);
			return -EINVAL;
		}
		/* The budget counts the alias as a full copy of its target,
		 * which it becomes once serialised. */
		l->nodes += a->nodes;
		if (l->nodes > CODEC_MAX_NODES) {
			set_mark_error(l, &ev->start_mark, "%s",
				       "aliases expand past the document node limit");
			return -E2BIG;
		}
		/* A deep copy keeps later edits of one place from showing up
		 * in another; the budget above keeps that copy bounded. */
		v = json_deep_copy(a->value);
		if (!v)
			return -ENOMEM;
		*out = v;
		*nodes = a->nodes + 1;
		return 0;
	}
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		v = scalar_value(ev);
		if (!v)
			return -ENOMEM;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		v = json_array();
		if (!v)
			return -ENOMEM;
		for (;;) {
			yaml_event_t child;
			json_t *cv = NULL;
			size_t cn = 0;

			r = next_event(l, &child);
			if (r < 0)
				goto fail;
			if (child.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&child);
				break;
			}
			r = parse_node(l, &child, depth + 1, &cv, &cn);
			yaml_event_delete(&child);
			if (r < 0)
				goto fail;
			my_nodes += cn;
			if (json_array_append_new(v, cv) < 0) {
				r = -ENOMEM;
				goto fail;
			}
		}
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		v = json_object();
		if (!v)
			return -ENOMEM;
		for (;;) {
			yaml_event_t kev, vev;
			json_t *cv = NULL;
			size_t cn = 0;
			char *key;

			r = next_event(l, &kev);
			if (r < 0)
				goto fail;
			if (kev.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&kev);
				break;
			}
			if (kev.type != YAML_SCALAR_EVENT) {
				set_mark_error(l, &kev.start_mark, "%s",
					       "mapping keys must be scalars");
				yaml_event_delete(&kev);
				r = -EINVAL;
				goto fail;
			}
			if (strlen((const char *)kev.data.scalar.value) !=
			    kev.data.scalar.length) {
				set_mark_error(l, &kev.start_mark, "%s",
					       "mapping key contains a NUL character");
				yaml_event_delete(&kev);
				r = -EINVAL;
				goto fail;
			}
			key = strdup((const char *)kev.data.scalar.value);
			if (!key) {
				yaml_event_delete(&kev);
				r = -ENOMEM;
				goto fail;
			}
			if (json_object_get(v, key)) {
				set_mark_error(l, &kev.start_mark,
					       "duplicate key \"%s\"", key);
				free(key);
				yaml_event_delete(&kev);
				r = -EINVAL;
				goto fail;
			}
			yaml_event_delete(&kev);
			r = next_event(l, &vev);
			if (r < 0) {
				free(key);
				goto fail;
			}
			r = parse_node(l, &vev, depth + 1, &cv, &cn);
			yaml_event_delete(&vev);
			if (r < 0) {
				free(key);
				goto fail;
			}
			my_nodes += cn;
			r = json_object_set_new(v, key, cv);
			free(key);
			if (r < 0) {
				r = -ENOMEM;
				goto fail;
			}
		}
		break;
	default:
		set_mark_error(l, &ev->start_mark, "%s", "unexpected YAML event");
		return -EINVAL;
	}
	if (anchor) {
		r = add_anchor(l, anchor, v, my_nodes);
		if (r < 0)
			goto fail;
	}
	*out = v;
	*nodes = my_nodes;
	return 0;
fail:
	json_decref(v);
	return r;
}

void codec_docs_clear(struct codec_docs *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		json_decref(d->docs[i].value);
	free(d->docs);
	d->docs = NULL;
	d->n = 0;
}

int codec_yaml_load(const char *data, size_t len, struct codec_docs *out,
		    struct err *e)
{
	struct loader l = { .e = e, .data = data, .len = len };
	struct codec_docs acc = { 0 };
	yaml_event_t ev;
	int r = 0;

	if (!yaml_parser_initialize(&l.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)data, len);
	/* Reject anything that is not UTF-8 early (libyaml would also accept
	 * UTF-16 with a BOM; our files are UTF-8). */
	yaml_parser_set_encoding(&l.parser, YAML_UTF8_ENCODING);

	for (;;) {
		size_t start_line, start_index;
		json_t *root = NULL;
		size_t nodes = 0;

		r = next_event(&l, &ev);
		if (r < 0)
			goto out;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue; /* STREAM_START */
		}
		start_line = ev.start_mark.line + 1;
		start_index = ev.start_mark.index;
		yaml_event_delete(&ev);
		l.nodes = 0;

		r = next_event(&l, &ev);
		if (r < 0)
			goto out;
		r = parse_node(&l, &ev, 0, &root, &nodes);
		yaml_event_delete(&ev);
		if (r < 0)
			goto out;
		r = next_event(&l, &ev);
		if (r < 0) {
			json_decref(root);
			goto out;
		}
		if (ev.end_mark.index - start_index > CODEC_MAX_DOC) {
			err_set(e, "line %zu: document larger than %u bytes",
				start_line, CODEC_MAX_DOC);
			yaml_event_delete(&ev);
			json_decref(root);
			r = -E2BIG;
			goto out;
		}
		yaml_event_delete(&ev); /* DOCUMENT_END */
		clear_anchors(&l);     /* anchors do not cross documents */
		if (json_is_null(root)) {
			json_decref(root);
			continue;
		}
		if (acc.n == CODEC_MAX_DOCS) {
			err_set(e, "more than %u documents in one stream", CODEC_MAX_DOCS);
			json_decref(root);
			r = -E2BIG;
			goto out;
		}
		{
			struct codec_doc *d = realloc(acc.docs, (acc.n + 1) * sizeof(*d));

			if (!d) {
				json_decref(root);
				r = -ENOMEM;
				goto out;
			}
			acc.docs = d;
			d[acc.n].value = root;
			d[acc.n].line = start_line;
			acc.n++;
		}
	}
	*out = acc;
	memset(&acc, 0, sizeof(acc));
out:
	codec_docs_clear(&acc);
	clear_anchors(&l);
	yaml_parser_delete(&l.parser);
	return r;
}

/* ---- emitter ---- */

static int write_handler(void *ud, unsigned char *buffer, size_t size)
{
	return buf_append(ud, buffer, size) == 0;
}

/* Would this string be read back as something other than a string? */
static bool needs_quotes(const char *s, size_t len)
{
	json_t *v;
	bool str;

	if (len == 0 || strlen(s) != len)
		return true;
	v = resolve_plain(s, len);
	str = json_is_string(v);
	json_decref(v);
	return !str;
}

static int emit(yaml_emitter_t *em, const json_t *v)
{
	yaml_event_t ev;
	char num[64];

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *cv;

		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
						    YAML_BLOCK_MAPPING_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return -EIO;
		json_object_foreach((json_t *)v, k, cv) {
			yaml_scalar_event_initialize(
				&ev, NULL, NULL, (yaml_char_t *)k, (int)strlen(k), 1, 1,
				needs_quotes(k, strlen(k)) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
							     YAML_ANY_SCALAR_STYLE);
			if (!yaml_emitter_emit(em, &ev) || emit(em, cv) < 0)
				return -EIO;
		}
		yaml_mapping_end_event_initialize(&ev);
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *cv;

		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						     YAML_BLOCK_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return -EIO;
		json_array_foreach((json_t *)v, i, cv)
			if (emit(em, cv) < 0)
				return -EIO;
		yaml_sequence_end_event_initialize(&ev);
		break;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);

		yaml_scalar_event_initialize(
			&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1,
			needs_quotes(s, len) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
					       YAML_ANY_SCALAR_STYLE);
		break;
	}
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		goto plain;
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		/* 2.0 printed as "2" would be read back as an integer. */
		if (!strpbrk(num, ".eEn"))
			snprintf(num + strlen(num), sizeof(num) - strlen(num), ".0");
		goto plain;
	case JSON_TRUE:
		snprintf(num, sizeof(num), "true");
		goto plain;
	case JSON_FALSE:
		snprintf(num, sizeof(num), "false");
		goto plain;
	default:
		snprintf(num, sizeof(num), "null");
plain:
		yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)num,
					     (int)strlen(num), 1, 1,
					     YAML_PLAIN_SCALAR_STYLE);
		break;
	}
	return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
}

int codec_yaml_dump(const json_t *v, struct buf *out, struct err *e)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int r = -EIO;

	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output(&em, write_handler, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if (!yaml_emitter_emit(&em, &ev))
		goto out;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	if (!yaml_emitter_emit(&em, &ev))
		goto out;
	if (emit(&em, v) < 0)
		goto out;
	yaml_document_end_event_initialize(&ev, 1);
	if (!yaml_emitter_emit(&em, &ev))
		goto out;
	yaml_stream_end_event_initialize(&ev);
	if (!yaml_emitter_emit(&em, &ev))
		goto out;
	r = 0;
out:
	if (r < 0)
		err_set(e, "YAML output: %s", em.problem ? em.problem : "failed");
	yaml_emitter_delete(&em);
	return r;
}
