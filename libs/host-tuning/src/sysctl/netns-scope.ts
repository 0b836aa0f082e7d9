import type { ProfileSetting } from './profile.js';

/**
 * Which settings belong to a network namespace, so `--netns-only` can apply them inside one (a container, a test)
 * without touching the host. The kernel decides this per key, so it is listed here rather than guessed from a prefix:
 *
 * - fs.*, vm.*, kernel.* and every /sys file are global.
 * - net.core.* is global except the keys of the per-namespace table (netns_core_table in
 *   net/core/sysctl_net_core.c, as of 6.18; xfrm_* come from net/xfrm). rmem_max/wmem_max/rmem_default/wmem_default are visible in a child namespace but read-only
 *   there; netdev_max_backlog, rps_sock_flow_entries and default_qdisc are not visible at all.
 * - net.ipv4.* and net.ipv6.* are per namespace (most tcp_* keys moved there during 4.x) except the memory
 *   accounting limits all namespaces share: tcp_mem, udp_mem, tcp_max_orphans.
 *
 * The netns integration test (apps/cli/src/host-sysctl.netns.int.test.ts) checks this against the running kernel.
 */
const PER_NETNS_CORE = new Set([
  'net.core.somaxconn',
  'net.core.optmem_max',
  'net.core.rps_default_mask',
  'net.core.tstamp_allow_data',
  'net.core.txrehash',
  'net.core.xfrm_acq_expires',
  'net.core.xfrm_aevent_etime',
  'net.core.xfrm_aevent_rseqth',
  'net.core.xfrm_larval_drop',
]);
const GLOBAL_IP = new Set(['net.ipv4.tcp_mem', 'net.ipv4.udp_mem', 'net.ipv4.tcp_max_orphans']);

export function isPerNetns(setting: ProfileSetting): boolean {
  if (setting.kind !== 'sysctl') return false;
  const key = setting.relativePath.replaceAll('/', '.');
  if (key.startsWith('net.core.')) return PER_NETNS_CORE.has(key);
  if (key.startsWith('net.ipv4.') || key.startsWith('net.ipv6.')) return !GLOBAL_IP.has(key);
  return false;
}
