//! `airlock`: the server and its command line. This file is glue: argument parsing, logging set-up,
//! and calls into the service and server crates.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use airlock_config::{Flags, Loaded};
use airlock_service::{Airlock, Principal, Role};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

mod api;
mod check;
mod mirror;
mod publish;
mod requests;

#[derive(Parser)]
#[command(
    name = "airlock",
    version,
    about = "A package repository for data science in the enterprise"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct GlobalArgs {
    /// Configuration file (default: $AIRLOCK_CONFIG, else ./airlock.toml if present).
    #[arg(long, global = true)]
    config: Option<String>,
    /// Data directory (SQLite database, blobs).
    #[arg(long, global = true)]
    data_dir: Option<String>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on, HOST:PORT (port 0 picks a free one).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Yank (PEP 592) a release of a hosted Python source, or un-yank it with --undo.
    Yank {
        project: String,
        version: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        undo: bool,
        #[arg(long, default_value = "internal-pypi")]
        source: String,
    },
    /// Upload files to a hosted source of a running server: Python wheels and sdists, or R source
    /// packages (PKG_VERSION.tar.gz), as the source's ecosystem says.
    Publish {
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long)]
        source: String,
        /// The server's base URL, e.g. http://127.0.0.1:8080
        #[arg(long, env = "AIRLOCK_SERVER")]
        server: String,
        /// A token with role publisher (or admin).
        #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Warm a proxy's cache: fetch the files of each requirement (its pinned version, else the latest).
    Mirror {
        /// The proxy source, e.g. pypi.
        #[arg(long)]
        source: String,
        /// A requirements file (name or name==version per line).
        #[arg(long)]
        requirements: Option<String>,
        /// Package names (name or name==version).
        names: Vec<String>,
    },
    /// Why a lane serves, hides or refuses a package version: `airlock why pypi:urllib3==1.26.4 --lane prod`.
    Why {
        /// `ecosystem:name==version`, e.g. pypi:urllib3==1.26.4 or cran:dplyr==1.1.4
        package: String,
        #[arg(long)]
        lane: String,
        /// Ask a running server instead of reading the data directory.
        #[arg(long)]
        server: Option<String>,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
    },
    /// Judge a lock file against a lane: every entry's decision with its reasons. Exit 0 when
    /// nothing would be refused, 1 when something would, 2 when the check cannot be made.
    Check {
        /// uv.lock, poetry.lock, pdm.lock, Pipfile.lock, pylock[.NAME].toml, renv.lock,
        /// requirements*.txt or environment.yml (`-` reads stdin; give --kind then).
        file: String,
        /// The lane to judge against (default: the last lane configured, the strictest).
        #[arg(long)]
        lane: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: check::Format,
        /// The manifest kind when the name does not tell (uv-lock, poetry-lock, pdm-lock,
        /// pipfile-lock, pylock, renv-lock, requirements-txt, environment-yml).
        #[arg(long)]
        kind: Option<String>,
        /// Ask a running server instead of reading the data directory (offline).
        #[arg(long)]
        server: Option<String>,
        /// API token for --server.
        #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Ask for package versions to be admitted into a lane: `airlock request uv.lock --lane prod
    /// --reason "…"` or `airlock request pypi:x==1.0 cran:y==2.1 …`; prints the request id last.
    /// `airlock request show ID` shows one request with the lane's decision now.
    Request {
        /// A manifest file, or `ecosystem:name==version` items (`name==version` is Python),
        /// or `show ID`.
        #[arg(required = true)]
        items: Vec<String>,
        #[arg(long)]
        lane: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// The manifest kind when the file name does not tell.
        #[arg(long)]
        kind: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
        /// Print the JSON the API answers (show).
        #[arg(long)]
        json: bool,
    },
    /// List requests, newest first.
    Requests {
        #[arg(long)]
        lane: Option<String>,
        /// pending, approved or rejected.
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending request (role approver or admin; not your own): its versions become
    /// exact allow entries of the lane.
    Approve {
        id: i64,
        /// Approve only these package names of the request.
        #[arg(long, num_args = 1..)]
        only: Vec<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Reject a pending request, with a reason (role approver or admin).
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Make a lane admit what another admitted at an instant: `airlock promote test prod --at
    /// 2026-11-24`. Prints what changes; `--dry-run` changes nothing.
    Promote {
        from: String,
        to: String,
        /// A snapshot of FROM: date, RFC 3339 instant or name (default: now).
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        dry_run: bool,
        /// Ask a running server (with --token) instead of writing the data directory.
        #[arg(long, env = "AIRLOCK_SERVER")]
        server: Option<String>,
        #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show what applying a file of `[[source]]`, `[[lane]]` and `block` would change.
    Plan {
        #[arg(short = 'f', long = "file")]
        file: String,
    },
    /// Put a file of `[[source]]`, `[[lane]]` and `block` in force on every server (audited;
    /// nothing is written when nothing changes).
    Apply {
        #[arg(short = 'f', long = "file")]
        file: String,
    },
    /// Print the sources, lanes and blocks in force, as a file `apply` takes unchanged.
    Export,
    /// Import OSV advisories.
    #[command(subcommand)]
    Advisories(AdvisoriesCommand),
    /// Read and verify the hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Name instants of a lane: `/{lane}/{name}/pypi/simple/` then answers as the lane did then.
    /// Dates (`/prod/2026-11-24/…`, end of day UTC) and RFC 3339 instants work without a name.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Maintain the blob store.
    #[command(subcommand)]
    Blobs(BlobsCommand),
}

#[derive(Subcommand)]
enum BlobsCommand {
    /// Remove blobs no row refers to (left by a crash mid-upload) once older than
    /// `blob_sweep_grace`, and temporary files as old. Servers also do this at start and then
    /// periodically.
    Sweep {
        /// Only count what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, as the last line of standard output.
    Create {
        #[arg(long)]
        name: String,
        /// reader, publisher, approver or admin.
        #[arg(long)]
        role: String,
        /// Limit the role to this lane (repeat for several; default: every lane).
        #[arg(long = "lane")]
        lanes: Vec<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke the active token of that name.
    Revoke { name: String },
}

#[derive(Subcommand)]
enum AdvisoriesCommand {
    /// Import an OSV database: a directory of .json/.yaml files (searched recursively) or a zip
    /// such as osv.dev's per-ecosystem all.zip. Importing again adds only what changed.
    Import { path: String },
    /// Show the advisories known by an id, alias (CVE, GHSA) or R upstream id, as JSON.
    Show { id: String },
    /// Download and import the configured OSV exports (`advisory_urls`), or those given.
    Sync {
        #[arg(long = "url")]
        urls: Vec<String>,
    },
}

/// A running server and the token to use with it.
#[derive(Args)]
struct RemoteArgs {
    /// The airlock server, e.g. https://airlock.example.com.
    #[arg(long, env = "AIRLOCK_SERVER")]
    server: String,
    /// API token.
    #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
    token: String,
}

impl RemoteArgs {
    fn remote(self) -> requests::Remote {
        requests::Remote {
            server: self.server,
            token: self.token,
        }
    }
}

#[derive(Subcommand)]
enum SnapshotCommand {
    /// Name an instant of a lane (now, or --at an RFC 3339 instant or date).
    Create {
        lane: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        at: Option<String>,
    },
    /// A lane's named snapshots.
    List { lane: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Entries after sequence number SINCE (all by default), one JSON object per line.
    List {
        #[arg(long, default_value_t = 0)]
        since: i64,
    },
    /// Check every entry against its hash and the one before it; exit 1 at the first broken entry.
    Verify,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration and where each value came from.
    Show,
}

fn load_config(global: &GlobalArgs, listen: Option<String>) -> Result<Loaded> {
    let path = global
        .config
        .clone()
        .or_else(|| std::env::var("AIRLOCK_CONFIG").ok())
        .or_else(|| {
            std::path::Path::new("airlock.toml")
                .exists()
                .then(|| "airlock.toml".to_string())
        });
    let text = match &path {
        Some(p) => Some(
            std::fs::read_to_string(p).with_context(|| format!("cannot read config file {p}"))?,
        ),
        None => None,
    };
    let file = path.as_deref().zip(text.as_deref());
    let flags = Flags {
        data_dir: global.data_dir.clone(),
        listen,
        database_url: global.database_url.clone(),
    };
    Ok(airlock_config::load(file, std::env::vars(), &flags)?)
}

async fn open(global: &GlobalArgs) -> Result<Arc<Airlock>> {
    let loaded = load_config(global, None)?;
    Ok(Airlock::open(loaded.config).await?)
}

/// The data directory without any upstream access (proxies answer from what they learned).
async fn open_offline(global: &GlobalArgs) -> Result<Arc<Airlock>> {
    let loaded = load_config(global, None)?;
    Ok(Airlock::open_offline(loaded.config).await?)
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("AIRLOCK_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("AIRLOCK_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn serve(global: &GlobalArgs, listen: Option<String>) -> Result<()> {
    let loaded = load_config(global, listen)?;
    let addr = loaded.config.listen.clone();
    let app = Airlock::open(loaded.config).await?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(listen = %local, data_dir = %app.config().data_dir, "airlock serving");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{local}")?;
        out.flush()?;
    }
    let watcher = tokio::spawn(app.clone().watch_revisions());
    let sweeper = tokio::spawn(app.clone().sweep_blobs_periodically());
    let trimmer = tokio::spawn(give_back_memory_periodically());
    airlock_server::serve(app.clone(), listener, shutdown_signal()).await?;
    watcher.abort();
    sweeper.abort();
    trimmer.abort();
    app.close().await;
    Ok(())
}

/// Hands memory freed after a burst of uploads and downloads back to the system. glibc's malloc
/// keeps it otherwise: its mmap threshold grows with the largest buffer freed, so later buffers come
/// from per-thread arenas that it trims only at their top. After 32 concurrent uploads with 32
/// readers the idle server kept about 60 MiB more without this (`bench/memory.sh`). `malloc_trim`
/// walks the arenas in well under a millisecond when there is nothing to give back.
async fn give_back_memory_periodically() {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        // Off the async workers: under load the walk waits for each arena's lock.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        let _ = tokio::task::spawn_blocking(|| {
            // SAFETY: malloc_trim takes no pointer and only releases memory malloc holds free.
            unsafe {
                libc::malloc_trim(0);
            }
        })
        .await;
    }
}

async fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Serve { listen } => serve(g, listen).await?,
        Command::Token(TokenCommand::Create { name, role, lanes }) => {
            let role: Role = role.parse()?;
            let app = open(g).await?;
            let token = app
                .create_token(&Principal::local_admin(), &name, role, &lanes)
                .await?;
            app.close().await;
            println!("created token {name:?} with role {role}; it is shown only once:");
            println!("{token}");
        }
        Command::Token(TokenCommand::List) => {
            let app = open(g).await?;
            let tokens = app.list_tokens().await?;
            app.close().await;
            println!("{:<24} {:<10} {:<28} revoked", "name", "role", "created");
            for t in tokens {
                let lanes = if t.lanes.is_empty() {
                    String::new()
                } else {
                    format!("  (lanes: {})", t.lanes.join(", "))
                };
                println!(
                    "{:<24} {:<10} {:<28} {}{lanes}",
                    t.name,
                    t.role,
                    t.created_at,
                    t.revoked_at.unwrap_or_else(|| "-".into())
                );
            }
        }
        Command::Token(TokenCommand::Revoke { name }) => {
            let app = open(g).await?;
            app.revoke_token(&Principal::local_admin(), &name).await?;
            app.close().await;
            println!("revoked token {name:?}");
        }
        Command::Yank {
            project,
            version,
            reason,
            undo,
            source,
        } => {
            let app = open(g).await?;
            let reason = if undo {
                None
            } else {
                Some(reason.unwrap_or_default())
            };
            let n = app
                .set_yanked(
                    &Principal::local_admin(),
                    &source,
                    &project,
                    &version,
                    reason.as_deref(),
                )
                .await?;
            app.close().await;
            let verb = if undo { "un-yanked" } else { "yanked" };
            println!("{verb} {n} file(s) of {project} {version} in {source}");
        }
        Command::Publish {
            files,
            source,
            server,
            token,
        } => publish::publish(&files, &source, &server, &token).await?,
        Command::Why {
            package,
            lane,
            server,
            json,
        } => {
            let entry = airlock_service::parse_package_spec(&package)?;
            let eco = entry.ecosystem.as_str();
            let version = entry.version.as_deref().unwrap_or_default();
            let answer = match server {
                Some(server) => {
                    let url = api::url(&server, &format!("lanes/{lane}/why"));
                    let request = api::request(reqwest::Method::GET, &url, None).query(&[
                        ("ecosystem", eco),
                        ("name", &entry.name),
                        ("version", version),
                    ]);
                    serde_json::from_str(&api::send(request, &url).await?)
                        .context("the server's answer is not JSON")?
                }
                None => {
                    let app = open(g).await?;
                    let answer = match app.open_lane(&lane, Some(&Principal::local_admin())) {
                        Ok(read) => app.why(&read, eco, &entry.name, version).await,
                        Err(e) => Err(e),
                    };
                    app.close().await;
                    answer?
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print_why(&answer);
            }
        }
        Command::Check {
            file,
            lane,
            format,
            kind,
            server,
            token,
        } => {
            let args = check::CheckArgs {
                file,
                lane,
                format,
                kind,
                server,
                token,
            };
            check::check(g, args).await?;
        }
        Command::Request {
            items,
            lane,
            reason,
            kind,
            remote,
            json,
        } => {
            let remote = remote.remote();
            if items.len() == 2 && items[0] == "show" {
                let id = items[1]
                    .parse()
                    .with_context(|| format!("{:?} is not a request id", items[1]))?;
                requests::show(&remote, id, json).await?;
            } else {
                let lane = lane.context("which lane? give --lane")?;
                let reason = reason.context("why? give --reason")?;
                requests::create(&remote, &items, &lane, &reason, kind.as_deref()).await?;
            }
        }
        Command::Requests {
            lane,
            state,
            remote,
            json,
        } => {
            requests::list(&remote.remote(), lane.as_deref(), state.as_deref(), json).await?;
        }
        Command::Approve { id, only, remote } => {
            requests::approve(&remote.remote(), id, &only).await?;
        }
        Command::Reject { id, reason, remote } => {
            requests::reject(&remote.remote(), id, &reason).await?;
        }
        Command::Promote {
            from,
            to,
            at,
            dry_run,
            server,
            token,
            json,
        } => {
            let promotion: airlock_service::Promotion = match server {
                Some(server) => {
                    let url = api::url(&server, "promote");
                    let request = api::request(reqwest::Method::POST, &url, token.as_deref()).json(
                        &serde_json::json!({
                            "from": from, "to": to, "at": at, "dry_run": dry_run,
                        }),
                    );
                    serde_json::from_str(&api::send(request, &url).await?)
                        .context("the server's answer is not a promotion")?
                }
                None => {
                    let app = open(g).await?;
                    let done = app
                        .promote(
                            &Principal::local_admin(),
                            &from,
                            &to,
                            at.as_deref(),
                            dry_run,
                        )
                        .await;
                    app.close().await;
                    done?
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&promotion)?);
            } else {
                print_promotion(&promotion);
            }
        }
        Command::Plan { file } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {file}"))?;
            let app = open(g).await?;
            let changes = app.plan_config(&text, &file);
            app.close().await;
            print_changes(&changes?);
        }
        Command::Apply { file } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {file}"))?;
            let app = open(g).await?;
            let done = app
                .apply_config(&Principal::local_admin(), &text, &file)
                .await;
            app.close().await;
            let done = done?;
            print_changes(&done.changes);
            if let Some(version) = done.version {
                println!("applied as configuration version {version}");
            }
        }
        Command::Export => {
            let app = open(g).await?;
            let text = app.export_config();
            app.close().await;
            print!("{}", text?);
        }
        Command::Mirror {
            source,
            requirements,
            names,
        } => {
            let app = open(g).await?;
            let result = mirror::mirror(&app, &source, requirements.as_deref(), &names).await;
            app.close().await;
            result?;
        }
        Command::Advisories(AdvisoriesCommand::Import { path }) => {
            let p = std::path::Path::new(&path);
            let report = if p.is_dir() {
                airlock_osv::load_dir(p)
            } else {
                let bytes = std::fs::read(p).with_context(|| format!("cannot read {path}"))?;
                airlock_osv::load_zip(&bytes)
            }
            .with_context(|| format!("cannot load advisories from {path}"))?;
            let app = open(g).await?;
            let summary = app
                .import_advisories(&Principal::local_admin(), report, &path)
                .await?;
            app.close().await;
            for (file, error) in &summary.errors {
                eprintln!("skipped {file}: {error}");
            }
            println!(
                "imported advisories from {path}: {} new, {} updated, {} unchanged, {} unreadable",
                summary.new,
                summary.updated,
                summary.unchanged,
                summary.errors.len()
            );
        }
        Command::Advisories(AdvisoriesCommand::Show { id }) => {
            let app = open(g).await?;
            let found = app.find_advisories(&id).await;
            app.close().await;
            let found = found?;
            if found.is_empty() {
                anyhow::bail!("no advisory known as {id:?}");
            }
            println!("{}", serde_json::to_string_pretty(&found)?);
        }
        Command::Advisories(AdvisoriesCommand::Sync { urls }) => {
            let app = open(g).await?;
            let results = app.sync_advisories(&Principal::local_admin(), &urls).await;
            app.close().await;
            let mut failed = 0;
            for (url, result) in results? {
                match result {
                    Ok(s) => println!(
                        "{url}: {} new, {} updated, {} unchanged, {} unreadable",
                        s.new,
                        s.updated,
                        s.unchanged,
                        s.errors.len()
                    ),
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {url}: {e}");
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} advisory source(s) could not be synced");
            }
        }
        Command::Audit(AuditCommand::List { since }) => {
            let app = open(g).await?;
            let entries = app.audit_entries(&Principal::local_admin(), since).await;
            app.close().await;
            for e in entries? {
                println!("{}", serde_json::to_string(&e)?);
            }
        }
        Command::Audit(AuditCommand::Verify) => {
            let app = open(g).await?;
            let verdict = app.verify_audit().await;
            app.close().await;
            match verdict? {
                Ok(n) => println!("audit log intact: {n} entries"),
                Err((seq, why)) => anyhow::bail!("audit log broken at entry {seq}: {why}"),
            }
        }
        Command::Snapshot(SnapshotCommand::Create { lane, name, at }) => {
            let at = match at {
                Some(text) => Some(airlock_service::parse_instant(&text).with_context(|| {
                    format!("{text:?} is neither an RFC 3339 instant nor a date (YYYY-MM-DD)")
                })?),
                None => None,
            };
            let app = open(g).await?;
            let done = app
                .create_snapshot(&Principal::local_admin(), &lane, &name, at)
                .await;
            app.close().await;
            let at = done?;
            println!(
                "snapshot {name} of lane {lane} at {}: /{lane}/{name}/pypi/simple/, /{lane}/{name}/cran/",
                airlock_service::format_rfc3339(at)
            );
        }
        Command::Snapshot(SnapshotCommand::List { lane }) => {
            let app = open(g).await?;
            let list = app.snapshots(&lane).await;
            app.close().await;
            for s in list? {
                let (name, by) = (s.name, s.created_by);
                println!("{name}\t{}\t{by}", airlock_service::format_rfc3339(s.at));
            }
        }
        Command::Blobs(BlobsCommand::Sweep { dry_run }) => {
            let app = open_offline(g).await?;
            let swept = app.sweep_blobs(dry_run).await;
            let grace = app.config().blob_sweep_grace;
            app.close().await;
            let r = swept?;
            let verb = if dry_run { "would remove" } else { "removed" };
            println!(
                "{verb} {} unreferenced blob(s), {} bytes; kept {} referenced and {} younger than {grace}",
                r.removed, r.removed_bytes, r.referenced, r.young
            );
            if !dry_run {
                println!(
                    "removed {} temporary file(s), {} bytes",
                    r.tmp_removed, r.tmp_removed_bytes
                );
            }
        }
        Command::Config(ConfigCommand::Show) => {
            let loaded = load_config(g, None)?;
            print!("{}", loaded.render()?);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve { .. }) {
        init_logging();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<check::Exit>() {
                if let Some(message) = &exit.message {
                    eprintln!("error: {message}");
                }
                return ExitCode::from(exit.code);
            }
            eprintln!("error: {e:#}");
            if let Some(hint) = hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn print_changes(changes: &[String]) {
    if changes.is_empty() {
        println!("no changes");
    }
    for line in changes {
        println!("{line}");
    }
}

fn print_promotion(p: &airlock_service::Promotion) {
    let verb = if p.dry_run { "would admit" } else { "admits" };
    println!(
        "{} {verb} what {} admitted at {}: {} added, {} already admitted, {} not in {}'s sources",
        p.to,
        p.from,
        p.at,
        p.added.len(),
        p.unchanged,
        p.unavailable.len(),
        p.to
    );
    for v in &p.added {
        println!("  + {}:{}=={}", v.ecosystem, v.name, v.version);
    }
    for v in &p.unavailable {
        println!(
            "  ? {}:{}=={} (no source of {} has it)",
            v.ecosystem, v.name, v.version, p.to
        );
    }
    for (v, why) in &p.still_refused {
        println!(
            "  ! {}:{}=={} still refused: {why}",
            v.ecosystem, v.name, v.version
        );
    }
}

fn print_why(w: &serde_json::Value) {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    println!(
        "{}:{}=={} in lane {}: {}{}",
        s(&w["ecosystem"]),
        s(&w["name"]),
        s(&w["version"]),
        s(&w["lane"]),
        s(&w["action"]),
        if w["visible"].as_bool() == Some(true) {
            " (served)"
        } else {
            " (not served)"
        }
    );
    if let Some(source) = w["source"].as_str() {
        println!("  from source {source}");
    }
    if let Some(l) = w["license"].as_object() {
        println!(
            "  licence: {} ({})",
            l.get("expression")
                .and_then(|v| v.as_str())
                .unwrap_or("unrecognised"),
            l.get("class").and_then(|v| v.as_str()).unwrap_or("unknown")
        );
    }
    for r in w["reasons"].as_array().into_iter().flatten() {
        println!("  {:<5} {}", s(&r["action"]), s(&r["message"]));
    }
}

/// A next step for the errors that have an obvious one.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let text = format!("{e:#}");
    if text.contains("cannot open database") {
        Some("check --database-url / AIRLOCK_DATABASE_URL and that --data-dir is writable")
    } else if text.contains("cannot listen") {
        Some("another process may hold the port: pick one with --listen HOST:PORT")
    } else if text.contains("invalid configuration") || text.contains("cannot parse") {
        Some("`airlock config show` prints the effective configuration")
    } else {
        None
    }
}
