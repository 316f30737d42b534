// The boot config regeneration failing or interrupted (issue 15, finding 3). update-grub cannot run
// in a tier-1 host (grub-probe rejects overlay roots), so each host gets a stand-in `update-grub`
// in /usr/local/sbin that does what matters here like the real one: it reads /etc/default/grub,
// writes grub.cfg.new and renames it over /boot/grub/grub.cfg. On request it fails, or stops
// before the rename so the test can kill it. /etc/default/grub and grub.cfg must stay consistent
// (a failed regeneration restores /etc/default/grub), and when the controller dies mid-regeneration
// the next run must see grub.cfg behind /etc/default/grub and regenerate it.

import { beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';
import { startController, until } from './fault-helpers.js';

const lab = useLab({ hosts: 3 });
const GRUB = '/etc/default/grub';
const CFG = '/boot/grub/grub.cfg';
/** What the stand-in does on its next run: ok, fail, or stop (before the rename, until killed). */
const MODE = '/etc/update-grub-stand-in.mode';
const PID = '/run/update-grub-stand-in.pid';

const STOCK = `GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"
`;
const WITH_HUGEPAGES = STOCK.replace('115200n8"', '115200n8 hugepagesz=2M hugepages=512"');

const STAND_IN = `#!/bin/sh
# A stand-in for update-grub in a tier-1 lab host (the fault suite's): not the real one.
set -e
echo $$ > ${PID}
. ${GRUB}
mode=$(cat ${MODE} 2>/dev/null || echo ok)
echo "Generating grub configuration file ..." >&2
if [ "$mode" = fail ]; then echo "/usr/sbin/grub-probe: error: failed to get canonical path of overlay" >&2; exit 1; fi
mkdir -p /boot/grub
printf 'menuentry "Debian GNU/Linux" {\\n\\tlinux /boot/vmlinuz-6.1.0-28-amd64 root=/dev/vda1 ro %s %s\\n}\\n' \\
  "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT" > ${CFG}.new
if [ "$mode" = stop ]; then sleep 120; fi
mv -f ${CFG}.new ${CFG}
echo done >&2
`;

/** The grub.cfg the stand-in makes of a /etc/default/grub. */
const cfgOf = (grub: string): string => {
  const get = (v: string) => new RegExp(`^${v}="(.*)"$`, 'm').exec(grub)![1];
  return `menuentry "Debian GNU/Linux" {\n\tlinux /boot/vmlinuz-6.1.0-28-amd64 root=/dev/vda1 ro ${get('GRUB_CMDLINE_LINUX')} ${get('GRUB_CMDLINE_LINUX_DEFAULT')}\n}\n`;
};

const PLAYBOOK = (host: string) => `
- name: kernel command line
  hosts: ${host}
  tasks:
    - name: 2 MiB pages at boot
      grub_cmdline: { present: [hugepagesz=2M, hugepages=512] }
`;

/** Kill the stand-in and what it runs (its sleep would hold the session open): its process group. */
const killStandIn = (host: string, pid: string) =>
  lab().exec(host, ['sh', '-c', 'pkill -KILL -g "$(ps -o pgid= -p "$1" | tr -d " ")"', 'sh', pid]);

const setMode = (host: string, mode: 'ok' | 'fail' | 'stop') => lab().writeFile(host, MODE, `${mode}\n`);

/** Both files, byte for byte. */
async function bootFiles(host: string): Promise<{ grub: string | null; cfg: string | null }> {
  return { grub: await lab().readFile(host, GRUB), cfg: await lab().readFile(host, CFG) };
}

const consistentOld = { grub: STOCK, cfg: cfgOf(STOCK) };
const consistentNew = { grub: WITH_HUGEPAGES, cfg: cfgOf(WITH_HUGEPAGES) };

/** With the stand-in working again: the next run makes both files new; the one after changes nothing. */
async function converges(host: string, expectedChange: string): Promise<void> {
  await setMode(host, 'ok');
  const next = await play(lab(), PLAYBOOK(host));
  expect(next.code, next.stdout + next.stderr).toBe(0);
  expect(changesOn(next.report, host).map((c) => c.target)).toEqual([expectedChange]);
  expect(await bootFiles(host)).toEqual(consistentNew);
  const again = await play(lab(), PLAYBOOK(host));
  expect(again.code).toBe(0);
  expect(again.report.changes).toEqual([]);
  // persisted and regenerated, not booted: a reboot is what is left
  expect(again.report.recap[host].pending.map((p) => p.target)).toEqual(['cmdline:hugepagesz=2M', 'cmdline:hugepages=512']);
}

beforeAll(async () => {
  for (const host of lab().hosts) {
    await lab().writeFile(host, '/usr/local/sbin/update-grub', STAND_IN, 0o755);
    await lab().writeFile(host, GRUB, STOCK);
    await setMode(host.name, 'ok');
    const made = await lab().exec(host, ['update-grub']);
    if (made.code !== 0) throw new Error(`stand-in update-grub on ${host.name}: ${made.stderr}`);
    expect(await bootFiles(host.name)).toEqual(consistentOld);
  }
});

describe('boot config regeneration', () => {
  it('update-grub fails: the run fails, /etc/default/grub is restored byte for byte, the next run converges', async () => {
    await setMode('hv1', 'fail');
    const r = await play(lab(), PLAYBOOK('hv1'));
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.report.failures[0].message).toBe(
      `hv1: cannot regenerate the boot config, ${GRUB} restored: update-grub failed with exit code 1:\n` +
        'Generating grub configuration file ...\n/usr/sbin/grub-probe: error: failed to get canonical path of overlay',
    );
    expect(await bootFiles('hv1')).toEqual(consistentOld);
    await converges('hv1', GRUB);
  });

  it('update-grub killed on the host mid-regeneration: /etc/default/grub is restored, grub.cfg untouched, the next run converges', async () => {
    await setMode('hv2', 'stop');
    await lab().exec('hv2', ['rm', '-f', PID]);
    const running = play(lab(), PLAYBOOK('hv2'));
    const pid = await until('the stand-in to start', async () => (await lab().readFile('hv2', PID))?.trim() || undefined);
    // it has written grub.cfg.new and waits before the rename
    await until('grub.cfg.new', async () => ((await lab().exec('hv2', ['test', '-s', `${CFG}.new`])).code === 0 ? true : undefined));
    await killStandIn('hv2', pid);
    const r = await running;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.report.failures[0].message).toBe(
      `hv2: cannot regenerate the boot config, ${GRUB} restored: update-grub was killed by SIGKILL:\nGenerating grub configuration file ...`,
    );
    expect(await bootFiles('hv2')).toEqual(consistentOld);
    await lab().exec('hv2', ['rm', '-f', `${CFG}.new`]); // what the real update-grub leaves too; the next one replaces it
    await converges('hv2', GRUB);
  });

  it('the controller killed mid-regeneration (and update-grub with it): the next run sees grub.cfg behind and regenerates it', async () => {
    await setMode('hv3', 'stop');
    await lab().exec('hv3', ['rm', '-f', PID]);
    const controller = startController(lab(), PLAYBOOK('hv3'));
    try {
      const pid = await until('the stand-in to start', async () => {
        if (controller.child.exitCode !== null) throw new Error(`the controller ended early:\n${controller.output()}`);
        return (await lab().readFile('hv3', PID))?.trim() || undefined;
      });
      await controller.kill();
      await killStandIn('hv3', pid);
      await until('the stand-in to end', async () =>
        (await lab().exec('hv3', ['pgrep', '-f', 'update-grub'])).code === 1 ? true : undefined,
      );
    } finally {
      await controller.kill();
    }
    // /etc/default/grub is new, grub.cfg still the old one: each whole, but they disagree
    expect(await bootFiles('hv3')).toEqual({ grub: WITH_HUGEPAGES, cfg: cfgOf(STOCK) });
    const check = await play(lab(), PLAYBOOK('hv3'), { check: true });
    expect(check.code).toBe(2);
    expect(check.report.changes.map((c) => [c.target, c.summary])).toEqual([
      [CFG, `regenerate the boot config: ${CFG} lacks hugepagesz=2M, hugepages=512, which ${GRUB} has (reboot to take effect)`],
    ]);
    await converges('hv3', CFG);
  });
});
