#!/usr/bin/env bash
# API surface: the functions and modules that loading imgpca adds (name,
# number of arguments, flags incl. DIRECTONLY/INNOCUOUS/DETERMINISTIC) must
# equal tests/api-surface.expected, and nothing built in may change.
set -u
ext=$1
cd "$(dirname "$0")/.."
export LC_ALL=C
q="SELECT 'function', name, narg, type,
     trim(iif(flags & 0x800, 'deterministic ', '') || iif(flags & 0x80000, 'directonly ', '') ||
          iif(flags & 0x200000, 'innocuous', '')) FROM pragma_function_list
   UNION ALL SELECT 'module', name, '', '', '' FROM pragma_module_list ORDER BY 1,2,3;"
before=$(sqlite3 -batch :memory: "$q" | sort)
after=$(sqlite3 -batch -cmd ".load $ext" :memory: "$q" | sort)
added=$(comm -13 <(echo "$before") <(echo "$after"))
removed=$(comm -23 <(echo "$before") <(echo "$after"))
if [ "${IMGPCA_BLESS:-}" = 1 ]; then echo "$added" > tests/api-surface.expected; fi
if [ -n "$removed" ]; then echo "FAIL api: loading changed built-ins:"; echo "$removed"; exit 1; fi
if [ "$added" != "$(cat tests/api-surface.expected)" ]; then
  echo "FAIL api surface"; diff tests/api-surface.expected <(echo "$added"); exit 1
fi
# The shared object exports only the entry point.
exports=$(nm -D --defined-only "$ext.so" | awk '$2 ~ /[TDBRVW]/ {print $3}' | grep -v '^_')
if [ "$exports" != "sqlite3_imgpca_init" ]; then echo "FAIL api: exported symbols: $exports"; exit 1; fi
echo "ok   api surface ($(echo "$added" | wc -l) entries, 1 exported symbol)"
