// Filesystems that refuse a write: read-only, full, and a file where a directory is expected. Each
// fault is made inside one lab host's own mount namespace (a read-only bind mount, a small tmpfs
// filled up) or its overlay (a file in place of /etc/sysctl.d), and undone after the test. The run
// must fail the host with a clear error, leave the file byte for byte as it was, the live value
// unchanged and no temp file; once the fault is gone, the next run converges.

import { afterEach, describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { play } from '../play.js';
import { tempFiles } from './fault-helpers.js';

const lab = useLab({ hosts: 3 });
const DIR = '/etc/sysctl.d';
const FILE = `${DIR}/60-fault.conf`;
const OLD = 'net.ipv4.tcp_fin_timeout = 30\n';
const NEW = 'net.ipv4.tcp_fin_timeout = 45\n';
const LIVE = '/proc/sys/net/ipv4/tcp_fin_timeout';

const playbook = (host: string) => `
- name: tcp
  hosts: ${host}
  tasks:
    - name: fin timeout
      sysctl: { file: ${FILE}, values: { net.ipv4.tcp_fin_timeout: 45 } }
`;

const undo: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step();
});

/** Run a shell script inside the host (its namespaces, its root); it must succeed. */
async function onHost(host: string, script: string): Promise<void> {
  const r = await lab().exec(host, ['sh', '-ec', script]);
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.stderr}`);
}

/** The host's starting point: the old file persisted and live. */
async function start(host: string): Promise<string> {
  await lab().writeFile(host, FILE, OLD);
  await onHost(host, `sysctl -q -w net.ipv4.tcp_fin_timeout=30`);
  return (await lab().readFile(host, LIVE))!;
}

/** The run fails the host with `error`, changing nothing there. */
async function refused(host: string, error: RegExp, liveBefore: string): Promise<void> {
  const r = await play(lab(), playbook(host));
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.report.recap[host]).toMatchObject({ changed: 0, failed: 1 });
  console.log(r.report.failures.map((f) => f.message));
  expect(r.report.failures.map((f) => f.message).join('\n')).toMatch(error);
  expect(await lab().readFile(host, FILE)).toBe(OLD);
  expect(await lab().readFile(host, LIVE)).toBe(liveBefore);
  expect(await tempFiles(lab(), host, DIR)).toEqual([]);
}

/** With the fault undone: the next run writes the new file and sets the value; the one after changes nothing. */
async function converges(host: string): Promise<void> {
  for (const step of undo.splice(0).reverse()) await step();
  const next = await play(lab(), playbook(host));
  expect(next.code, next.stdout + next.stderr).toBe(0);
  expect(await lab().readFile(host, FILE)).toBe(NEW);
  expect((await lab().readFile(host, LIVE))!.trim()).toBe('45');
  const again = await play(lab(), playbook(host));
  expect(again.report.changes).toEqual([]);
}

describe('a filesystem that refuses the write', () => {
  it('read-only (a read-only bind mount over the directory): a clear error, nothing changed', async () => {
    const live = await start('hv1');
    await onHost('hv1', `mount --bind ${DIR} ${DIR} && mount -o remount,bind,ro ${DIR}`);
    undo.push(() => onHost('hv1', `umount ${DIR}`));
    expect((await lab().exec('hv1', ['touch', `${DIR}/probe`])).stderr).toContain('Read-only file system');
    await refused('hv1', new RegExp(`hv1: command failed with exit code \\d+: write ${FILE}\\n.*Read-only file system`), live);
    await converges('hv1');
  });

  it('full (a small tmpfs over the directory, filled up): a clear error, nothing changed, no temp file', async () => {
    const live = await start('hv2');
    // the directory on a 1 MiB tmpfs holding the old file, then filled to the last block
    await onHost(
      'hv2',
      `mkdir -p /run/fault-keep && cp -a ${DIR}/. /run/fault-keep/
       mount -t tmpfs -o size=1m,mode=755 tmpfs ${DIR} && cp -a /run/fault-keep/. ${DIR}/
       dd if=/dev/zero of=${DIR}/zz-filler bs=4k 2>/dev/null || true`,
    );
    undo.push(() => onHost('hv2', `umount ${DIR} && rm -rf /run/fault-keep`));
    expect((await lab().exec('hv2', ['df', '--output=avail', DIR])).stdout.split('\n')[1].trim()).toBe('0');
    await refused('hv2', new RegExp(`hv2: command failed with exit code \\d+: write ${FILE}\\n.*No space left on device`), live);
    await converges('hv2');
  });

  it('a file where the directory is expected: a clear error, nothing changed', async () => {
    const live = await start('hv3');
    const saved = '/root/sysctl.d.saved';
    await onHost('hv3', `cp -a ${DIR} ${saved} && rm -rf ${DIR} && printf 'not a directory\\n' > ${DIR}`);
    undo.push(() => onHost('hv3', `rm -f ${DIR} && cp -a ${saved} ${DIR} && rm -rf ${saved}`));
    const r = await play(lab(), playbook('hv3'));
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.report.recap.hv3).toMatchObject({ changed: 0, failed: 1 });
    console.log(r.report.failures);
    expect(r.report.failures[0].message).toBe(
      `hv3: command failed with exit code 1: write ${FILE}\n${DIR} is not a directory: ${FILE} cannot be written`,
    );
    expect(await lab().readFile('hv3', DIR)).toBe('not a directory\n');
    expect(await lab().readFile('hv3', LIVE)).toBe(live);
    await converges('hv3');
  });
});
