//! The service in a real browser: Debian's headless Chromium, driven over the
//! WebDriver protocol through chromedriver, against `mingma serve` on loopback
//! serving a store seeded by `mingma demo --no-serve`.
//!
//! A person signs up, opens a venue's check-in URL and records leaving, opens the
//! venue's page and its PNG poster, signs in as a demo holder with
//! a red code and sees its reason, source and time, switches to English, opens the
//! history and verifies a receipt. Then `mingma verify-code` checks the holder's
//! signed code offline against the published trust list, and refuses an altered one.
//!
//! Officials in the console: two officials of a city, registered with `mingma admin`
//! and their key files, sign in, import their key files into the browser (a
//! non-extractable WebCrypto key), one proposes a close-contact designation, the
//! approve button is absent on their own record, the second approves, and the
//! holder's code turns red. A third official, with a key made in the browser,
//! witnesses in person a dependant's consent to the holder on the console's page.
//!
//! Issue 7's scenario: customs submits a signed border entry carrying a holder's ID
//! number by mistake and the province's approved quarantine order rests on it, so
//! she is red as an inbound traveller; she appeals "I never left the country" from
//! the code page (one ticket to the province, one to customs, none to the city); a
//! city 12345 operator, with her consent read out, sees both owners and both
//! tickets' status; the province's reviewer sees the entry's name and document next
//! to hers and retracts the entry from the ticket's page (sealed in the browser);
//! her code page is green, the appeal page gives the answer and the code after it,
//! and the history lists the change with a receipt that verifies.
//!
//! Needs `chromium` and `chromedriver` (Debian packages `chromium`,
//! `chromium-driver`; `.ci/run` installs them); fails, saying so, without them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const MINGMA: &str = env!("CARGO_BIN_EXE_mingma");
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver in its own process group, killed with the browsers it started.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{}", self.0.id()))
            .status();
        let _ = self.0.wait();
    }
}

/// A minimal HTTP/1.1 exchange on loopback (`Connection: close`); returns the status
/// and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let body = body.unwrap_or("");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    // Read the head, then exactly Content-Length bytes: chromedriver keeps the
    // connection open whatever the request says.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let lower = head.to_ascii_lowercase();
    assert!(
        !lower.contains("transfer-encoding: chunked"),
        "chunked answer to {path}"
    );
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok());
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).unwrap();
        }
        None => {
            reader.read_to_end(&mut body).unwrap();
        }
    }
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A WebDriver session.
struct Browser {
    driver: SocketAddr,
    session: String,
    _chromedriver: Group,
}

impl Browser {
    fn start() -> Self {
        for program in ["chromium", "chromedriver"] {
            let found = Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {program}"))
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(found, "{program} is not installed: apt-get install -y chromium chromium-driver (as .ci/run does)");
        }
        let port = free_port();
        let child = {
            use std::os::unix::process::CommandExt as _;
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("chromedriver starts")
        };
        let chromedriver = Group(child);
        let driver = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if TcpStream::connect(driver).is_ok() {
                let (status, body) = http(driver, "GET", "/status", None, &[]);
                if status == 200 && body.contains("\"ready\":true") {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=412,915"]
        }}}});
        let (status, body) = http(driver, "POST", "/session", Some(&caps.to_string()), &[]);
        assert_eq!(status, 200, "new session: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let session = v["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Self {
            driver,
            session,
            _chromedriver: chromedriver,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let body = body.map(|b| b.to_string());
        let (status, text) = http(
            self.driver,
            method,
            &path,
            Some(body.as_deref().unwrap_or("{}")).filter(|_| method == "POST"),
            &[],
        );
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(status, 200, "{method} {path}: {text}");
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})));
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element matching a CSS selector, waiting up to 10 s for it.
    fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let path = format!("/session/{}/element", self.session);
            let (status, text) = http(
                self.driver,
                "POST",
                &path,
                Some(&json!({"using": "css selector", "value": css}).to_string()),
                &[],
            );
            if status == 200 {
                let v: Value = serde_json::from_str(&text).unwrap();
                return v["value"][ELEMENT].as_str().unwrap().to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no element {css} on {}:\n{}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn fill(&self, css: &str, value: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": value})),
        );
    }

    /// Types `text` into an element without clearing it first (a file input takes
    /// a path this way).
    fn send_keys(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Runs `script` in the page; its return value.
    fn execute(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The text of `css` once `done` says it is final, waiting up to 30 s.
    fn wait_text(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(css);
            if done(&text) {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{css} still says {text:?} on {}:\n{}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The text of `css` in whatever page is current once `done` says it is final
    /// (read by a script, so a page that reloads meanwhile cannot leave a stale
    /// element behind), waiting up to 30 s.
    fn wait_page_text(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        let script = format!(
            "var e = document.querySelector({}); return e ? e.textContent : '';",
            serde_json::to_string(css).unwrap()
        );
        loop {
            let text = self
                .execute(&script)
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if done(&text) {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{css} still says {text:?} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Signs the official out through the console's button and waits for the
    /// sign-in page, so that the next navigation does not race the sign-out's.
    fn console_sign_out(&self) {
        self.click("#signout");
        let started = Instant::now();
        while !(self.url().contains("/console/signin") && self.source().contains("id=\"official\""))
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "still not signed out on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Signs an official in through the console's page.
    fn console_sign_in(&self, base: &str, official: &str, password: &str) {
        self.go(&format!("{base}/console"));
        assert!(self.url().contains("/console/signin"), "{}", self.url());
        self.fill("#official", official);
        self.fill("#password", password);
        self.click("#signin");
        assert_eq!(self.text("#signed-in-as"), official);
    }

    /// Imports a key file on the console's key page; waits for it to be ready.
    fn import_key_file(&self, base: &str, file: &Path) {
        self.go(&format!("{base}/console/key"));
        self.send_keys("#key-file", &file.display().to_string());
        self.click("#import-key");
        let status = self.wait_text("#browser-key", |t| {
            t.contains("已登记") || t.contains("registered")
        });
        assert!(!status.contains("尚未"), "{status}");
    }

    /// Chooses `value` in a select element.
    fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value='{value}']"));
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Signs in through the pages; returns whether the ID number had an account.
    fn sign_in(&self, base: &str, id: &str, name: &str, phone: &str) -> bool {
        self.go(&format!("{base}/signin"));
        self.fill("#id_number", id);
        self.fill("#name", name);
        self.fill("#phone", phone);
        self.click("#send-code");
        let code = self.text("#demo-code");
        let existing = self.source().contains("id=\"existing-account\"");
        self.fill("#code", &code);
        self.click("#confirm");
        // Wait for the signed-in page, so that the next navigation does not race
        // the confirmation's redirect.
        let started = Instant::now();
        while self.url().contains("/signin") {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "still signing in on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        existing
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ =
            TcpStream::connect(self.driver).map(|_| http(self.driver, "DELETE", &path, None, &[]));
    }
}

/// Seeds a demo store; returns the red holder's (ID, name, phone), a check-in
/// path (`/v/...`) and that venue's id.
fn seed(dir: &Path) -> ((String, String, String), String, String) {
    let out = Command::new(MINGMA)
        .args([
            "demo",
            "--no-serve",
            "--persons",
            "1500",
            "--days",
            "10",
            "--dir",
        ])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "mingma demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let red = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("红码"))
        .unwrap_or_else(|| panic!("no red demo holder:\n{stdout}"));
    let fields: Vec<&str> = red.split_whitespace().collect();
    let holder = (
        fields[1].to_owned(),
        fields[2].to_owned(),
        fields[3].to_owned(),
    );
    let check_in = stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("check in"))
        .and_then(|l| l.trim().find("/v/").map(|i| l.trim()[i..].to_owned()))
        .unwrap_or_else(|| panic!("no check-in URL:\n{stdout}"));
    let venue = stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("a venue"))
        .and_then(|l| l.split("/venues/").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no venue page:\n{stdout}"))
        .to_owned();
    (holder, check_in, venue)
}

/// Starts `mingma serve` on the seeded directory; returns it and its address.
fn serve(dir: &Path) -> (Killed, SocketAddr) {
    let port = free_port();
    let mut child = Command::new(MINGMA)
        .arg("serve")
        .env("MINGMA_DB", dir.join("store.sqlite"))
        .env("MINGMA_ACCOUNTS_DB", dir.join("accounts.sqlite"))
        .env("MINGMA_KEY_DIR", dir.join("keys"))
        .env("MINGMA_LISTEN", format!("127.0.0.1:{port}"))
        .env("MINGMA_METRICS_LISTEN", "127.0.0.1:0")
        .env("MINGMA_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("MINGMA_CHECKPOINT_EVERY_SECONDS", "1")
        .env("MINGMA_DEMO_CHANNELS", "1")
        .env("MINGMA_CREATE_MISSING_KEYS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let served = Killed(child);
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("mingma serve exited before serving")
            .unwrap();
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break rest
                .split('/')
                .next()
                .unwrap()
                .parse::<SocketAddr>()
                .unwrap();
        }
    };
    // Keep reading its log so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (served, addr)
}

#[test]
fn a_holder_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let ((red_id, red_name, red_phone), check_in, venue) = seed(dir.path());
    let (_server, addr) = serve(dir.path());
    let base = format!("http://{addr}");
    let b = Browser::start();

    // Sign up with a new ID number; the code page follows.
    b.go(&format!("{base}/"));
    assert!(b.url().contains("/signin"), "{}", b.url());
    assert!(!b.sign_in(&base, "110101199003071233", "王小明", "13912345678"));
    assert!(b.url().ends_with("/code"), "{}", b.url());
    assert_eq!(b.text("#colour"), "绿码");
    assert_eq!(b.text("#masked-name"), "王**");

    // Open a venue's URL (the poster's QR): checked in, the code shown.
    b.go(&format!("{base}{check_in}"));
    assert!(!b.text("#checkin-venue").is_empty());
    assert!(b.text("#presence").contains("海报"), "{}", b.source());
    assert!(!b.text("#colour").is_empty());
    // Leaving is recorded, after the entry's second.
    std::thread::sleep(Duration::from_millis(1100));
    b.click("#leave");
    assert!(b.text("#left-at").contains("+08:00"), "{}", b.source());

    // The venue's page links its posters; the PNG one opens as an image.
    b.go(&format!("{base}/venues/{venue}"));
    assert!(!b.text("#venue-name").is_empty());
    b.find("#poster-svg");
    b.click("#poster-png");
    let started = Instant::now();
    let size = loop {
        let size = b.execute(
            "var i = document.contentType === 'image/png' && document.images[0]; \
             return i && i.complete ? [i.naturalWidth, i.naturalHeight] : null",
        );
        if !size.is_null() {
            break size;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{}", b.url());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(b.url().ends_with(&format!("/venues/{venue}/poster.png")));
    assert_eq!(size, json!([1200, 1700]), "the poster decodes as an image");

    // A demo holder with evidence: red, with reason, source and time.
    b.go(&format!("{base}/code"));
    b.click("form[action='/signout'] button");
    assert!(
        b.sign_in(&base, &red_id, &red_name, &red_phone),
        "the demo holder has an account"
    );
    assert_eq!(b.text("#colour"), "红码");
    assert!(!b.text("#reason").is_empty());
    assert!(!b.text("#assigned-by").is_empty());
    assert!(b.text("#since").contains("+08:00"), "{}", b.text("#since"));
    b.click("#why-link");
    assert!(b.source().contains("class=\"evidence\""), "{}", b.source());

    // English.
    b.go(&format!("{base}/code"));
    b.click("#lang-switch");
    assert_eq!(b.text("#colour"), "RED code");
    assert!(b.source().contains("Assigned by"));

    // History, and a receipt verified.
    b.click("#nav-history");
    b.click(".verify-link");
    assert!(
        b.text("#receipt-valid").starts_with("Valid"),
        "{}",
        b.source()
    );
    assert!(b.source().contains("mingma ledger check-receipt"));

    // The signed code, checked offline by `mingma verify-code`.
    let body = json!({"id_number": red_id, "name": red_name, "phone": red_phone}).to_string();
    let (status, started) = http(addr, "POST", "/api/v1/signin", Some(&body), &[]);
    assert_eq!(status, 202, "{started}");
    let started: Value = serde_json::from_str(&started).unwrap();
    let confirm =
        json!({"challenge": started["challenge"], "code": started["demo_code"]}).to_string();
    let (_, session) = http(addr, "POST", "/api/v1/signin/confirm", Some(&confirm), &[]);
    let session: Value = serde_json::from_str(&session).unwrap();
    let bearer = format!("Bearer {}", session["session"].as_str().unwrap());
    let (status, code) = http(
        addr,
        "GET",
        "/api/v1/me/code",
        None,
        &[("Authorization", &bearer)],
    );
    assert_eq!(status, 200, "{code}");
    let code: Value = serde_json::from_str(&code).unwrap();
    let signed = code["signed_code"].as_str().unwrap();
    let (_, trust) = http(
        addr,
        "GET",
        "/.well-known/mingma/trust-list.json",
        None,
        &[],
    );
    let trust_file = dir.path().join("trust.json");
    std::fs::write(&trust_file, trust).unwrap();
    let out = Command::new(MINGMA)
        .args(["verify-code", signed, "--trust-list"])
        .arg(&trust_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("valid: red"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut altered = signed.to_owned();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let out = Command::new(MINGMA)
        .args(["verify-code", &altered, "--trust-list"])
        .arg(&trust_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("refused"),
        "{stderr}"
    );
    let out = Command::new(MINGMA)
        .args([
            "verify-code",
            signed,
            "--at",
            "2099-01-01T00:00:00+08:00",
            "--trust-list",
        ])
        .arg(&trust_file)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused (expired)"));
}

/// Runs `mingma` with `args` (and `stdin`), which must succeed; its standard output.
fn mingma(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(MINGMA)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "mingma {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A holder's session through the API (the demo channel shows the one-time code).
fn holder_session(addr: SocketAddr, id: &str, name: &str, phone: &str) -> String {
    let body = json!({"id_number": id, "name": name, "phone": phone}).to_string();
    let (status, started) = http(addr, "POST", "/api/v1/signin", Some(&body), &[]);
    assert_eq!(status, 202, "{started}");
    let started: Value = serde_json::from_str(&started).unwrap();
    let confirm =
        json!({"challenge": started["challenge"], "code": started["demo_code"]}).to_string();
    let (status, session) = http(addr, "POST", "/api/v1/signin/confirm", Some(&confirm), &[]);
    assert!(status == 200 || status == 201, "{session}");
    let session: Value = serde_json::from_str(&session).unwrap();
    format!("Bearer {}", session["session"].as_str().unwrap())
}

fn colour(addr: SocketAddr, bearer: &str) -> String {
    let (status, code) = http(
        addr,
        "GET",
        "/api/v1/me/code",
        None,
        &[("Authorization", bearer)],
    );
    assert_eq!(status, 200, "{code}");
    let code: Value = serde_json::from_str(&code).unwrap();
    code["colour"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn officials_in_a_real_browser() {
    const PASSWORD: &str = "correct horse battery";
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (db, accounts) = (path("store.sqlite"), path("accounts.sqlite"));

    // The province's first admin, Zhengzhou's commission and two of its officials,
    // each with a key file, registered by `mingma admin`.
    mingma(
        &[
            "admin",
            "init",
            "--db",
            &db,
            "--authority",
            "hn-wjw",
            "--authority-name",
            "河南省卫生健康委员会",
            "--jurisdiction",
            "41",
            "--official",
            "hn-admin",
            "--name",
            "省管理员",
            "--key-out",
            &path("admin.key"),
        ],
        None,
    );
    let admin = ["--db", db.as_str(), "--as", "hn-admin", "--key-file"];
    let admin_key = path("admin.key");
    let with_admin = |args: &[&str]| {
        let mut all: Vec<&str> = vec!["admin"];
        all.extend_from_slice(&args[..1]);
        all.extend_from_slice(&admin);
        all.push(&admin_key);
        all.extend_from_slice(&args[1..]);
        mingma(&all, None)
    };
    with_admin(&[
        "add-authority",
        "--id",
        "zz-wjw",
        "--name",
        "郑州市卫生健康委员会",
        "--jurisdiction",
        "4101",
    ]);
    for official in ["zz-a", "zz-b"] {
        let file = path(&format!("{official}.key"));
        let public = mingma(&["admin", "keygen", "--out", &file], None);
        with_admin(&[
            "add-official",
            "--id",
            official,
            "--name",
            official,
            "--authority",
            "zz-wjw",
            "--public-key",
            public.trim(),
            "--role",
            "health_official@4101",
        ]);
        mingma(
            &[
                "admin",
                "password",
                "--accounts-db",
                &accounts,
                "--official",
                official,
            ],
            Some(&format!("{PASSWORD}\n")),
        );
    }

    // A 12345 operator of the city (no key: an operator signs nothing).
    with_admin(&[
        "add-official",
        "--id",
        "zz-12345",
        "--name",
        "zz-12345",
        "--authority",
        "zz-wjw",
        "--role",
        "hotline_operator@4101",
    ]);
    mingma(
        &[
            "admin",
            "password",
            "--accounts-db",
            &accounts,
            "--official",
            "zz-12345",
        ],
        Some(&format!("{PASSWORD}\n")),
    );

    // A third official without a key: they will make one in the browser.
    with_admin(&[
        "add-official",
        "--id",
        "zz-c",
        "--name",
        "zz-c",
        "--authority",
        "zz-wjw",
        "--role",
        "health_official@4101",
    ]);
    for official in ["zz-c", "hn-admin"] {
        mingma(
            &[
                "admin",
                "password",
                "--accounts-db",
                &accounts,
                "--official",
                official,
            ],
            Some(&format!("{PASSWORD}\n")),
        );
    }

    // Issue 7's scenario: two province officials (one orders, one approves and
    // reviews appeals), a second admin, and Zhengzhou airport's customs post, a
    // data source reporting to the province (registered by one admin, confirmed by
    // the other).
    for official in ["hn-q", "hn-r"] {
        let file = path(&format!("{official}.key"));
        let public = mingma(&["admin", "keygen", "--out", &file], None);
        with_admin(&[
            "add-official",
            "--id",
            official,
            "--name",
            official,
            "--authority",
            "hn-wjw",
            "--public-key",
            public.trim(),
            "--role",
            "health_official@41",
        ]);
        mingma(
            &[
                "admin",
                "password",
                "--accounts-db",
                &accounts,
                "--official",
                official,
            ],
            Some(&format!("{PASSWORD}\n")),
        );
    }
    let public = mingma(&["admin", "keygen", "--out", &path("admin2.key")], None);
    with_admin(&[
        "add-official",
        "--id",
        "hn-admin-2",
        "--name",
        "省管理员二",
        "--authority",
        "hn-wjw",
        "--public-key",
        public.trim(),
        "--role",
        "admin@41",
    ]);
    let customs_public = mingma(&["admin", "keygen", "--out", &path("customs.key")], None);
    let proposed = with_admin(&[
        "register-source",
        "--id",
        "cgo-customs",
        "--kind",
        "customs",
        "--authority",
        "hn-wjw",
        "--name",
        "郑州新郑国际机场海关",
        "--public-key",
        customs_public.trim(),
    ]);
    let proposal = proposed
        .split_whitespace()
        .nth(1)
        .map(|l| l.trim_end_matches(':'))
        .unwrap_or_else(|| panic!("no leaf in {proposed:?}"))
        .to_owned();
    mingma(
        &[
            "admin",
            "confirm",
            "--db",
            &db,
            "--as",
            "hn-admin-2",
            "--key-file",
            &path("admin2.key"),
            "--leaf",
            &proposal,
        ],
        None,
    );
    let customs_token = mingma(
        &[
            "admin",
            "token",
            "--accounts-db",
            &accounts,
            "--source",
            "cgo-customs",
        ],
        None,
    )
    .trim()
    .to_owned();

    let (_server, addr) = serve(dir.path());
    let base = format!("http://{addr}");
    // A holder, green so far; and a case (who needs no account).
    let holder = "410105200001010017";
    let bearer = holder_session(addr, holder, "赵六", "13900001111");
    assert_eq!(colour(addr, &bearer), "green");
    let case = "110101199003071233";
    // The case and the holder were at the same restaurant (a venue the case runs).
    let case_bearer = holder_session(addr, case, "王小明", "13912345678");
    let venue = json!({"name": "二七火锅", "address": "解放路1号", "street": "410103001", "kind": "restaurant"}).to_string();
    let (status, venue) = http(
        addr,
        "POST",
        "/api/v1/venues",
        Some(&venue),
        &[("Authorization", &case_bearer)],
    );
    assert_eq!(status, 201, "{venue}");
    let venue: Value = serde_json::from_str(&venue).unwrap();
    let poster = json!({"token": venue["poster_url"]}).to_string();
    for who in [&case_bearer, &bearer] {
        let (status, body) = http(
            addr,
            "POST",
            "/api/v1/checkins",
            Some(&poster),
            &[("Authorization", who)],
        );
        assert!(status == 200 || status == 201, "{body}");
    }

    let b = Browser::start();
    // The first official: signs in, imports the key file, records a case report
    // and proposes the holder as a close contact.
    b.console_sign_in(&base, "zz-a", PASSWORD);
    b.import_key_file(&base, &dir.path().join("zz-a.key"));
    b.go(&format!("{base}/console/records"));
    b.fill("#case_report-subject", case);
    b.click("#form-case_report summary");
    b.fill("#case_report-id", "c-1");
    b.click("#form-case_report button[type=submit]");
    let done = b.wait_text("#form-case_report .result", |t| {
        !t.is_empty() && !t.contains("正在")
    });
    assert!(done.contains("待另一名工作人员复核"), "{done}");
    b.fill("#close_contact-subject", holder);
    b.fill("#close_contact-case", "c-1");
    b.fill(
        "#close_contact-legal_basis",
        "《中华人民共和国传染病防治法》第四十二条",
    );
    b.click("#form-close_contact summary");
    b.fill("#close_contact-id", "cc-1");
    b.click("#form-close_contact button[type=submit]");
    let done = b.wait_text("#form-close_contact .result", |t| {
        !t.is_empty() && !t.contains("正在")
    });
    assert!(
        done.contains("cc-1") && done.contains("待另一名工作人员复核"),
        "{done}"
    );
    // A refusal, shown in the page's language: a risk area outside the city.
    b.fill("#risk_area-places", "4102");
    b.fill("#risk_area-from", "2022-06-10 00:00");
    b.fill("#risk_area-until", "2022-06-13 00:00");
    b.fill(
        "#risk_area-legal_basis",
        "《中华人民共和国传染病防治法》第四十三条",
    );
    b.click("#form-risk_area button[type=submit]");
    let refused = b.wait_text("#form-risk_area .result", |t| {
        !t.is_empty() && !t.contains("正在")
    });
    assert!(
        refused.contains("记录格式或内容有误") && refused.contains("malformed_record"),
        "{refused}"
    );

    // Tracing: the query is logged first, then the holder is found and proposed as
    // a close contact by their person key.
    b.go(&format!("{base}/console/trace"));
    b.fill("#trace-case", "c-1");
    b.click("#trace-form button[type=submit]");
    let done = b.wait_text("#trace-result", |t| !t.is_empty() && !t.contains("正在"));
    assert!(
        done.starts_with("查询已记入账本") && done.ends_with("找到接触者 1"),
        "{done}"
    );
    assert_eq!(b.text("#contacts li.contact code.person").len(), 64);
    b.fill("#propose-basis", "《中华人民共和国传染病防治法》第四十二条");
    b.click("#propose");
    let done = b.wait_text("#propose-results li", |t| !t.is_empty());
    assert!(done.contains("待另一名工作人员复核"), "{done}");

    // Their own records are listed for approval, but not approvable by them.
    b.go(&format!("{base}/console/approvals"));
    b.find("li.pending[data-record='cc-1']");
    assert_eq!(
        b.execute("return document.querySelector(\"li.pending[data-record='cc-1'] button.approve\") === null"),
        json!(true),
        "no approve button on one's own record:\n{}",
        b.source()
    );
    assert!(b
        .text("li.pending[data-record='cc-1'] .own-note")
        .contains("本人录入"));
    // And the API refuses it too: self_approval.
    let signin = json!({"official": "zz-a", "password": PASSWORD}).to_string();
    let (status, token) = http(addr, "POST", "/api/v1/official/signin", Some(&signin), &[]);
    assert_eq!(status, 200, "{token}");
    let token: Value = serde_json::from_str(&token).unwrap();
    let a_bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let approval = json!({"type": "approval", "target": "cc-1"}).to_string();
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/official/records/draft",
        Some(&approval),
        &[("Authorization", &a_bearer)],
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("self_approval"), "{body}");
    assert_eq!(colour(addr, &bearer), "green", "nothing approved yet");

    // The second official, in English: signs in, imports their key file, approves.
    b.console_sign_out();
    b.console_sign_in(&base, "zz-b", PASSWORD);
    b.import_key_file(&base, &dir.path().join("zz-b.key"));
    b.go(&format!("{base}/console/approvals"));
    b.click("#lang-switch");
    assert!(b.source().contains("Records waiting for approval"));
    b.click("li.pending[data-record='c-1'] button.approve");
    let done = b.wait_text("li.pending[data-record='c-1'] .result", |t| {
        !t.is_empty() && !t.contains("Signing")
    });
    assert!(done.starts_with("Recorded"), "{done}");
    b.click("li.pending[data-record='cc-1'] button.approve");
    let done = b.wait_text("li.pending[data-record='cc-1'] .result", |t| {
        !t.is_empty() && !t.contains("Signing")
    });
    assert!(
        done.contains("now red / yellow / green: 1 / 0 / 0"),
        "{done}"
    );

    // The holder's code is red.
    assert_eq!(colour(addr, &bearer), "red");

    // A key generated in the browser: its public key is shown and enrolled; the
    // admin registers it from the admin page with a sealed act; then it signs.
    b.console_sign_out();
    b.go(&format!("{base}/lang/zh?next=/console"));
    b.console_sign_in(&base, "zz-c", PASSWORD);
    b.go(&format!("{base}/console/key"));
    b.click("#generate-key");
    let done = b.wait_text("#key-result", |t| !t.is_empty());
    assert!(done.starts_with("已生成新密钥"), "{done}");
    let public = b.wait_text("#public-key", |t| t.len() == 64);
    assert!(b.text("#browser-key").contains("等待管理员登记"));
    assert_eq!(
        b.execute("return indexedDB.databases().then(function (d) { return d.map(function (x) { return x.name; }); })"),
        json!(["mingma-console"])
    );
    b.console_sign_out();
    b.console_sign_in(&base, "hn-admin", PASSWORD);
    b.import_key_file(&base, &dir.path().join("admin.key"));
    b.go(&format!("{base}/console/admin"));
    let item = format!("li.enrolment[data-official='zz-c'][data-key='{public}']");
    b.click(&format!("{item} button.register"));
    let done = b.wait_text(&format!("{item} .result"), |t| {
        !t.is_empty() && !t.contains("正在")
    });
    assert!(done.starts_with("已记入账本"), "{done}");
    b.console_sign_out();
    b.console_sign_in(&base, "zz-c", PASSWORD);
    let status = b.wait_text("#browser-key", |t| !t.contains("正在检查"));
    assert!(status.contains("已登记，可以签名"), "{status}");
    b.go(&format!("{base}/console/records"));
    b.fill("#test_result-subject", case);
    b.select("#test_result-outcome", "negative");
    b.fill("#test_result-sampled_at", "2022-06-10 08:00");
    b.click("#form-test_result button[type=submit]");
    let done = b.wait_text("#form-test_result .result", |t| {
        !t.is_empty() && !t.contains("正在")
    });
    assert!(done.starts_with("已记录"), "{done}");

    // A dependant's consent witnessed in person: the holder asks for an in-person
    // check of an elderly relative; the official looks the request up on the
    // console, checks the ID card, states the street and signs; the holder's page
    // then says how the dependant consented.
    let elderly = "410105194507150027";
    let body = json!({"id_number": elderly, "name": "王秀英"}).to_string();
    let (status, request) = http(
        addr,
        "POST",
        "/api/v1/me/dependants/in-person",
        Some(&body),
        &[("Authorization", &bearer)],
    );
    assert_eq!(status, 202, "{request}");
    let request: Value = serde_json::from_str(&request).unwrap();
    let reference = request["reference"].as_str().unwrap();
    b.go(&format!("{base}/console/consents"));
    b.fill("#consent-reference", "ZZZZZ-ZZZZZ");
    b.click("#consent-lookup");
    let refused = b.wait_text("#consent-lookup-result", |t| !t.is_empty());
    assert!(
        refused.contains("没有此编号的待核验申请") && refused.contains("consent_request_unknown"),
        "{refused}"
    );
    b.fill("#consent-reference", reference);
    b.click("#consent-lookup");
    assert_eq!(b.wait_text("#consent-dependant", |t| !t.is_empty()), "王**");
    assert_eq!(b.text("#consent-last-four"), &elderly[14..]);
    b.fill("#consent-id", elderly);
    b.fill("#consent-street", "410105001");
    b.click("#consent-checked");
    b.click("#consent-sign");
    let done = b.wait_text("#consent-result", |t| !t.is_empty() && !t.contains("正在"));
    assert!(
        done.starts_with("已记入账本") && done.contains("家人已添加：王**"),
        "{done}"
    );
    b.click("#lang-switch");
    assert!(b
        .source()
        .contains("Witness a dependant's consent in person"));
    let (_, list) = http(
        addr,
        "GET",
        "/api/v1/me/dependants",
        None,
        &[("Authorization", &bearer)],
    );
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["consent"], "in_person", "{list}");
    assert!(b.sign_in(&base, holder, "赵六", "13900001111"));
    b.go(&format!("{base}/dependants"));
    let consent = b.text("#dependants .consent");
    assert!(
        consent.contains("In-person check by a community official (ledger leaf"),
        "{consent}"
    );

    // Issue 7 end to end in the pages. Customs submits a correctly signed
    // border entry carrying 王芳's ID number by mistake (the traveller was 李明,
    // passport E12345678), the province orders quarantine on it (approved by a
    // second official): she is red as an inbound traveller.
    let traveller = "410102199003070027";
    let her = holder_session(addr, traveller, "王芳", "13800000001");
    assert_eq!(colour(addr, &her), "green");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = |seconds: i64| {
        mingma_core::Timestamp::from_unix_seconds(seconds)
            .unwrap()
            .to_string()
    };
    let mut entry = json!({
        "type": "border_entry", "id": "be-1", "subject": traveller,
        "recorded_by": "source:cgo-customs", "authority": "hn-wjw",
        "effective_at": at(now - 7200), "recorded_at": at(now),
        "port": "郑州新郑国际机场", "origin": "首尔", "name": "李明", "document": "护照 E12345678",
    });
    let seal = {
        let pseudonym = std::fs::read_to_string(dir.path().join("keys/pseudonym.key")).unwrap();
        let pseudonym = mingma_core::PseudonymKey::parse_hex(pseudonym.trim()).unwrap();
        let mut directory = mingma_core::Directory::default();
        let hn = mingma_core::AuthorityId::parse("hn-wjw").unwrap();
        directory.authorities.insert(
            hn.clone(),
            mingma_core::Authority {
                id: hn.clone(),
                name: "河南省卫生健康委员会".into(),
                name_en: None,
                jurisdiction: mingma_core::Jurisdiction::parse("41").unwrap(),
                contact: None,
            },
        );
        let customs = mingma_core::DataSourceId::parse("cgo-customs").unwrap();
        directory.sources.insert(
            customs.clone(),
            mingma_core::DataSource {
                id: customs,
                kind: mingma_core::SourceKind::Customs,
                authority: hn,
                name: "郑州新郑国际机场海关".into(),
            },
        );
        let record =
            mingma_core::evidence_file::read_record_object(&directory, entry.clone(), &pseudonym)
                .unwrap();
        mingma_authority::sign(&record, &key_file(&dir.path().join("customs.key")))
    };
    entry["seal"] = json!(seal.to_string());
    let customs_bearer = format!("Bearer {customs_token}");
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/evidence",
        Some(&entry.to_string()),
        &[("Authorization", &customs_bearer)],
    );
    assert_eq!(status, 200, "{body}");
    let q_bearer = official_session(addr, "hn-q", PASSWORD);
    let order = json!({"type": "quarantine_order", "id": "qo-1", "subject": traveller,
        "setting": "centralised", "facility": "郑州市集中隔离点A", "ground": "be-1",
        "planned_end": at(now + 7 * 86400), "legal_basis": "《中华人民共和国传染病防治法》第三十九条",
        "effective_at": at(now - 3600)});
    let done = record_sealed(addr, &q_bearer, order, &dir.path().join("hn-q.key"));
    assert_eq!(done["awaiting_approval"], true, "{done}");
    let r_bearer = official_session(addr, "hn-r", PASSWORD);
    record_sealed(
        addr,
        &r_bearer,
        json!({"type": "approval", "target": "qo-1"}),
        &dir.path().join("hn-r.key"),
    );
    assert_eq!(colour(addr, &her), "red");

    // She appeals from the code page: "I never left the country". One ticket to
    // the province (owner of the order), one to customs (owner of the entry),
    // none to the city.
    b.go(&format!("{base}/code"));
    b.click("form[action='/signout'] button");
    assert!(b.sign_in(&base, traveller, "王芳", "13800000001"));
    b.go(&format!("{base}/lang/zh?next=/code"));
    assert_eq!(b.text("#colour"), "红码");
    assert!(b.text("#reason").contains("入境"), "{}", b.text("#reason"));
    b.click("#appeal-link");
    assert!(b.url().ends_with("/appeals"), "{}", b.url());
    assert!(b.text("#appeal-reason").contains("入境"));
    assert!(!b.source().contains("无风险"));
    b.click("#claim-never_left_country");
    b.fill("#appeal-text", "我从未出境，6月以来一直在郑州上班。");
    let document = dir.path().join("证明.png");
    std::fs::write(&document, b"\x89PNG\r\n\x1a\n not really a picture").unwrap();
    b.send_keys("#appeal-file", &document.display().to_string());
    let started = Instant::now();
    while b.execute("return document.getElementById('doc-data').value.length") == json!(0) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the document was not read"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    b.click("#appeal-submit");
    b.wait_text("#tickets .ticket", |t| !t.is_empty());
    let addressees = b.execute(
        "return Array.prototype.map.call(document.querySelectorAll('#tickets .ticket .addressee'), \
         function (e) { return e.textContent; }).sort()",
    );
    assert_eq!(
        addressees,
        json!(["河南省卫生健康委员会", "郑州新郑国际机场海关"]),
        "{}",
        b.source()
    );
    let tickets = b.text("#tickets");
    assert!(
        !tickets.contains("郑州市卫生健康委员会"),
        "nothing to the city: {tickets}"
    );
    assert!(tickets.contains("处理中"), "{tickets}");

    // The city's 12345 operator: the caller reads out the code sent to her phone;
    // then her code, both owners with their contact, and both tickets' status.
    b.go(&format!("{base}/console"));
    b.console_sign_out();
    b.console_sign_in(&base, "zz-12345", PASSWORD);
    b.go(&format!("{base}/console/hotline"));
    b.fill("#hotline-id", traveller);
    b.click("#hotline-start button");
    let sent = b.wait_text("#hotline-result", |t| t.contains("demo"));
    let code: String = sent
        .rsplit("demo: ")
        .next()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{sent}");
    b.fill("#hotline-code", &code);
    b.click("#hotline-confirm button");
    let done = b.wait_text("#hotline-result", |t| t.contains("账本"));
    assert!(done.starts_with("来电人同意已记入账本"), "{done}");
    let tickets = b.wait_text("#hotline-tickets", |t| !t.is_empty());
    assert_eq!(b.text("#hotline-colour"), "red");
    let owners = b.text("#hotline-owners");
    assert!(
        owners.contains("河南省卫生健康委员会") && owners.contains("郑州新郑国际机场海关"),
        "{owners}"
    );
    assert!(
        tickets.contains("河南省卫生健康委员会")
            && tickets.contains("郑州新郑国际机场海关")
            && tickets.matches("处理中").count() == 2,
        "{tickets}"
    );

    // The province's reviewer: the customs ticket shows the entry's name and
    // document next to hers (they differ); she retracts the entry from the page,
    // sealing the retraction in the browser.
    b.go(&format!("{base}/console"));
    b.console_sign_out();
    b.console_sign_in(&base, "hn-q", PASSWORD);
    b.import_key_file(&base, &dir.path().join("hn-q.key"));
    b.go(&format!("{base}/lang/zh?next=/console/appeals"));
    let rows = b.execute("return document.querySelectorAll('#appeals tr.ticket').length");
    assert_eq!(rows, json!(2), "{}", b.source());
    b.execute(
        "var rows = document.querySelectorAll('#appeals tr.ticket'); \
         for (var i = 0; i < rows.length; i++) { if (rows[i].textContent.indexOf('海关') >= 0) { rows[i].querySelector('a').click(); } }",
    );
    b.wait_page_text("#addressee", |t| t.contains("海关"));
    assert!(b.text("#claim").contains("我从未出境"));
    assert_eq!(b.text("#holder-name"), "王芳");
    assert!(
        b.text("#holder-document").ends_with(&traveller[14..]),
        "{}",
        b.text("#holder-document")
    );
    assert!(b.text("#border-entries .entry-name").starts_with("李明"));
    assert_eq!(
        b.execute("return document.querySelector('#border-entries .entry-name').getAttribute('data-matches')"),
        json!("false")
    );
    assert_eq!(b.text("#border-entries .entry-document"), "护照 E12345678");
    b.select("#accept-target", "be-1");
    b.fill(
        "#accept-reason",
        "入境记录属他人（李明，护照E12345678），海关误录身份证号，予以撤销。",
    );
    b.click("#accept");
    let status = b.wait_page_text("#status", |t| t.contains("已答复"));
    assert_eq!(status, "已答复");
    b.wait_page_text("#answer", |t| !t.is_empty());
    assert!(b.text("#answer").contains("海关误录"));
    assert_eq!(colour(addr, &her), "green", "re-derived at once");

    // She sees it: green on the code page; the answer with its reason and the
    // code after it; the change in her history with a receipt that verifies.
    b.go(&format!("{base}/lang/zh?next=/code"));
    assert_eq!(b.text("#colour"), "绿码");
    b.go(&format!("{base}/appeals"));
    let answer = b.text("#tickets .answer");
    assert!(
        answer.contains("申诉成立") && answer.contains("海关误录") && answer.contains("绿码"),
        "{answer}"
    );
    let receipt = b
        .execute("return document.querySelector('#tickets .answer a').getAttribute('href')")
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        receipt.starts_with("/history/verify/code-change/"),
        "{receipt}"
    );
    b.go(&format!("{base}/history"));
    let history = b.text("#history");
    assert!(
        history.contains("海关误录"),
        "the retraction's reason: {history}"
    );
    // The change's receipt verifies once a checkpoint covers it (one a second).
    let started = Instant::now();
    loop {
        b.go(&format!("{base}{receipt}"));
        if b.source().contains("id=\"receipt-valid\"") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the receipt never verified:\n{}",
            b.source()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(b.text("#receipt-valid").starts_with("有效"));
    b.go(&format!("{base}/history"));
    assert!(
        b.execute(&format!(
            "return Array.prototype.some.call(document.querySelectorAll('#history .verify-link'), \
             function (a) {{ return a.getAttribute('href') === {}; }})",
            serde_json::to_string(&receipt).unwrap()
        )) == json!(true),
        "the change is in the history with its receipt: {}",
        b.source()
    );
}

/// An official's API session.
fn official_session(addr: SocketAddr, official: &str, password: &str) -> String {
    let body = json!({"official": official, "password": password}).to_string();
    let (status, token) = http(addr, "POST", "/api/v1/official/signin", Some(&body), &[]);
    assert_eq!(status, 200, "{token}");
    let token: Value = serde_json::from_str(&token).unwrap();
    format!("Bearer {}", token["token"].as_str().unwrap())
}

/// An official's key file (64 hex digits of the seed).
fn key_file(path: &Path) -> ed25519_dalek::SigningKey {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.trim();
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// Drafts `record` as the official of `bearer`, seals it with their key file and
/// submits the seal (what the console's pages do in the browser); the outcome.
fn record_sealed(addr: SocketAddr, bearer: &str, record: Value, key: &Path) -> Value {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let (status, draft) = http(
        addr,
        "POST",
        "/api/v1/official/records/draft",
        Some(&record.to_string()),
        &[("Authorization", bearer)],
    );
    assert_eq!(status, 200, "{draft}");
    let draft: Value = serde_json::from_str(&draft).unwrap();
    let message = base64::engine::general_purpose::STANDARD
        .decode(draft["message"].as_str().unwrap())
        .unwrap();
    let signer = key_file(key);
    let seal = mingma_core::Seal {
        key: *mingma_authority::KeyId::of(&signer.verifying_key()).as_bytes(),
        signature: signer.sign(&message).to_bytes(),
    };
    let (status, done) = http(
        addr,
        "POST",
        &format!(
            "/api/v1/official/drafts/{}/seal",
            draft["draft"].as_str().unwrap()
        ),
        Some(&json!({"seal": seal.to_string()}).to_string()),
        &[("Authorization", bearer)],
    );
    assert_eq!(status, 200, "{done}");
    serde_json::from_str(&done).unwrap()
}
