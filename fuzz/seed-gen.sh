#!/usr/bin/env bash
# Generates the seed corpus of one fuzz target into DIR from the shared test
# data (../shared/data, never copied into the repository) -- run at fuzzing
# time.  Targets without generated seeds use only fuzz/seeds/<name>.
#   fuzz/seed-gen.sh NAME DIR
set -u
name=$1; dir=$2
cd "$(dirname "$0")/.."
data=../shared/data
[ -n "$(ls -A "$dir" 2>/dev/null)" ] && exit 0   # already generated
small_images() {  # images of at most 64 KiB (fast executions), linked not copied
  find "$data/images-edge" -type f -size -65k ! -iname '*.json' ! -iname 'LICENSE*' \
       ! -iname '*.txt' ! -iname '*.md' | while read -r f; do
    ln -sf "$(realpath "$f")" "$dir/$(echo "$f" | md5sum | cut -c1-16)"
  done
  find "$data/fruits360/Training" -name '*.jpg' 2>/dev/null | head -20 | while read -r f; do
    ln -sf "$(realpath "$f")" "$dir/$(echo "$f" | md5sum | cut -c1-16)"
  done
}
# the documented spec forms, prefixed to images for fuzz_image_features
specs=('hist:bins=8,sqrt' 'pixels:size=32x32' 'pixels:size=8,color=grey,norm=standard'
       'hist:bins=4x4x4,white=250' 'hog' 'decode:dct=off,warnings=ignore;pixels:size=4x4;hist:bins=6;hog:size=16x16,cell=4')
case $name in
  image_decode) small_images ;;
  image_features)
    find "$data/images-edge" -type f -size -33k ! -iname '*.json' ! -iname 'LICENSE*' ! -iname '*.txt' \
         ! -iname '*.md' | sort | awk 'NR % 3 == 1' | while read -r f; do
      for i in "${!specs[@]}"; do
        { printf '%s\n' "${specs[$i]}"; cat "$f"; } > "$dir/$(echo "$f" | md5sum | cut -c1-12)-$i"
      done
    done ;;
  *) : ;;
esac
exit 0
