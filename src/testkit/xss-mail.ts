// An XSS corpus for the webmail: HTML messages whose payloads, if anything of them ran or loaded,
// would call a loopback "beacon" (an HTTP server the test runs) or set a marker on the app's
// window. The browser test delivers them over SMTP, opens each, and checks that the beacon
// heard nothing and no marker appeared.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';

export interface XssItem {
  name: string;
  html: string;
}

/** `beacon` is e.g. http://127.0.0.1:PORT ; each payload hits `${beacon}/<name>`. */
export function xssCorpus(beacon: string): XssItem[] {
  const hit = (name: string) => `fetch('${beacon}/${name}');try{top.__xss='${name}'}catch(e){};try{parent.document.title='XSS ${name}'}catch(e){}`;
  return [
    { name: 'script', html: `<p>hi</p><script>${hit('script')}</script>` },
    { name: 'img-onerror', html: `<img src="x" onerror="${hit('img-onerror')}">` },
    { name: 'body-onload', html: `<body onload="${hit('body-onload')}"><p>x</p></body>` },
    { name: 'javascript-link', html: `<a id="jslink" href="javascript:${hit('javascript-link')}">click me</a>` },
    { name: 'javascript-entity-link', html: `<a href="jav&#x09;ascript&colon;${hit('javascript-entity-link')}">click</a>` },
    { name: 'svg-script', html: `<svg><script>${hit('svg-script')}</script></svg>` },
    { name: 'svg-onload', html: `<svg onload="${hit('svg-onload')}"></svg>` },
    { name: 'css-url', html: `<div style="background-image:url('${beacon}/css-url');width:expression(${hit('css-expression')})">styled</div>` },
    { name: 'css-import', html: `<style>@import url('${beacon}/css-import');</style><p>x</p>` },
    { name: 'base-href', html: `<base href="${beacon}/base/"><img src="pixel.png"><a href="rel">rel</a>` },
    { name: 'meta-refresh', html: `<meta http-equiv="refresh" content="0;url=${beacon}/meta-refresh"><p>x</p>` },
    { name: 'form', html: `<form action="${beacon}/form" method="post"><input name="q" value="1"><button id="sub">go</button></form><script>document.forms[0].submit()</script>` },
    { name: 'data-iframe', html: `<iframe src="data:text/html,<script>${encodeURIComponent(hit('data-iframe'))}</script>"></iframe>` },
    { name: 'data-svg-img', html: `<img src="data:image/svg+xml;base64,${Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" onload="${hit('data-svg-img')}"/>`).toString('base64')}">` },
    { name: 'object-embed', html: `<object data="${beacon}/object"></object><embed src="${beacon}/embed">` },
    { name: 'link-stylesheet', html: `<link rel="stylesheet" href="${beacon}/link-stylesheet"><p>x</p>` },
    { name: 'mxss-noscript', html: `<noscript><p title="</noscript><img src=x onerror=${hit('mxss-noscript')}>"></p></noscript>` },
    { name: 'math-xlink', html: `<math><mtext><a xlink:href="javascript:${hit('math-xlink')}">m</a></mtext></math>` },
    { name: 'remote-img', html: `<img src="${beacon}/remote-img.png" alt="tracker">` },
  ];
}

export function xssMessage(item: XssItem, from: string, to: string): Promise<Buffer> {
  return new MailComposer({ from, to, subject: `xss ${item.name}`, html: item.html, text: `xss ${item.name}`, messageId: `<xss-${item.name}@remote.test>` }).compile().build();
}
