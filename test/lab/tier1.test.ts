// The tier-1 lab harness itself: hosts that a real ssh client reaches with the lab's key and
// known_hosts, isolated from each other and from the machine, and a teardown that leaves nothing.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from 'ssh2';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { allocateSubnets, LABS_DIR, netnsName, reserveLabId, SUBNETS_DIR, WORK_ROOT } from '../../src/demo/lab/names.js';
import { createLab, type LabHost } from '../../src/demo/lab/tier1.js';
import { useLab } from './lab.js';
import { alive, mountsMentioning, netnsList, runCommand, ssh } from './lab-checks.js';

const getLab = useLab({ hosts: 3 });
const host = (name: string): LabHost => getLab().hosts.find((h) => h.name === name)!;

describe('tier-1 lab: reaching the hosts', () => {
  test('creates three hosts concurrently, each with its own netns, address and init', () => {
    const lab = getLab();
    console.log(`lab ${lab.id} host creation (ms):`, JSON.stringify(lab.timings));
    expect(lab.hosts.map((h) => h.name)).toEqual(['hv1', 'hv2', 'hv3']);
    expect(new Set(lab.hosts.map((h) => h.address)).size).toBe(3);
    expect(new Set(lab.hosts.map((h) => h.netns)).size).toBe(3);
    for (const h of lab.hosts) {
      expect(h.address).toMatch(/^10\.200\.\d+\.\d+$/);
      expect(readFileSync(`/proc/${h.pid}/comm`, 'utf8').trim()).toBe('sshd');
    }
  });

  test('every host answers the ssh client with the lab key and its own host key', async () => {
    const lab = getLab();
    const results = await Promise.all(lab.hosts.map((h) => ssh(lab, h, 'hostname; id -u; cat /etc/hostname')));
    results.forEach((r, i) => {
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${lab.hosts[i].name}\n0\n${lab.hosts[i].name}\n`);
    });
  });

  test('the ssh client refuses a host whose key is not the one known_hosts gives', async () => {
    const lab = getLab();
    const wrong = `${lab.dir}/known_hosts.wrong`;
    writeFileSync(wrong, `${host('hv1').address} ${host('hv2').hostKeyPublic}\n`);
    const r = await ssh(lab, host('hv1'), 'true', wrong);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Host key verification failed');
  });

  test('the npm ssh2 client connects with the key, verifies the host key and runs a command', async () => {
    const lab = getLab();
    const h = host('hv2');
    const expectedKey = h.hostKeyPublic.split(' ')[1];
    const out = await new Promise<string>((resolve, reject) => {
      const conn = new Client();
      conn
        .on('ready', () =>
          conn.exec('uname -n', (err, stream) => {
            if (err) return reject(err);
            let text = '';
            stream.on('data', (b: Buffer) => (text += b.toString()));
            stream.on('close', () => {
              conn.end();
              resolve(text);
            });
          }),
        )
        .on('error', reject)
        .connect({
          host: h.address,
          port: h.port,
          username: 'root',
          privateKey: readFileSync(lab.keyPath),
          hostVerifier: (key: Buffer) => key.toString('base64') === expectedKey,
        });
    });
    expect(out).toBe('hv2\n');
  });

  test('the inventory names every host with its address and the lab key', () => {
    const lab = getLab();
    const inventory = parse(readFileSync(lab.inventoryPath, 'utf8'));
    expect(inventory.all.vars).toEqual({ user: 'root', identity_file: lab.keyPath });
    expect(inventory.all.children.lab.hosts).toEqual(Object.fromEntries(lab.hosts.map((h) => [h.name, { address: h.address }])));
  });
});

describe('tier-1 lab: isolation', () => {
  test('a file written in /etc of hv1 is absent on hv2 and on the machine', async () => {
    const lab = getLab();
    const probe = `/etc/hvtune-lab-probe-${lab.id}`;
    expect(existsSync(probe)).toBe(false);
    expect((await ssh(lab, host('hv1'), `echo written-in-hv1 > ${probe}`)).code).toBe(0);
    expect((await ssh(lab, host('hv1'), `cat ${probe}`)).stdout).toBe('written-in-hv1\n');
    expect(readFileSync(`${host('hv1').upper}${probe}`, 'utf8')).toBe('written-in-hv1\n');
    expect((await ssh(lab, host('hv2'), `test -e ${probe}`)).code).toBe(1);
    expect(existsSync(probe)).toBe(false);
  });

  test('a per-netns sysctl set in hv1 stays in hv1', async () => {
    const lab = getLab();
    const key = '/proc/sys/net/ipv4/tcp_fin_timeout';
    const machineBefore = readFileSync(key, 'utf8');
    const value = String(Number(machineBefore) + 7);
    const set = await ssh(lab, host('hv1'), `sysctl -w net.ipv4.tcp_fin_timeout=${value}`);
    expect(set.stdout).toBe(`net.ipv4.tcp_fin_timeout = ${value}\n`);
    expect((await ssh(lab, host('hv1'), `cat ${key}`)).stdout).toBe(`${value}\n`);
    expect((await ssh(lab, host('hv2'), `cat ${key}`)).stdout).not.toBe(`${value}\n`);
    expect(readFileSync(key, 'utf8')).toBe(machineBefore);
  });

  test("hostname, /proc, /tmp, /run and network devices are the host's own", async () => {
    const lab = getLab();
    const script =
      'hostname; getent hosts hv3; cat /proc/1/comm; test -e /tmp/hvtune-lab || echo own-tmp; ' +
      'test -e /run/hvtune-lab || echo own-run; ls /sys/class/net';
    const r = await ssh(lab, host('hv3'), script);
    expect(r.stdout).toMatch(new RegExp(`^hv3\n${host('hv3').address.replace(/\./g, '\\.')} +hv3\n`));
    expect(r.stdout.split('\n').slice(2).join('\n')).toBe('sshd\nown-tmp\nown-run\neth0\nlo\n');
    expect(existsSync('/tmp/hvtune-lab')).toBe(true); // the machine's /tmp does have it
  });
});

describe('tier-1 lab: shadows of machine-global files', () => {
  test('a shadowed vm.swappiness reads and writes per host and leaves the machine alone', async () => {
    const lab = getLab();
    const path = '/proc/sys/vm/swappiness';
    const machineBefore = readFileSync(path, 'utf8');
    const [shadowed, written] = machineBefore.trim() === '17' ? ['18', '34'] : ['17', '33'];
    await lab.shadow('hv1', path, shadowed);
    // Stop here, before any write, unless the shadow is in place.
    expect((await ssh(lab, host('hv1'), `cat ${path}`)).stdout).toBe(`${shadowed}\n`);
    const r = await ssh(lab, host('hv1'), `sysctl -w vm.swappiness=${written} >/dev/null && cat ${path}`);
    expect(r.stdout).toBe(`${written}\n`);
    expect((await ssh(lab, host('hv1'), 'sysctl -n vm.swappiness')).stdout).toBe(`${written}\n`);
    expect((await ssh(lab, host('hv2'), `cat ${path}`)).stdout).toBe(machineBefore);
    expect(readFileSync(path, 'utf8')).toBe(machineBefore);
  });
});

describe('tier-1 lab: processes and hosts over time', () => {
  test('spawn runs a process inside the host; stop() ends it by PID', async () => {
    const lab = getLab();
    const p = await lab.spawn('hv1', ['sleep', '1000']);
    const hv1 = host('hv1');
    for (const ns of ['net', 'pid', 'mnt']) {
      expect(readlinkSync(`/proc/${p.pid}/ns/${ns}`)).toBe(readlinkSync(`/proc/${hv1.pid}/ns/${ns === 'pid' ? 'pid_for_children' : ns}`));
    }
    expect((await lab.exec('hv1', ['pgrep', '-x', 'sleep'])).code).toBe(0);
    await p.stop();
    expect(alive(p.pid)).toBe(false);
    expect((await lab.exec('hv1', ['pgrep', '-x', 'sleep'])).code).toBe(1);
  });

  test('an added host answers ssh; once stopped it is unreachable at once', async () => {
    const lab = getLab();
    const [hv4] = await lab.addHosts(1);
    expect(hv4.name).toBe('hv4');
    expect((await ssh(lab, hv4, 'hostname')).stdout).toBe('hv4\n');
    expect(parse(readFileSync(lab.inventoryPath, 'utf8')).all.children.lab.hosts.hv4).toEqual({ address: hv4.address });
    await lab.stopHost(hv4);
    expect(alive(hv4.pid)).toBe(false);
    expect(await netnsList()).not.toContain(hv4.netns);
    const started = Date.now();
    const r = await ssh(lab, hv4, 'true');
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/No route to host|unreachable/i);
    expect(Date.now() - started).toBeLessThan(3000);
    await expect(lab.exec(hv4, ['true'])).rejects.toThrow(/not running/);
  });
});

describe('tier-1 lab: destroy', () => {
  test('a second lab with groups and creation-time shadows; destroy leaves no netns, process, mount, dir or marker, and can be called twice', async () => {
    const thp = '/sys/kernel/mm/transparent_hugepage/enabled';
    const machineThp = readFileSync(thp, 'utf8');
    const lab = await createLab({
      names: ['kvm1', 'xen1'],
      tag: 'gone',
      groups: { kvm: ['kvm1'], xen: ['xen1'] },
      shadows: { [thp]: 'always madvise [never]' },
    });
    const groups = parse(readFileSync(lab.inventoryPath, 'utf8')).all.children;
    expect(Object.keys(groups).sort()).toEqual(['kvm', 'kvm_hosts', 'lab', 'xen']);
    expect(groups.kvm.hosts).toEqual({ kvm1: { address: lab.hosts[0].address } });
    expect(lab.hosts.map((h) => h.address)).not.toContain(host('hv1').address);
    for (const h of lab.hosts) expect(await lab.readFile(h, thp)).toBe('always madvise [never]\n');
    expect(readFileSync(thp, 'utf8')).toBe(machineThp);

    const daemon = await lab.spawn('xen1', ['sleep', '1000']);
    const pids = [...lab.hosts.map((h) => h.pid), daemon.pid];
    const marker = `/run/hvtune-lab/labs/${lab.id}`;
    // The checks below can see what they look for: everything exists before destroy.
    expect(pids.every(alive)).toBe(true);
    expect(mountsMentioning(lab.dir).length).toBeGreaterThan(0);
    for (const h of lab.hosts) expect(await netnsList()).toContain(h.netns);
    expect(existsSync(marker)).toBe(true);

    await lab.destroy();

    const left = await netnsList();
    for (const h of lab.hosts) expect(left).not.toContain(h.netns);
    expect(pids.filter(alive)).toEqual([]);
    expect(mountsMentioning(lab.dir)).toEqual([]);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(lab.dir);
    expect(existsSync(lab.dir)).toBe(false);
    expect(existsSync(marker)).toBe(false);
    await expect(lab.destroy()).resolves.toBeUndefined();
  });
});

describe('tier-1 lab: scripts/lab-clean', () => {
  test('sweeps a lab whose owner died, and leaves a live lab alone', async () => {
    const live = getLab();
    // What a crashed test process leaves: marker, subnet lock, netns with a veth and a process in it, dir.
    const id = reserveLabId('dead');
    const [subnet] = allocateSubnets(id, 1);
    const ns = netnsName(id, 'hv1');
    const dir = `${WORK_ROOT}/${id}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/.hvtune-lab-id`, `${id}\n`);
    await runCommand('ip', ['netns', 'add', ns]);
    await runCommand('ip', ['link', 'add', subnet.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    const inside = spawn('ip', ['netns', 'exec', ns, 'sleep', '1000'], { stdio: 'ignore' });
    const insideExit = new Promise((resolve) => inside.once('exit', (_code, signal) => resolve(signal)));
    const deadOwner = spawn('true');
    await new Promise((resolve) => deadOwner.once('exit', resolve));
    writeFileSync(
      `${LABS_DIR}/${id}`,
      [
        `owner ${deadOwner.pid} 0`,
        'parent 1',
        'run -',
        `dir ${dir}`,
        `host hv1 ${ns} ${subnet.veth} ${subnet.index} ${subnet.cidr} 0 0`,
        '',
      ].join('\n'),
    );
    expect(await netnsList()).toContain(ns);

    const script = fileURLToPath(new URL('../../scripts/lab-clean', import.meta.url));
    const r = await runCommand('bash', [script]);
    expect(r.stdout).toContain(`swept lab ${id}`);

    expect(await insideExit).toBe('SIGKILL');
    expect(await netnsList()).not.toContain(ns);
    expect(existsSync(`/sys/class/net/${subnet.veth}`)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`${SUBNETS_DIR}/${subnet.index}`)).toBe(false);
    expect(existsSync(`${LABS_DIR}/${id}`)).toBe(false);
    // The live lab is untouched.
    expect(existsSync(`${LABS_DIR}/${live.id}`)).toBe(true);
    expect((await ssh(live, host('hv1'), 'hostname')).stdout).toBe('hv1\n');
  });
});
