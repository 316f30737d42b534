// The tier-1 lab's stand-in for reboot (src/demo/lab/reboot-stand-in.ts): NOT a reboot. A host
// that opts in runs lab.rebootStandInCommand, its init and sessions end, and the lab starts it again
// on the same upper dir and netns with a new boot id. These tests drive it the way hvtune's reboot
// module will (run the command over ssh, wait for ssh to answer with another boot id) and check
// that stopHost and destroy leave nothing behind, also in the middle of a restart.

import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { REBOOT_STAND_IN_PATH } from '../../src/demo/lab/reboot-stand-in.js';
import { createLab, type Lab, type LabHost } from '../../src/demo/lab/tier1.js';
import { connectHost } from '../../src/host.js';
import type { SshOptions, SshTarget } from '../../src/transport/ssh.js';
import { useLab } from './lab.js';
import { alive, mountsMentioning, netnsList, ssh } from './lab-checks.js';

const BOOT_ID = '/proc/sys/kernel/random/boot_id';
const FIN_TIMEOUT = '/proc/sys/net/ipv4/tcp_fin_timeout';
const SWAPPINESS = '/proc/sys/vm/swappiness';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$/;

const getLab = useLab({ names: ['hv1', 'hv2', 'hv3'], tag: 'standin', rebootStandIn: true });
const host = (name: string): LabHost => getLab().hosts.find((h) => h.name === name)!;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** What hvtune's reboot module does: poll ssh until it answers with another boot id. */
function sshBootIdOtherThan(lab: Lab, h: LabHost, before: string): Promise<string> {
  return until(`ssh to ${h.name} with a new boot id`, async () => {
    const r = await ssh(lab, h, `cat ${BOOT_ID}`);
    return r.code === 0 && r.stdout !== before ? r.stdout : undefined;
  });
}

const nsOf = (pid: number, ns: string): string => readlinkSync(`/proc/${pid}/ns/${ns}`);

describe('reboot stand-in: what hvtune sees', () => {
  test('every host with the stand-in has a boot id of its own, not the machine’s', async () => {
    const lab = getLab();
    const machine = readFileSync(BOOT_ID, 'utf8');
    const ids = await Promise.all(lab.hosts.map(async (h) => (await ssh(lab, h, `cat ${BOOT_ID}`)).stdout));
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set([machine, ...ids]).size).toBe(4);
    expect(lab.rebootStandInCommand).toEqual([REBOOT_STAND_IN_PATH]);
  });

  test('over ssh: the session is cut; ssh answers again with a new boot id and the same host key; files, netns sysctls and shadows stay, processes do not', async () => {
    const lab = getLab();
    const hv1 = host('hv1');
    const machine = {
      bootId: readFileSync(BOOT_ID, 'utf8'),
      fin: readFileSync(FIN_TIMEOUT, 'utf8'),
      swappiness: readFileSync(SWAPPINESS, 'utf8'),
    };
    const fin = String(Number(machine.fin) + 11);
    const swappiness = machine.swappiness.trim() === '17' ? '18' : '17';
    const before = (await ssh(lab, hv1, `cat ${BOOT_ID}`)).stdout;
    const setup = await ssh(
      lab,
      hv1,
      `echo kept > /root/stand-in-probe && sysctl -qw net.ipv4.tcp_fin_timeout=${fin} && ` +
        '{ nohup sleep 4242 </dev/null >/dev/null 2>&1 & echo $!; }',
    );
    expect(setup.code).toBe(0);
    const sleeper = setup.stdout.trim();
    expect((await ssh(lab, hv1, `test -d /proc/${sleeper}`)).code).toBe(0);
    const daemon = await lab.spawn(hv1, ['sleep', '4343']);
    await lab.shadow(hv1, SWAPPINESS, swappiness);
    await lab.shadowTree(hv1, '/sys/module', { 'kvm/parameters/halt_poll_ns': '0\n' });
    const old = { pid: hv1.pid, net: nsOf(hv1.pid, 'net') };

    const started = performance.now();
    const cut = await ssh(lab, hv1, lab.rebootStandInCommand.join(' '));
    const cutMs = performance.now() - started;
    // 255: the OpenSSH client lost the connection before any exit status, as in a real reboot.
    expect(cut.code).toBe(255);
    expect(cut.stderr).toMatch(/closed by remote host|connection closed|broken pipe/i);
    const after = await sshBootIdOtherThan(lab, hv1, before);
    const upMs = performance.now() - started;
    await lab.waitForReboot(hv1);
    console.log(
      `stand-in reboot of ${hv1.name} over ssh: session cut after ${cutMs.toFixed(0)} ms, ssh answered with a new boot id ` +
        `after ${upMs.toFixed(0)} ms (harness: ${JSON.stringify(lab.reboots[hv1.name])})`,
    );
    expect(upMs).toBeLessThan(10_000);
    expect(after).toMatch(UUID);
    expect(after).not.toBe(machine.bootId);

    // StrictHostKeyChecking=yes against the lab's known_hosts: the host key is the one it had.
    const state = await ssh(
      lab,
      hv1,
      `cat /root/stand-in-probe; sysctl -n net.ipv4.tcp_fin_timeout; pgrep -x sleep || echo no-sleep; cat ${SWAPPINESS}; ` +
        'find /sys/module -type f; cat /proc/1/comm; hostname; ' +
        'test -e /var/lib/hvtune-lab/reboot-stand-in.requested || echo request-taken',
    );
    expect(state.stderr).toBe('');
    expect(state.stdout).toBe(`kept\n${fin}\nno-sleep\n${swappiness}\n/sys/module/kvm/parameters/halt_poll_ns\nsshd\nhv1\nrequest-taken\n`);
    expect(alive(daemon.pid)).toBe(false);
    await daemon.stop();

    // A new init, PID 1 of its own pid namespace, in the same network namespace (which the lab
    // keeps mounted, so its inode cannot have been reused; those of ended namespaces can).
    expect(hv1.pid).not.toBe(old.pid);
    expect(alive(old.pid)).toBe(false);
    expect(readFileSync(`/proc/${hv1.pid}/comm`, 'utf8')).toBe('sshd\n');
    expect(readFileSync(`/proc/${hv1.pid}/status`, 'utf8')).toMatch(new RegExp(`^NSpid:\\t${hv1.pid}\\t1$`, 'm'));
    expect(nsOf(hv1.pid, 'net')).toBe(old.net);
    // The machine's own values were never touched.
    expect(readFileSync(BOOT_ID, 'utf8')).toBe(machine.bootId);
    expect(readFileSync(FIN_TIMEOUT, 'utf8')).toBe(machine.fin);
    expect(readFileSync(SWAPPINESS, 'utf8')).toBe(machine.swappiness);
    // The other hosts did not notice.
    expect((await lab.readFile('hv2', '/proc/1/comm')) ?? '').toBe('sshd\n');
  });

  test('over ssh2 (connectHost): the command fails with the connection lost; a new connection verifies the host key and sees a new boot id', async () => {
    const lab = getLab();
    const hv2 = host('hv2');
    const target: SshTarget = {
      name: hv2.name,
      address: hv2.address,
      port: hv2.port,
      user: 'root',
      identityFile: lab.keyPath,
      agent: '',
    };
    const options: SshOptions = { knownHostsFile: lab.knownHostsPath, acceptNewHostKeys: false, connectTimeoutMs: 5000 };
    const first = await connectHost(target, options);
    const before = (await first.run(['cat', BOOT_ID])).stdout;
    await first.writeFile('/etc/sysctl.d/90-stand-in.conf', 'net.ipv4.tcp_fin_timeout = 23\n');
    const started = performance.now();
    try {
      await expect(first.exec(lab.rebootStandInCommand)).rejects.toThrow(/connection lost/);
    } finally {
      await first.close();
    }
    const { conn, bootId } = await until('connectHost with a new boot id', async () => {
      const conn = await connectHost(target, options, first.facts).catch(() => undefined);
      if (!conn) return undefined;
      const bootId = (await conn.run(['cat', BOOT_ID])).stdout;
      if (bootId !== before) return { conn, bootId };
      await conn.close();
      return undefined;
    });
    const upMs = performance.now() - started;
    try {
      console.log(`stand-in reboot of ${hv2.name} over ssh2: connected again with a new boot id after ${upMs.toFixed(0)} ms`);
      expect(bootId).toMatch(UUID);
      expect((await conn.run(['cat', '/etc/sysctl.d/90-stand-in.conf'])).stdout).toBe('net.ipv4.tcp_fin_timeout = 23\n');
    } finally {
      await conn.close();
    }
  });

  test("over the lab's exec: waitForReboot resolves once the host is back; a second reboot gives yet another boot id", async () => {
    const lab = getLab();
    const hv2 = host('hv2');
    const ids = [await lab.readFile(hv2, BOOT_ID)];
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const r = await lab.exec(hv2, lab.rebootStandInCommand);
      expect(r.code).toBeNull(); // killed with the host's pid namespace
      await lab.waitForReboot(hv2);
      console.log(`stand-in reboot of ${hv2.name} over lab.exec: up again after ${(performance.now() - started).toFixed(0)} ms`);
      ids.push(await lab.readFile(hv2, BOOT_ID));
    }
    expect(new Set(ids).size).toBe(3);
    expect(lab.reboots[hv2.name].length).toBeGreaterThanOrEqual(3);
  });
});

describe('reboot stand-in: only when asked for', () => {
  test('outside a lab host’s own pid namespace the command refuses and ends nothing', async () => {
    const lab = getLab();
    const hv3 = host('hv3');
    const [pid, bootId] = [hv3.pid, await lab.readFile(hv3, BOOT_ID)];
    // A nested pid namespace inside the host: PID 1 there is not the lab's sshd.
    const r = await lab.exec(hv3, ['unshare', '--pid', '--fork', '--mount-proc', ...lab.rebootStandInCommand]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("PID 1 is not a tier-1 lab host's sshd");
    expect(await lab.readFile(hv3, '/var/lib/hvtune-lab/reboot-stand-in.requested')).toBeNull();
    expect(hv3.pid).toBe(pid);
    expect(await lab.readFile(hv3, BOOT_ID)).toBe(bootId);
  });

  test('an init that ends without the request (a crash) is not restarted; stopHost still cleans up', async () => {
    const lab = getLab();
    const hv3 = host('hv3');
    const { pid, netns } = hv3;
    process.kill(pid, 'SIGKILL'); // the host's own init, from outside: no request recorded
    await until('the init gone', async () => (alive(pid) ? undefined : true));
    // Until the harness has seen the init's end, the host still counts as up.
    const down = await until('waitForReboot to report', () =>
      lab.waitForReboot(hv3).then(
        () => undefined,
        (e: Error) => e,
      ),
    );
    expect(down.message).toMatch(/is down: its init ended without a stand-in request/);
    await sleep(1_500); // past the stand-in delay
    expect((await ssh(lab, hv3, 'true')).stderr).toMatch(/refused/i);
    expect(hv3.pid).toBe(pid);
    await expect(lab.exec(hv3, ['true'])).rejects.toThrow(/not running/);
    await lab.stopHost(hv3);
    expect(await netnsList()).not.toContain(netns);
  });
});

describe('reboot stand-in: stopHost and destroy', () => {
  test('leave no namespace, process, mount or dir, after a stand-in reboot and in the middle of one', async () => {
    const lab = await createLab({ names: ['sa', 'sb', 'sc', 'sd'], tag: 'standgone' });
    const machineBootId = readFileSync(BOOT_ID, 'utf8');
    const pids: number[] = lab.hosts.map((h) => h.pid);
    const h = (name: string): LabHost => lab.hosts.find((x) => x.name === name)!;
    const hostDir = (name: string): string => `${lab.dir}/hosts/${name}`;
    const request = async (name: string): Promise<void> => {
      expect((await lab.exec(name, lab.rebootStandInCommand)).code).toBeNull();
      // Taken by the harness, the delay running: the host is neither up nor gone.
      await until(`${name} restarting`, () =>
        lab.exec(name, ['true']).then(
          () => undefined,
          (e: Error) => (/restarting/.test(e.message) ? true : undefined),
        ),
      );
    };
    try {
      // Opt-in: a host without it keeps the machine's boot id and has no command.
      expect(await lab.readFile('sc', BOOT_ID)).toBe(machineBootId);
      expect((await lab.exec('sc', lab.rebootStandInCommand)).code).not.toBe(0);
      await expect(lab.waitForReboot('sc')).rejects.toThrow(/does not have/);
      for (const name of ['sa', 'sb', 'sd']) await lab.enableRebootStandIn(name, { delayMs: 200 });

      // stopHost after a completed stand-in reboot.
      expect((await lab.exec('sa', lab.rebootStandInCommand)).code).toBeNull();
      await lab.waitForReboot('sa');
      pids.push(h('sa').pid);
      expect(mountsMentioning(hostDir('sa')).length).toBeGreaterThan(0);
      await lab.stopHost('sa');
      expect(pids.filter(alive).length).toBe(3); // sb, sc, sd
      expect(await netnsList()).not.toContain(h('sa').netns);
      expect(mountsMentioning(hostDir('sa'))).toEqual([]);
      expect(existsSync(hostDir('sa'))).toBe(false);

      // stopHost while the restart waits out its delay: the host never comes back.
      await lab.enableRebootStandIn('sb', { delayMs: 1_500 });
      await request('sb');
      await lab.stopHost('sb');
      await expect(lab.waitForReboot('sb')).rejects.toThrow(/not running/);

      // destroy after one stand-in reboot and in the middle of the next.
      expect((await lab.exec('sd', lab.rebootStandInCommand)).code).toBeNull();
      await lab.waitForReboot('sd');
      pids.push(h('sd').pid);
      const daemon = await lab.spawn('sc', ['sleep', '1000']);
      pids.push(daemon.pid);
      await lab.enableRebootStandIn('sd', { delayMs: 1_500 });
      await request('sd');
      expect(mountsMentioning(lab.dir).length).toBeGreaterThan(0);
    } finally {
      await lab.destroy();
    }
    const check = async (): Promise<void> => {
      const left = await netnsList();
      for (const x of lab.hosts) expect(left).not.toContain(x.netns);
      expect(pids.filter(alive)).toEqual([]);
      expect(mountsMentioning(lab.dir)).toEqual([]);
      expect(existsSync(lab.dir)).toBe(false);
      expect(existsSync(`/run/hvtune-lab/labs/${lab.id}`)).toBe(false);
    };
    await check();
    await sleep(2_000); // past sb's and sd's delays: nothing was started again
    await check();
    expect(lab.reboots.sb).toEqual([]);
    expect(lab.reboots.sd.length).toBe(1);
  });
});
