// Plan signatures (issue 15, finding 11): the key, made once 0600; a plan verifies with the key
// that signed it and with no other; any edit breaks it.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planKey, planKeyPath, readSignedPlan, signedPlanText } from '../../src/plan-signature.js';
import { PLAN_FORMAT, PLAN_VERSION, type SavedPlan } from '../../src/planfile.js';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-sig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plan: SavedPlan = {
  format: PLAN_FORMAT,
  version: PLAN_VERSION,
  kind: 'plan',
  createdAt: '2026-11-30T12:00:00.000Z',
  inputs: { playbook: null, inventory: { path: '/inv.yml', sha256: null }, templates: [] },
  options: { tags: [], skipTags: [], extraVars: { n: 1.5, s: 'é"\\' } },
  hosts: {
    hv1: {
      facts: { hostname: 'hv1', kernel: { release: '6.1', version: [6, 1, 0] } },
      tasks: [
        {
          play: 0,
          task: 't',
          module: 'file',
          handler: false,
          args: { path: '/etc/x', content: 'token=GOOD\n' },
          changes: [{ summary: 'write /etc/x', target: '/etc/x', effect: 'persistent', data: { op: 'write', content: 'token=GOOD\n' } }],
          pending: [],
        },
      ],
    },
  },
};

describe('plan signatures', () => {
  it('the key path: HVTUNE_PLAN_KEY_FILE, else XDG_STATE_HOME, else ~/.local/state', () => {
    expect(planKeyPath({ HVTUNE_PLAN_KEY_FILE: '/k' })).toBe('/k');
    expect(planKeyPath({ XDG_STATE_HOME: '/state' })).toBe('/state/hvtune/plan.key');
    expect(planKeyPath({ XDG_STATE_HOME: 'relative', HOME: '/home/u' })).toMatch(/\/\.local\/state\/hvtune\/plan\.key$/);
  });

  it('makes the key once, 0600 in a 0700 directory, and keeps it', () => {
    const path = join(dir, 'state', 'hvtune', 'plan.key');
    const key = planKey(path);
    expect(key).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'state', 'hvtune')).mode & 0o777).toBe(0o700);
    expect(planKey(path).equals(key)).toBe(true);
    expect(existsSync(`${path}.tmp-${process.pid}`)).toBe(false);
  });

  it('a signed plan reads back as it was; any edit, another key or no key is refused', () => {
    const keyFile = join(dir, 'a.key');
    const file = join(dir, 'plan.json');
    const text = signedPlanText(plan, planKey(keyFile));
    writeFileSync(file, text);
    expect(readSignedPlan(file, keyFile).hosts.hv1.tasks[0].changes[0].data).toEqual({ op: 'write', content: 'token=GOOD\n' });

    writeFileSync(file, text.replace('token=GOOD\\n"\n', 'token=EVIL\\n"\n'));
    expect(readFileSync(file, 'utf8')).toContain('EVIL');
    expect(() => readSignedPlan(file, keyFile)).toThrow(`${file}: the plan was changed after hvtune signed it`);

    writeFileSync(file, text);
    const other = join(dir, 'b.key');
    planKey(other);
    expect(() => readSignedPlan(file, other)).toThrow(
      /the plan was signed with another plan key \([0-9a-f]{16}; .*b\.key is [0-9a-f]{16}\)/,
    );
    expect(() => readSignedPlan(file, join(dir, 'none.key'))).toThrow(
      /no plan key at .*none\.key to check its signature.*HVTUNE_PLAN_KEY_FILE/,
    );

    // layout does not matter, content does
    writeFileSync(file, JSON.stringify(JSON.parse(text)));
    expect(readSignedPlan(file, keyFile).kind).toBe('plan');
  });

  it('a key others can read is refused', () => {
    const keyFile = join(dir, 'open.key');
    planKey(keyFile);
    chmodSync(keyFile, 0o644);
    expect(() => planKey(keyFile)).toThrow(`${keyFile}: the plan key is readable by others (mode 644): chmod 600 ${keyFile}`);
  });

  it('not a plan at all: the plan reader says so first', () => {
    const file = join(dir, 'other.json');
    writeFileSync(file, '{"format": "something"}');
    expect(() => readSignedPlan(file, join(dir, 'a.key'))).toThrow('not a saved plan');
  });
});
