// Test infrastructure for tests/oidc.rs: a certified OpenID provider (panva/oidc-provider,
// pinned in package.json) on a random loopback port. Keys are generated at start. Prints one
// JSON line {"issuer": ...} on stdout when it listens; stops when stdin closes.
//
// Clients (all native, so plain-http loopback redirects on any port are allowed; PKCE S256 is
// mandatory for them):
//   sigstore      public, ES256 ID tokens
//   rs256-client  public, RS256 ID tokens
//   confidential  client_secret_basic with secret "s3cret-for-tests", ES256 ID tokens
// The login form accepts any login: "alice" becomes sub "alice", email "alice@example.test".
// SLOW_DOWN_FIRST_POLL=1 answers the first device-code poll with slow_down (RFC 8628 §3.5).
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const jwk = (type, opts) => ({
  ...crypto.generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
  use: 'sig',
});
const keys = [
  { ...jwk('ec', { namedCurve: 'P-256' }), kid: 'es256-key', alg: 'ES256' },
  { ...jwk('rsa', { modulusLength: 2048 }), kid: 'rs256-key', alg: 'RS256' },
];

// The last one is a page we do not serve: the user copies the code from the address bar.
const redirect_uris = ['http://localhost/auth/callback', 'http://127.0.0.1/callback', 'https://oob.example.test/callback'];
const grant_types = ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'];
const common = { application_type: 'native', redirect_uris, grant_types, response_types: ['code'] };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      { ...common, client_id: 'sigstore', token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'ES256' },
      { ...common, client_id: 'rs256-client', token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'RS256' },
      {
        ...common,
        client_id: 'confidential',
        client_secret: 's3cret-for-tests',
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys },
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // Sigstore wants the email in the ID token itself.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true }, deviceFlow: { enabled: true } },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: id.includes('@') ? id : `${id}@example.test`, email_verified: true };
        },
      };
    },
  });
  provider.on('device_authorization.success', (ctx, body) => {
    body.interval = 1; // keep the tests quick; RFC 8628's default is 5 s
  });
  let slowDownPending = process.env.SLOW_DOWN_FIRST_POLL === '1';
  provider.use(async (ctx, next) => {
    if (slowDownPending && ctx.method === 'POST' && ctx.path === '/token') {
      slowDownPending = false;
      ctx.status = 400;
      ctx.body = { error: 'slow_down', error_description: 'poll less often' };
      return;
    }
    await next();
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
