//! A `logbook serve` child process on a free port, for tests of the real binary.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub const OPERATOR: &str = "binary-test-operator-token-0123456789";

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `logbook serve` on `data_dir` and waits for its address.
    pub fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_logbook"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("LOGBOOK_ADMIN_TOKEN", OPERATOR)
            .env("LOGBOOK_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("logbook starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("the server prints its address").expect("readable output");
            if let Some(address) = line.strip_prefix("Logbook listening on ") {
                break address.trim().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    /// Kills the server with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// POSTs JSON with a bearer token; the status and JSON answer.
pub async fn post(client: &reqwest::Client, url: &str, token: &str, body: Value) -> reqwest::Result<(u16, Value)> {
    let response = client.post(url).bearer_auth(token).json(&body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// GETs text with a bearer token.
pub async fn get_text(client: &reqwest::Client, url: &str, token: &str) -> String {
    let response = client.get(url).bearer_auth(token).send().await.expect("the server answers");
    assert!(response.status().is_success(), "{url}: {}", response.status());
    response.text().await.expect("a body")
}
