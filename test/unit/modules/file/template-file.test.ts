import { describe, expect, it } from 'vitest';
import { renderTemplateFile, resolveFileTemplate } from '../../../../modules/lib/template-file.js';

describe('template files', () => {
  it('renders with the task variables, without HTML escaping', () => {
    expect(renderTemplateFile('KSM_ENABLED={{ksm}}\nX="{{q}}"\n', { ksm: 0, q: '<a&b>' })).toBe('KSM_ENABLED=0\nX="<a&b>"\n');
  });
  it('an unknown variable is an error naming the template, not an empty string', () => {
    expect(() => renderTemplateFile('{{missing}}', {}, 'templates/x.hbs')).toThrow(/templates\/x.hbs: .*missing/);
  });
  it('resolveFileTemplate replaces template by content', () => {
    const args = { path: '/etc/x', template: 't.hbs', mode: '0644' };
    const out = resolveFileTemplate(args, (p) => `from ${p}: {{n}}`, { n: 3 });
    expect(out).toEqual({ path: '/etc/x', mode: '0644', content: 'from t.hbs: 3' });
  });
  it('content and template together are refused', () => {
    expect(() => resolveFileTemplate({ template: 't', content: 'x' }, () => '', {})).toThrow('not both');
  });
});
