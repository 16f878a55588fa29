#!/bin/sh
# docrefs: fails on a reference to a document this repository does not
# contain. Code and docs once cited a "SPEC" that never was in the repo;
# the contracts are docs/PROTOCOL.md (the LAN) and docs/UPSTREAM.md (the
# cloud), cited by their section numbers. Checked: any "SPEC" word, and
# every name ending in .md (a markdown link's target or a plain mention),
# looked up beside the file that names it, then from the repository root,
# then in docs/. Run from anywhere: make lint runs it.
set -u
cd "$(dirname "$0")/.." || exit 2
bad=0
self=tools/docrefs.sh

if git grep -nI -w 'SPEC' -- . ":!$self"; then
	echo "docrefs: the lines above cite SPEC, which this repository does not contain; name a section of docs/PROTOCOL.md or docs/UPSTREAM.md" >&2
	bad=1
fi

missing=$(git grep -noI -E '[A-Za-z0-9_./-]*[A-Za-z0-9_-]+\.md\b' -- . ":!$self" | while IFS=: read -r file line ref; do
	case "$ref" in
	/* | *://*) continue ;; # an installed path or a URL: not this repository's
	esac
	dir=$(dirname "$file")
	if [ -f "$dir/$ref" ] || [ -f "$ref" ] || [ -f "docs/$ref" ]; then
		continue
	fi
	echo "$file:$line: $ref"
done)
if [ -n "$missing" ]; then
	echo "$missing"
	echo "docrefs: the lines above name documents this repository does not contain" >&2
	bad=1
fi
exit $bad
