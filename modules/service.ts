// service: a systemd unit enabled or not at boot (persisted) and running or not now (live), e.g.
// KSM and ksmtuned off on a KVM host (seed 002). Only systemd: a host whose PID 1 is something
// else gets a clear error from plan, so check mode finds it before anything runs.

import type { Change, HostHandle, Module, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';

export interface ServiceArgs {
  name: string;
  enabled?: boolean;
  state?: 'started' | 'stopped' | 'restarted' | 'reloaded';
}

export interface ServiceObserved {
  /** Name of PID 1 (/proc/1/comm). */
  init: string;
  /** /run/systemd/system exists: systemd is running as the service manager. */
  systemdRunning: boolean;
  /** Properties from `systemctl show`; empty when systemd is not running. */
  props: Record<string, string>;
}

type ServiceAction = 'start' | 'stop' | 'restart' | 'reload' | 'enable' | 'disable';

/** UnitFileState values that count as enabled (systemctl is-enabled exits 0 for them). */
const ENABLED_STATES = new Set(['enabled', 'enabled-runtime', 'alias', 'linked', 'linked-runtime']);
/** Units that cannot be enabled or disabled: they are started by others or generated. */
const FIXED_STATES = new Set(['static', 'indirect', 'generated', 'transient']);
const SHOWN = 'LoadState,ActiveState,SubState,UnitFileState';

export const service = {
  name: 'service',
  description: 'A systemd service enabled or disabled at boot and started, stopped, restarted or reloaded now',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: {
        type: 'string',
        pattern: '^[A-Za-z0-9][A-Za-z0-9@_.:-]{0,127}$',
        description: 'Unit name; ".service" is added when it has no unit suffix (ksm → ksm.service)',
      },
      enabled: { type: 'boolean', description: 'Whether the unit starts at boot (systemctl enable/disable)' },
      state: {
        enum: ['started', 'stopped', 'restarted', 'reloaded'],
        description:
          'started/stopped: running or not now. restarted/reloaded always restart/reload, so as a task they report a ' +
          'change on every run (as in Ansible); use them in handlers, which run only when notified',
      },
    },
  },

  validate(args: ServiceArgs) {
    if (args.enabled === undefined && args.state === undefined) {
      return [{ path: 'state', message: 'give state, enabled or both' }];
    }
    return [];
  },

  read(args: ServiceArgs): ReadRequest[] {
    const script = [
      'printf "init=%s\\n" "$(cat /proc/1/comm 2>/dev/null)"',
      'if [ -d /run/systemd/system ]; then echo systemd=1; else echo systemd=0; fi',
      // systemctl would only complain about a missing bus without systemd running
      sh`if [ -d /run/systemd/system ]; then systemctl show -p ${SHOWN} -- ${unitName(args.name)}; fi`,
    ].join('\n');
    return [{ kind: 'script', script }];
  },

  parse(_args: ServiceArgs, results: ReadResult[]): ServiceObserved {
    const r = results[0];
    return parseServiceState(r.kind === 'script' || r.kind === 'cmd' ? r.stdout : '');
  },

  plan(args: ServiceArgs, observed: ServiceObserved, ctx): PlanResult {
    const unit = unitName(args.name);
    if (observed.init !== 'systemd' || !observed.systemdRunning) {
      throw new TaskError(
        `${ctx.host}: cannot manage ${unit}: PID 1 is ${JSON.stringify(observed.init || 'unknown')}, not systemd ` +
          `(the service module works only through systemctl)`,
      );
    }
    const p = observed.props;
    const warnings: string[] = [];
    if (p.LoadState === 'not-found') {
      if (args.state === 'stopped' && args.enabled !== true) {
        // "make sure it is off": a unit that is not installed is off
        return { changes: [], warnings: [`${unit} is not installed; nothing to stop or disable`] };
      }
      throw new TaskError(`${ctx.host}: unit ${unit} not found`);
    }
    const changes: Change[] = [];
    if (args.enabled !== undefined) {
      const fileState = p.UnitFileState ?? '';
      if (fileState === 'masked' && args.enabled) {
        throw new TaskError(`${ctx.host}: ${unit} is masked; unmask it before it can be enabled`);
      }
      const isEnabled = ENABLED_STATES.has(fileState);
      if (FIXED_STATES.has(fileState)) {
        warnings.push(`${unit} is ${fileState}: it cannot be enabled or disabled (mask it to keep it from starting)`);
      } else if (fileState !== 'masked' && isEnabled !== args.enabled) {
        changes.push(action(args.enabled ? 'enable' : 'disable', unit, fileState, args.enabled ? 'enabled' : 'disabled'));
      }
    }
    const active = p.ActiveState ?? '';
    const running = active === 'active' || active === 'activating' || active === 'reloading';
    if (args.state === 'started' && !running) changes.push(action('start', unit, active, 'active'));
    if (args.state === 'stopped' && running) changes.push(action('stop', unit, active, 'inactive'));
    if (args.state === 'restarted') changes.push(action('restart', unit, active, 'active'));
    if (args.state === 'reloaded') {
      // reloading a stopped unit fails; systemd starts it instead with reload-or-restart semantics
      changes.push(action(running ? 'reload' : 'start', unit, active, 'active'));
    }
    if (p.UnitFileState === 'masked' && (args.state === 'started' || args.state === 'restarted')) {
      throw new TaskError(`${ctx.host}: ${unit} is masked and cannot be started`);
    }
    return { changes, warnings };
  },

  async apply(changes: Change[], host: HostHandle): Promise<void> {
    for (const c of changes) {
      const { verb, unit } = c.data as { verb: ServiceAction; unit: string };
      await host.run(['systemctl', verb, '--', unit]);
      const r = await host.exec(['systemctl', 'show', '-p', SHOWN, '--', unit]);
      const props = parseShow(r.stdout);
      const now = verb === 'enable' || verb === 'disable' ? props.UnitFileState : props.ActiveState;
      const ok =
        verb === 'enable'
          ? ENABLED_STATES.has(now ?? '')
          : verb === 'disable'
            ? !ENABLED_STATES.has(now ?? '')
            : verb === 'stop'
              ? now === 'inactive' || now === 'deactivating'
              : now === 'active' || now === 'activating' || now === 'reloading';
      if (!ok) throw new ApplyVerifyError(host.name, c.target, String(c.after), now ?? null, `systemctl ${verb} exited 0`);
    }
  },
} satisfies Module<ServiceArgs, ServiceObserved>;

/** `ksm` → `ksm.service`; names with a unit suffix are kept. */
export function unitName(name: string): string {
  return /\.(service|socket|timer|path|mount|target)$/.test(name) ? name : `${name}.service`;
}

function action(verb: ServiceAction, unit: string, before: string, after: string): Change {
  const live = verb !== 'enable' && verb !== 'disable';
  return {
    summary: `${verb} ${unit}`,
    target: live ? `service:${unit}` : `service:${unit}:enabled`,
    effect: verb === 'restart' || verb === 'reload' ? 'service-restart' : live ? 'live' : 'persistent',
    before: before || null,
    after,
    data: { verb, unit },
  };
}

function parseShow(stdout: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) props[line.slice(0, i)] = line.slice(i + 1);
  }
  return props;
}

/** Parse the read script's output: init=…, systemd=0|1, then `systemctl show` properties. */
export function parseServiceState(stdout: string): ServiceObserved {
  const all = parseShow(stdout);
  const { init = '', systemd = '0', ...props } = all;
  return { init: init.trim(), systemdRunning: systemd === '1', props };
}

export default service;
