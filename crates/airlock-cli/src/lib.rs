//! `airlock`: the server and its command line. This file is dispatch: argument parsing, logging
//! set-up, the commands that only make sense on the data directory (each one call into the
//! service), and the others handed to [`commands::ClientCommand`] with a local or remote client.
//!
//! A library with a one-line binary (`main.rs`): a binary waits for its dependencies' whole
//! builds before it starts compiling, a library only for their metadata, so this code compiles
//! while airlock-server's is still being generated.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use airlock_config::{Flags, Loaded};
use airlock_service::{Airlock, Principal, Role};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

mod api;
mod bundle;
mod check;
mod client;
mod commands;
mod manifest;
mod mirror;
mod publish;
mod requests;
mod scan;
mod suggest;
mod text;

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
    /// Create the data directory if it does not exist yet (`serve` always does; other commands
    /// refuse, so that a command run from another directory cannot make a second, empty one).
    #[arg(long, global = true)]
    init: bool,
}

/// The data-directory options again, for commands that never open the data directory (`publish`
/// talks to a server): a subcommand that declares them does not inherit the global ones, so its
/// help does not list them. Hidden, and ignored: a script that passes them to every command (as the
/// tests do) keeps working.
#[derive(Args)]
struct NoDataDir {
    #[arg(long, hide = true)]
    config: Option<String>,
    #[arg(long, hide = true)]
    data_dir: Option<String>,
    #[arg(long, hide = true)]
    database_url: Option<String>,
    #[arg(long, hide = true)]
    init: bool,
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
        /// The project, as any spelling of its name.
        project: String,
        /// The version; every file of it is yanked.
        version: String,
        /// Why, shown by pip, uv and poetry to whoever still installs it (PEP 592).
        #[arg(long)]
        reason: Option<String>,
        /// Un-yank the release instead.
        #[arg(long)]
        undo: bool,
        /// The hosted Python source that holds the release.
        #[arg(long, default_value = "internal-pypi")]
        source: String,
    },
    /// Upload files to a hosted source of a running server: Python wheels and sdists, or R source
    /// packages (PKG_VERSION.tar.gz), as the source's ecosystem says.
    Publish {
        /// The files to upload.
        #[arg(required = true)]
        files: Vec<String>,
        /// The hosted source to upload to, e.g. internal-pypi or internal-cran.
        #[arg(long)]
        source: String,
        /// The server's base URL, e.g. http://127.0.0.1:8080
        #[arg(long, env = "AIRLOCK_SERVER")]
        server: String,
        /// A token with role publisher (or admin).
        #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
        token: String,
        #[command(flatten)]
        no_data_dir: NoDataDir,
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
    /// Scan wheels, sdists and R source packages for risky install- or load-time code, known
    /// malicious patterns and typosquats, offline. Exit 0: clean; 1: a finding at or above
    /// --fail-at; 2: a file could not be scanned.
    Scan(scan::ScanArgs),
    #[command(flatten)]
    Client(commands::ClientCommand),
    /// Import, sync and show OSV advisories.
    #[command(subcommand)]
    Advisories(AdvisoriesCommand),
    /// Maintain the blob store.
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Carry a lane's content across an air gap: signing keys, export, import.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
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
        /// A name for the token, unique among active tokens: who or what uses it (e.g. ci).
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
    /// Revoke the active token of that name (a personal token: of that id, as `list` shows it).
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

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration and where each value came from.
    Show,
}

/// The configuration file: `--config`, else `$AIRLOCK_CONFIG`, else `./airlock.toml` if present.
fn config_path(global: &GlobalArgs) -> Option<String> {
    global
        .config
        .clone()
        .or_else(|| std::env::var("AIRLOCK_CONFIG").ok())
        .or_else(|| {
            std::path::Path::new("airlock.toml")
                .exists()
                .then(|| "airlock.toml".to_string())
        })
}

/// Says at start which file was read and what is in force: a lane missing from the list is the
/// first thing to see when pip answers `no lane named ...`.
fn log_in_force(app: &Airlock, file: Option<&str>) {
    let config = app.config();
    match app.applied_version() {
        Some(version) => tracing::info!(
            file = file.unwrap_or("none (defaults)"),
            applied_version = version,
            "configuration: sources, lanes and blocks from the applied version"
        ),
        None => tracing::info!(
            file = file.unwrap_or("none (defaults)"),
            "configuration: sources, lanes and blocks from the file (a restart or `airlock apply` picks up changes)"
        ),
    }
    for s in &config.sources {
        tracing::info!(name = %s.name, kind = ?s.kind, ecosystem = ?s.ecosystem, "source");
    }
    for l in &config.lanes {
        tracing::info!(name = %l.name, mode = ?l.policy.mode, private = l.private, sources = %l.sources.join(", "), "lane");
    }
}

fn load_config(global: &GlobalArgs, listen: Option<String>) -> Result<Loaded> {
    let path = config_path(global);
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
    existing_data(&loaded.config, global.init)?;
    Ok(Airlock::open(loaded.config).await?)
}

/// The data directory without any upstream access (proxies answer from what they learned).
async fn open_offline(global: &GlobalArgs) -> Result<Arc<Airlock>> {
    let loaded = load_config(global, None)?;
    existing_data(&loaded.config, global.init)?;
    Ok(Airlock::open_offline(loaded.config).await?)
}

/// Refuses a data directory that does not exist yet, unless `init`: the default `./airlock-data`
/// depends on the working directory, and a command run elsewhere would otherwise make a new, empty
/// one (and a token no server knows).
fn existing_data(config: &airlock_config::Config, init: bool) -> Result<()> {
    let dir = std::path::Path::new(&config.data_dir);
    // With SQLite the database file is the mark of a data directory; with PostgreSQL, the blobs.
    let mark = if config.database_url.is_empty() {
        dir.join("airlock.db")
    } else {
        dir.to_path_buf()
    };
    if init || mark.exists() {
        return Ok(());
    }
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mark = std::path::absolute(&mark).unwrap_or(mark);
    anyhow::bail!(
        "no airlock data directory at {} ({} does not exist): run the command where the server's \
         data directory is, or name it with --data-dir or AIRLOCK_DATA_DIR; --init creates a new one",
        shown.display(),
        mark.display()
    )
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("AIRLOCK_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only for a person at a terminal: a log file gets plain text (https://no-color.org).
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
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
    app.rbuilds()
        .prepare()
        .await
        .context("the binary R package targets cannot be built here")?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(listen = %local, data_dir = %app.config().data_dir, "airlock serving");
    log_in_force(&app, config_path(global).as_deref());
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{local}")?;
        out.flush()?;
    }
    let background = app.start_background();
    let trimmer = tokio::spawn(give_back_memory_periodically());
    airlock_server::serve(app.clone(), listener, Box::pin(shutdown_signal())).await?;
    background.abort();
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

/// The data directory, opened when a command first needs it (online, or `offline` without
/// upstream access), and closed when the command is done.
fn local(global: &GlobalArgs, offline: bool) -> client::Local<'_> {
    client::Local::new(move || async move {
        if offline {
            open_offline(global).await
        } else {
            open(global).await
        }
    })
}

/// `f` on the data directory, which is closed afterwards whatever `f` answers.
async fn on_data<T>(
    global: &GlobalArgs,
    offline: bool,
    f: impl AsyncFnOnce(&Arc<Airlock>) -> Result<T>,
) -> Result<T> {
    let local = local(global, offline);
    let done = match local.app().await {
        Ok(app) => f(app).await,
        Err(e) => Err(e),
    };
    local.close().await;
    done
}

async fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    let admin = Principal::local_admin();
    match cli.command {
        Command::Serve { listen } => serve(g, listen).await?,
        Command::Scan(args) => tokio::task::spawn_blocking(move || scan::scan(args)).await??,
        Command::Client(command) => match command.remote() {
            Some(remote) => command.run(&remote).await?,
            None => {
                let local = local(g, command.offline());
                let done = command.run(&local).await;
                local.close().await;
                done?
            }
        },
        Command::Token(TokenCommand::Create { name, role, lanes }) => {
            let role: Role = role.parse()?;
            let (token, dir) = on_data(g, false, async |app| {
                let token = app.tokens().create(&admin, &name, role, &lanes).await?;
                Ok((token, app.config().data_dir.clone()))
            })
            .await?;
            let dir = std::path::absolute(&dir).map_or(dir, |p| p.display().to_string());
            println!("created token {name:?} with role {role} in {dir}; it is shown only once:");
            println!("{token}");
        }
        Command::Token(TokenCommand::List) => {
            let tokens = on_data(g, false, async |app| Ok(app.tokens().list().await?)).await?;
            println!("{:<24} {:<10} {:<28} revoked", "name", "role", "created");
            for t in tokens {
                let lanes = if t.lanes.is_empty() {
                    String::new()
                } else {
                    format!("  (lanes: {})", t.lanes.join(", "))
                };
                // A personal token is revoked by its id (its name is its owner's choice).
                let owner = if t.owner.is_empty() {
                    String::new()
                } else {
                    format!("  (personal token of {}; id {})", t.owner, t.id)
                };
                println!(
                    "{:<24} {:<10} {:<28} {}{lanes}{owner}",
                    t.name,
                    t.role,
                    t.created_at,
                    t.revoked_at.unwrap_or_else(|| "-".into())
                );
            }
        }
        Command::Token(TokenCommand::Revoke { name }) => {
            on_data(g, false, async |app| {
                Ok(app.tokens().revoke(&admin, &name).await?)
            })
            .await?;
            println!("revoked token {name:?}");
        }
        Command::Yank {
            project,
            version,
            reason,
            undo,
            source,
        } => {
            let reason = if undo {
                None
            } else {
                Some(reason.unwrap_or_default())
            };
            let n = on_data(g, false, async |app| {
                Ok(app
                    .publishing()
                    .set_yanked(&admin, &source, &project, &version, reason.as_deref())
                    .await?)
            })
            .await?;
            let verb = if undo { "un-yanked" } else { "yanked" };
            println!(
                "{verb} {} of {project} {version} in {source}",
                text::count(n as u64, "file", "files")
            );
        }
        Command::Publish {
            files,
            source,
            server,
            token,
            no_data_dir: _,
        } => publish::publish(&files, &source, &server, &token).await?,
        Command::Mirror {
            source,
            requirements,
            names,
        } => {
            on_data(g, false, async |app| {
                mirror::mirror(app, &source, requirements.as_deref(), &names).await
            })
            .await?;
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
            let summary = on_data(g, false, async |app| {
                Ok(app.advisories().import(&admin, report, &path).await?)
            })
            .await?;
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
            let found =
                on_data(g, false, async |app| Ok(app.advisories().find(&id).await?)).await?;
            if found.is_empty() {
                anyhow::bail!("no advisory known as {id:?}");
            }
            println!("{}", serde_json::to_string_pretty(&found)?);
        }
        Command::Advisories(AdvisoriesCommand::Sync { urls }) => {
            let results = on_data(g, false, async |app| {
                Ok(app.advisories().sync(&admin, &urls).await?)
            })
            .await?;
            let mut failed = 0;
            for (url, result) in results {
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
        Command::Bundle(command) => {
            if bundle::needs_data(&command) {
                // Offline: a bundle carries what is stored; no upstream is asked.
                on_data(g, true, async |app| bundle::run(app, &admin, command).await).await?;
            } else {
                bundle::keys(&command)?;
            }
        }
        Command::Blobs(BlobsCommand::Sweep { dry_run }) => {
            let (r, grace) = on_data(g, true, async |app| {
                Ok((
                    app.sweeper().sweep(dry_run).await?,
                    app.config().blob_sweep_grace,
                ))
            })
            .await?;
            let verb = if dry_run { "would remove" } else { "removed" };
            println!(
                "{verb} {} ({} bytes); kept {} referenced and {} younger than {grace}",
                text::count(r.removed, "unreferenced blob", "unreferenced blobs"),
                r.removed_bytes,
                r.referenced,
                r.young
            );
            if !dry_run {
                println!(
                    "removed {} ({} bytes)",
                    text::count(r.tmp_removed, "temporary file", "temporary files"),
                    r.tmp_removed_bytes
                );
            }
        }
        Command::Config(ConfigCommand::Show) => {
            let mut loaded = load_config(g, None)?;
            // What `airlock apply` stored replaces the file's sources, lanes and blocks; a
            // configuration with no data directory yet has nothing applied.
            if existing_data(&loaded.config, false).is_ok() {
                let applied = on_data(g, true, async |app| {
                    Ok(app.applied_version().map(|v| (app.config(), v)))
                })
                .await?;
                if let Some((config, version)) = applied {
                    loaded = loaded.with_applied(&config, version);
                }
            }
            print!("{}", loaded.render()?);
        }
    }
    Ok(())
}

/// Runs the command line's command; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve { .. }) {
        init_logging();
    } else {
        // A command's output piped into `head` ends quietly when the reader goes, as other
        // command-line tools do, rather than panicking on the broken pipe. The server keeps
        // SIGPIPE ignored: a client that goes away must not stop it.
        #[cfg(unix)]
        // SAFETY: restores the default disposition of one signal, before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
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

/// A next step for the errors that have an obvious one.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let text = format!("{e:#}");
    if text.contains("cannot open database") {
        Some("check --database-url / AIRLOCK_DATABASE_URL and that --data-dir is writable")
    } else if text.contains("cannot listen") {
        Some("another process may hold the port: pick one with --listen HOST:PORT")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    const DATA_DIR_OPTIONS: [&str; 4] = ["--config", "--data-dir", "--database-url", "--init"];

    fn help(path: &[&str]) -> String {
        let mut command = Cli::command();
        command.build();
        let mut sub = &mut command;
        for name in path {
            sub = sub.find_subcommand_mut(name).expect("subcommand");
        }
        sub.render_long_help().to_string()
    }

    #[test]
    fn the_arguments_are_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn publish_help_lists_no_data_directory_option() {
        let publish = help(&["publish"]);
        assert!(publish.contains("--server"), "{publish}");
        for option in DATA_DIR_OPTIONS {
            assert!(!publish.contains(option), "{option} in\n{publish}");
        }
    }

    #[test]
    fn commands_on_the_data_directory_still_list_its_options() {
        for path in [
            &["serve"][..],
            &["token", "create"],
            &["advisories", "import"],
        ] {
            let text = help(path);
            for option in DATA_DIR_OPTIONS {
                assert!(text.contains(option), "{option} not in {path:?}\n{text}");
            }
        }
    }

    #[test]
    fn publish_still_accepts_the_data_directory_options() {
        let parsed = Cli::try_parse_from([
            "airlock",
            "publish",
            "x.whl",
            "--source",
            "internal-pypi",
            "--server",
            "http://127.0.0.1:1",
            "--token",
            "t",
            "--data-dir",
            "d",
            "--database-url",
            "sqlite://d/a.db",
            "--config",
            "c.toml",
            "--init",
        ]);
        assert!(parsed.is_ok(), "{:?}", parsed.err());
    }
}
