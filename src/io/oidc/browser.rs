//! The browser flow: authorization code + PKCE (S256) + state + nonce, with a loopback
//! redirect listener (RFC 8252 §7.3), then a copy-and-paste fallback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use zeroize::Zeroizing;

use super::http::{self, Discovery, Http};
use super::{Ambient, IdToken, OidcError};
use crate::io::config::Settings;
use crate::io::progress::Progress;

/// A PKCE pair (RFC 7636): the verifier stays with us, the challenge goes to the issuer.
pub struct Pkce {
    verifier: Zeroizing<String>,
    challenge: String,
}

impl Pkce {
    pub fn generate() -> Pkce {
        Pkce::from_verifier(random_token(32))
    }

    /// S256: `BASE64URL(SHA256(ASCII(verifier)))`.
    pub fn from_verifier(verifier: String) -> Pkce {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        Pkce {
            challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            verifier: Zeroizing::new(verifier),
        }
    }

    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// `bytes` random bytes, base64url (state, nonce, PKCE verifier: 43 characters for 32).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The system RNG failing leaves the machine unable to do any cryptography at all.
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random number generator failed");
    URL_SAFE_NO_PAD.encode(&buf)
}

/// The argv that opens `url` with a `gitsign.urlOpener` command line: split like a shell
/// would (quotes and backslashes, no expansion), `{{.URL}}` replaced where it appears (as
/// gitsign's template), else the URL appended as the last argument. No shell runs.
pub fn opener_command(opener: &str, url: &str) -> Result<Vec<String>, String> {
    let mut words = crate::core::git::shellwords::split(opener)?;
    if words.is_empty() {
        return Err("empty command".into());
    }
    const TEMPLATE: &str = "{{.URL}}";
    if words.iter().any(|w| w.contains(TEMPLATE)) {
        for w in &mut words {
            *w = w.replace(TEMPLATE, url);
        }
    } else {
        words.push(url.to_string());
    }
    Ok(words)
}

/// Starts the opener without waiting for it (a scripted agent runs the whole login while
/// we listen). Its stdout is discarded: ours is git's protocol channel.
fn open_url(argv: &[String]) -> std::io::Result<()> {
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// Where a pasted code comes from.
pub struct PasteInput {
    reader: Box<dyn Read + Send>,
}

impl PasteInput {
    /// The controlling terminal, when there is one (git has our stdin and stdout).
    pub fn tty() -> Option<PasteInput> {
        std::fs::File::open("/dev/tty").ok().map(|f| PasteInput {
            reader: Box::new(f),
        })
    }

    pub fn from_reader(reader: impl Read + Send + 'static) -> PasteInput {
        PasteInput {
            reader: Box::new(reader),
        }
    }
}

/// What the user pasted: the code, or the whole redirect URL from the browser's address
/// bar (then its state must be ours).
pub fn parse_paste(text: &str, state: &str, issuer: &str) -> Result<Zeroizing<String>, OidcError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(OidcError::BadPaste("nothing was pasted".into()));
    }
    if let Ok(u) = Url::parse(text)
        && u.query().is_some()
    {
        return match callback_params(&u, state, issuer) {
            Callback::Code(code) => Ok(code),
            Callback::Error { error, .. } => Err(OidcError::BadPaste(format!(
                "the URL carries the error {error:?}"
            ))),
            Callback::WrongState => Err(OidcError::BadPaste(
                "the URL belongs to another login (state differs)".into(),
            )),
            Callback::Ignore => Err(OidcError::BadPaste("the URL has no code".into())),
            Callback::WrongIssuer(iss) => Err(OidcError::BadPaste(format!(
                "the URL comes from issuer {iss:?}"
            ))),
        };
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(OidcError::BadPaste("a code has no spaces".into()));
    }
    Ok(Zeroizing::new(text.to_string()))
}

enum Callback {
    Code(Zeroizing<String>),
    Error {
        error: String,
        description: Option<String>,
    },
    WrongState,
    /// RFC 9207: the response names another issuer (a mix-up attack, or a misconfiguration).
    WrongIssuer(String),
    Ignore,
}

fn callback_params(u: &Url, state: &str, issuer: &str) -> Callback {
    let mut iss = None;
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "code" => code = Some(Zeroizing::new(v.into_owned())),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            "iss" => iss = Some(v.into_owned()),
            _ => {}
        }
    }
    let state_ok = got_state.as_deref() == Some(state);
    if state_ok
        && let Some(iss) = iss
        && iss.trim_end_matches('/') != issuer.trim_end_matches('/')
    {
        return Callback::WrongIssuer(iss);
    }
    match (code, error) {
        (_, Some(error)) if state_ok => Callback::Error { error, description },
        (Some(code), None) if state_ok => Callback::Code(code),
        (None, None) => Callback::Ignore,
        _ => Callback::WrongState,
    }
}

enum Event {
    Callback(Result<Zeroizing<String>, (String, Option<String>)>),
    Pasted(Result<Zeroizing<String>, OidcError>),
}

const PAGE_OK: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>gitsign</title></head><body><h1>Signed in</h1><p>gitsign-rs has your login; you may close this window.</p>";
const PAGE_ERR: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>gitsign</title></head><body><h1>Sign-in failed</h1><p>See your terminal.</p></body></html>";

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Serves redirects until one carries our state, or `stop` is set.
fn serve(
    listener: TcpListener,
    path: String,
    state: String,
    issuer: String,
    autoclose: Option<u64>,
    tx: mpsc::Sender<Event>,
    stop: Arc<AtomicBool>,
) {
    let ok_page = match autoclose {
        Some(secs) => format!(
            "{PAGE_OK}<script>setTimeout(function(){{window.close()}},{})</script></body></html>",
            secs * 1000
        ),
        None => format!("{PAGE_OK}</body></html>"),
    };
    while !stop.load(Ordering::Relaxed) {
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => continue,
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut line = String::new();
        let mut reader = BufReader::new((&stream).take(16 * 1024));
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        // Drain the headers so the client sees a clean response.
        let mut h = String::new();
        while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
            h.clear();
        }
        let target = line.split_whitespace().nth(1).unwrap_or("");
        let Ok(u) = Url::parse("http://127.0.0.1").and_then(|b| b.join(target)) else {
            respond(&mut stream, "400 Bad Request", PAGE_ERR);
            continue;
        };
        if !line.starts_with("GET ") || u.path() != path {
            respond(&mut stream, "404 Not Found", "not found");
            continue;
        }
        match callback_params(&u, &state, &issuer) {
            Callback::Code(code) => {
                respond(&mut stream, "200 OK", &ok_page);
                let _ = tx.send(Event::Callback(Ok(code)));
                return;
            }
            Callback::Error { error, description } => {
                respond(&mut stream, "200 OK", PAGE_ERR);
                let _ = tx.send(Event::Callback(Err((error, description))));
                return;
            }
            Callback::WrongIssuer(iss) => {
                respond(&mut stream, "400 Bad Request", PAGE_ERR);
                let _ = tx.send(Event::Callback(Err((
                    "mixed_up_issuer".into(),
                    Some(format!("the redirect names issuer {iss:?}")),
                ))));
                return;
            }
            // Not ours (a stale tab, a forged request): keep waiting for the real one.
            Callback::WrongState | Callback::Ignore => {
                respond(&mut stream, "400 Bad Request", PAGE_ERR);
            }
        }
    }
}

/// The redirect URI and, when it is a loopback URL, the listener for it.
fn redirect(settings: &Settings) -> Result<(String, Option<(TcpListener, String)>), OidcError> {
    let bind = |port: u16| {
        let addr = format!("127.0.0.1:{port}");
        let l = TcpListener::bind(&addr).map_err(|e| OidcError::Listener {
            addr: addr.clone(),
            error: e.to_string(),
        })?;
        l.set_nonblocking(true).map_err(|e| OidcError::Listener {
            addr,
            error: e.to_string(),
        })?;
        Ok::<_, OidcError>(l)
    };
    match settings.redirect_url.as_deref() {
        None => {
            let l = bind(0)?;
            let port = l
                .local_addr()
                .map_err(|e| OidcError::Listener {
                    addr: "127.0.0.1:0".into(),
                    error: e.to_string(),
                })?
                .port();
            let path = "/auth/callback".to_string();
            Ok((format!("http://localhost:{port}{path}"), Some((l, path))))
        }
        Some(r) => {
            let u = Url::parse(r).map_err(|e| {
                OidcError::BadPaste(format!("gitsign.redirectURL {r:?} is not a URL ({e})"))
            })?;
            if u.scheme() == "http" && u.host_str().is_some_and(http::is_loopback_host) {
                let l = bind(u.port_or_known_default().unwrap_or(80))?;
                Ok((r.to_string(), Some((l, u.path().to_string()))))
            } else {
                // Not ours to listen on (an out-of-band page): the user pastes the code.
                Ok((r.to_string(), None))
            }
        }
    }
}

pub fn authorize_url(
    discovery: &Discovery,
    settings: &Settings,
    redirect_uri: &str,
    pkce: &Pkce,
    state: &str,
    nonce: &str,
) -> Result<Url, OidcError> {
    let endpoint =
        discovery
            .authorization_endpoint
            .as_deref()
            .ok_or_else(|| OidcError::BadResponse {
                step: "discovery",
                url: settings.issuer.clone(),
                reason: "no authorization_endpoint".into(),
            })?;
    let mut u = http::checked_url("authorization", endpoint)?;
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", pkce.challenge())
            .append_pair("code_challenge_method", "S256");
        if let Some(c) = settings.connector_id.as_deref() {
            // Dex: skip its connector chooser.
            q.append_pair("connector_id", c);
        }
    }
    Ok(u)
}

/// The client secret from `gitsign.clientSecretFile`, if configured.
pub fn client_secret(settings: &Settings) -> Result<Option<Zeroizing<String>>, OidcError> {
    let Some(path) = settings.client_secret_file.as_ref() else {
        return Ok(None);
    };
    let s = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| OidcError::ClientSecret {
            path: path.clone(),
            error: e.to_string(),
        })?,
    );
    let t = s.trim();
    if t.is_empty() {
        return Err(OidcError::ClientSecret {
            path: path.clone(),
            error: "the file is empty".into(),
        });
    }
    Ok(Some(Zeroizing::new(t.to_string())))
}

/// POSTs a form to one of the issuer's endpoints with client authentication: the client
/// id alone for public clients, else the secret as the issuer prefers (Basic by default).
pub fn authed_post(
    client: &Http,
    discovery: &Discovery,
    settings: &Settings,
    step: &'static str,
    url: &str,
    params: &[(&str, &str)],
) -> Result<http::FormResponse, OidcError> {
    let secret = client_secret(settings)?;
    let mut pairs: Vec<(&str, &str)> = params.to_vec();
    let mut basic = None;
    match secret.as_deref() {
        None => pairs.push(("client_id", &settings.client_id)),
        Some(s) => {
            let methods = &discovery.token_auth_methods;
            // RFC 8414: Basic is the default when the issuer lists nothing.
            if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") {
                basic = Some((settings.client_id.as_str(), s.as_str()));
            } else {
                pairs.push(("client_id", &settings.client_id));
                pairs.push(("client_secret", s));
            }
        }
    }
    client.post_form(step, url, &pairs, basic)
}

/// An OAuth error from the token endpoint, which the device flow interprets.
pub type OAuthError = (String, Option<String>);

/// Calls the token endpoint and returns the `id_token`, or the OAuth error.
pub fn token_request(
    client: &Http,
    discovery: &Discovery,
    settings: &Settings,
    step: &'static str,
    grant: &[(&str, &str)],
) -> Result<Result<Zeroizing<String>, OAuthError>, OidcError> {
    let resp = authed_post(
        client,
        discovery,
        settings,
        step,
        &discovery.token_endpoint,
        grant,
    )?;
    if let Some(err) = http::oauth_error(&resp.body) {
        return Ok(Err(err));
    }
    if !(200..300).contains(&resp.status) {
        return Err(OidcError::Status {
            step,
            url: discovery.token_endpoint.clone(),
            status: resp.status,
            error: None,
        });
    }
    match resp
        .body
        .get("id_token")
        .and_then(serde_json::Value::as_str)
    {
        Some(t) => Ok(Ok(Zeroizing::new(t.to_string()))),
        None => Err(OidcError::BadResponse {
            step,
            url: discovery.token_endpoint.clone(),
            reason: "no id_token in the answer (is the `openid` scope allowed?)".into(),
        }),
    }
}

/// Opens `url` with the configured opener, else the desktop's, and always prints it.
pub fn show_url(settings: &Settings, ui: &mut dyn Progress, ambient: &Ambient, url: &str) {
    let opener = settings.url_opener.clone().or_else(|| {
        let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|k| (ambient.env)(k).is_some_and(|v| !v.is_empty()));
        if cfg!(target_os = "macos") {
            Some("open".to_string())
        } else if desktop {
            Some("xdg-open".to_string())
        } else {
            None
        }
    });
    ui.say(if opener.is_some() {
        "Your browser will now be opened to:"
    } else {
        "Open this URL in a browser to sign in:"
    });
    ui.say(url);
    if let Some(opener) = opener {
        let result = opener_command(&opener, url)
            .and_then(|argv| open_url(&argv).map_err(|e| format!("{}: {e}", argv[0])));
        if let Err(e) = result {
            ui.say(&format!(
                "Could not open a browser ({e}); open the URL above yourself."
            ));
        }
    }
}

pub fn run(
    settings: &Settings,
    ui: &mut dyn Progress,
    ambient: &mut Ambient,
) -> Result<IdToken, OidcError> {
    let could_paste = ambient.paste.is_some();
    let client = Http::new()?;
    let discovery = client.discover(&settings.issuer)?;
    let pkce = Pkce::generate();
    let state = random_token(16);
    let nonce = random_token(16);
    let (redirect_uri, listener) = redirect(settings)?;
    let auth = authorize_url(&discovery, settings, &redirect_uri, &pkce, &state, &nonce)?;

    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let has_listener = listener.is_some();
    if let Some((l, path)) = listener {
        let (tx, stop, state) = (tx.clone(), stop.clone(), state.clone());
        let issuer = discovery.issuer.clone();
        let autoclose = settings.autoclose.then_some(settings.autoclose_timeout);
        std::thread::spawn(move || serve(l, path, state, issuer, autoclose, tx, stop));
    }
    show_url(settings, ui, ambient, auth.as_str());

    let timeout = settings.oidc_timeout;
    let mut event = if has_listener {
        rx.recv_timeout(timeout).ok()
    } else {
        None
    };
    if event.is_none()
        && let Some(PasteInput { reader }) = ambient.paste.take()
    {
        ui.say(if has_listener {
                    "No redirect reached gitsign yet. Paste the code (or the whole URL the browser ended on) and press Enter:"
                } else {
                    "Paste the code (or the whole URL the browser ended on) and press Enter:"
                });
        let (tx, state, issuer) = (tx.clone(), state.clone(), discovery.issuer.clone());
        std::thread::spawn(move || {
            let mut line = Zeroizing::new(String::new());
            let mut r = BufReader::new(reader.take(64 * 1024));
            let got = match r.read_line(&mut line) {
                Ok(0) | Err(_) => Err(OidcError::BadPaste("no input".into())),
                Ok(_) => parse_paste(&line, &state, &issuer),
            };
            let _ = tx.send(Event::Pasted(got));
        });
        event = rx.recv_timeout(timeout).ok();
    }
    stop.store(true, Ordering::Relaxed);
    let waited = if has_listener { timeout * 2 } else { timeout };
    let code = match event {
        Some(Event::Callback(Ok(code))) | Some(Event::Pasted(Ok(code))) => code,
        Some(Event::Pasted(Err(e))) => return Err(e),
        Some(Event::Callback(Err((error, description)))) => {
            return Err(OidcError::Denied {
                step: "authorization",
                url: settings.issuer.clone(),
                error,
                description,
            });
        }
        None => {
            return Err(OidcError::NoCode {
                issuer: settings.issuer.clone(),
                after: if could_paste { waited } else { timeout },
            });
        }
    };

    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", pkce.verifier()),
    ];
    let raw = token_request(&client, &discovery, settings, "token exchange", &grant)?.map_err(
        |(error, description)| OidcError::Denied {
            step: "token exchange",
            url: discovery.token_endpoint.clone(),
            error,
            description,
        },
    )?;
    super::verify_id_token(
        &client,
        &discovery,
        settings,
        raw.to_string(),
        Some(&nonce),
        (ambient.now)(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_pkce_verifiers_are_long_enough_and_differ() {
        let (a, b) = (Pkce::generate(), Pkce::generate());
        assert_eq!(a.verifier().len(), 43);
        assert_ne!(a.verifier(), b.verifier());
        assert_ne!(a.challenge(), a.verifier());
    }

    #[test]
    fn opener_without_template_gets_the_url_appended() {
        assert_eq!(
            opener_command("firefox --new-window", "http://x/?a=1&b=2").unwrap(),
            ["firefox", "--new-window", "http://x/?a=1&b=2"]
        );
    }

    #[test]
    fn opener_template_is_replaced_inside_quoted_words() {
        assert_eq!(
            opener_command(
                r#"node 'my agent.js' --url={{.URL}} "say \"hi\" {{.URL}}""#,
                "U"
            )
            .unwrap(),
            ["node", "my agent.js", "--url=U", "say \"hi\" U"]
        );
        // No shell: metacharacters are plain text.
        assert_eq!(
            opener_command("echo $HOME; rm -rf /", "U").unwrap(),
            ["echo", "$HOME;", "rm", "-rf", "/", "U"]
        );
    }

    #[test]
    fn opener_syntax_errors_are_reported() {
        assert!(opener_command("", "U").is_err());
        assert!(opener_command("open 'x", "U").is_err());
        assert!(opener_command("open \"x", "U").is_err());
        assert!(opener_command("open x\\", "U").is_err());
    }

    #[test]
    fn pasted_urls_must_carry_our_state() {
        let ok = parse_paste(
            "  http://localhost:1234/auth/callback?code=abc&state=S1\n",
            "S1",
            "https://op",
        )
        .unwrap();
        assert_eq!(ok.as_str(), "abc");
        // RFC 9207: an authorization response from another issuer is refused.
        assert!(matches!(
            parse_paste("http://localhost/cb?code=abc&state=S1&iss=https%3A%2F%2Fevil", "S1", "https://op"),
            Err(OidcError::BadPaste(m)) if m.contains("evil")
        ));
        assert_eq!(
            parse_paste(
                "http://localhost/cb?code=abc&state=S1&iss=https%3A%2F%2Fop",
                "S1",
                "https://op"
            )
            .unwrap()
            .as_str(),
            "abc"
        );
        assert!(matches!(
            parse_paste(
                "http://localhost/auth/callback?code=abc&state=S2",
                "S1",
                "https://op"
            ),
            Err(OidcError::BadPaste(_))
        ));
        assert!(matches!(
            parse_paste("http://localhost/cb?code=abc", "S1", "https://op"),
            Err(OidcError::BadPaste(_))
        ));
        assert!(matches!(
            parse_paste(
                "http://localhost/cb?error=access_denied&state=S1",
                "S1",
                "https://op"
            ),
            Err(OidcError::BadPaste(_))
        ));
    }

    #[test]
    fn a_pasted_bare_code_is_taken_as_is() {
        assert_eq!(
            parse_paste("abc-DEF_123\n", "S", "https://op")
                .unwrap()
                .as_str(),
            "abc-DEF_123"
        );
        assert!(parse_paste("   \n", "S", "https://op").is_err());
        assert!(parse_paste("two words", "S", "https://op").is_err());
    }

    #[test]
    fn the_loopback_listener_ignores_foreign_requests_and_takes_the_real_redirect() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        std::thread::spawn(move || {
            serve(
                l,
                "/auth/callback".into(),
                "ST".into(),
                "https://op".into(),
                Some(6),
                tx,
                s2,
            )
        });
        let get = |target: &str| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(s, "GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        assert!(get("/favicon.ico").starts_with("HTTP/1.1 404"));
        assert!(get("/auth/callback?code=forged&state=WRONG").starts_with("HTTP/1.1 400"));
        assert!(rx.try_recv().is_err());
        let page = get("/auth/callback?code=C0DE&state=ST&iss=https%3A%2F%2Fop");
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("window.close"));
        match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
            Event::Callback(Ok(code)) => assert_eq!(code.as_str(), "C0DE"),
            _ => panic!("expected the code"),
        }
        stop.store(true, Ordering::Relaxed);
    }

    #[test]
    fn the_loopback_listener_aborts_on_a_redirect_naming_another_issuer() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        std::thread::spawn(move || {
            serve(
                l,
                "/cb".into(),
                "ST".into(),
                "https://op".into(),
                None,
                tx,
                s2,
            )
        });
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET /cb?code=C&state=ST&iss=https%3A%2F%2Fevil HTTP/1.1\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 400"));
        match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
            Event::Callback(Err((error, _))) => assert_eq!(error, "mixed_up_issuer"),
            _ => panic!("expected an error"),
        }
        stop.store(true, Ordering::Relaxed);
    }

    #[test]
    fn authorize_url_carries_pkce_state_nonce_and_the_dex_connector() {
        let d = Discovery {
            issuer: "https://op".into(),
            authorization_endpoint: Some("https://op/auth?prompt=login".into()),
            token_endpoint: "https://op/token".into(),
            jwks_uri: "https://op/keys".into(),
            device_authorization_endpoint: None,
            token_auth_methods: vec![],
        };
        let mut s = Settings::resolve(&std::collections::HashMap::new(), &|_| None).unwrap();
        s.connector_id = Some("https://github.com/login/oauth".into());
        let pkce = Pkce::generate();
        let u = authorize_url(
            &d,
            &s,
            "http://localhost:9/auth/callback",
            &pkce,
            "ST",
            "NO",
        )
        .unwrap();
        let q: std::collections::HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["prompt"], "login", "the endpoint's own query is kept");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "sigstore");
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["redirect_uri"], "http://localhost:9/auth/callback");
        assert_eq!((q["state"].as_str(), q["nonce"].as_str()), ("ST", "NO"));
        assert_eq!(q["code_challenge"], pkce.challenge());
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["connector_id"], "https://github.com/login/oauth");
        assert!(!u.as_str().contains(pkce.verifier()));

        s.connector_id = None;
        let u = authorize_url(&d, &s, "http://localhost:9/cb", &pkce, "ST", "NO").unwrap();
        assert!(!u.as_str().contains("connector_id"));
        let insecure = Discovery {
            authorization_endpoint: Some("http://op.example/auth".into()),
            ..d
        };
        assert!(matches!(
            authorize_url(&insecure, &s, "http://localhost:9/cb", &pkce, "ST", "NO"),
            Err(OidcError::Insecure { .. })
        ));
    }
}
