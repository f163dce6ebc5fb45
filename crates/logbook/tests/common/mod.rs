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
    /// Starts `logbook serve` on `data_dir` with the test operator token and waits
    /// for its address.
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &["serve"], Some(OPERATOR)).0
    }

    /// Starts `logbook <arguments>` on `data_dir` (with `LOGBOOK_ADMIN_TOKEN` set
    /// only when `operator` is given), and returns it with what it printed up to
    /// and including the line after the one naming the API description.
    pub fn start_with(data_dir: &Path, arguments: &[&str], operator: Option<&str>) -> (Server, Vec<String>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_logbook"));
        command
            .args(arguments)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("LOGBOOK_LOG", "warn");
        match operator {
            Some(token) => command.env("LOGBOOK_ADMIN_TOKEN", token),
            None => command.env_remove("LOGBOOK_ADMIN_TOKEN"),
        };
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("logbook starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut printed = Vec::new();
        let mut base = None;
        for line in lines.by_ref() {
            let line = line.expect("readable output");
            if let Some(address) = line.strip_prefix("Logbook listening on ") {
                base = Some(address.trim().to_string());
            }
            let done = line.contains("API description");
            printed.push(line);
            if done {
                break;
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (Server { child, base: base.expect("the server prints its address") }, printed)
    }

    /// Starts `logbook serve` on a PostgreSQL database, with its own data
    /// directory (which stays empty) and the given log key file, which every
    /// process of one deployment must share.
    pub fn start_on_database(data_dir: &Path, database_url: &str, log_key_file: &Path) -> Server {
        let log_key_file = log_key_file.to_str().expect("a UTF-8 path");
        let arguments = ["serve", "--database-url", database_url, "--log-key-file", log_key_file];
        Server::start_with(data_dir, &arguments, Some(OPERATOR)).0
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
