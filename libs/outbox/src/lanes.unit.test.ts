import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALL_LANES, fairShare, LANE_COUNT, planLaneChange } from './lanes.js';

describe('fairShare', () => {
  it('covers every lane however many relays are alive', () => {
    for (let alive = 1; alive <= 70; alive++) {
      assert.ok(fairShare(alive) * alive >= LANE_COUNT, `${alive} relays`);
      assert.ok(fairShare(alive) >= 1);
    }
    assert.equal(fairShare(1), 64);
    assert.equal(fairShare(2), 32);
    assert.equal(fairShare(3), 22);
    assert.equal(fairShare(0), 64, 'a relay always counts itself');
  });
});

describe('planLaneChange', () => {
  const lanes = (...values: number[]) => new Set(values);

  it('takes only free lanes, up to the target', () => {
    const owned = lanes(0, 1);
    const held = lanes(0, 1, 2, 3, 4);
    const change = planLaneChange(owned, held, 10);
    assert.equal(change.acquire.length, 8);
    assert.deepEqual(change.release, []);
    for (const lane of change.acquire) assert.ok(lane >= 5 && lane < LANE_COUNT, `lane ${lane} is free`);
    assert.equal(new Set(change.acquire).size, 8, 'no lane twice');
  });

  it('asks for fewer than the target when fewer lanes are free', () => {
    const held = new Set(ALL_LANES.filter((lane) => lane !== 7));
    assert.deepEqual(planLaneChange(lanes(), held, 32), { acquire: [7], release: [] });
  });

  it('releases the extra lanes, keeping the rest', () => {
    const owned = new Set(ALL_LANES);
    const change = planLaneChange(owned, owned, 22);
    assert.deepEqual(change.acquire, []);
    assert.equal(change.release.length, 42);
    assert.ok(change.release.every((lane) => lane >= 22));
  });

  it('changes nothing at the target', () => {
    assert.deepEqual(planLaneChange(lanes(1, 2), lanes(1, 2), 2), { acquire: [], release: [] });
  });

  it('tries free lanes in a shuffled order so relays do not all race for the same ones', () => {
    const first = planLaneChange(lanes(), lanes(), 64, () => 0.999).acquire;
    const second = planLaneChange(lanes(), lanes(), 64, () => 0).acquire;
    assert.deepEqual(
      [...first].sort((a, b) => a - b),
      [...ALL_LANES],
    );
    assert.notDeepEqual(first, second);
  });
});
