// `file: {template: templates/x.conf.hbs}`: modules do no local I/O, so the engine loads the
// template file (relative to the playbook) and calls resolveFileTemplate before validating the
// task's arguments; the module then only ever sees `content`.

import Handlebars from 'handlebars';

/**
 * Render a template's text with the task's variables. `strict` makes an unknown variable an error
 * instead of an empty string, and nothing is HTML-escaped: these are configuration files.
 */
export function renderTemplateFile(source: string, vars: Record<string, unknown>, name = 'template'): string {
  try {
    return Handlebars.compile(source, { noEscape: true, strict: true })(vars);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Replace `template` by its rendered `content` in a file task's arguments. `load` reads a local
 * file (the engine resolves the path against the playbook's directory, e.g. with readFileSync).
 */
export function resolveFileTemplate<T extends { template?: string; content?: string }>(
  args: T,
  load: (path: string) => string,
  vars: Record<string, unknown>,
): Omit<T, 'template'> & { content?: string } {
  if (args.template === undefined) return args;
  if (args.content !== undefined) throw new Error('file: give either content or template, not both');
  const { template, ...rest } = args;
  return { ...rest, content: renderTemplateFile(load(template), vars, template) };
}
