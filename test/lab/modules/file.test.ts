// file on a tier-1 lab host: content with a diff in check mode, mode and group read back with
// stat on the host, drift found and put back, backups kept, removal.

import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune, labFile, latestBackup, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const CONF = '/etc/hvtune/ksm.conf';

const playbook = (extra = '') => `
- name: files
  hosts: lab
  tasks:
    - name: ksm config
      file:
        path: ${CONF}
        content: "# seed 002: KSM off on hosts tuned for guest performance\\nKSM_ENABLED=0\\n"
        mode: "0640"
        group: kvm
${extra}
    - name: spool directory
      file: { path: /var/lib/hvtune-spool, state: directory, mode: "u=rwx,g=rx,o=" }
`;

const stat = async (path: string) => (await lab().exec(lab().hosts[0], ['stat', '-c', '%a %U %G %F', path])).stdout.trim();

describe('file', () => {
  it('check mode shows the diffs and creates nothing', async () => {
    const r = await play(lab(), playbook(), { check: true, diff: true });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.report.changes.map((c) => [c.target, c.effect])).toEqual([
      [CONF, 'persistent'],
      ['/var/lib/hvtune-spool', 'persistent'],
    ]);
    expect(r.report.changes[0].diff).toContain('+KSM_ENABLED=0');
    expect(r.report.changes[0].summary).toBe(`create ${CONF} (mode 0640, group kvm)`);
    expect(await lab().readFile(lab().hosts[0], CONF)).toBeNull();
    expect(await stat('/var/lib/hvtune-spool')).toBe('');
  });

  it('apply creates them with mode and group; a second run changes nothing', async () => {
    const r = await play(lab(), playbook());
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await lab().readFile(lab().hosts[0], CONF)).toBe('# seed 002: KSM off on hosts tuned for guest performance\nKSM_ENABLED=0\n');
    expect(await stat(CONF)).toBe('640 root kvm regular file');
    expect(await stat('/var/lib/hvtune-spool')).toBe('750 root root directory');
    const again = await play(lab(), playbook());
    expect(again.code).toBe(0);
    expect(again.report.changes).toEqual([]);
  });

  it('finds exactly a hand chmod and puts the mode back', async () => {
    await lab().exec(lab().hosts[0], ['chmod', '644', CONF]);
    const check = await play(lab(), playbook(), { check: true });
    expect(check.report.changes.map((c) => [c.target, c.before, c.after])).toEqual([[`${CONF}:mode`, '0644', '0640']]);
    expect((await play(lab(), playbook())).code).toBe(0);
    expect(await stat(CONF)).toBe('640 root kvm regular file');
  });

  it('finds a hand edit, shows it as a diff, restores the content and keeps the edit as a backup', async () => {
    const h = lab().hosts[0];
    await lab().exec(h, ['sh', '-c', `echo KSM_ENABLED=1 >> ${CONF}`]);
    const edited = await lab().readFile(h, CONF);
    const check = await play(lab(), playbook(), { check: true });
    expect(check.report.changes.map((c) => c.target)).toEqual([CONF]);
    expect(check.report.changes[0].diff).toContain('-KSM_ENABLED=1');
    expect((await play(lab(), playbook())).code).toBe(0);
    expect(await lab().readFile(h, CONF)).not.toContain('KSM_ENABLED=1');
    expect(await latestBackup(lab(), h, CONF)).toBe(edited);
    expect(await lab().readFile(h, `${CONF}.hvtune-backup`)).toBeNull(); // nothing beside the file
    expect(await stat(CONF)).toBe('640 root kvm regular file');
  });

  it('a default ACL on the directory does not keep the mode from being the one asked for', async () => {
    // a default ACL overrides the umask a new file would get its mode from (0666 here): the write
    // sets the mode itself and proves it before the rename
    const dir = '/etc/hvtune-acl';
    await lab().exec(lab().hosts[0], ['mkdir', '-p', dir]);
    await lab().exec(lab().hosts[0], ['setfacl', '-d', '-m', 'u::rwx,g::rwx,o::rwx', dir]);
    const book = `
- hosts: lab
  tasks:
    - file: { path: ${dir}/tuned.conf, content: "KSM_ENABLED=0\\n", mode: "0644" }
`;
    const r = await play(lab(), book);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await stat(`${dir}/tuned.conf`)).toBe('644 root root regular file');
    expect((await play(lab(), book)).report.changes).toEqual([]);
  });

  it('an unquoted octal mode is refused before anything connects', async () => {
    const file = labFile(lab(), 'bad.yml', playbook().replace('mode: "0640"', 'mode: 0640'));
    const r = await hvtune(['play', file, '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath, '--check']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/mode 640 is read by YAML as a decimal number \(octal 1200\); write it quoted/);
  });

  it('state absent removes the file; a non-empty directory is refused in check mode', async () => {
    const absent = `
- name: cleanup
  hosts: lab
  tasks:
    - name: no ksm config
      file: { path: ${CONF}, state: absent }
`;
    const r = await play(lab(), absent);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await lab().readFile(lab().hosts[0], CONF)).toBeNull();
    expect((await play(lab(), absent)).report.changes).toEqual([]);
    const dir = await play(lab(), absent.replace(`path: ${CONF}`, 'path: /etc/hvtune-nonempty'), { check: true });
    expect(dir.code).toBe(0);
    await lab().writeFile(lab().hosts[0], '/etc/hvtune-nonempty/keep', 'x');
    const refused = await play(lab(), absent.replace(`path: ${CONF}`, 'path: /etc/hvtune-nonempty'), { check: true });
    expect(refused.code).toBe(1);
    expect(refused.report.failures[0].message).toContain('not empty');
  });
});

describe('file with a template', () => {
  it('renders a local template (relative to the playbook) with vars and facts, strictly', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { dirname, join } = await import('node:path');
    const book = labFile(
      lab(),
      'site.yml',
      `- name: templated
  hosts: lab
  vars: { ksm_enabled: 0 }
  tasks:
    - name: ksm defaults
      file: { path: /etc/default/hvtune-ksm, template: templates/ksm.hbs, mode: "0644" }
`,
    );
    mkdirSync(join(dirname(book), 'templates'));
    writeFileSync(join(dirname(book), 'templates/ksm.hbs'), '# on {{facts.hostname}}\nKSM_ENABLED={{ksm_enabled}}\n');
    const base = ['play', book, '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath, '--json'];
    const applied = await hvtune(base);
    expect(applied.code, applied.stderr).toBe(0);
    const host = lab().hosts[0];
    expect(await lab().readFile(host, '/etc/default/hvtune-ksm')).toBe(`# on ${host.name}\nKSM_ENABLED=0\n`);
    expect(JSON.parse((await hvtune(base)).stdout).changes).toEqual([]);

    writeFileSync(join(dirname(book), 'templates/ksm.hbs'), 'KSM_ENABLED={{no_such_var}}\n');
    const bad = await hvtune(base);
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/no_such_var/);
  });
});
