# write_section FILE NAME TEXT: puts TEXT (which starts with `<!-- NAME:begin` and ends with
# `<!-- NAME:end -->`) in place of FILE's section NAME, or at its end when it has none; the rest
# of FILE is kept. Each bench script owns one section of bench/RESULTS.md this way.
write_section() {
  touch "$1"
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys
path, name, section = sys.argv[1:4]
text = open(path).read()
pattern = re.compile(r"<!-- " + re.escape(name) + r":begin.*?<!-- " + re.escape(name) + r":end -->", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
}
