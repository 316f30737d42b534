// Composition: import_playbook, import_tasks/include_tasks, vars_files and profiles are read at
// load time; every problem in an included file names its own file:line:column and the include chain
// that led there; cycles are errors; templates of included files are checked before connecting.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { loadModules } from '../../../modules/index.js';
import { parseInventory } from '../../../src/inventory.js';
import { planInputs } from '../../../src/planfile.js';
import { loadPlaybook } from '../../../src/playbook.js';
import { shippedProfilesDir } from '../../../src/profiles.js';
import { playScopes } from '../../../src/template-scope.js';
import { fakeModules } from './fake-modules.js';
import { problemsOf } from './problems.js';

const root = mkdtempSync(join(tmpdir(), 'hvtune-compose-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A path as messages show it: relative below the working directory. */
const shownPath = (p: string) => {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
};

/** A fresh folder with these files; returns its path. */
function repo(files: Record<string, string>): string {
  const dir = join(root, `r${n++}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const savedPath = process.env.HVTUNE_PROFILES_PATH;
afterEach(() => {
  if (savedPath === undefined) delete process.env.HVTUNE_PROFILES_PATH;
  else process.env.HVTUNE_PROFILES_PATH = savedPath;
});

const sysctl = (name: string, key = 'net.core.somaxconn', value = '1024') =>
  `  - name: ${name}\n    sysctl: { values: { ${key}: ${value} } }\n`;

describe('import_playbook', () => {
  test("the other playbook's plays take its place, in order, with the import's tags; positions stay in their file", () => {
    const dir = repo({
      'site.yml':
        '- hosts: all\n  tasks:\n' +
        sysctl('first') +
        '- import_playbook: more/other.yml\n  tags: [net]\n- hosts: hv1\n  tasks:\n' +
        sysctl('last'),
      'more/other.yml': '- name: other\n  hosts: all\n  tags: [own]\n  tasks:\n' + sysctl('middle'),
    });
    const book = loadPlaybook(join(dir, 'site.yml'), fakeModules);
    expect(book.plays.map((p) => [p.name, p.tasks.map((t) => t.name), p.tags])).toEqual([
      ['all', ['first'], []],
      ['other', ['middle'], ['net', 'own']],
      ['hv1', ['last'], []],
    ]);
    const middle = book.plays[1].tasks[0];
    expect(middle.pos).toMatchObject({ file: join(dir, 'more/other.yml'), line: 5, column: 5 });
    expect(middle.pos.via).toEqual([{ file: join(dir, 'site.yml'), line: 5, column: 3 }]);
    expect(book.files).toEqual([join(dir, 'site.yml'), join(dir, 'more/other.yml')]);
  });

  test('a cycle of imports is an error at the import that closes it', () => {
    const dir = repo({
      'a.yml': '- import_playbook: b.yml\n',
      'b.yml': '- hosts: all\n  tasks: []\n- import_playbook: a.yml\n',
    });
    const [problem] = problemsOf(() => loadPlaybook(join(dir, 'a.yml'), fakeModules));
    expect(problem).toBe(
      `${join(dir, 'b.yml')}:3:3 plays[1].import_playbook: import cycle: ${join(dir, 'a.yml')} → ${join(dir, 'b.yml')} → ${join(dir, 'a.yml')} (included from ${join(dir, 'a.yml')}:1:3)`,
    );
  });

  test('a missing playbook is named at the import', () => {
    const dir = repo({ 'site.yml': '- import_playbook: nope.yml\n' });
    expect(problemsOf(() => loadPlaybook(join(dir, 'site.yml'), fakeModules))).toEqual([
      `${join(dir, 'site.yml')}:1:3 plays[0].import_playbook: no such playbook: ${join(dir, 'nope.yml')}`,
    ]);
  });
});

describe('import_tasks and include_tasks', () => {
  test('the tasks take the entry’s place; its when: and tags: apply to each of them', () => {
    const dir = repo({
      'site.yml':
        '- hosts: all\n  tasks:\n' +
        sysctl('before') +
        '  - import_tasks: tasks/net.yml\n    when: "eq site \'lab\'"\n    tags: [net]\n' +
        '  - include_tasks: tasks/net.yml\n' +
        sysctl('after'),
      'tasks/net.yml': sysctl('one').replace(/^ {2}/gm, '') + '- include_tasks: deeper.yml\n  when: big\n',
      'tasks/deeper.yml': '- name: two\n  tags: own\n  sysctl: { values: { net.core.somaxconn: 4096 } }\n',
    });
    const [play] = loadPlaybook(join(dir, 'site.yml'), fakeModules).plays;
    expect(play.tasks.map((t) => [t.name, t.includeWhen ?? [], t.tags])).toEqual([
      ['before', [], []],
      ['one', ["eq site 'lab'"], ['net']],
      ['two', ["eq site 'lab'", 'big'], ['net', 'own']],
      ['one', [], []],
      ['two', ['big'], ['own']],
      ['after', [], []],
    ]);
    expect(play.tasks[2].path).toBe('tasks[0]');
    expect(play.tasks[2].pos).toEqual({
      file: join(dir, 'tasks/deeper.yml'),
      line: 1,
      column: 3,
      via: [
        { file: join(dir, 'tasks/net.yml'), line: 3, column: 3 },
        { file: join(dir, 'site.yml'), line: 5, column: 5 },
      ],
    });
  });

  test('a file that includes itself through another is a cycle; a loop: on the entry is refused', () => {
    const dir = repo({
      'site.yml': '- hosts: all\n  tasks:\n  - import_tasks: a.yml\n  - include_tasks: a.yml\n    loop: [1, 2]\n',
      'a.yml': '- import_tasks: b.yml\n',
      'b.yml': '- import_tasks: a.yml\n',
    });
    const a = join(dir, 'a.yml');
    const b = join(dir, 'b.yml');
    expect(problemsOf(() => loadPlaybook(join(dir, 'site.yml'), fakeModules))).toEqual([
      `${b}:1:3 tasks[0].import_tasks: include cycle: ${a} → ${b} → ${a} (included from ${a}:1:3, included from ${join(dir, 'site.yml')}:3:5)`,
      `${join(dir, 'site.yml')}:5:5 plays[0].tasks[1].loop: include_tasks takes only name, when, tags besides the file (hvtune reads it at load time): unknown key "loop"`,
    ]);
  });

  test('a bad value in an included file: its own position, and the chain', () => {
    const dir = repo({
      'site.yml': '- hosts: all\n  tasks:\n  - import_tasks: net.yml\n',
      'net.yml': '- name: bad\n  sysctl:\n    values: { net.core.somaxconn: lots }\n',
    });
    expect(problemsOf(() => loadPlaybook(join(dir, 'site.yml'), fakeModules))).toEqual([
      `${join(dir, 'net.yml')}:3:15 tasks[0].sysctl.values: "net.core.somaxconn" must be an integer or integers separated by spaces (included from ${join(dir, 'site.yml')}:3:5)`,
    ]);
  });
});

describe('vars_files and precedence', () => {
  test('play vars < vars_files (the later file wins) < profile vars; profile defaults apart, below the inventory', () => {
    const dir = repo({
      'site.yml':
        '- hosts: all\n  vars: { a: play, b: play, c: play, d: play }\n  vars_files: [vars/one.yml, vars/two.yml]\n  profiles: [p]\n  tasks: []\n',
      'vars/one.yml': 'b: one\nc: one\nd: one\n',
      'vars/two.yml': 'c: two\nd: two\n',
      'profiles/p.yml': 'defaults: { a: default, e: default }\nvars: { d: profile }\n',
    });
    const [play] = loadPlaybook(join(dir, 'site.yml'), fakeModules).plays;
    expect(play.vars).toEqual({ a: 'play', b: 'one', c: 'two', d: 'profile' });
    expect(play.defaults).toEqual({ a: 'default', e: 'default' });
    expect(play.profiles).toEqual(['p']);
  });

  test('a vars file that is not a mapping of variables, and a templated file name, are refused', () => {
    const dir = repo({
      'site.yml': '- hosts: all\n  vars_files: [list.yml, "{{ env }}.yml"]\n  tasks: []\n',
      'list.yml': '- a\n- b\n',
    });
    expect(problemsOf(() => loadPlaybook(join(dir, 'site.yml'), fakeModules))).toEqual([
      `${join(dir, 'list.yml')}:1:1: must be a mapping of variables (included from ${join(dir, 'site.yml')}:2:16)`,
      `${join(dir, 'site.yml')}:2:26 plays[0].vars_files[1]: vars_files are read before any host is reached: name the file, without a template`,
    ]);
  });
});

describe('profiles', () => {
  const site = '- hosts: all\n  profiles: [kvm-latency]\n  tasks:\n' + sysctl('own', 'net.ipv4.tcp_fin_timeout', '30');

  test("a profile's includes come first, then its own tasks; the play's tasks last; a diamond applies once", () => {
    const dir = repo({
      'site.yml': site,
      'profiles/kvm-latency.yml': 'include: [net, disk]\ndefaults: { ring: 512 }\ntasks:\n' + sysctl('latency'),
      'profiles/net.yml': 'include: base\ndefaults: { ring: 256, budget: 300 }\ntasks:\n' + sysctl('net'),
      'profiles/disk/meta.yml': 'include: [base]\n',
      'profiles/disk/tasks.yml': sysctl('disk').replace(/^ {2}/gm, ''),
      'profiles/disk/handlers.yml': '- name: reload\n  service: { name: procps, state: restarted }\n',
      'profiles/base.yml': 'tasks:\n' + sysctl('base'),
    });
    const [play] = loadPlaybook(join(dir, 'site.yml'), fakeModules).plays;
    expect(play.tasks.map((t) => t.name)).toEqual(['base', 'net', 'disk', 'latency', 'own']);
    expect(play.handlers.map((t) => t.name)).toEqual(['reload']);
    expect(play.profiles).toEqual(['base', 'net', 'disk', 'kvm-latency']);
    expect(play.defaults).toEqual({ ring: 512, budget: 300 });
    expect(play.tasks[2].pos).toMatchObject({ file: join(dir, 'profiles/disk/tasks.yml'), line: 1 });
  });

  test('the issue’s example: a bad value in the shipped profile a site profile includes, with both files’ positions', () => {
    const shipped = repo({
      'kvm-host-network.yml': 'defaults: { nic_ring: 256 }\ntasks:\n' + sysctl('backlog', 'net.core.netdev_max_backlog', 'lots'),
    });
    process.env.HVTUNE_PROFILES_PATH = shipped;
    const dir = repo({
      'site.yml': '- hosts: all\n  profiles: [kvm-latency]\n',
      'profiles/kvm-latency.yml': 'include: [kvm-host-network]\ndefaults: { nic_ring: 512 }\n',
    });
    expect(problemsOf(() => loadPlaybook(join(dir, 'site.yml'), fakeModules))).toEqual([
      `${join(shipped, 'kvm-host-network.yml')}:4:25 tasks[0].sysctl.values: "net.core.netdev_max_backlog" must be an integer or integers separated by spaces (included from ${join(dir, 'profiles/kvm-latency.yml')}:1:11, included from ${join(dir, 'site.yml')}:2:14)`,
    ]);
  });

  test('an undefined variable in an included template is found before connecting; a profile default defines one', async () => {
    const dir = repo({
      'site.yml': '- hosts: all\n  profiles: [p]\n',
      'profiles/p.yml':
        'defaults: { backlog: 1000 }\ntasks:\n  - sysctl: { values: { net.core.somaxconn: "{{ backlog }}", net.core.netdev_budget: "{{ budgt }}" } }\n',
    });
    const inventory = parseInventory('all:\n  hosts:\n    hv1: {}\n', 'inv.yml');
    const modules = await loadModules();
    expect(problemsOf(() => loadPlaybook(join(dir, 'site.yml'), modules, () => playScopes(inventory, {})))).toEqual([
      `${join(dir, 'profiles/p.yml')}:3:90 tasks[0].sysctl.values["net.core.netdev_budget"]: undefined variable "budgt": not set by the play's vars, the inventory, -e or an earlier task's register (included from ${join(dir, 'site.yml')}:2:14)`,
    ]);
  });

  test('include cycles are errors, naming the profiles in order', () => {
    const dir = repo({
      'site.yml': '- hosts: all\n  profiles: [a]\n',
      'profiles/a.yml': 'include: [b]\n',
      'profiles/b/meta.yml': 'include: a\n',
    });
    expect(problemsOf(() => loadPlaybook(join(dir, 'site.yml'), fakeModules))).toEqual([
      `${join(dir, 'profiles/b/meta.yml')}:1:1 include: profile include cycle: a → b → a (included from ${join(dir, 'profiles/a.yml')}:1:11, included from ${join(dir, 'site.yml')}:2:14)`,
    ]);
  });

  test('a profile nowhere on the search path is named with the folders looked in', () => {
    const env = repo({ 'x.yml': 'tasks:\n' + sysctl('from env') });
    process.env.HVTUNE_PROFILES_PATH = `/nonexistent:${env}`;
    const dir = repo({ 'site.yml': '- hosts: all\n  profiles: [x, nope]\n' });
    expect(problemsOf(() => loadPlaybook(join(dir, 'site.yml'), fakeModules))).toEqual([
      `${join(dir, 'site.yml')}:2:17 plays[0].profiles[1]: no profile named "nope" (looked in ${join(dir, 'profiles')}, /nonexistent, ${env}, ${shownPath(shippedProfilesDir())})`,
    ]);
  });

  test('looked up beside the playbook, then in HVTUNE_PROFILES_PATH, then among the shipped ones', async () => {
    const env = repo({ 'tcp-tuning.yml': 'tasks:\n' + sysctl('env tcp') });
    process.env.HVTUNE_PROFILES_PATH = env;
    const dir = repo({ 'site.yml': '- hosts: all\n  profiles: [tcp-tuning]\n' });
    expect(loadPlaybook(join(dir, 'site.yml'), fakeModules).plays[0].tasks.map((t) => t.name)).toEqual(['env tcp']);
    const beside = repo({
      'site.yml': '- hosts: all\n  profiles: [tcp-tuning]\n',
      'profiles/tcp-tuning.yml': 'tasks:\n' + sysctl('site tcp'),
    });
    expect(loadPlaybook(join(beside, 'site.yml'), fakeModules).plays[0].tasks.map((t) => t.name)).toEqual(['site tcp']);
    delete process.env.HVTUNE_PROFILES_PATH;
    const shipped = loadPlaybook(join(dir, 'site.yml'), await loadModules()).plays[0];
    expect(shipped.tasks[0].pos.file).toBe(shownPath(join(shippedProfilesDir(), 'tcp-tuning.yml')));
  });
});

test('saved plans hash every file the playbook read', () => {
  const dir = repo({
    'site.yml': '- hosts: all\n  vars_files: [v.yml]\n  profiles: [p]\n',
    'v.yml': 'a: 1\n',
    'profiles/p/tasks.yml': sysctl('t').replace(/^ {2}/gm, ''),
    'inv.yml': 'all:\n  hosts:\n    hv1: {}\n',
  });
  const book = loadPlaybook(join(dir, 'site.yml'), fakeModules);
  const inputs = planInputs(join(dir, 'site.yml'), { file: join(dir, 'inv.yml') }, book);
  expect(inputs.playbookFiles?.map((f) => f.path)).toEqual([
    join(dir, 'v.yml'),
    join(dir, 'profiles/p'),
    join(dir, 'profiles/p/tasks.yml'),
  ]);
  expect(inputs.playbookFiles?.every((f) => typeof f.sha256 === 'string')).toBe(true);
});
