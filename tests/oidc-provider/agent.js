// Test infrastructure: a scripted user agent for gitsign's urlOpener. It opens the URL it
// is given, follows redirects, keeps cookies, and submits the provider's forms the way a
// person would (login, consent, device code confirmation), ending at the final page (for
// the browser flow: gitsign's loopback listener).
//   node agent.js URL      environment: AGENT_LOGIN (default alice), AGENT_ACTION=deny to
//                          cancel instead of approving, AGENT_LOG=file for a transcript,
//                          AGENT_STOP_PREFIX + AGENT_STOP_FILE: do not open a URL with that
//                          prefix but write it to the file (a person copying the address bar).
import fs from 'node:fs';

const [, , start] = process.argv;
const login = process.env.AGENT_LOGIN || 'alice';
const deny = process.env.AGENT_ACTION === 'deny';
const log = (line) => {
  if (process.env.AGENT_LOG) fs.appendFileSync(process.env.AGENT_LOG, `${line}\n`);
};
const jar = new Map(); // host -> Map(name -> value)

const attr = (tag, name) => {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'));
  return m ? m[1].replace(/&amp;/g, '&').replace(/&#x2F;/g, '/').replace(/&quot;/g, '"') : undefined;
};

async function request(url, init = {}) {
  const u = new URL(url);
  const cookies = jar.get(u.host) || new Map();
  const headers = { ...(init.headers || {}) };
  if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(u, { ...init, headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1));
  }
  jar.set(u.host, cookies);
  log(`${init.method || 'GET'} ${u.origin}${u.pathname} -> ${res.status}`);
  return res;
}

let url = start;
let init = {};
for (let step = 0; step < 20; step += 1) {
  if (process.env.AGENT_STOP_PREFIX && url.startsWith(process.env.AGENT_STOP_PREFIX)) {
    fs.writeFileSync(`${process.env.AGENT_STOP_FILE}.tmp`, url);
    fs.renameSync(`${process.env.AGENT_STOP_FILE}.tmp`, process.env.AGENT_STOP_FILE);
    log('stopped before the redirect');
    process.exit(0);
  }
  const res = await request(url, init);
  init = {};
  if (res.status >= 300 && res.status < 400) {
    url = new URL(res.headers.get('location'), url).toString();
    continue;
  }
  const html = await res.text();
  const form = html.match(/<form\b[^>]*>[\s\S]*?<\/form>/i);
  if (!form) {
    log(`done: ${res.status}`);
    process.exit(res.ok ? 0 : 1);
  }
  const abortLink = html.match(/<a href="([^"]*\/abort)"/);
  if (deny && abortLink) {
    url = new URL(abortLink[1].replace(/&#x2F;/g, '/'), url).toString();
    continue;
  }
  const params = new URLSearchParams();
  for (const input of form[0].match(/<input\b[^>]*>/gi) || []) {
    const name = attr(input, 'name');
    if (!name) continue;
    let value = attr(input, 'value') ?? '';
    if (name === 'login') value = login;
    if (name === 'password') value = 'any-password';
    params.set(name, value);
  }
  if (deny && params.has('confirm')) {
    params.delete('confirm');
    params.set('abort', 'yes');
  }
  const action = attr(form[0].match(/<form\b[^>]*>/i)[0], 'action') || url;
  url = new URL(action, url).toString();
  init = {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: params.toString(),
  };
}
log('gave up after 20 steps');
process.exit(1);
