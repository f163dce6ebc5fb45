//! The operator token: from `LOGBOOK_ADMIN_TOKEN` when set, otherwise generated
//! at first start, saved in the data directory with mode 0600 and printed once.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// The file in the data directory that holds a generated token.
pub const TOKEN_FILE: &str = "admin-token";

/// The operator token, and whether it was generated just now (and so must be shown).
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<(String, bool)> {
    if let Ok(token) = std::env::var("LOGBOOK_ADMIN_TOKEN") {
        anyhow::ensure!(
            token.len() >= 16,
            "LOGBOOK_ADMIN_TOKEN must be at least 16 characters"
        );
        return Ok((token, false));
    }
    let path = data_dir.join(TOKEN_FILE);
    if path.exists() {
        let token =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return Ok((token.trim().to_string(), false));
    }
    let bytes = logbook_server::auth::random_bytes(32);
    let token = format!(
        "lbo_{}",
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    );
    fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok((token, true))
}
