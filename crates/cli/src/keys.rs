//! `mingma keygen`, and reading the log's signer and verifier keys.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use mingma_ledger::{is_valid_key_name, CheckpointSigner, NoteVerifier, SigningKey};

/// The environment variable that may hold the log's signer key string.
pub const LOG_KEY_ENV: &str = "MINGMA_LOG_KEY";

#[derive(Args)]
pub struct KeygenArgs {
    /// The key name, by convention the log's origin (no spaces, no '+').
    #[arg(long)]
    name: String,
    /// Where to write the signer (private) key; created with mode 0600, never overwritten.
    #[arg(long)]
    out: PathBuf,
}

/// Makes an Ed25519 log key, writes its signer key string to `--out` (mode 0600) and
/// prints the verifier key string.
pub fn keygen(args: &KeygenArgs) -> Result<()> {
    if !is_valid_key_name(&args.name) {
        bail!(
            "--name {:?}: a key name must be non-empty, without spaces or '+'",
            args.name
        );
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no random source: {e}"))?;
    let signer = CheckpointSigner::new(args.name.clone(), SigningKey::from_bytes(&seed))?;
    write_secret(
        &args.out,
        format!("{}\n", signer.to_signer_key()).as_bytes(),
        false,
    )?;
    println!("{}", signer.verifier());
    eprintln!(
        "wrote the signer key to {} (keep it secret); the verifier key above is public",
        args.out.display()
    );
    Ok(())
}

/// Writes `bytes` to a new file readable by its owner only (mode 0600 on Unix).
/// Refuses to replace an existing file unless `replace`.
pub fn write_secret(path: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow!(
                "{} already exists: refusing to overwrite it",
                path.display()
            )
        } else {
            anyhow!("cannot create {}: {e}", path.display())
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The log's signer: from the key file if given, else from MINGMA_LOG_KEY.
pub fn load_signer(key_file: Option<&Path>) -> Result<CheckpointSigner> {
    match key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read key file {}", path.display()))?;
            warn_if_readable_by_others(path);
            CheckpointSigner::from_signer_key(text.trim())
                .map_err(|e| anyhow!("key file {}: {e}", path.display()))
        }
        None => match std::env::var(LOG_KEY_ENV) {
            Ok(text) => CheckpointSigner::from_signer_key(text.trim())
                .map_err(|e| anyhow!("{LOG_KEY_ENV}: {e}")),
            Err(std::env::VarError::NotPresent) => Err(anyhow!(
                "no log signing key: give --key FILE or set {LOG_KEY_ENV} (make one with `mingma keygen`)"
            )),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(anyhow!("{LOG_KEY_ENV} is not valid UTF-8"))
            }
        },
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: key file {} is accessible to other users (mode {mode:03o}); run chmod 600 on it",
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Parses a verifier key string given as `flag`.
pub fn parse_vkey(vkey: &str, flag: &str) -> Result<NoteVerifier> {
    NoteVerifier::from_vkey(vkey.trim()).map_err(|e| anyhow!("{flag}: {e}"))
}
