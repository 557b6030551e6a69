// The template language under hostile input: never throws, never lets a value out of its place.
import { describe, expect, it } from 'vitest';
import { parseTemplate, placeholders, render } from './render.ts';

const vars = (o: Record<string, string | number>) => (k: string) => o[k];

describe('template rendering', () => {
  it('substitutes values and fallbacks', () => {
    expect(render('Hi {{{FIRST_NAME|there}}}, {{{plan}}}', vars({ plan: 'pro' }), 'text')).toEqual({ out: 'Hi there, pro', missing: [] });
    expect(render('{{{ n }}}{{{n}}}', vars({ n: 3 }), 'text').out).toBe('33');
  });

  it('reports a placeholder without value or fallback, by name, once', () => {
    expect(render('{{{a}}} {{{b}}} {{{a}}}', vars({}), 'text').missing).toEqual(['a', 'b']);
  });

  it('escapes values in HTML so script and attributes cannot be injected', () => {
    const evil = '<script>alert(1)</script>" onload="x\' &';
    const r = render('<p title="{{{v}}}">{{{v}}}</p>', vars({ v: evil }), 'html');
    expect(r.out).not.toContain('<script>');
    expect(r.out).not.toMatch(/" onload=/);
    expect(r.out).toBe('<p title="&lt;script&gt;alert(1)&lt;/script&gt;&quot; onload=&quot;x&#39; &amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot; onload=&quot;x&#39; &amp;</p>');
    // A value that looks like a placeholder is not expanded again.
    expect(render('{{{v}}}', vars({ v: '{{{secret}}}', secret: 'leak' }), 'text').out).toBe('{{{secret}}}');
  });

  it('keeps malformed placeholders as literal text and never throws', () => {
    for (const src of ['{{{', '{{{a', '}}}', '{{{ }}}', '{{{a b}}}', '{{{{a}}}}', '{{{a|{x}}}}', '{{{1a}}}', '{{{' + 'a'.repeat(200) + '}}}', '{'.repeat(10_000), '{{{a|' + 'x'.repeat(5000) + '}}}']) {
      expect(() => render(src, vars({ a: 'A' }), 'html'), src.slice(0, 30)).not.toThrow();
    }
    expect(render('{{{a b}}} {{{', vars({}), 'text').out).toBe('{{{a b}}} {{{');
    expect(render('{{{{a}}}}', vars({ a: 'A' }), 'text').out).toBe('{A}');
  });

  it('random input: parse never throws and rendering without placeholders is the identity', () => {
    const alphabet = ['{', '}', '|', 'a', ' ', '<', '\u0000', '\r\n', 'é', '{{{', '}}}'];
    for (let n = 0; n < 2000; n++) {
      let s = '';
      for (let i = 0; i < 40; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
      const parts = parseTemplate(s);
      const back = parts.map((p) => ('text' in p ? p.text : `{{{${p.name}${p.fallback === null ? '' : '|' + p.fallback}}}}`)).join('');
      // Only the spaces around a name may differ.
      expect(back.replace(/\s/g, '')).toBe(s.replace(/\s/g, ''));
      if (!placeholders(s).length) expect(render(s, vars({}), 'text').out).toBe(s);
    }
  });
});
