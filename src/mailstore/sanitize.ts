// HTML from the outside made safe to show: the "html_sanitized" the API returns and what the
// webmail renders.
//
// Implementation notes (invariants a newcomer must not break):
// - An allow-list, never a block-list: only the tags and attributes listed below survive
//   (sanitize-html drops everything else, and event handlers are never listed). No script,
//   style element (unless `allowStyleTags`), form, input, iframe, frame, object, embed, svg, math,
//   meta, link or base survives; the text inside script/style/title/iframe-like elements is dropped.
// - URLs are checked after entity decoding (htmlparser2 decodes attributes) and after removing
//   the control characters and spaces browsers ignore: links may be http, https, mailto, tel or
//   `#fragment`; images may be http(s) (unless blocked), `cid:` and `data:image/{png,gif,jpeg,
//   webp,bmp}` — never data:image/svg+xml (SVG is a document). Relative URLs are dropped: with no
//   <base> they would resolve against the webmail's own origin.
// - CSS (inline `style`, and <style> blocks when allowed) is cleaned by `cleanCss`: comments
//   removed, escapes decoded so the check sees what the browser sees, then every function or rule
//   that can fetch or run something (url(), image-set(), image(), cross-fade(), element(), src(),
//   paint(), expression(), @import, behavior, -moz-binding, javascript:) is made invalid. The
//   output never contains a CSS escape or a '<', so a browser cannot decode it into something else.
// - Links open in a new browsing context without an opener or a referrer (rel=noopener noreferrer).
// - Every loop and regular expression is linear in the input (no nested quantifiers).

import sanitize from 'sanitize-html';

export interface SanitizeOptions {
  /** Remove http(s) image sources (tracking pixels); counted in `remoteImagesBlocked`. */
  blockRemoteImages?: boolean;
  /**
   * Rewrite `cid:` image sources (inline attachments), e.g. to an attachment download URL.
   * Return null to drop the source. Without it, `cid:` sources are kept as they are.
   */
  cidUrl?: (contentId: string) => string | null;
  /**
   * Keep <style> elements (CSS cleaned) and `class` attributes. Only for rendering inside a
   * sandboxed iframe: a style block restyles the whole document it lands in.
   */
  allowStyleTags?: boolean;
}

export interface SanitizedHtml {
  html: string;
  /** Remote (http/https) image sources seen. */
  remoteImages: number;
  /** Remote image sources removed because of `blockRemoteImages`. */
  remoteImagesBlocked: number;
}

const TAGS = [
  'a', 'abbr', 'address', 'article', 'aside', 'b', 'bdi', 'bdo', 'big', 'blockquote', 'br', 'caption', 'center', 'cite', 'code', 'col', 'colgroup',
  'dd', 'del', 'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'font', 'footer', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header',
  'hr', 'i', 'img', 'ins', 'kbd', 'li', 'main', 'mark', 'nav', 'ol', 'p', 'pre', 'q', 's', 'samp', 'section', 'small', 'span', 'strike', 'strong',
  'sub', 'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'time', 'tr', 'tt', 'u', 'ul', 'var', 'wbr',
];

/** Elements whose text is not message text: dropped with the element. */
const NON_TEXT = ['script', 'style', 'title', 'textarea', 'option', 'select', 'noscript', 'template', 'iframe', 'frame', 'frameset', 'noframes', 'noembed', 'object', 'embed', 'applet', 'svg', 'math', 'xmp', 'plaintext', 'head'];

const PRESENTATION = ['style', 'title', 'dir', 'lang', 'align', 'valign', 'width', 'height', 'bgcolor', 'color'];

const ATTRIBUTES: Record<string, string[]> = {
  '*': PRESENTATION,
  a: ['href', 'target', 'rel'],
  img: ['src', 'alt', 'border', 'hspace', 'vspace'],
  table: ['border', 'cellpadding', 'cellspacing', 'summary', 'frame', 'rules'],
  td: ['colspan', 'rowspan', 'nowrap', 'scope', 'headers'],
  th: ['colspan', 'rowspan', 'nowrap', 'scope', 'headers', 'abbr'],
  col: ['span'],
  colgroup: ['span'],
  font: ['face', 'size'],
  ol: ['start', 'type', 'reversed'],
  ul: ['type'],
  li: ['value', 'type'],
  time: ['datetime'],
  del: ['datetime'],
  ins: ['datetime'],
  details: ['open'],
  blockquote: ['type'],
};

const SAFE_DATA_IMAGE = /^data:image\/(?:png|gif|jpe?g|webp|bmp);base64,[a-z0-9+/=]*$/i;

/** Sanitise untrusted HTML for display. Never throws; an empty or non-string input gives ''. */
export function sanitizeHtml(html: string | null | undefined, opts: SanitizeOptions = {}): SanitizedHtml {
  const result: SanitizedHtml = { html: '', remoteImages: 0, remoteImagesBlocked: 0 };
  if (typeof html !== 'string' || html === '') return result;
  const input = html.includes('\u0000') ? html.replaceAll('\u0000', '\ufffd') : html;

  const allowStyle = opts.allowStyleTags === true;
  const out = sanitize(input, {
    allowedTags: allowStyle ? [...TAGS, 'style'] : TAGS,
    allowVulnerableTags: allowStyle, // 'style' is handled by cleanCss below
    nonTextTags: allowStyle ? NON_TEXT.filter((t) => t !== 'style' && t !== 'head') : NON_TEXT,
    allowedAttributes: allowStyle ? { ...ATTRIBUTES, '*': [...PRESENTATION, 'class'] } : ATTRIBUTES,
    allowedSchemes: ['http', 'https', 'mailto', 'tel'],
    allowedSchemesByTag: { img: ['http', 'https', 'cid', 'data'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'], // alt="" stays (sanitize-html's default allowedEmptyAttributes)
    allowProtocolRelative: true,
    disallowedTagsMode: 'discard',
    parseStyleAttributes: false, // cleanCss does it; postcss would re-serialise escapes
    nestingLimit: 256,
    transformTags: {
      a: (tagName, attribs) => {
        const href = attribs.href === undefined ? null : safeHref(attribs.href);
        const next: sanitize.Attributes = { ...attribs };
        delete next.href;
        delete next.target;
        delete next.rel;
        if (href !== null) Object.assign(next, { href, target: '_blank', rel: 'noopener noreferrer' });
        return { tagName, attribs: next };
      },
      img: (tagName, attribs) => {
        const next: sanitize.Attributes = { ...attribs };
        delete next.src;
        const src = attribs.src === undefined ? null : imageSource(attribs.src, opts, result);
        if (src !== null) next.src = src;
        return { tagName, attribs: next };
      },
      '*': (tagName, attribs) => {
        if (attribs.style === undefined) return { tagName, attribs };
        const style = cleanCss(attribs.style).trim();
        const next: sanitize.Attributes = { ...attribs };
        if (style) next.style = style;
        else delete next.style;
        return { tagName, attribs: next };
      },
    },
  });
  result.html = allowStyle ? cleanStyleBlocks(out) : out;
  return result;
}

/** What browsers ignore inside a URL scheme (WHATWG URL: C0 controls and space are stripped). */
function compactUrl(value: string): string {
  return value.replace(/[\u0000-\u0020\u007f-\u009f]+/g, '');
}

function schemeOf(url: string): string | null {
  const m = /^([a-z][a-z0-9+.-]{0,31}):/i.exec(url);
  return m ? m[1].toLowerCase() : null;
}

/** A link target we keep, or null. */
function safeHref(raw: string): string | null {
  const url = compactUrl(raw);
  if (url.startsWith('#')) return raw.trim();
  const scheme = schemeOf(url);
  if (scheme === 'http' || scheme === 'https' || scheme === 'mailto' || scheme === 'tel') return raw.trim();
  if (url.startsWith('//')) return `https:${url}`;
  return null; // javascript:, vbscript:, data:, file:, relative paths, anything else
}

function imageSource(raw: string, opts: SanitizeOptions, counts: SanitizedHtml): string | null {
  const url = compactUrl(raw);
  const scheme = schemeOf(url);
  if (scheme === 'http' || scheme === 'https' || (scheme === null && /^[/\\]{2}/.test(url))) {
    counts.remoteImages++;
    if (opts.blockRemoteImages) {
      counts.remoteImagesBlocked++;
      return null;
    }
    return scheme === null ? `https:${url.replace(/^[/\\]+/, '//')}` : raw.trim();
  }
  if (scheme === 'cid') {
    if (!opts.cidUrl) return url;
    let cid = url.slice(4);
    try {
      cid = decodeURIComponent(cid); // RFC 2392: cid URLs are %-encoded Content-IDs
    } catch {
      /* keep it as written */
    }
    return opts.cidUrl(cid.replace(/^<|>$/g, ''));
  }
  if (scheme === 'data') return SAFE_DATA_IMAGE.test(url) ? url : null;
  return null;
}

// ---------------------------------------------------------------------------------------------
// CSS

/** Function names that fetch a resource or run code (CSS Images 3/4, CSS Values 4, old IE/Firefox). */
const DANGEROUS_FUNCTION = /(?:url|src|image-set|image|cross-fade|element|paint|expression)[ \t\r\n\f]*\(/gi;
const DANGEROUS_WORD = /@import|behaviou?r|-moz-binding|-o-link(?:-source)?|javascript:|vbscript:/gi;

/**
 * CSS with everything that could load or run removed, safe inside a style attribute or a
 * <style> element. Comments go, escapes are decoded (so `u\72l(` is seen as `url(`), dangerous
 * functions become an invalid `blocked(` (the browser drops the declaration), and backslashes and
 * angle brackets are re-escaped so nothing can be decoded a second time.
 */
export function cleanCss(css: string): string {
  let s = stripCssComments(css.replaceAll('\u0000', '\ufffd'));
  s = s.replace(/\\(?:([0-9a-f]{1,6})[ \t\n\f]?|\r\n|([\s\S]))/gi, (_m, hex: string | undefined, ch: string | undefined) => {
    if (hex !== undefined) {
      const code = parseInt(hex, 16);
      return code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? '\ufffd' : String.fromCodePoint(code);
    }
    return ch === undefined || ch === '\n' || ch === '\r' || ch === '\f' ? '' : ch; // escaped newline: a line continuation
  });
  s = s.replace(DANGEROUS_FUNCTION, 'blocked(').replace(DANGEROUS_WORD, 'blocked');
  return s.replace(/[\\<>]/g, (c) => (c === '\\' ? '\\5c ' : c === '<' ? '\\3c ' : '\\3e '));
}

function stripCssComments(css: string): string {
  if (!css.includes('/*')) return css;
  let out = '';
  let i = 0;
  while (i < css.length) {
    const open = css.indexOf('/*', i);
    if (open < 0) {
      out += css.slice(i);
      break;
    }
    out += css.slice(i, open) + ' ';
    const close = css.indexOf('*/', open + 2);
    if (close < 0) break; // an unterminated comment runs to the end (CSS Syntax 3 §4.3.2)
    i = close + 2;
  }
  return out;
}

/** Applies cleanCss to the text of every <style> element sanitize-html let through. */
function cleanStyleBlocks(html: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const open = html.indexOf('<style', i);
    if (open < 0) break;
    const openEnd = html.indexOf('>', open);
    if (openEnd < 0) break;
    const close = html.indexOf('</style>', openEnd);
    const end = close < 0 ? html.length : close;
    out += html.slice(i, openEnd + 1) + cleanCss(html.slice(openEnd + 1, end));
    i = end;
  }
  return out + html.slice(i);
}
