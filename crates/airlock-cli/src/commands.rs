//! The commands that work on the data directory or, with `--server`, through a running server:
//! each is one [`Client`] call and its printing, whichever client it is given.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::check;
use crate::client::{Client, Remote};
use crate::requests;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Why a lane serves, hides or refuses a package version: `airlock why pypi:urllib3==1.26.4 --lane prod`.
    /// Exit 0 when the lane serves it, 1 when it does not, 2 when it cannot be judged (as check).
    Why {
        /// `ecosystem:name==version`, e.g. pypi:urllib3==1.26.4 or cran:dplyr==1.1.4
        package: String,
        /// The lane to ask (default: the last lane configured, the strictest, as check; give it
        /// with --server).
        #[arg(long)]
        lane: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
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
        /// For every entry refused or warned about for its version (vulnerable, denied,
        /// yanked, not admitted): the nearest version the lane admits that clears it, and
        /// whether the dependencies declared within the resulting set still hold.
        #[arg(long)]
        suggest: bool,
        /// With --suggest: rewrite the file (requirements.txt or renv.lock) with the
        /// suggestions, atomically; other kinds are left untouched.
        #[arg(long, requires = "suggest")]
        write: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print what a lane serves as a CycloneDX 1.6 SBOM (JSON): every file of both ecosystems
    /// with its hashes, licence and purl, and the advisories that affect them with the lane's
    /// decision as VEX analysis. Proxied projects as last refreshed; no upstream is asked.
    Sbom {
        /// The lane.
        #[arg(long)]
        lane: String,
        /// The lane as it was then: a date (end of day, UTC), an RFC 3339 instant or a
        /// snapshot's name (default: now). The document's timestamp is that instant.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
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
    /// Waive one content-scan finding for an exact version in a lane (role approver or admin):
    /// `airlock waive pypi:x==1.0 --lane prod --rule py-setup-network --justification "…"
    /// --expires 2027-01-31`. The finding no longer blocks there; it is shown as waived. Prints
    /// the waiver's number last.
    Waive {
        /// `ecosystem:name==version` (`name==version` is Python).
        package: String,
        #[arg(long)]
        lane: String,
        /// The finding's rule id, as `airlock scan`, `why` and the 403 answers name it.
        #[arg(long)]
        rule: String,
        /// What was reviewed, and why the finding is acceptable (audited).
        #[arg(long)]
        justification: String,
        /// The last day it applies (`2027-01-31`, UTC) or an RFC 3339 instant; default: until
        /// revoked.
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List waivers of content-scan findings, newest first (revoked and expired ones too).
    Waivers {
        #[arg(long)]
        lane: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
        #[arg(long)]
        json: bool,
    },
    /// Binary R packages airlock builds for its `[[r_binary]]` targets: list the builds, read a
    /// build's log, retry a failed one.
    #[command(subcommand)]
    Builds(BuildsCommand),
    /// Revoke a waiver (role approver or admin): its finding blocks again from now on.
    Unwaive {
        id: i64,
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
        #[command(flatten)]
        remote: RemoteArgs,
        #[arg(long)]
        json: bool,
    },
    /// Show what applying a file of `[[source]]`, `[[lane]]` and `block` would change.
    Plan {
        #[arg(short = 'f', long = "file")]
        file: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Put a file of `[[source]]`, `[[lane]]` and `block` in force on every server (audited;
    /// nothing is written when nothing changes).
    Apply {
        #[arg(short = 'f', long = "file")]
        file: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print the sources, lanes and blocks in force, as a file `apply` takes unchanged.
    Export {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Read and verify the hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Name instants of a lane: `/{lane}/{name}/pypi/simple/` then answers as the lane did then.
    /// Dates (`/prod/2026-11-24/…`, end of day UTC) and RFC 3339 instants work without a name.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Archive a project of a hosted source (PEP 792): uploads to it are refused, its files stay
    /// installable, index pages show the status `archived`. `--undo` (or `unarchive`) reopens it.
    /// Admin; audited.
    Archive {
        /// The project's name.
        project: String,
        /// The hosted source that holds it.
        #[arg(long)]
        source: String,
        /// Why (shown as the status reason).
        #[arg(long, conflicts_with = "undo")]
        reason: Option<String>,
        /// Reopen the project to uploads.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Reopen an archived project to uploads (as `archive --undo`).
    Unarchive {
        project: String,
        #[arg(long)]
        source: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Subcommand)]
pub enum SnapshotCommand {
    /// Name an instant of a lane (now, or --at an RFC 3339 instant or date).
    Create {
        lane: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A lane's named snapshots.
    List {
        lane: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Entries after sequence number SINCE (all by default), as a table, or one JSON object per
    /// line with --json.
    List {
        #[arg(long, default_value_t = 0)]
        since: i64,
        /// One JSON object per line, with the hashes that chain the entries.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Check every entry against its hash and the one before it; exit 1 at the first broken entry.
    Verify {
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// A running server to ask instead of the data directory, given on the command line only.
#[derive(Args)]
pub struct ServerArgs {
    /// Ask this running server (e.g. https://airlock.example.com) instead of reading the data
    /// directory.
    #[arg(long)]
    server: Option<String>,
    /// API token for --server.
    #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// A running server to ask instead of the data directory, also from `AIRLOCK_SERVER`.
#[derive(Args)]
pub struct RemoteArgs {
    /// The airlock server, e.g. https://airlock.example.com (default: the data directory).
    #[arg(long, env = "AIRLOCK_SERVER")]
    server: Option<String>,
    /// API token.
    #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

fn remote(server: &Option<String>, token: &Option<String>) -> Option<Remote> {
    server.as_ref().map(|server| Remote {
        server: server.clone(),
        token: token.clone(),
    })
}

impl ClientCommand {
    /// The server the command asks, if one is given.
    pub fn remote(&self) -> Option<Remote> {
        use ClientCommand::*;
        match self {
            Why { server, .. }
            | Check { server, .. }
            | Sbom { server, .. }
            | Plan { server, .. }
            | Apply { server, .. }
            | Export { server }
            | Archive { server, .. }
            | Unarchive { server, .. }
            | Audit(AuditCommand::List { server, .. } | AuditCommand::Verify { server })
            | Snapshot(
                SnapshotCommand::Create { server, .. } | SnapshotCommand::List { server, .. },
            ) => remote(&server.server, &server.token),
            Request { remote: r, .. }
            | Requests { remote: r, .. }
            | Approve { remote: r, .. }
            | Reject { remote: r, .. }
            | Waive { remote: r, .. }
            | Waivers { remote: r, .. }
            | Unwaive { remote: r, .. }
            | Builds(
                BuildsCommand::List { remote: r, .. }
                | BuildsCommand::Log { remote: r, .. }
                | BuildsCommand::Retry { remote: r, .. },
            )
            | Promote { remote: r, .. } => remote(&r.server, &r.token),
        }
    }

    /// Whether the data directory is read without upstream access (proxies answer from what
    /// they learned).
    pub fn offline(&self) -> bool {
        matches!(
            self,
            ClientCommand::Check { .. } | ClientCommand::Sbom { .. }
        )
    }

    pub async fn run(self, client: &impl Client) -> Result<()> {
        use ClientCommand::*;
        match self {
            Why {
                package,
                lane,
                json,
                ..
            } => {
                let answer = async {
                    let entry = airlock_service::parse_package_spec(&package)?;
                    let version = entry.version.as_deref().unwrap_or_default();
                    client
                        .why(
                            lane.as_deref(),
                            entry.ecosystem.as_str(),
                            &entry.name,
                            version,
                        )
                        .await
                }
                .await
                .map_err(check::no_judgement)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&answer)?);
                } else {
                    print_why(&answer);
                }
                if answer["visible"].as_bool() != Some(true) {
                    return Err(anyhow::Error::new(check::Exit {
                        code: 1,
                        message: None,
                    }));
                }
            }
            Check {
                file,
                lane,
                format,
                kind,
                suggest,
                write,
                ..
            } => {
                let args = check::CheckArgs {
                    file,
                    lane,
                    format,
                    kind,
                    suggest,
                    write,
                };
                check::check(client, args).await?;
            }
            Sbom { lane, at, .. } => {
                let bom = client.sbom(&lane, at.as_deref()).await?;
                println!("{}", serde_json::to_string_pretty(&bom)?);
            }
            Request {
                items,
                lane,
                reason,
                kind,
                json,
                ..
            } => {
                if items.len() == 2 && items[0] == "show" {
                    let id = items[1]
                        .parse()
                        .with_context(|| format!("{:?} is not a request id", items[1]))?;
                    requests::show(client, id, json).await?;
                } else {
                    let lane = lane.context("which lane? give --lane")?;
                    let reason = reason.context("why? give --reason")?;
                    requests::create(client, &items, &lane, &reason, kind.as_deref()).await?;
                }
            }
            Requests {
                lane, state, json, ..
            } => requests::list(client, lane.as_deref(), state.as_deref(), json).await?,
            Approve { id, only, .. } => requests::approve(client, id, &only).await?,
            Reject { id, reason, .. } => requests::reject(client, id, &reason).await?,
            Waive {
                package,
                lane,
                rule,
                justification,
                expires,
                ..
            } => {
                let waiver = client
                    .waive(&airlock_service::NewWaiver {
                        lane: &lane,
                        package: &package,
                        rule: &rule,
                        justification: &justification,
                        expires: expires.as_deref(),
                    })
                    .await?;
                requests::print_waiver(&waiver);
                println!("{}", waiver["id"]);
            }
            Waivers { lane, json, .. } => {
                let answer = client.waivers(lane.as_deref()).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&answer)?);
                } else {
                    for w in answer["waivers"].as_array().into_iter().flatten() {
                        requests::print_waiver(w);
                    }
                }
            }
            Unwaive { id, .. } => requests::print_waiver(&client.unwaive(id).await?),
            Builds(BuildsCommand::List {
                package,
                distro,
                state,
                json,
                ..
            }) => {
                let query = airlock_service::BuildQuery {
                    package,
                    version: None,
                    distro,
                    state,
                    limit: None,
                };
                let answer = client.builds(&query).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&answer)?);
                } else {
                    print_builds(&answer);
                }
            }
            Builds(BuildsCommand::Log {
                package,
                version,
                distro,
                ..
            }) => print!("{}", client.build_log(&distro, &package, &version).await?),
            Builds(BuildsCommand::Retry {
                package,
                version,
                distro,
                ..
            }) => {
                let build = client.retry_build(&distro, &package, &version).await?;
                println!(
                    "{} {} for {}: {} (attempt {})",
                    package,
                    version,
                    distro,
                    build["state"].as_str().unwrap_or("?"),
                    build["attempts"]
                );
            }
            Promote {
                from,
                to,
                at,
                dry_run,
                json,
                ..
            } => {
                let promotion = client.promote(&from, &to, at.as_deref(), dry_run).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&promotion)?);
                } else {
                    print_promotion(&promotion);
                }
            }
            Plan { file, .. } => {
                let text = read_file(&file)?;
                print_changes(&client.plan(&text, &file).await?);
            }
            Apply { file, .. } => {
                let text = read_file(&file)?;
                let done = client.apply(&text, &file).await?;
                print_changes(&done.changes);
                if let Some(version) = done.version {
                    println!("applied as configuration version {version}");
                }
            }
            Export { .. } => print!("{}", client.export().await?),
            Audit(AuditCommand::List { since, json, .. }) => {
                let entries = client.audit(since).await?;
                if json {
                    for e in entries {
                        println!("{}", serde_json::to_string(&e)?);
                    }
                } else {
                    println!(
                        "{:>5}  {:<27}  {:<20}  {:<18}  subject  details",
                        "seq", "at", "actor", "action"
                    );
                    for e in entries {
                        println!(
                            "{:>5}  {:<27}  {:<20}  {:<18}  {}  {}",
                            e.seq,
                            airlock_service::format_rfc3339(e.at),
                            e.actor,
                            e.action,
                            e.subject,
                            e.details
                        );
                    }
                }
            }
            Audit(AuditCommand::Verify { .. }) => {
                let verdict = client.verify_audit().await?;
                match (verdict.intact, verdict.entries, verdict.broken_at) {
                    (true, Some(n), _) => println!(
                        "audit log intact: {}",
                        crate::text::count(n as u64, "entry", "entries")
                    ),
                    (false, _, Some(seq)) => anyhow::bail!(
                        "audit log broken at entry {seq}: {}",
                        verdict.reason.unwrap_or_default()
                    ),
                    _ => anyhow::bail!("the audit log's verdict is incomplete: {verdict:?}"),
                }
            }
            Snapshot(SnapshotCommand::Create { lane, name, at, .. }) => {
                let made = client.create_snapshot(&lane, &name, at.as_deref()).await?;
                println!(
                    "snapshot {name} of lane {lane} at {}: /{lane}/{name}/pypi/simple/, /{lane}/{name}/cran/",
                    made.at
                );
            }
            Snapshot(SnapshotCommand::List { lane, .. }) => {
                for s in client.snapshots(&lane).await? {
                    println!("{}\t{}\t{}", s.name, s.at, s.created_by);
                }
            }
            Archive {
                project,
                source,
                reason,
                undo,
                ..
            } => {
                let done = client
                    .set_project_status(&source, &project, !undo, reason.as_deref())
                    .await?;
                print_status(&done);
            }
            Unarchive {
                project, source, ..
            } => {
                let done = client
                    .set_project_status(&source, &project, false, None)
                    .await?;
                print_status(&done);
            }
        }
        Ok(())
    }
}

/// `project demo of internal-pypi: archived` (or `: already archived`).
fn print_status(done: &crate::client::ProjectStatus) {
    let already = if done.changed { "" } else { "already " };
    let what = match done.status.as_str() {
        "archived" => "archived (uploads refused, files still served)",
        _ => "active (uploads accepted)",
    };
    println!(
        "project {} of {}: {already}{what}",
        done.project, done.source
    );
}

fn read_file(file: &str) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))
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

#[derive(Subcommand)]
pub enum BuildsCommand {
    /// The builds, most recently asked for first: state, time, and why a failed one failed.
    List {
        /// Only this package's.
        #[arg(long)]
        package: Option<String>,
        /// Only this target's.
        #[arg(long)]
        distro: Option<String>,
        /// Only builds in this state: queued, building, built or failed.
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
        /// Print the JSON the API answers.
        #[arg(long)]
        json: bool,
    },
    /// Print the end of a build's log.
    Log {
        package: String,
        version: String,
        /// The target (its distro, as in `[[r_binary]]`).
        #[arg(long)]
        distro: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Build a failed binary again (role admin), and the failed builds that needed it.
    Retry {
        package: String,
        version: String,
        /// The target (its distro, as in `[[r_binary]]`).
        #[arg(long)]
        distro: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// The builds of `GET /api/v1/builds` as a table.
fn print_builds(answer: &serde_json::Value) {
    let builds = answer["builds"].as_array().cloned().unwrap_or_default();
    if builds.is_empty() {
        println!("no builds");
        return;
    }
    let text = |b: &serde_json::Value, k: &str| b[k].as_str().unwrap_or("").to_string();
    println!(
        "{:<24} {:<12} {:<10} {:<9} {:>8}  REASON",
        "PACKAGE", "VERSION", "DISTRO", "STATE", "SECONDS"
    );
    for b in &builds {
        let seconds = b["seconds"]
            .as_f64()
            .map(|s| format!("{s:.1}"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<24} {:<12} {:<10} {:<9} {:>8}  {}",
            text(b, "package"),
            text(b, "version"),
            text(b, "distro"),
            text(b, "state"),
            seconds,
            text(b, "reason")
        );
    }
}
