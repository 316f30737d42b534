// mount: an /etc/fstab entry (persisted) and the mount itself (live), e.g. the hugetlbfs mount
// that libvirt's <memoryBacking><hugepages/> needs (seed 004). Other fstab lines stay byte for byte.

import type { Change, HostHandle, Module, Pending, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';
import { adviseOnFile } from './lib/advice.js';
import { ABSOLUTE_PATH_PATTERN } from './lib/file-state.js';
import {
  type FstabEntry,
  type LiveMount,
  type OptionContext,
  findFstabEntry,
  findLiveMount,
  fstabEntryLines,
  missingLiveOptions,
  parseMountinfo,
  removeFstabEntry,
  sameMountOptions,
  setFstabEntry,
} from './lib/fstab.js';

export interface MountArgs {
  path: string;
  src?: string;
  fstype?: string;
  opts?: string;
  dump?: number;
  passno?: number;
  state?: 'mounted' | 'present' | 'absent' | 'unmounted';
}

export interface MountObserved {
  fstab: string | null;
  entry: FstabEntry | null;
  /** How many fstab lines name this mount point (more than one is reported). */
  entries: number;
  live: LiveMount | null;
  mountPoint: 'directory' | 'absent' | 'other';
  ids: OptionContext;
}

type MountOp =
  | { op: 'fstab'; content: string }
  | { op: 'mount' | 'remount' | 'replace'; src: string; fstype: string; opts: string; ids: OptionContext }
  | { op: 'unmount' };

const FSTAB = '/etc/fstab';
const MOUNTINFO = '/proc/self/mountinfo';
/** File systems whose options a remount does not change (no reconfigure in the kernel). */
const NO_REMOUNT_OPTIONS = new Set(['hugetlbfs']);

export const mount = {
  name: 'mount',
  description: 'An /etc/fstab entry and the live mount (hugetlbfs, tmpfs, block devices)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', pattern: ABSOLUTE_PATH_PATTERN, description: 'Mount point; created (with parents) for state: mounted' },
      src: {
        type: 'string',
        pattern: '^[A-Za-z0-9_.=:/+@-]{1,255}$',
        description: 'Device, UUID=…/LABEL=…, or a name for pseudo file systems (hugetlbfs, tmpfs)',
      },
      fstype: { type: 'string', pattern: '^[a-z0-9_.]{1,32}$', description: 'File system type: hugetlbfs, tmpfs, ext4…' },
      opts: {
        type: 'string',
        pattern: '^[A-Za-z0-9_.=,:/+%@-]{1,1024}$',
        default: 'defaults',
        description:
          "Mount options, compared as a set with values (order does not matter; gid=kvm equals the kernel's gid=107, pagesize=1G equals 1024M)",
      },
      dump: { type: 'integer', minimum: 0, maximum: 9, default: 0, description: 'fstab dump field' },
      passno: { type: 'integer', minimum: 0, maximum: 9, default: 0, description: 'fstab fsck order field' },
      state: {
        enum: ['mounted', 'present', 'absent', 'unmounted'],
        default: 'mounted',
        description:
          'mounted: in fstab and mounted now; present: in fstab only (mounted at the next boot); ' +
          'unmounted: not mounted now, fstab untouched; absent: not in fstab and not mounted (the mount point stays)',
      },
    },
  },

  validate(args: MountArgs) {
    const state = args.state ?? 'mounted';
    if ((state === 'mounted' || state === 'present') && (args.src === undefined || args.fstype === undefined)) {
      return [{ path: state, message: `state: ${state} needs src and fstype` }];
    }
    return [];
  },

  advise: adviseOnFile,

  read(args: MountArgs): ReadRequest[] {
    return [
      { kind: 'file', path: FSTAB },
      { kind: 'file', path: MOUNTINFO },
      { kind: 'script', script: idsAndMountPointScript(args) },
    ];
  },

  parse(args: MountArgs, results: ReadResult[]): MountObserved {
    const text = (r: ReadResult) => (r.kind === 'file' ? r.content : r.kind === 'glob' || r.kind === 'stat' ? null : r.stdout);
    const fstab = text(results[0]);
    const info = text(results[2]) ?? '';
    const ids: OptionContext = { groups: {}, users: {} };
    let mountPoint: MountObserved['mountPoint'] = 'absent';
    for (const line of info.split('\n')) {
      const m = /^(group|passwd) ([^:\s]+):[^:]*:(\d+):/.exec(line);
      if (m) (m[1] === 'group' ? ids.groups! : ids.users!)[m[2]] = Number(m[3]);
      const mp = /^mountpoint=(directory|absent|other)$/.exec(line);
      if (mp) mountPoint = mp[1] as MountObserved['mountPoint'];
    }
    return {
      fstab,
      entry: findFstabEntry(fstab, args.path),
      entries: fstab === null ? 0 : fstabEntryLines(fstab, args.path).length,
      live: findLiveMount(parseMountinfo(text(results[1]) ?? ''), args.path),
      mountPoint,
      ids,
    };
  },

  plan(args: MountArgs, observed: MountObserved): PlanResult {
    const state = args.state ?? 'mounted';
    const path = args.path;
    const changes: Change[] = [];
    const pending: Pending[] = [];
    const warnings: string[] = [];
    const fstab = observed.fstab ?? '';

    if (state === 'absent' || state === 'unmounted') {
      if (state === 'absent' && observed.entries > 0) {
        const after = removeFstabEntry(fstab, path);
        changes.push(fstabChange(`remove ${path} from ${FSTAB}`, fstab, after));
      }
      if (observed.live) {
        changes.push({
          summary: `unmount ${path}`,
          target: `mount:${path}`,
          effect: 'live',
          before: describeLive(observed.live),
          after: null,
          data: { op: 'unmount' } satisfies MountOp,
        });
      }
      return { changes };
    }

    const src = args.src!;
    const fstype = args.fstype!;
    const opts = args.opts ?? 'defaults';
    for (const [key, names] of [
      ['gid', observed.ids.groups],
      ['uid', observed.ids.users],
    ] as const) {
      const m = new RegExp(`(?:^|,)${key}=([^,]+)`).exec(opts);
      if (m && !/^\d+$/.test(m[1]) && !(m[1] in (names ?? {}))) {
        throw new TaskError(`${path}: ${key}=${m[1]} names a ${key === 'gid' ? 'group' : 'user'} that does not exist on the host`);
      }
    }
    const desired: FstabEntry = { src, path, fstype, opts, dump: args.dump ?? 0, passno: args.passno ?? 0 };
    const e = observed.entry;
    const fstabOk =
      e !== null &&
      e.src === src &&
      e.fstype === fstype &&
      e.dump === desired.dump &&
      e.passno === desired.passno &&
      sameMountOptions(e.opts, opts, observed.ids);
    if (!fstabOk) changes.push(fstabChange(`${e ? 'update' : 'add'} ${path} in ${FSTAB}`, fstab, setFstabEntry(observed.fstab, desired)));
    if (observed.entries > 1) warnings.push(`${FSTAB} has ${observed.entries} lines for ${path}; the last one is managed`);

    const live = observed.live;
    const missing = live ? missingLiveOptions(opts, live.opts, observed.ids) : [];
    const liveOk = live !== null && live.fstype === fstype && missing.length === 0;
    if (state === 'present') {
      if (!liveOk)
        pending.push({ effect: 'reboot', target: `mount:${path}`, summary: `${path} is mounted as in ${FSTAB} at the next boot` });
      return { changes, pending, warnings };
    }
    if (observed.mountPoint === 'other') throw new TaskError(`${path} exists and is not a directory: cannot mount on it`);
    if (!liveOk) {
      // hugetlbfs has no reconfigure: a remount exits 0 and keeps the old options, so it is
      // unmounted and mounted again (which fails, saying so, while guests hold its pages)
      const remountable = !NO_REMOUNT_OPTIONS.has(fstype);
      const op: MountOp['op'] = live === null ? 'mount' : live.fstype !== fstype || !remountable ? 'replace' : 'remount';
      const summary =
        op === 'mount'
          ? `mount ${fstype} on ${path}${observed.mountPoint === 'absent' ? ' (creating the directory)' : ''}`
          : live!.fstype !== fstype
            ? `unmount ${live!.fstype} from ${path} and mount ${fstype}`
            : op === 'replace'
              ? `unmount ${path} and mount it again with ${missing.join(',')} (${fstype} ignores options on remount)`
              : `remount ${path} with ${missing.join(',')}`;
      changes.push({
        summary,
        target: `mount:${path}`,
        effect: 'live',
        before: live ? describeLive(live) : null,
        after: `${fstype} ${opts}`,
        data: { op, src, fstype, opts, ids: observed.ids } satisfies MountOp,
      });
    }
    return { changes, pending, warnings };
  },

  async apply(changes: Change[], host: HostHandle, args: MountArgs): Promise<void> {
    // The live mount first: a mount that fails must not leave its fstab line behind (with no
    // nofail, the next boot would wait for it and stop in emergency mode, without sshd).
    const isFstab = (c: Change) => (c.data as MountOp).op === 'fstab';
    for (const c of [...changes.filter((c) => !isFstab(c)), ...changes.filter(isFstab)]) {
      const op = c.data as MountOp;
      if (op.op === 'fstab') {
        await host.writeFile(FSTAB, op.content, { backup: true });
        const [now] = await host.read([{ kind: 'file', path: FSTAB }]);
        if (now.kind !== 'file' || now.content !== op.content) {
          throw new ApplyVerifyError(host.name, FSTAB, 'the planned content', 'different content');
        }
        continue;
      }
      if (op.op === 'unmount') {
        await host.run(['umount', args.path]);
        const live = await readLive(host, args.path);
        if (live) throw new ApplyVerifyError(host.name, c.target, null, describeLive(live), 'another mount is stacked on the same path');
        continue;
      }
      if (op.op === 'replace') await host.run(['umount', args.path]);
      if (op.op === 'remount') {
        await host.run(['mount', '-o', `remount,${op.opts}`, args.path]);
      } else {
        await host.run(['mkdir', '-p', '--', args.path]);
        await host.run(['mount', '-t', op.fstype, '-o', op.opts, op.src, args.path]);
      }
      const live = await readLive(host, args.path);
      const missing = live ? missingLiveOptions(op.opts, live.opts, op.ids) : [];
      if (!live || live.fstype !== op.fstype || missing.length) {
        throw new ApplyVerifyError(
          host.name,
          c.target,
          `${op.fstype} ${op.opts}`,
          live ? describeLive(live) : null,
          op.op === 'remount'
            ? `${op.fstype} ignored ${missing.join(',')} on remount; unmount it (state: unmounted) and run again`
            : undefined,
        );
      }
    }
  },
} satisfies Module<MountArgs, MountObserved>;

function fstabChange(summary: string, before: string, after: string): Change {
  return {
    summary,
    target: FSTAB,
    effect: 'persistent',
    diff: { path: FSTAB, before, after },
    data: { op: 'fstab', content: after } satisfies MountOp,
  };
}

function describeLive(m: LiveMount): string {
  return `${m.fstype} ${m.opts}`;
}

/** Resolve the user and group names used in uid=/gid= options, and look at the mount point. */
function idsAndMountPointScript(args: MountArgs): string {
  const lines: string[] = [];
  for (const [key, db] of [
    ['gid', 'group'],
    ['uid', 'passwd'],
  ] as const) {
    const m = new RegExp(`(?:^|,)${key}=([^,]+)`).exec(args.opts ?? '');
    if (m && !/^\d+$/.test(m[1])) lines.push(sh`getent ${db} ${m[1]} | sed ${`s/^/${db} /`}`);
  }
  lines.push(
    sh`if [ -d ${args.path} ]; then echo mountpoint=directory; elif [ -e ${args.path} ]; then echo mountpoint=other; else echo mountpoint=absent; fi`,
  );
  return lines.join('\n') + '\n';
}

async function readLive(host: HostHandle, path: string): Promise<LiveMount | null> {
  const [r] = await host.read([{ kind: 'file', path: MOUNTINFO }]);
  return findLiveMount(parseMountinfo(r.kind === 'file' ? (r.content ?? '') : ''), path);
}

export default mount;
