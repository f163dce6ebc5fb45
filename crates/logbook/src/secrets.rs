//! The deployment's secrets kept as files in the data directory: the operator
//! token and the log signing key. Each is generated at first start, written with
//! mode 0600 and never logged.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// The file in the data directory that holds a generated operator token.
pub const TOKEN_FILE: &str = "admin-token";

/// The file in the data directory that holds the log key's seed.
pub const LOG_KEY_FILE: &str = "log-key";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Reads the secret at `path`, or creates it from `generate`. Says whether it was
/// created just now.
fn load_or_create(path: &Path, generate: impl FnOnce() -> String) -> anyhow::Result<(String, bool)> {
    if path.exists() {
        let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok((text.trim().to_string(), false));
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let secret = generate();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok((secret, true))
}

/// The operator token: `LOGBOOK_ADMIN_TOKEN` when set, otherwise the one saved in
/// the data directory, generated at first start. Says whether it was just generated
/// (and so must be shown once).
pub fn operator_token(data_dir: &Path) -> anyhow::Result<(String, bool)> {
    if let Ok(token) = std::env::var("LOGBOOK_ADMIN_TOKEN") {
        anyhow::ensure!(token.len() >= 16, "LOGBOOK_ADMIN_TOKEN must be at least 16 characters");
        return Ok((token, false));
    }
    load_or_create(&data_dir.join(TOKEN_FILE), || format!("lbo_{}", hex(&logbook_server::auth::random_bytes(32))))
}

/// The 32-byte seed of the Ed25519 log key in `path` (64 hex digits), generated
/// at first start when the file does not exist.
pub fn log_key_seed(path: &Path) -> anyhow::Result<[u8; 32]> {
    let (text, _) = load_or_create(path, || hex(&logbook_server::auth::random_bytes(32)))?;
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|at| text.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<_>>()
        .with_context(|| format!("{} must hold 64 hexadecimal digits", path.display()))?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("{} must hold 64 hexadecimal digits (32 bytes)", path.display()))
}
