#!/usr/bin/env bash
# Packet steering for one NIC: RSS channels and indirection, RPS, RFS, XPS, interrupt coalescing, ring buffers and
# offloads (README.md beside this file says why and how to verify each). Actions go to stdout, one per line ("would …"
# with --dry-run); notes and errors go to stderr.
#
# Exit codes: 0 done; 1 a step failed unexpectedly; 2 usage; 3 no such NIC (or an auto-detected one that is virtual);
# 4 a queue does not exist; 5 ethtool missing (its steps skipped, the rest done); 6 the driver refused one or more
# ethtool operations (reported, the rest done).
set -euo pipefail

readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_NO_NIC=3 EXIT_NO_QUEUE=4 EXIT_NO_ETHTOOL=5 EXIT_REFUSED=6
# Overridable so that a test can stand in for the driver; the default is the one on PATH.
ETHTOOL=${ETHTOOL:-ethtool}
# The kernel's RFS guide suggests 32768 flow entries for a moderately loaded server.
readonly RFS_ENTRIES=32768
readonly RFS_SYSCTL=/proc/sys/net/core/rps_sock_flow_entries

usage() {
  cat <<'EOF'
usage: tune-nic.sh [--iface <nic>] [--cpus <list>] [--dry-run] [--no-global] [--save <file>]
       tune-nic.sh --rollback <file> [--dry-run] [--no-global]

  --iface <nic>      the NIC to tune (default: the one of the default route; a virtual or loopback one is refused
                     unless named here)
  --cpus <list>      CPUs for packet work, e.g. 1-7 (default: every online CPU but CPU 0 when there are more than 2)
  --dry-run          print every write and command it would do; change nothing
  --no-global        leave host-wide sysctls (net.core.rps_sock_flow_entries) alone
  --save <file>      record the values it changes, for --rollback
  --rollback <file>  restore what a --save file recorded
EOF
}

note() { printf 'tune-nic: %s\n' "$*" >&2; }
die() {
  local code=$1
  shift
  note "error: $*"
  exit "$code"
}

iface='' cpus_arg='' dry_run=0 no_global=0 save='' rollback=''
while [ $# -gt 0 ]; do
  case "$1" in
    --iface) iface=${2:?--iface needs a NIC name}; shift 2 ;;
    --cpus) cpus_arg=${2:?--cpus needs a CPU list}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --no-global) no_global=1; shift ;;
    --save) save=${2:?--save needs a file}; shift 2 ;;
    --rollback) rollback=${2:?--rollback needs a file}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "$EXIT_USAGE" "unknown argument: $1" ;;
  esac
done
[ -z "$save" ] || [ -z "$rollback" ] || die "$EXIT_USAGE" "--save and --rollback do not go together"

# --- CPU lists and masks -------------------------------------------------------------------------------------------

# "0-3,8" → "0 1 2 3 8"
expand_cpus() {
  local part from to out=()
  IFS=',' read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
      from=${BASH_REMATCH[1]} to=${BASH_REMATCH[2]}
      [ "$from" -le "$to" ] || return 1
      for ((c = from; c <= to; c++)); do out+=("$c"); done
    elif [[ $part =~ ^[0-9]+$ ]]; then
      out+=("$part")
    else
      return 1
    fi
  done
  echo "${out[@]}"
}

# CPU ids → the kernel's cpumask: hex, in 32-bit words separated by commas, highest word first.
cpu_mask() {
  local -a words=()
  local cpu top=0 i out
  for cpu in "$@"; do
    i=$((cpu / 32))
    words[i]=$((${words[i]:-0} | (1 << (cpu % 32))))
    [ "$i" -le "$top" ] || top=$i
  done
  out=$(printf '%x' "${words[top]:-0}")
  for ((i = top - 1; i >= 0; i--)); do out+=$(printf ',%08x' "${words[i]:-0}"); done
  echo "$out"
}

# --- writes and commands, honouring --dry-run and --save ------------------------------------------------------------

record() { [ -z "$save" ] || [ "$dry_run" = 1 ] || printf '%s\n' "$*" >>"$save"; }

write_value() {
  local path=$1 value=$2 old
  if [ "$dry_run" = 1 ]; then
    echo "would write $value > $path"
    return
  fi
  old=$(<"$path") || die "$EXIT_FAILED" "cannot read $path"
  record "$(printf 'write\t%s\t%s' "$path" "$old")"
  echo "$value" >"$path" || die "$EXIT_FAILED" "cannot write $value to $path"
  echo "wrote $value > $path (was $old)"
}

have_ethtool=1
refused=0

# Runs one ethtool change; a driver that refuses it is reported and the rest goes on. $1 is the undo command (as
# ethtool arguments) recorded for --rollback when the change succeeds; empty when there is none.
ethtool_change() {
  local undo=$1 output
  shift
  if [ "$dry_run" = 1 ]; then
    echo "would run ethtool $*"
    return
  fi
  if output=$("$ETHTOOL" "$@" 2>&1); then
    echo "ran ethtool $*"
    [ -z "$undo" ] || record "$(printf 'ethtool\t%s' "$undo")"
  else
    note "the driver refused: ethtool $*: ${output//$'\n'/ }"
    refused=1
  fi
}

# A value from ethtool's "Pre-set maximums" (max) or "Current hardware settings" (cur) block of -l or -g output.
ethtool_field() {
  awk -v block="$2" -v key="$3:" '
    /^Pre-set maximums/ { b = "max" } /^Current hardware settings/ { b = "cur" }
    b == block && $1 == key { print $2; exit }' <<<"$1"
}

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

# --- rollback -------------------------------------------------------------------------------------------------------

rollback_from() {
  local file=$1 kind path value missing=0
  [ -r "$file" ] || die "$EXIT_USAGE" "cannot read $file"
  # Last change first, so that a value changed twice ends at its first recorded value.
  while IFS=$'\t' read -r kind path value; do
    case "$kind" in
      write)
        if [ "$path" = "$RFS_SYSCTL" ]; then
          if [ "$no_global" = 1 ]; then note "skipping $path (--no-global)"; continue; fi
        elif ! [[ $path =~ ^/sys/class/net/[^/]+/queues/(rx|tx)-[0-9]+/(rps_cpus|rps_flow_cnt|xps_cpus)$ ]]; then
          die "$EXIT_USAGE" "$file names $path, which this script never writes"
        fi
        if [ ! -e "$path" ]; then
          note "error: $path does not exist: the queue is gone (channel count changed?) or the NIC was renamed"
          missing=1
          continue
        fi
        write_value "$path" "$value"
        ;;
      ethtool)
        if [ "$have_ethtool" = 0 ]; then note "ethtool not found: not restoring ethtool $path"; continue; fi
        # shellcheck disable=SC2086 # the recorded arguments are words
        ethtool_change '' $path
        ;;
      '' | '#'*) ;;
      *) die "$EXIT_USAGE" "$file: unknown line kind '$kind'" ;;
    esac
  done < <(tac "$file")
  [ "$missing" = 0 ] || exit "$EXIT_NO_QUEUE"
}

command -v "$ETHTOOL" >/dev/null 2>&1 || have_ethtool=0

if [ -n "$rollback" ]; then
  rollback_from "$rollback"
  [ "$refused" = 0 ] || exit "$EXIT_REFUSED"
  [ "$have_ethtool" = 1 ] || ! grep -q '^ethtool' "$rollback" || exit "$EXIT_NO_ETHTOOL"
  exit 0
fi

# --- which NIC, which CPUs ------------------------------------------------------------------------------------------

if [ -z "$iface" ]; then
  iface=$(ip -o route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
  [ -n "$iface" ] || die "$EXIT_NO_NIC" "no default route to detect the NIC from; name it with --iface"
  # A physical NIC has a device behind it; veth, bridges, bonds, tunnels and lo do not.
  if [ "$iface" = lo ] || [ ! -e "/sys/class/net/$iface/device" ]; then
    die "$EXIT_NO_NIC" "the default route's NIC $iface is virtual or loopback; name it with --iface to tune it anyway"
  fi
  note "NIC of the default route: $iface"
fi
[[ $iface =~ ^[A-Za-z0-9_.:@-]+$ ]] || die "$EXIT_USAGE" "not a NIC name: $iface"
[ -d "/sys/class/net/$iface" ] || die "$EXIT_NO_NIC" "no NIC named $iface here (ip -br link lists them)"

read -ra online <<<"$(expand_cpus "$(</sys/devices/system/cpu/online)")"
if [ -n "$cpus_arg" ]; then
  list=$(expand_cpus "$cpus_arg") || die "$EXIT_USAGE" "not a CPU list: $cpus_arg (e.g. 1-7 or 1,3,5)"
  read -ra cpus <<<"$list"
  [ "${#cpus[@]}" -gt 0 ] || die "$EXIT_USAGE" "not a CPU list: $cpus_arg (e.g. 1-7 or 1,3,5)"
  for cpu in "${cpus[@]}"; do
    [[ " ${online[*]} " == *" $cpu "* ]] || die "$EXIT_USAGE" "CPU $cpu is not online (online: ${online[*]})"
  done
elif [ "${#online[@]}" -gt 2 ]; then
  # CPU 0 takes the kernel's housekeeping and, by default, most interrupts; the services' units keep off it too.
  cpus=("${online[@]:1}")
else
  cpus=("${online[@]}")
fi
note "steering $iface onto CPUs ${cpus[*]}"

[ -z "$save" ] || [ "$dry_run" = 1 ] || printf '# tune-nic.sh --save of %s, %s\n' "$iface" "$(date -u +%FT%TZ)" >"$save"

queue_dirs() { compgen -G "/sys/class/net/$iface/queues/$1-*" | sort -t- -k2 -n || true; }

# --- ethtool steps: RSS, coalescing, rings, offloads ----------------------------------------------------------------

if [ "$have_ethtool" = 0 ]; then
  note "ethtool ($ETHTOOL) not found: skipping RSS channels, coalescing, ring buffers and offloads (apt-get install ethtool)"
else
  # RSS: one combined channel (rx+tx queue pair with its interrupt) per steering CPU, as far as the NIC has them.
  if channels=$("$ETHTOOL" -l "$iface" 2>&1); then
    max=$(ethtool_field "$channels" max Combined) cur=$(ethtool_field "$channels" cur Combined)
    if is_count "${max:-}"; then
      want=$((${#cpus[@]} < max ? ${#cpus[@]} : max))
      ethtool_change "$(is_count "${cur:-}" && echo "-L $iface combined $cur")" -L "$iface" combined "$want"
      ethtool_change "-X $iface default" -X "$iface" equal "$want"
    else
      note "$iface has no combined channels (max '${max:-}'): RSS channel count left as it is"
    fi
  else
    note "the driver refused: ethtool -l $iface: ${channels//$'\n'/ }"
    refused=1
  fi

  # Adaptive coalescing: few interrupts under load, low latency when idle.
  undo=''
  if coalesce=$("$ETHTOOL" -c "$iface" 2>/dev/null); then
    read -r arx atx < <(awk '/^Adaptive RX:/ { print $3, $5 }' <<<"$coalesce") || true
    [ -z "${arx:-}" ] || undo="-C $iface adaptive-rx $arx adaptive-tx $atx"
  fi
  ethtool_change "$undo" -C "$iface" adaptive-rx on adaptive-tx on

  # Rings to the NIC's maximum: bursts are absorbed instead of dropped (rx_missed/rx_no_buffer).
  if rings=$("$ETHTOOL" -g "$iface" 2>&1); then
    rx_max=$(ethtool_field "$rings" max RX) tx_max=$(ethtool_field "$rings" max TX)
    rx_cur=$(ethtool_field "$rings" cur RX) tx_cur=$(ethtool_field "$rings" cur TX)
    if is_count "${rx_max:-}" && is_count "${tx_max:-}"; then
      undo=''
      if is_count "${rx_cur:-}" && is_count "${tx_cur:-}"; then undo="-G $iface rx $rx_cur tx $tx_cur"; fi
      ethtool_change "$undo" -G "$iface" rx "$rx_max" tx "$tx_max"
    else
      note "$iface reports no ring maximums (rx '${rx_max:-}', tx '${tx_max:-}'): rings left as they are"
    fi
  else
    note "the driver refused: ethtool -g $iface: ${rings//$'\n'/ }"
    refused=1
  fi

  # GRO/GSO/TSO batch packets through the stack; LRO merges in a way that breaks forwarding and is off.
  undo=''
  if features=$("$ETHTOOL" -k "$iface" 2>/dev/null); then
    undo=$(awk -v ifc="$iface" '
      $1 == "generic-receive-offload:" { f["gro"] = $2; n++ } $1 == "generic-segmentation-offload:" { f["gso"] = $2; n++ }
      $1 == "tcp-segmentation-offload:" { f["tso"] = $2; n++ } $1 == "large-receive-offload:" { f["lro"] = $2; n++ }
      END { if (n == 4) printf "-K %s gro %s gso %s tso %s lro %s", ifc, f["gro"], f["gso"], f["tso"], f["lro"] }' \
      <<<"$features")
  fi
  ethtool_change "$undo" -K "$iface" gro on gso on tso on lro off
fi

# --- sysfs steps: RPS, RFS, XPS (after RSS, which may have changed the queue count) --------------------------------

mapfile -t rx_queues < <(queue_dirs rx)
mapfile -t tx_queues < <(queue_dirs tx)
[ "${#rx_queues[@]}" -gt 0 ] || die "$EXIT_NO_QUEUE" "$iface has no receive queues in /sys/class/net/$iface/queues"
[ "$dry_run" = 0 ] || [ "$have_ethtool" = 0 ] || note "the queue count is today's; the RSS step above may change it"

# RPS: packets of every receive queue may be processed on any steering CPU (spreads a NIC with fewer queues than CPUs).
mask=$(cpu_mask "${cpus[@]}")
for q in "${rx_queues[@]}"; do write_value "$q/rps_cpus" "$mask"; done

# RFS: the global table of flows' consuming CPUs, split over the queues (a power of two, as the kernel rounds it).
if [ "$no_global" = 1 ]; then
  note "leaving net.core.rps_sock_flow_entries alone (--no-global)"
elif [ ! -e "$RFS_SYSCTL" ]; then
  note "net.core.rps_sock_flow_entries is not visible here (a network namespace?): set it on the host"
elif [ "$(<"$RFS_SYSCTL")" -lt "$RFS_ENTRIES" ]; then
  write_value "$RFS_SYSCTL" "$RFS_ENTRIES"
fi
per_queue=1
while [ $((per_queue * 2)) -le $((RFS_ENTRIES / ${#rx_queues[@]})) ]; do per_queue=$((per_queue * 2)); done
for q in "${rx_queues[@]}"; do write_value "$q/rps_flow_cnt" "$per_queue"; done

# XPS: each transmit queue is used by one CPU, so a CPU's packets do not contend for another CPU's queue lock.
i=0
for q in "${tx_queues[@]}"; do
  write_value "$q/xps_cpus" "$(cpu_mask "${cpus[i % ${#cpus[@]}]}")"
  i=$((i + 1))
done

[ "$refused" = 0 ] || exit "$EXIT_REFUSED"
[ "$have_ethtool" = 1 ] || exit "$EXIT_NO_ETHTOOL"
exit 0
