// Benchmark labs: N tier-1 hosts (the project's own harness), seeded identically for every tool,
// the files each tool needs to reach them, and the end-state check that both tools converge to
// the same hosts.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab } from '../dist/src/demo/lab/tier1.js';

/** The settings of Debian 12's /etc/default/grub: what a real host has before the cmdline edit. */
const DEBIAN_DEFAULT_GRUB = `GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=\`lsb_release -i -s 2> /dev/null || echo Debian\`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX=""
`;

/** What the playbooks set; the live values are checked against it after every cold apply. */
export const DESIRED_SYSCTLS = {
  'net.ipv4.tcp_rmem': '4096 87380 33554432',
  'net.ipv4.tcp_wmem': '4096 65536 33554432',
  'net.ipv4.tcp_window_scaling': '1',
  'net.ipv4.tcp_fin_timeout': '30',
  'net.ipv4.tcp_keepalive_time': '600',
  'net.ipv4.tcp_keepalive_intvl': '30',
  'net.ipv4.tcp_keepalive_probes': '5',
  'net.ipv4.tcp_tw_reuse': '1',
  'net.ipv4.tcp_max_syn_backlog': '16384',
  'net.ipv4.tcp_synack_retries': '2',
  'net.ipv4.tcp_slow_start_after_idle': '0',
  'net.core.somaxconn': '4096',
};

const SYSCTL_FILE = '/etc/sysctl.d/60-bench-net.conf';
const COMPARED_FILES = [
  SYSCTL_FILE,
  '/etc/default/grub',
  '/etc/modprobe.d/bench-kvm.conf',
  '/etc/modprobe.d/bench-vhost-net.conf',
  '/etc/tmpfiles.d/bench-thp.conf',
  '/etc/libvirt/qemu.conf',
];

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** Hosts started at once: a thousand sshds starting together on 2 cores miss the harness's wait. */
const BUILD_CHUNK = 200;

/** Build N hosts and seed each with the same starting files. */
export async function buildBenchLab(count) {
  const lab = await createLab({ hosts: Math.min(count, BUILD_CHUNK), tag: 'bench' });
  try {
    while (lab.hosts.length < count) await lab.addHosts(Math.min(BUILD_CHUNK, count - lab.hosts.length));
    await inBatches(lab.hosts, 20, (h) => lab.writeFile(h, '/etc/default/grub', DEBIAN_DEFAULT_GRUB));
    writeClientFiles(lab);
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}

/** Ansible inventory and configuration, and the floor's host list, in the lab's directory. */
function writeClientFiles(lab) {
  const dir = join(lab.dir, 'bench');
  mkdirSync(dir, { recursive: true });
  const lines = ['[lab]', ...lab.hosts.map((h) => `${h.name} ansible_host=${h.address} ansible_port=${h.port}`), ''];
  lines.push(
    '[lab:vars]',
    'ansible_user=root',
    `ansible_ssh_private_key_file=${lab.keyPath}`,
    // An explicit interpreter, as a tuned setup has: discovery would cost one more round trip per host.
    'ansible_python_interpreter=/usr/bin/python3',
    '',
  );
  writeFileSync(join(dir, 'inventory.ini'), lines.join('\n'));
  writeFileSync(
    join(dir, 'hosts.json'),
    JSON.stringify(lab.hosts.map(({ name, address, port, hostKeyPublic }) => ({ name, address, port, hostKeyPublic }))),
  );
}

/** ansible.cfg for `forks` hosts at once; ANSIBLE_HOME keeps Ansible's files out of /root. */
export function ansibleEnv(lab, forks) {
  // Short: the ControlPath socket name must fit in 108 bytes.
  const home = join('/tmp', `hvb-${lab.id}`);
  mkdirSync(home, { recursive: true });
  const cfg = join(home, 'ansible.cfg');
  writeFileSync(
    cfg,
    [
      '[defaults]',
      `forks = ${forks}`,
      'host_key_checking = False',
      'retry_files_enabled = False',
      `local_tmp = ${home}/tmp`,
      '',
      '[ssh_connection]',
      'pipelining = True',
      // The default ssh_args (ControlMaster auto, ControlPersist 60s), plus: do not write the
      // lab's host keys into the machine's /root/.ssh/known_hosts.
      'ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null',
      `control_path_dir = ${home}/cp`,
      '',
    ].join('\n'),
  );
  return { ...process.env, ANSIBLE_CONFIG: cfg, ANSIBLE_HOME: home, ANSIBLE_NOCOLOR: '1' };
}

export function ansibleHome(lab) {
  return join('/tmp', `hvb-${lab.id}`);
}

const SNAPSHOT_SCRIPT = `for f in "$@"; do
  if [ -f "$f" ]; then printf '=== %s %s\\n' "$f" "$(stat -c %a "$f")"; cat "$f"; else printf '=== %s absent\\n' "$f"; fi
done
printf '=== live\\n'
sysctl ${Object.keys(DESIRED_SYSCTLS).join(' ')}`;

/** key=value lines of a sysctl.d file, whitespace normalised (the two tools space them differently). */
function sysctlFileValues(text) {
  const values = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([^#;=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) values[m[1]] = m[2].split(/\s+/).join(' ');
  }
  return values;
}

/**
 * The end state of one host in a comparable form: files byte for byte with their mode, except the
 * sysctl file (compared as key → value), and the live sysctls.
 */
export async function hostState(lab, host) {
  const r = await lab.exec(host, ['sh', '-c', SNAPSHOT_SCRIPT, 'sh', ...COMPARED_FILES]);
  const state = {};
  let current = null;
  for (const line of r.stdout.split('\n')) {
    const header = /^=== (\S+)(?: (\S+))?$/.exec(line);
    if (header) {
      current = header[1];
      state[current] = { mode: header[2] ?? null, lines: [] };
    } else if (current) state[current].lines.push(line);
  }
  const out = {};
  for (const [path, { mode, lines }] of Object.entries(state)) {
    const text = lines.join('\n');
    if (path === 'live') out.live = sysctlFileValues(text.replace(/\t/g, ' '));
    else if (path === SYSCTL_FILE) out[path] = { mode, values: sysctlFileValues(text) };
    else out[path] = { mode, text };
  }
  return out;
}

/** Problems with the lab's end state: hosts differing from `reference`, live values not as desired. */
export async function checkEndState(lab, reference) {
  const problems = [];
  const states = [];
  await inBatches(lab.hosts, 20, async (h) => states.push([h.name, await hostState(lab, h)]));
  const ref = reference ?? states[0][1];
  for (const [name, state] of states) {
    for (const [key, want] of Object.entries(DESIRED_SYSCTLS)) {
      if (state.live?.[key] !== want) problems.push(`${name}: live ${key} = ${state.live?.[key]}, want ${want}`);
      if (state[SYSCTL_FILE]?.values?.[key] !== want)
        problems.push(`${name}: ${SYSCTL_FILE} has ${key} = ${state[SYSCTL_FILE]?.values?.[key]}`);
    }
    for (const path of COMPARED_FILES) {
      if (JSON.stringify(state[path]) !== JSON.stringify(ref[path])) {
        problems.push(`${name}: ${path} differs: ${JSON.stringify(state[path])} vs ${JSON.stringify(ref[path])}`);
      }
    }
  }
  return { reference: ref, problems };
}
