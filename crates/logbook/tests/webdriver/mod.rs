//! A small WebDriver client for the browser tests: it starts Debian's
//! `chromedriver` with a headless `chromium`, and speaks the W3C WebDriver
//! protocol (plain JSON over HTTP) with `reqwest`. A few dozen lines here instead
//! of a WebDriver crate keep the dependency tree as it is.
//!
//! When the browser is missing, [`Browser::start`] fails the test if `CI` is set,
//! and otherwise prints a loud warning and returns `None`, so that the suite
//! still runs on a machine without Chromium.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// How long a wait for the page may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// The W3C WebDriver key for Enter.
pub const ENTER: &str = "\u{E007}";

/// A headless Chromium driven through chromedriver; both end when it is dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    /// Where Chromium saves downloads.
    pub downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
}

fn find(candidates: &[&str], variable: &str) -> Option<PathBuf> {
    // A path given in the environment replaces the usual places (and may be wrong on purpose).
    match std::env::var_os(variable) {
        Some(path) => Some(PathBuf::from(path)).filter(|path| path.exists()),
        None => candidates.iter().map(PathBuf::from).find(|path| path.exists()),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port()
}

impl Browser {
    /// Starts a browser whose local time zone is `time_zone`, or skips (see the module's docs).
    pub async fn start(time_zone: &str) -> Option<Browser> {
        let chromium = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"], "LOGBOOK_CHROMIUM");
        let driver = find(&["/usr/bin/chromedriver"], "LOGBOOK_CHROMEDRIVER");
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let message = "the browser tests need Debian's chromium and chromium-driver \
                           (apt-get install -y chromium chromium-driver; .ci/run installs them)";
            if std::env::var_os("CI").is_some() {
                panic!("{message}");
            }
            // Straight to stderr, past the test harness's capture of eprintln!, so the
            // warning shows even though the test passes (nextest shows it through
            // the success-output override in .config/nextest.toml).
            let banner = "!".repeat(78);
            let warning = format!("\n{banner}\nWARNING: SKIPPING A BROWSER TEST: {message}\n{banner}\n");
            let _ = std::io::stderr().write_all(warning.as_bytes());
            return None;
        };
        Some(Browser::launch(&chromium, &driver, time_zone).await)
    }

    async fn launch(chromium: &Path, driver: &Path, time_zone: &str) -> Browser {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .env("TZ", time_zone)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("a client");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = client.get(format!("{base}/status")).send().await.ok();
            if let Some(response) = ready {
                let status: Value = response.json().await.unwrap_or(Value::Null);
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(started.elapsed() < WAIT, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("a profile directory");
        let downloads = tempfile::tempdir().expect("a download directory");
        let arguments = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            "--lang=en-US".into(),
            "--window-size=1440,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": arguments,
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "en-US",
                },
            },
        }}});
        let answer: Value = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("JSON");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver could not start chromium: {answer}"))
            .to_string();
        Browser { driver: child, base, session, client, downloads, _profile: profile }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.client.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("chromedriver answers").json().await.expect("JSON");
        if let Some(error) = answer["value"].get("error") {
            panic!("WebDriver {path} failed: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    /// Opens a URL.
    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    /// The page's current URL.
    pub async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_string()
    }

    /// Runs a script in the page (`arguments[0]`... are `args`) and returns its result.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Runs an async script; it calls `arguments[arguments.length - 1](result)` when done.
    pub async fn run_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": args}))).await
    }

    /// Waits until `condition` (a JavaScript expression) is truthy and returns its value.
    pub async fn wait_for(&self, condition: &str) -> Value {
        let started = Instant::now();
        let script = format!("return ({condition});");
        loop {
            let value = self.run(&script, vec![]).await;
            if !(value.is_null() || value == false || value == "" || value == 0) {
                return value;
            }
            if started.elapsed() > WAIT {
                let state = self.run("return document.body.dataset.state + ' ' + location.href + ' ' + document.body.innerText.slice(0, 800)", vec![]).await;
                panic!("timed out waiting for {condition}; page: {state}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The WebDriver id of the first element matching a CSS selector, waiting for it.
    pub async fn element(&self, css: &str) -> String {
        let selector = serde_json::to_string(css).expect("a string");
        self.wait_for(&format!("document.querySelector({selector})")).await;
        let found =
            self.command(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        found.as_object().and_then(|object| object.values().next()).and_then(Value::as_str).expect("an element").into()
    }

    /// Clicks the element matching `css`, as a user would.
    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    /// Types into the element matching `css` (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/clear"), Some(json!({}))).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({"text": text}))).await;
    }

    /// Presses keys on whatever has the focus.
    pub async fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|key| [json!({"type": "keyDown", "value": key}), json!({"type": "keyUp", "value": key})])
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.command(reqwest::Method::POST, "/actions", Some(body)).await;
    }

    /// Picks an option of a `<select>` by value and fires its change event, as choosing it does.
    pub async fn choose(&self, css: &str, value: &str) {
        self.element(css).await;
        let script = "const select = document.querySelector(arguments[0]); select.value = arguments[1]; \
                      if (select.value !== arguments[1]) return false; \
                      select.dispatchEvent(new Event('change', {bubbles: true})); return true;";
        let chosen = self.run(script, vec![json!(css), json!(value)]).await;
        assert_eq!(chosen, true, "{css} has no option {value}");
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) {
        self.command(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height}))).await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD.decode(encoded.as_str().expect("base64")).expect("a PNG")
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.client.delete(url).send().await;
        self.session.clear();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that failed never reached quit(): end the session with a plain
        // blocking request, so that chromedriver closes Chromium, then stop it.
        if !self.session.is_empty() {
            let address = self.base.trim_start_matches("http://").to_string();
            if let Ok(mut stream) = TcpStream::connect(&address) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let request = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    self.session
                );
                let _ = stream.write_all(request.as_bytes());
                let _ = stream.read(&mut [0u8; 512]);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
