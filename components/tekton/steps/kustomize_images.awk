# Read or edit one `images:` entry of a kustomization file without touching any other byte of it.
#
# Why not `kustomize edit set image`: it re-serialises the whole file and drops every comment, Flux's
# `# {"$imagepolicy": ...}` markers included. This edits only the value of the lines it has to, so
# comments, markers, key order and quoting elsewhere are kept. POSIX awk (busybox awk in alpine/git).
#
# Arguments come from the environment (awk -v would interpret backslashes in them):
#   KI_OP=get KI_IMAGE=REPO awk -f kustomize_images.awk kustomization.yaml
#       prints "newName<TAB>newTag<TAB>digest<TAB>platform-note" of the entry whose name or newName is
#       REPO; exit 3 when there is no such entry.
#   KI_OP=set KI_IMAGE=REPO KI_TAG=T KI_DIGEST=D KI_NOTE=N awk -f kustomize_images.awk FILE > NEW
#       sets newTag to T (when T is not empty), digest to D (D empty: the digest line is removed, so
#       a tag alone decides), and writes N as the digest line's comment ("# gitops-platform: N");
#       adds the entry (and the `images:` list) when missing.
# Exit 4 (with a message on stderr): the file writes `images` in a shape this editor does not handle
# (flow style, anchors, more than one matching entry); nothing is written then.

function fail(code, msg) { print "kustomization: " msg > "/dev/stderr"; failed = code; exit code }
function indent_of(s) { match(s, /^ */); return RLENGTH }
function unquote(v) {
  if (v ~ /^".*"$/ || v ~ /^'.*'$/) return substr(v, 2, length(v) - 2)
  return v
}
# A tag as a YAML scalar: quoted when a YAML 1.1 or 1.2 reader would take it for something else than a
# string (a short SHA of digits only, 1.0, 1e5, 0x1f, NO, on, null...), plain otherwise (as kustomize
# edit writes it). Tags hold only [A-Za-z0-9_.-] (the OCI tag grammar), so double quotes need no escapes.
function yaml_scalar(v) {
  if (v ~ /^[0-9][0-9_]*$/ || v ~ /^[0-9][0-9_]*\.[0-9_]*([eE][-+]?[0-9]+)?$/ || v ~ /^[0-9]+[eE][-+]?[0-9]+$/ \
      || v ~ /^0[xXoObB][0-9a-fA-F_]+$/ \
      || v ~ /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$/)
    return "\"" v "\""
  return v
}
# The value part of "key: value   # comment" (quotes kept), and where the comment starts.
function split_value(rest,    i, c, q) {
  q = ""; value_end = length(rest) + 1
  for (i = 1; i <= length(rest); i++) {
    c = substr(rest, i, 1)
    if (q != "") { if (c == q) q = ""; continue }
    if (c == "\"" || c == "'") { q = c; continue }
    if (c == "#" && (i == 1 || substr(rest, i - 1, 1) ~ /[ \t]/)) { value_end = i; break }
  }
  v = substr(rest, 1, value_end - 1)
  sub(/[ \t]+$/, "", v)
  return v
}
BEGIN {
  failed = 0
  op = ENVIRON["KI_OP"]; image = ENVIRON["KI_IMAGE"]; tag = ENVIRON["KI_TAG"]
  digest = ENVIRON["KI_DIGEST"]; note = ENVIRON["KI_NOTE"]
}
{ line[NR] = $0 }
END {
  if (failed) exit failed
  n = NR
  start = 0
  for (i = 1; i <= n; i++) {
    if (line[i] ~ /^images:[ \t]*(#.*)?$/) { if (start) fail(4, "more than one top-level images: key"); start = i }
    else if (line[i] ~ /^images:[ \t]*\[[ \t]*\][ \t]*(#.*)?$/) { if (start) fail(4, "more than one top-level images: key"); start = i; empty_flow = 1 }
    else if (line[i] ~ /^images:/) fail(4, "images: is written in flow style or with an anchor; write it as a block list")
  }
  # The list: from start+1 to the line before the next top-level key.
  last = start
  items = 0
  item_indent = -1
  if (start && !empty_flow) {
    for (i = start + 1; i <= n; i++) {
      if (line[i] ~ /^[ \t]*(#.*)?$/) continue
      ind = indent_of(line[i])
      if (ind == 0 && line[i] !~ /^- /) break
      if (line[i] ~ /^ *- / || line[i] ~ /^ *-$/) {
        if (item_indent < 0) item_indent = ind
        if (ind == item_indent) { items++; item_start[items] = i }
      }
      last = i
    }
  }
  # Parse each item's keys: key -> line number, for the entry we want.
  found = 0
  for (k = 1; k <= items; k++) {
    from = item_start[k]; to = (k < items) ? item_start[k + 1] - 1 : last
    delete keyline
    key_indent = -1
    for (i = from; i <= to; i++) {
      s = line[i]
      if (s ~ /^[ \t]*(#.*)?$/) continue
      if (i == from) {
        rest = s; sub(/^ *- ?/, "", rest)
        if (rest == "" || rest ~ /^#/) continue
        key_indent = item_indent + 2
        body = rest
      } else {
        ind = indent_of(s)
        if (key_indent < 0) key_indent = ind
        if (ind != key_indent) continue
        body = substr(s, ind + 1)
      }
      if (match(body, /^[A-Za-z]+:/)) {
        key = substr(body, 1, RLENGTH - 1)
        keyline[key] = i
      }
    }
    nm = ""; nn = ""
    if ("name" in keyline) { rest = line[keyline["name"]]; sub(/^[ -]*name:[ \t]*/, "", rest); nm = unquote(split_value(rest)) }
    if ("newName" in keyline) { rest = line[keyline["newName"]]; sub(/^[ -]*newName:[ \t]*/, "", rest); nn = unquote(split_value(rest)) }
    if (nm == image || nn == image) {
      if (found) fail(4, "more than one images entry names " image)
      found = k; f_from = from; f_to = to; f_key_indent = (key_indent < 0) ? item_indent + 2 : key_indent
      for (key in keyline) f_keyline[key] = keyline[key]
    }
  }
  if (op == "get") {
    if (!found) exit 3
    out = ""
    split("newName newTag digest", wanted, " ")
    for (w = 1; w <= 3; w++) {
      val = ""
      if (wanted[w] in f_keyline) {
        rest = line[f_keyline[wanted[w]]]; sub("^[ -]*" wanted[w] ":[ \t]*", "", rest); val = unquote(split_value(rest))
      }
      out = out val "\t"
    }
    note_text = ""
    if ("digest" in f_keyline && match(line[f_keyline["digest"]], /# gitops-platform: .*$/))
      note_text = substr(line[f_keyline["digest"]], RSTART + 19)
    print out note_text
    exit 0
  }
  if (op != "set") fail(2, "op must be get or set")
  comment = (note != "") ? "  # gitops-platform: " note : ""
  if (found) {
    pad = sprintf("%" f_key_indent "s", "")
    if (tag != "") {
      if ("newTag" in f_keyline) {
        i = f_keyline["newTag"]; s = line[i]; match(s, /newTag:[ \t]*/); head = substr(s, 1, RSTART + RLENGTH - 1)
        rest = substr(s, RSTART + RLENGTH); split_value(rest); tail = substr(rest, value_end)
        if (tail != "") tail = " " tail
        line[i] = head yaml_scalar(tag) tail
      } else { insert_after[f_to] = insert_after[f_to] pad "newTag: " yaml_scalar(tag) "\n" }
    }
    if (digest != "") {
      if ("digest" in f_keyline) {
        i = f_keyline["digest"]; s = line[i]; match(s, /digest:[ \t]*/); head = substr(s, 1, RSTART + RLENGTH - 1)
        line[i] = head digest comment
      } else { insert_after[f_to] = insert_after[f_to] pad "digest: " digest comment "\n" }
    } else if ("digest" in f_keyline) { drop[f_keyline["digest"]] = 1 }
  } else {
    pad = (start && !empty_flow && item_indent > 0) ? sprintf("%" item_indent "s", "") : ""
    entry = pad "- name: " image "\n"
    if (tag != "") entry = entry pad "  newTag: " yaml_scalar(tag) "\n"
    if (digest != "") entry = entry pad "  digest: " digest comment "\n"
    if (start && !empty_flow) {
      insert_after[last] = insert_after[last] entry
    } else if (start) {
      line[start] = "images:"
      insert_after[start] = entry
    } else {
      insert_after[n] = "images:\n" entry
    }
  }
  for (i = 1; i <= n; i++) {
    if (!(i in drop)) print line[i]
    if (i in insert_after) printf "%s", insert_after[i]
  }
  if (n == 0 && (0 in insert_after)) printf "%s", insert_after[0]
}
