#!/usr/bin/env node
// check.js — validates manifests with ajv (a real JSON-Schema validator)
// against the CRD's openAPIV3Schema, to compare its verdicts with klangkc's
// (tests/e2e/test_cli_schema.sh).
//
//   node check.js [--summary] CRD.yaml FILE...
//
// Prints one line per document: "FILE[i] valid" or "FILE[i] invalid: why",
// and "FILE invalid: why" for a file that cannot be read as YAML.  With
// --summary, one line per file: "FILE unreadable", "FILE valid N" (N
// documents) or "FILE invalid I J..." (the indexes of the invalid ones).
//
// The CRD's schema is used as Kubernetes uses it, with what the API server
// adds outside the schema made explicit here:
//  - unknown fields are errors (kubectl's default strict field validation):
//    every object schema with properties gets additionalProperties: false;
//  - x-kubernetes-list-type: map means unique keys (ajv-keywords'
//    uniqueItemProperties);
//  - x-kubernetes-int-or-string: true means an integer or a string (the
//    type ajv is given; minimum then applies to the one, pattern to the other);
//  - a null field is pruned before validation (all fields are non-nullable);
//  - apiVersion and kind must name the resource; status is ignored on writes
//    (status subresource);
//  - ObjectMeta: name and namespace are DNS labels, label and annotation keys
//    are qualified names, label values at most 63 characters, known fields only.
//  - a document is read as UTF-8 (invalid bytes refused), YAML 1.2, unique
//    keys, at most 1 MiB, aliases bounded.
'use strict';
const fs = require('fs');
const YAML = require('yaml');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const addKeywords = require('ajv-keywords');

const MAX_DOC = 1024 * 1024;

const QNAME = '^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?' +
	'[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const DNS_LABEL = { type: 'string', maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' };

function convert(s) {
	if (Array.isArray(s)) return s.map(convert);
	if (s === null || typeof s !== 'object') return s;
	const out = {};
	for (const [k, v] of Object.entries(s)) {
		if (k === 'default' || k === 'description' || k === 'nullable') continue;
		if (k.startsWith('x-kubernetes-')) continue;
		out[k] = k === 'properties'
			? Object.fromEntries(Object.entries(v).map(([p, ps]) => [p, convert(ps)]))
			: convert(v);
	}
	if (s['x-kubernetes-int-or-string'])
		out.type = ['integer', 'string'];
	if (s['x-kubernetes-list-type'] === 'map')
		out.uniqueItemProperties = s['x-kubernetes-list-map-keys'];
	if (s.type === 'object' && s.properties && !('additionalProperties' in s) &&
	    !s['x-kubernetes-preserve-unknown-fields'])
		out.additionalProperties = false;
	return out;
}

function schemaOf(crdText) {
	const crd = YAML.parse(crdText);
	const version = crd.spec.versions.find((v) => v.storage);
	const root = convert(version.schema.openAPIV3Schema);
	const group = crd.spec.group, kind = crd.spec.names.kind;
	root.required = ['apiVersion', 'kind', 'metadata'];
	root.properties.apiVersion = { const: `${group}/${version.name}` };
	root.properties.kind = { const: kind };
	root.properties.status = {};
	root.properties.metadata = {
		type: 'object',
		required: ['name'],
		additionalProperties: false,
		properties: {
			// The CRD's own restriction of metadata.name ...
			...root.properties.metadata.properties,
			// ... and the API server's ObjectMeta rules.
			namespace: DNS_LABEL,
			labels: {
				type: 'object',
				propertyNames: { maxLength: 317, pattern: QNAME },
				additionalProperties: { type: 'string', maxLength: 63,
					pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' },
			},
			annotations: {
				type: 'object',
				propertyNames: { maxLength: 317, pattern: QNAME },
				additionalProperties: { type: 'string', pattern: '^[^\\x00]*$' },
			},
			resourceVersion: { type: 'string' },
			generation: { type: 'integer' },
			uid: { type: 'string' },
			creationTimestamp: { type: 'string' },
		},
	};
	return root;
}

// The API server prunes null fields of non-nullable schemas (at any depth;
// a null list item is not a field and stays).
function dropNulls(v) {
	if (Array.isArray(v)) return v.map(dropNulls);
	if (v === null || typeof v !== 'object') return v;
	const out = {};
	for (const [k, x] of Object.entries(v))
		if (x !== null) out[k] = dropNulls(x);
	return out;
}

function main() {
	let args = process.argv.slice(2);
	const summary = args[0] === '--summary';
	if (summary) args = args.slice(1);
	const [crdPath, ...files] = args;
	const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true,
		unicodeRegExp: true });
	addFormats(ajv);
	addKeywords(ajv, ['uniqueItemProperties']);
	const validate = ajv.compile(schemaOf(fs.readFileSync(crdPath, 'utf8')));
	const decoder = new TextDecoder('utf-8', { fatal: true });

	for (const f of files) {
		let docs;
		try {
			const text = decoder.decode(fs.readFileSync(f));
			docs = YAML.parseAllDocuments(text, { version: '1.2', uniqueKeys: true });
			for (const d of docs) {
				if (d.errors.length) throw d.errors[0];
				const [start, , end] = d.range;
				if (end - start > MAX_DOC) throw new Error('document larger than 1 MiB');
			}
			docs = docs.map((d) => d.toJS({ maxAliasCount: 100 }))
				.filter((d) => d !== null && d !== undefined);
			if (docs.length === 0) throw new Error('no objects in file');
		} catch (e) {
			console.log(summary ? `${f} unreadable`
				: `${f} invalid: ${String(e.message).split('\n')[0]}`);
			continue;
		}
		const invalid = [];
		docs.forEach((d, i) => {
			if (validate(dropNulls(d))) {
				if (!summary) console.log(`${f}[${i}] valid`);
			} else {
				const why = validate.errors.map((e) => `${e.instancePath || '(root)'} ${e.message}`);
				invalid.push(i);
				if (!summary) console.log(`${f}[${i}] invalid: ${why.join('; ')}`);
			}
		});
		if (summary)
			console.log(invalid.length ? `${f} invalid ${invalid.join(' ')}`
				: `${f} valid ${docs.length}`);
	}
}

main();
