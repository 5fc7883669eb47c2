//! `airlock bundle`: signing keys, and bundles of a lane exported and imported across an air gap.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_service::{Airlock, BundlePhase, BundleProgress, ExportRequest, Principal};
use anyhow::{Context, Result, bail};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Make a signing key: the private key (PKCS#8 PEM) goes to --out, readable by its owner
    /// only; the public key (`ed25519:...`, for the importing side's `trusted_keys`) is printed.
    Keygen {
        /// Where to write the private key.
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the public key of a private key file.
    Pubkey {
        /// The private key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
    },
    /// Write everything a lane served at an instant (files of both ecosystems, their metadata,
    /// the advisories known then, the configuration version) to one signed file.
    Export {
        /// The lane.
        #[arg(long)]
        lane: String,
        /// An instant (YYYY-MM-DD, RFC 3339) or a named snapshot of the lane; default: now.
        #[arg(long)]
        at: Option<String>,
        /// An earlier bundle of the lane: write only what it lacked (an incremental bundle).
        #[arg(long)]
        since: Option<PathBuf>,
        /// The private key to sign with (`airlock bundle keygen`).
        #[arg(long, env = "AIRLOCK_BUNDLE_KEY")]
        key: PathBuf,
        /// The bundle file to write.
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Verify a bundle (signature by a trusted key, every file's hash) and, only if all is well,
    /// store its content in bundle sources and name a snapshot of it in the lanes that list them.
    Import {
        /// The bundle file.
        file: PathBuf,
        /// The bundle source to import into, one per ecosystem the bundle holds (repeat).
        #[arg(long = "source", required = true)]
        sources: Vec<String>,
        /// The snapshot's name (default: the bundle's id).
        #[arg(long)]
        snapshot: Option<String>,
    },
}

/// Whether the command needs the data directory.
pub fn needs_data(command: &BundleCommand) -> bool {
    matches!(
        command,
        BundleCommand::Export { .. } | BundleCommand::Import { .. }
    )
}

/// `keygen` and `pubkey`, which need no data directory.
pub fn keys(command: &BundleCommand) -> Result<()> {
    match command {
        BundleCommand::Keygen { out, force } => {
            if out.exists() && !force {
                bail!(
                    "{} exists: give --force to replace it (bundles signed with the old key no longer import where only the new one is trusted)",
                    out.display()
                );
            }
            let key = airlock_bundle::SecretKey::generate();
            let pem = key.to_pem()?;
            write_private(out, pem.as_bytes())
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "private key written to {} (keep it on the exporting side); public key:",
                out.display()
            );
            println!("{}", key.public());
        }
        BundleCommand::Pubkey { key } => println!("{}", read_key(key)?.public()),
        _ => {}
    }
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

fn read_key(path: &Path) -> Result<airlock_bundle::SecretKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key {}", path.display()))?;
    airlock_bundle::SecretKey::from_pem(&pem)
        .with_context(|| format!("cannot read the key {}", path.display()))
}

/// A progress bar on standard error (drawn only at a terminal).
fn progress_bar() -> (indicatif::ProgressBar, BundleProgress) {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:10} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let tell: BundleProgress = Arc::new(move |phase, done, total| {
        let msg = match phase {
            BundlePhase::Writing => "writing",
            BundlePhase::Verifying => "verifying",
            BundlePhase::Storing => "storing",
        };
        if shown.message() != msg {
            shown.set_message(msg);
            shown.reset();
        }
        shown.set_length(total);
        shown.set_position(done);
    });
    (bar, tell)
}

pub async fn run(app: &Arc<Airlock>, admin: &Principal, command: BundleCommand) -> Result<()> {
    match command {
        BundleCommand::Export {
            lane,
            at,
            since,
            key,
            out,
        } => {
            let key = read_key(&key)?;
            let (bar, tell) = progress_bar();
            let done = app
                .bundles()
                .export(
                    admin,
                    ExportRequest {
                        lane,
                        at,
                        since,
                        key,
                        out: out.clone(),
                    },
                    tell,
                )
                .await;
            bar.finish_and_clear();
            let e = done?;
            for name in &e.skipped {
                eprintln!(
                    "warning: {name} is listed by the lane but was never downloaded: not in the bundle (fetch it once, e.g. with `airlock mirror`, and export again)"
                );
            }
            println!(
                "bundle {} of lane {} at {}: {}, {} ({} bytes), {}{}",
                e.id,
                e.lane,
                e.at.to_rfc3339(),
                crate::text::count(e.artifacts as u64, "artifact", "artifacts"),
                crate::text::count(e.files as u64, "file", "files"),
                e.bytes,
                crate::text::count(e.advisories, "advisory", "advisories"),
                e.previous
                    .map(|p| format!(", on top of {p}"))
                    .unwrap_or_default()
            );
            println!("written to {}", out.display());
        }
        BundleCommand::Import {
            file,
            sources,
            snapshot,
        } => {
            let (bar, tell) = progress_bar();
            let done = app
                .bundles()
                .import(admin, &file, &sources, snapshot.as_deref(), tell)
                .await;
            bar.finish_and_clear();
            let i = done?;
            println!(
                "imported bundle {} (lane {} at {}, signed by {}) into {}: {}, {} new, {} no longer listed; {}",
                i.id,
                i.lane,
                i.at.to_rfc3339(),
                i.key,
                i.sources.join(", "),
                crate::text::count(i.artifacts as u64, "artifact", "artifacts"),
                i.added,
                i.delisted,
                crate::text::count(i.advisories as u64, "new advisory", "new advisories"),
            );
            if i.snapshots.is_empty() {
                println!(
                    "no lane lists {}: add it to a lane's sources to serve it",
                    i.sources.join(" or ")
                );
            }
            for (lane, name) in &i.snapshots {
                println!(
                    "snapshot {lane}@{name}: /{lane}/{name}/pypi/simple/ and /{lane}/{name}/cran"
                );
            }
        }
        BundleCommand::Keygen { .. } | BundleCommand::Pubkey { .. } => keys(&command)?,
    }
    Ok(())
}
