// The play recorder writes each host's part out when the host is done and streams it back into
// every write of the record: what it writes must read back as the whole record.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/events.js';
import type { PlanInputs } from '../../src/planfile.js';
import { playRecorder, readRecord } from '../../src/records.js';
import { SecretValues } from '../../src/secrets.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-recorder-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const inputs = { playbook: null, inventory: { path: 'inventory.yml', sha256: 'x' }, templates: [] } as unknown as PlanInputs;
const facts = { hostname: 'h', kernel: { release: '6.1.0', version: [6, 1, 0] as [number, number, number] } };

function planned(host: string, id: number, task: string, content: string): RunEvent[] {
  const change = {
    summary: 'write',
    target: '/etc/x.conf',
    effect: 'none' as const,
    diff: { path: '/etc/x.conf', before: null, after: content },
    data: content,
  };
  return [
    {
      type: 'task-planned',
      host,
      id,
      planned: { play: 0, task, module: 'file', handler: false, args: { path: '/etc/x.conf', content }, changes: [change], pending: [] },
      observed: null,
      facts,
    } as RunEvent,
    { type: 'task-done', host, id, task, module: 'file', status: 'changed', changes: [], pending: [], warnings: [], handler: false },
  ];
}

describe('the play recorder', () => {
  it('spools each host when it is done and writes the whole record from the spool', () => {
    const secrets = new SecretValues();
    secrets.add('s3cret-token', 'token');
    const recorder = playRecorder(inputs, { playHosts: [['hv1', 'hv2', 'hv3'], ['hv1']], dir, secrets });
    const feed = (events: RunEvent[]) => events.forEach((e) => recorder.onEvent(e));
    const spool = () => readdirSync(dir).find((f) => f.endsWith('.hosts'));

    feed([{ type: 'play-start', play: 'one', index: 0, hosts: ['hv1', 'hv2', 'hv3'], check: false }]);
    feed(planned('hv2', 1, 'a', 'two\n'));
    feed([{ type: 'host-done', host: 'hv2' }]);
    // hv2 is in no later play: out of memory, into the spool
    expect(readFileSync(join(dir, spool()!), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    feed(planned('hv1', 1, 'a', 'one s3cret-token\n'));
    feed([{ type: 'host-done', host: 'hv1' }]);
    feed([
      { type: 'host-unreachable', host: 'hv3', error: 'connection refused' },
      { type: 'host-done', host: 'hv3' },
    ]);
    // hv1 plays again: still in memory; the record so far has all three
    const soFar = readRecord(recorder.write());
    expect(soFar.inProgress).toBe(true);
    expect(Object.keys(soFar.hosts).sort()).toEqual(['hv1', 'hv2', 'hv3']);
    expect(soFar.hosts.hv1.finished).toBeUndefined();

    feed([{ type: 'play-start', play: 'two', index: 1, hosts: ['hv1'], check: false }]);
    feed(planned('hv1', 2, 'b', 'again\n'));
    feed([{ type: 'host-done', host: 'hv1' }]);
    const path = recorder.write({ final: true });
    const record = readRecord(path);
    expect(record.inProgress).toBeUndefined();
    expect(record.hosts.hv1).toMatchObject({ result: 'ok', finished: true });
    expect(record.hosts.hv1.tasks.map((t) => [t.task, t.result])).toEqual([
      ['a', 'applied'],
      ['b', 'applied'],
    ]);
    expect(record.hosts.hv2.tasks[0].changes[0].diff?.after).toBe('two\n');
    expect(record.hosts.hv3).toMatchObject({ result: 'unreachable', error: 'connection refused' });
    expect(readFileSync(path, 'utf8')).not.toContain('s3cret-token');
    expect(readFileSync(path, 'utf8')).toContain('one <redacted>');
    // the spool is gone with the final write; the file is the user's only
    expect(spool()).toBeUndefined();
    expect(existsSync(path)).toBe(true);
  });

  it('marks an interrupted run and names a failed host by its first failure', () => {
    const recorder = playRecorder(inputs, { playHosts: [['hv1']], dir });
    recorder.onEvent({ type: 'play-start', play: 'one', index: 0, hosts: ['hv1'], check: false });
    recorder.onEvent({
      type: 'task-done',
      host: 'hv1',
      id: 1,
      task: 't',
      module: 'file',
      status: 'failed',
      error: 'disk full',
      changes: [],
      pending: [],
      warnings: [],
      handler: false,
    });
    const record = readRecord(recorder.write({ interrupted: 'SIGINT' }));
    expect(record).toMatchObject({ interrupted: 'SIGINT', inProgress: true });
    expect(record.hosts.hv1).toMatchObject({ result: 'failed', error: 'disk full' });
  });
});
