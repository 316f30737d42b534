// irq_affinity without a host: the shell resolver run on recorded /proc/interrupts and msi_irqs
// trees (virtio-net, ixgbe, i40e, mlx5 naming), and plans on recorded facts (seed 003's machine).

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import irqAffinity, { type IrqAffinityArgs, type IrqAffinityObserved } from '../../../../modules/irq_affinity.js';
import {
  CONF_DIR,
  IRQBALANCE_DEBIAN,
  IRQBALANCE_RHEL,
  RESOLVER,
  SCRIPT_PATH,
  UNIT_PATH,
  confPath,
  parseReadout,
  renderBootScript,
  withIrqbalanceBan,
} from '../../../../modules/lib/irq-affinity.js';
import { normaliseCpusetLenient } from '../../../../modules/lib/cpuset.js';
import type { Facts } from '../../../../src/facts.js';
import type { ReadResult } from '../../../../src/module.js';
import { loadProjectPlaybook, renderPlay, taskArgs } from '../../playbooks/render.js';

const root = mkdtempSync(join(tmpdir(), 'hvtune-irq-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A recorded machine: /proc/interrupts and, per interface, where its device is and which MSI vectors it holds. */
function machine(name: string, interrupts: string, nics: Record<string, { device: string; msiAt?: string; msi?: number[] }>): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'proc'), { recursive: true });
  mkdirSync(join(dir, 'sys/class/net'), { recursive: true });
  writeFileSync(join(dir, 'proc/interrupts'), interrupts);
  for (const [nic, d] of Object.entries(nics)) {
    const devDir = join(dir, 'sys/devices', d.device);
    mkdirSync(devDir, { recursive: true });
    if (d.msi) {
      const msiDir = join(dir, 'sys/devices', d.msiAt ?? d.device, 'msi_irqs');
      mkdirSync(msiDir, { recursive: true });
      for (const irq of d.msi) writeFileSync(join(msiDir, String(irq)), 'msix\n');
    }
    mkdirSync(join(dir, 'sys/class/net', nic), { recursive: true });
    symlinkSync(devDir, join(dir, 'sys/class/net', nic, 'device'));
  }
  return dir;
}

/** Run the resolver the module and the boot script share, as the host's sh would. */
function resolve(dir: string, nic: string): string[] {
  const out = execFileSync('sh', ['-c', `${RESOLVER}\nhv_queue_irqs "$1"`, 'sh', nic], {
    env: { ...process.env, R: dir },
    encoding: 'utf8',
  });
  return out.trim().split('\n').filter(Boolean);
}

// Recorded on a 2-vCPU KVM guest: virtio-net (virtio0, PCI 00:03.0) and virtio-blk (virtio1).
const VIRTIO = `           CPU0       CPU1
  0:         41          0   IO-APIC   2-edge      timer
 24:          0          0   PCI-MSIX-0000:00:03.0   0-edge      virtio0-config
 25:        512          0   PCI-MSIX-0000:00:03.0   1-edge      virtio0-input.0
 26:          1          0   PCI-MSIX-0000:00:03.0   2-edge      virtio0-output.0
 27:          0        310   PCI-MSIX-0000:00:03.0   3-edge      virtio0-input.1
 28:          0          1   PCI-MSIX-0000:00:03.0   4-edge      virtio0-output.1
 29:          0          0   PCI-MSIX-0000:00:06.0   0-edge      virtio1-config
 30:        800          0   PCI-MSIX-0000:00:06.0   1-edge      virtio1-req.0
NMI:          0          0   Non-maskable interrupts
`;
// ixgbe (two ports) and i40e, as on a 4-CPU host: queue vectors, then the link/misc vector.
const INTEL = `           CPU0       CPU1       CPU2       CPU3
 80:       1200          0          0          0  IR-PCI-MSI 1572864-edge      ens1f0-TxRx-0
 81:          0       1100          0          0  IR-PCI-MSI 1572865-edge      ens1f0-TxRx-1
 82:          0          0          3          0  IR-PCI-MSI 1572866-edge      ens1f0
 83:          9          0          0          0  IR-PCI-MSI 1574912-edge      ens1f1-TxRx-0
 84:          0          0          0          2  IR-PCI-MSI 1574913-edge      ens1f1
 90:          1          0          0          0  IR-PCI-MSI 3145728-edge      i40e-0000:3b:00.0:misc
 91:        700          0          0          0  IR-PCI-MSI 3145729-edge      i40e-ens2f0-TxRx-0
 92:          0        650          0          0  IR-PCI-MSI 3145730-edge      i40e-ens2f0-TxRx-1
 93:          0          0        640          0  IR-PCI-MSI 3145731-edge      i40e-ens2f0-TxRx-2
`;
// mlx5 names its vectors by PCI address only: msi_irqs is what ties them to the interface.
const MLX5 = `           CPU0       CPU1
 120:          5          0  IR-PCI-MSIX-0000:5e:00.0    0-edge      mlx5_async0@pci:0000:5e:00.0
 121:       9000          0  IR-PCI-MSIX-0000:5e:00.0    1-edge      mlx5_comp0@pci:0000:5e:00.0
 122:          0       8000  IR-PCI-MSIX-0000:5e:00.0    2-edge      mlx5_comp1@pci:0000:5e:00.0
 130:          0       4000  IR-PCI-MSIX-0000:5e:00.1    1-edge      mlx5_comp0@pci:0000:5e:00.1
`;

describe('queue interrupts found by device and queue name', () => {
  test('virtio-net: input.N and output.N of its own virtio device (msi_irqs on the PCI parent), not config, not virtio-blk', () => {
    const dir = machine('virtio', VIRTIO, {
      ens3: { device: 'pci0000:00/0000:00:03.0/virtio0', msiAt: 'pci0000:00/0000:00:03.0', msi: [24, 25, 26, 27, 28] },
    });
    expect(resolve(dir, 'ens3')).toEqual([
      '25 0 virtio0-input.0',
      '26 0 virtio0-output.0',
      '27 1 virtio0-input.1',
      '28 1 virtio0-output.1',
    ]);
  });

  test('ixgbe by msi_irqs: TxRx-N only, not the link vector nor the other port', () => {
    const dir = machine('ixgbe', INTEL, {
      ens1f0: { device: 'pci0000:00/0000:18:00.0', msi: [80, 81, 82] },
      ens1f1: { device: 'pci0000:00/0000:18:00.1', msi: [83, 84] },
    });
    expect(resolve(dir, 'ens1f0')).toEqual(['80 0 ens1f0-TxRx-0', '81 1 ens1f0-TxRx-1']);
    expect(resolve(dir, 'ens1f1')).toEqual(['83 0 ens1f1-TxRx-0']);
  });

  test('without msi_irqs, by the interface name in the vector names: ens1 is not ens1f0', () => {
    const dir = machine('nomsi', INTEL, {
      ens1f0: { device: 'pci0000:00/0000:18:00.0' },
      ens1: { device: 'pci0000:00/0000:19:00.0' },
      ens2f0: { device: 'pci0000:00/0000:3b:00.0' },
    });
    expect(resolve(dir, 'ens1f0')).toEqual(['80 0 ens1f0-TxRx-0', '81 1 ens1f0-TxRx-1']);
    expect(resolve(dir, 'ens1')).toEqual([]);
    expect(resolve(dir, 'ens2f0')).toEqual(['91 0 i40e-ens2f0-TxRx-0', '92 1 i40e-ens2f0-TxRx-1', '93 2 i40e-ens2f0-TxRx-2']);
  });

  test('mlx5: mlx5_compN of its own function, not async, not the other port', () => {
    const dir = machine('mlx5', MLX5, {
      ens5f0np0: { device: 'pci0000:5d/0000:5e:00.0', msi: [120, 121, 122] },
      ens5f1np1: { device: 'pci0000:5d/0000:5e:00.1', msi: [130] },
    });
    expect(resolve(dir, 'ens5f0np0')).toEqual(['121 0 mlx5_comp0@pci:0000:5e:00.0', '122 1 mlx5_comp1@pci:0000:5e:00.0']);
    expect(resolve(dir, 'ens5f1np1')).toEqual(['130 0 mlx5_comp0@pci:0000:5e:00.1']);
  });

  test('a missing interface fails the resolver', () => {
    const dir = machine('empty', VIRTIO, {});
    expect(() => resolve(dir, 'ens9')).toThrow();
  });

  test('the boot script is valid sh and holds the same resolver', () => {
    const script = renderBootScript();
    expect(script).toContain(RESOLVER);
    // -n: parse only, nothing runs (it would write this machine's /proc/irq)
    execFileSync('sh', ['-n', '-c', script]);
  });
});

const seed003 = Object.values(JSON.parse(readFileSync('test/fixtures/facts/seed003-2s10c-ht.json', 'utf8')).hosts)[0] as Facts;
const ctx = { host: 'zs-compute1', facts: seed003 };

/** What the read script prints for ens1f0 on seed 003's machine: 4 i40e queues, all on CPU 0 now. */
function readout(opts: { affinity?: (q: number) => string; irqbalance?: 'active' | 'inactive' | 'missing'; unit?: boolean } = {}): string {
  const ib = opts.irqbalance ?? 'active';
  return [
    'online 0-39',
    'node 0',
    'device present',
    ...[0, 1, 2, 3].map((q) => `irq ${91 + q} ${q} ${opts.affinity?.(q) ?? '0-39'} i40e-ens1f0-TxRx-${q}`),
    `unit ${opts.unit ? 'enabled' : 'disabled'}`,
    ib === 'missing' ? 'irqbalance missing' : 'irqbalance installed',
    ...(ib === 'missing' ? [] : [`irqbalance-active ${ib}`, `irqbalance-enabled ${ib === 'active' ? 'enabled' : 'disabled'}`]),
  ].join('\n');
}

function observed(stdout: string, files: Record<string, string | null> = {}): IrqAffinityObserved {
  const args: IrqAffinityArgs = { device: 'ens1f0', cpus: '0' };
  const results: ReadResult[] = [
    { kind: 'script', stdout, stderr: '', code: 0 },
    ...irqAffinity
      .read(args)
      .slice(1)
      .map(
        (r): ReadResult =>
          r.kind === 'file'
            ? { kind: 'file', path: r.path, content: files[r.path] ?? null }
            : {
                kind: 'glob',
                pattern: r.kind === 'glob' ? r.pattern : '',
                files: Object.fromEntries(
                  Object.entries(files).filter(([p, c]) => p.startsWith(CONF_DIR) && c !== null) as [string, string][],
                ),
              },
      ),
  ];
  return irqAffinity.parse(args, results);
}

/** The files an apply of `changes` leaves, on top of `files`. */
function applied(files: Record<string, string | null>, changes: ReturnType<typeof irqAffinity.plan>['changes']) {
  const out = { ...files };
  for (const c of changes) if (c.diff) out[c.diff.path] = c.diff.after;
  return out;
}

describe('plan on seed 003 (ens1f0 on node 0: CPUs 0-9, 20-29; vCPUs on 1-9)', () => {
  const args: IrqAffinityArgs = { device: 'ens1f0', policy: 'nic-node', exclude: '1-9', irqbalance: 'ban' };

  test("nic-node minus the vCPUs: queues round-robin over the node's other CPUs, in order", () => {
    const { changes } = irqAffinity.plan(args, observed(readout()), ctx);
    const irqs = changes.filter((c) => c.target.startsWith('irq:'));
    expect(irqs.map((c) => [c.target, c.before, c.after])).toEqual([
      ['irq:ens1f0/i40e-ens1f0-TxRx-0', '0-39', '0'],
      ['irq:ens1f0/i40e-ens1f0-TxRx-1', '0-39', '20'],
      ['irq:ens1f0/i40e-ens1f0-TxRx-2', '0-39', '21'],
      ['irq:ens1f0/i40e-ens1f0-TxRx-3', '0-39', '22'],
    ]);
    expect(irqs.every((c) => c.effect === 'live')).toBe(true);
  });

  test('persists the script, the unit, the conf and enables the unit; bans the CPUs in irqbalance and restarts it', () => {
    const debianDefault = '# irqbalance defaults\n#IRQBALANCE_ONESHOT=\n#IRQBALANCE_BANNED_CPULIST=\n';
    const { changes } = irqAffinity.plan(args, observed(readout(), { [IRQBALANCE_DEBIAN]: debianDefault }), ctx);
    const byTarget = new Map(changes.map((c) => [c.target, c]));
    expect(byTarget.get(SCRIPT_PATH)?.effect).toBe('persistent');
    expect(byTarget.get(UNIT_PATH)?.diff?.after).toContain(`ExecStart=${SCRIPT_PATH}`);
    const conf = byTarget.get(confPath('ens1f0'))?.diff?.after ?? '';
    expect(conf).toContain('DEVICE=ens1f0\nCPUS=0,20,21,22,23,24,25,26,27,28,29\n');
    expect(conf).toContain('IRQBALANCE_BAN=0-9,20-29\n');
    expect(byTarget.get('service:hvtune-irq-affinity.service/enabled')?.after).toBe('enabled');
    const ib = byTarget.get(IRQBALANCE_DEBIAN)?.diff?.after ?? '';
    expect(ib).toContain('#IRQBALANCE_BANNED_CPULIST=\n');
    expect(ib).toContain('IRQBALANCE_BANNED_CPULIST="0-9,20-29"\n');
    expect(ib).toContain(`IRQBALANCE_ARGS="--policyscript=${SCRIPT_PATH}"\n`);
    expect(byTarget.get('service:irqbalance/restart')?.effect).toBe('service-restart');
  });

  test('a second run after apply plans nothing', () => {
    const first = irqAffinity.plan(args, observed(readout()), ctx);
    const files = applied({}, first.changes);
    const want = new Map(first.changes.filter((c) => c.target.startsWith('irq:')).map((c) => [c.target, c.after as string]));
    const after = readout({ affinity: (q) => want.get(`irq:ens1f0/i40e-ens1f0-TxRx-${q}`) ?? '', unit: true });
    expect(irqAffinity.plan(args, observed(after, files), ctx).changes).toEqual([]);
  });

  test("another device's ban adds up instead of fighting over the list; Rocky's file is /etc/sysconfig/irqbalance", () => {
    const other = `${CONF_DIR}/ens1f1.conf`;
    const { changes } = irqAffinity.plan(
      { device: 'ens1f0', cpus: '20-21' },
      observed(readout(), { [other]: 'DEVICE=ens1f1\nCPUS=30\nIRQBALANCE_BAN=30-31\n' }),
      ctx,
    );
    expect(changes.find((c) => c.target === IRQBALANCE_RHEL)?.diff?.after).toContain('IRQBALANCE_BANNED_CPULIST="20-21,30-31"');
  });

  test('stop: stops and disables irqbalance; leave: touches it not', () => {
    const stop = irqAffinity.plan({ ...args, irqbalance: 'stop' }, observed(readout()), ctx).changes;
    expect(stop.filter((c) => c.target.startsWith('service:irqbalance')).map((c) => [c.target, c.after])).toEqual([
      ['service:irqbalance/active', 'inactive'],
      ['service:irqbalance/enabled', 'disabled'],
    ]);
    const leave = irqAffinity.plan({ ...args, irqbalance: 'leave', persist: false }, observed(readout()), ctx).changes;
    expect(leave.every((c) => c.target.startsWith('irq:'))).toBe(true);
  });

  test('irqbalance not installed: a warning, no file for it', () => {
    const r = irqAffinity.plan(args, observed(readout({ irqbalance: 'missing' })), ctx);
    expect(r.warnings?.join('\n')).toMatch(/irqbalance is not installed/);
    expect(r.changes.some((c) => c.target === IRQBALANCE_DEBIAN)).toBe(false);
  });

  test('clear errors: no CPU left, offline CPU, missing device, no queue interrupts', () => {
    expect(() => irqAffinity.plan({ device: 'ens1f0', cpus: '1-3', exclude: '0-9' }, observed(readout()), ctx)).toThrow(
      /no CPU left for the queue interrupts of ens1f0: 1-3 minus exclude 0-9/,
    );
    expect(() => irqAffinity.plan({ device: 'ens1f0', cpus: '38-41' }, observed(readout()), ctx)).toThrow(/cpus 40-41 are not online/);
    expect(() => irqAffinity.plan(args, observed('online 0-39\ndevice missing'), ctx)).toThrow(/no network device ens1f0/);
    expect(() => irqAffinity.plan(args, observed('online 0-39\ndevice present'), ctx)).toThrow(/no queue interrupts of ens1f0/);
  });
});

describe('irqbalance environment file', () => {
  test('keeps other lines and arguments, replaces an older list, is stable', () => {
    const before = 'ENABLED=1\nIRQBALANCE_BANNED_CPULIST=3\nIRQBALANCE_ARGS="--hintpolicy=subset"\n';
    const after = withIrqbalanceBan(before, [1, 2]);
    expect(after).toBe(`ENABLED=1\nIRQBALANCE_BANNED_CPULIST="1-2"\nIRQBALANCE_ARGS="--hintpolicy=subset --policyscript=${SCRIPT_PATH}"\n`);
    expect(withIrqbalanceBan(after, [1, 2])).toBe(after);
  });

  test('the read script output parses, affinity normalised', () => {
    const r = parseReadout(
      'online 0-1\nnode -1\ndevice present\nirq 27 1 0,1 virtio0-input.1\nirq 25 0 1 virtio0-input.0\n',
      normaliseCpusetLenient,
    );
    expect(r.deviceNode).toBeNull();
    expect(r.irqs.map((q) => [q.irq, q.affinity])).toEqual([
      [25, '1'],
      [27, '0-1'],
    ]);
  });
});

describe('the shipped playbooks on seed 003', () => {
  test.each([
    ['numa-pinning.yml', "NIC queue interrupts on the host cores of the NIC's node, off the vCPUs"],
    ['kvm-host-network.yml', "Host NIC queue interrupts on its node's host cores"],
  ])("%s: ens1f0's queues on the host's reserved core of node 0 (CPUs 0 and 20), never on the vCPUs' 1-9", async (file, task) => {
    const args = taskArgs(renderPlay(await loadProjectPlaybook(file), 0, seed003), task) as IrqAffinityArgs;
    expect(args).toEqual({ device: 'ens1f0', policy: 'nic-node', exclude: '1-9,21-29', irqbalance: 'ban' });
    const moves = irqAffinity
      .plan(args, observed(readout()), ctx)
      .changes.filter((c) => c.target.startsWith('irq:'))
      .map((c) => c.after);
    expect(moves).toEqual(['0', '20', '0', '20']);
  });
});
