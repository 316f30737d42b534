// The network cut mid-write the quiet way: the host's link goes down (inside its network
// namespace) while a 3 MB file is on its way, so no FIN or RST tells either side. The host's sshd
// runs with ClientAliveInterval, as the README advises, and drops the session within seconds:
// the write script sees its input end short and installs nothing. The controller finds out by its
// SSH keepalives (about a minute) and fails the host. Once the link is back, the next run
// converges. Slow by nature: it waits for the keepalives.

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ssh } from '../lab-checks.js';
import { useLab } from '../lab.js';
import { labFile, play } from '../play.js';
import { bigFile, slowLink, startController, tempFiles, until, type Controller } from './fault-helpers.js';

const lab = useLab({ hosts: 1 });
const DIR = '/etc/hvtune';
const PATH = `${DIR}/big.conf`;
const OLD = bigFile('old', 10);
const NEW = bigFile('new', 40_000);
const SSHD_CONFIG = '/etc/ssh/hvtune_lab_sshd_config';

const playbook = (template: string) => `
- name: a large file
  hosts: lab
  tasks:
    - name: big
      file: { path: ${PATH}, template: ${template} }
`;

/** sshd (the host's init) re-reads its configuration on SIGHUP; wait until it answers again. */
async function reloadSshd(config: string): Promise<void> {
  await lab().writeFile('hv1', SSHD_CONFIG, config, 0o600);
  await lab().exec('hv1', ['kill', '-HUP', '1']);
  await until('sshd to answer again', async () => ((await ssh(lab(), lab().hosts[0], 'true')).code === 0 ? true : undefined), 20_000, 100);
}

let config: string;
beforeAll(async () => {
  config = (await lab().readFile('hv1', SSHD_CONFIG))!;
  await reloadSshd(`${config}ClientAliveInterval 2\nClientAliveCountMax 2\n`);
});
afterAll(() => reloadSshd(config));

describe('the link cut mid-write', () => {
  let controller: Controller | undefined;
  afterAll(() => controller?.kill());

  it('the host drops the session and installs nothing; the controller fails the host; the next run converges', async () => {
    await lab().writeFile('hv1', PATH, OLD);
    const unslow = await slowLink(lab(), 'hv1');
    const linkUp = () => lab().exec('hv1', ['ip', 'link', 'set', 'eth0', 'up']);
    try {
      controller = startController(lab(), playbook(labFile(lab(), 'big.txt', NEW)), ['--json']);
      const c = controller;
      await until(
        'the transfer to be under way',
        async () => {
          if (c.child.exitCode !== null) throw new Error(`the controller ended early:\n${c.output()}`);
          const [t] = await tempFiles(lab(), 'hv1', DIR);
          return t && t.size >= 128 * 1024 ? t : undefined;
        },
        60_000,
        10,
      );
      await lab().exec('hv1', ['ip', 'link', 'set', 'eth0', 'down']);

      // the host's side: the session ends, the partial temp file is removed, the old file stays
      await until(
        'the host to drop the session',
        async () => ((await tempFiles(lab(), 'hv1', DIR)).length === 0 ? true : undefined),
        30_000,
        200,
      );
      expect(await lab().readFile('hv1', PATH)).toBe(OLD);

      // the controller's side: nothing more arrives; its keepalives go unanswered
      const started = Date.now();
      expect(await Promise.race([c.exited, sleep(120_000).then(() => 'still running after 120 s')])).toBe(1);
      const report = JSON.parse(c.stdout());
      expect(report.recap.hv1).toMatchObject({ changed: 0, failed: 1 });
      expect(report.failures).toHaveLength(1);
      expect(report.failures[0].message).toMatch(/^hv1: connection lost while running: /);
      console.log(`link down: the controller failed the host after ${((Date.now() - started) / 1000).toFixed(0)} s more`);
    } finally {
      await linkUp();
      await unslow();
    }
    expect(await lab().readFile('hv1', PATH)).toBe(OLD);
    const template = labFile(lab(), 'big.txt', NEW);
    const next = await play(lab(), playbook(template));
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(await lab().readFile('hv1', PATH)).toBe(NEW);
    expect((await play(lab(), playbook(template))).report.changes).toEqual([]);
  });
});
