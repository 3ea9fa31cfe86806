#!/bin/sh
# Every page module parses as an ES module (a syntax error in a lazily loaded view would only show
# when someone opens it).
set -e
cd "$(dirname "$0")/../.."
for f in web/js/*.js web/js/i18n/*.js web/js/staff/*.js tests/e2e/*.mjs; do
    node --input-type=module --check < "$f" || { echo "syntax error in $f" >&2; exit 1; }
done
