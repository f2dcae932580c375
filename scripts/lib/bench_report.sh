# What the benchmark scripts (bench-turn.sh, bench-sfu.sh) share once their runs are done:
# reading RESULT lines, picking a row's median run, describing the machine, and writing their
# section of docs/benchmarks.md between markers. Kept here so both sections are made the same
# way and a fix to one reaches the other. Source it: `. "$SRC_DIR/scripts/lib/bench_report.sh"`.
# Every function is safe under `set -eu` (none ends on a failed test).
#
#   bench_get KEY LINE          the value of KEY=value in a RESULT line (empty if absent)
#   bench_machine               CPU model, cores, RAM, kernel: one line for the doc
#   bench_loadavg               the 1/5/15-minute load average now
#   bench_commit                the source tree's short commit (or "unknown")
#   bench_median_run FILE       the median RESULT line of FILE by server_us_per_pkt, + " runs=N"
#   BENCH_AWK_GET               awk text defining get(k, s), the same as bench_get, for tables
#   bench_show_table TABLE NOTES    print the table and, if any, the notes to stdout
#   bench_section_results TABLE NOTES NOTES_TITLE CMDS CMDS_INTRO
#                               the end of a doc section: table, titled notes, commands
#   bench_doc_section DOC TAG BODY  put BODY between DOC's TAG markers (see below)

# With the kernel's autogroup scheduling, CPU is shared fairly between sessions and plain nice
# only ranks processes within one session. So each benchmark process gets a session of its own
# (setsid) whose autogroup gets the niceness, and the process gets it too. Used as:
#   setsid sh -c "$BENCH_PRIO" "$NICE" command args...
# (every step execs, so the PID stays the command's: the loadtest reads its CPU time by PID).
BENCH_PRIO='echo "$0" >/proc/self/autogroup 2>/dev/null; exec nice -n "$0" "$@"'

bench_get() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

bench_machine() {
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "$model, $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GB RAM, Linux $(uname -r)"
}

bench_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

bench_commit() { git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown; }

# A row reports the median run (by CPU per packet, the number the servers are compared by)
# so that one run disturbed by other work on the shared machine does not decide it.
bench_median_run() {
  n=$(wc -l <"$1")
  line=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^server_us_per_pkt=/) { split($i, kv, "="); print kv[2], $0 } }' \
           "$1" | sort -g | sed -n "$(( (n + 1) / 2 ))p" | cut -d' ' -f2-)
  echo "$line runs=$n"
}

BENCH_AWK_GET='
function get(k, s,   n, i, a, kv) { n = split(s, a, " "); for (i = 1; i <= n; i++) { split(a[i], kv, "="); if (kv[1] == k) return kv[2] } return "" }'

bench_show_table() {
  echo
  cat "$1"
  if [ -s "$2" ]; then echo; cat "$2"; fi
}

# bench_section_results TABLE NOTES NOTES_TITLE CMDS CMDS_INTRO: what every doc section ends
# with, so a reader can check each number against the exact commands that made it: the
# table, the notes under NOTES_TITLE (only if there are any), then CMDS_INTRO and the
# commands (CMDS) as a code block.
bench_section_results() {
  echo
  cat "$1"
  if [ -s "$2" ]; then echo; echo "$3"; echo; cat "$2"; fi
  echo
  echo "$5"
  echo
  echo '```'
  cat "$4"
  echo '```'
}

# bench_doc_section DOC TAG BODY: DOC's lines from "<!-- TAG:begin" to "<!-- TAG:end -->"
# become the markers around BODY's lines; the rest of DOC is kept as it is. A DOC without
# the markers gets the section appended after a blank line; a missing DOC is created with a
# title first. The markers say which script wrote the section (scripts/TAG.sh).
bench_doc_section() {
  bd_doc=$1; bd_tag=$2; bd_body=$3
  bd_work=$(mktemp -d)
  {
    echo "<!-- $bd_tag:begin (written by scripts/$bd_tag.sh; edits inside are overwritten) -->"
    cat "$bd_body"
    echo "<!-- $bd_tag:end -->"
  } >"$bd_work/section"
  mkdir -p "$(dirname "$bd_doc")"
  if [ -f "$bd_doc" ] && grep -q "<!-- $bd_tag:begin" "$bd_doc"; then
    awk -v sec="$bd_work/section" -v begin="<!-- $bd_tag:begin" -v end="<!-- $bd_tag:end -->" '
      index($0, begin) { while ((getline l < sec) > 0) print l; skip = 1; next }
      index($0, end) { skip = 0; next }
      !skip { print }' "$bd_doc" >"$bd_work/doc" && cat "$bd_work/doc" >"$bd_doc"
  elif [ -f "$bd_doc" ]; then
    { echo; cat "$bd_work/section"; } >>"$bd_doc"
  else
    printf '# Benchmarks\n\nNumbers written by the benchmark scripts; each section says how it was made.\n\n' >"$bd_doc"
    cat "$bd_work/section" >>"$bd_doc"
  fi
  rm -rf "$bd_work"
}
