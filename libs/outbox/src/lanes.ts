/**
 * Lanes are how several relays keep per-key order. Every outbox row falls into one of 64 lanes (the generated `shard`
 * column, `hashtext(message_key) & 63`), so all rows of one key share a lane. A relay publishes only from lanes it
 * owns, and owns a lane by holding a session-level advisory lock on it: one publisher per key at any time, in id order.
 */
export const LANE_COUNT = 64;

/**
 * The first key of the two-key advisory lock (`pg_try_advisory_lock(class, lane)`), so lane locks cannot collide with
 * other advisory locks in the same database. Any int4 would do; this one is the ASCII of "ObRl" (outbox relay lane).
 */
export const LANE_LOCK_CLASS = 0x4f62526c;

export const ALL_LANES: readonly number[] = Array.from({ length: LANE_COUNT }, (_, lane) => lane);

/**
 * Lanes each relay should own when `aliveRelays` relays share the work. Rounding up makes the shares cover every lane
 * (three relays: 22 + 22 + 20); a relay that cannot reach its share simply owns what is left.
 */
export function fairShare(aliveRelays: number): number {
  return Math.ceil(LANE_COUNT / Math.max(1, aliveRelays));
}

export interface LaneChange {
  /** Free lanes worth trying to lock (another relay may win a race for some of them). */
  readonly acquire: number[];
  readonly release: number[];
}

/**
 * What to do to move from the lanes we own toward our fair share. `heldByAnyone` are the lanes some session holds
 * (ours included). Free lanes are tried in a shuffled order so that relays starting together do not all race for lane 0
 * first; extra lanes are released from the top so a relay's set stays stable.
 */
export function planLaneChange(
  owned: ReadonlySet<number>,
  heldByAnyone: ReadonlySet<number>,
  target: number,
  random: () => number = Math.random,
): LaneChange {
  if (owned.size > target) {
    const release = [...owned].sort((a, b) => b - a).slice(0, owned.size - target);
    return { acquire: [], release };
  }
  const free = ALL_LANES.filter((lane) => !owned.has(lane) && !heldByAnyone.has(lane));
  for (let i = free.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [free[i], free[j]] = [free[j] as number, free[i] as number];
  }
  return { acquire: free.slice(0, target - owned.size), release: [] };
}
