//! One client for the commands that work on the data directory or through a running server:
//! [`Local`] calls the service directly (as the operator at the machine, `local:$USER`, admin),
//! [`Remote`] calls the server's JSON API with a token. Both answer in the same types, so a
//! command prints the same whichever it used.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use airlock_service::{Airlock, Bom, CheckReport, ConfigChange, NewWaiver, Principal, Promotion};
use airlock_store::AuditRecord;
use anyhow::{Context, Result};
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api;
use crate::manifest::{self, Read};

/// A lane's named instant.
#[derive(Debug, Deserialize)]
pub struct Snapshot {
    pub name: String,
    /// RFC 3339.
    pub at: String,
    pub created_by: String,
}

/// A hosted project's status after `archive` or `unarchive`.
#[derive(Debug, Deserialize)]
pub struct ProjectStatus {
    pub source: String,
    pub project: String,
    /// `archived` or `active` (PEP 792).
    pub status: String,
    /// Whether it had another status before.
    pub changed: bool,
}

pub use airlock_service::AuditVerdict;

/// What a request asks for: a manifest file, or `ecosystem:name==version` items.
pub enum RequestItems<'a> {
    Manifest {
        file: &'a str,
        kind: Option<&'a str>,
    },
    Packages(&'a [String]),
}

/// The operations of the commands that work both on the data directory and through a server.
pub trait Client {
    /// Why `lane` serves, hides or refuses a version (the API's JSON).
    /// The lane's decision on one version (`lane`: the default check lane when `None`).
    async fn why(
        &self,
        lane: Option<&str>,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Result<Value>;
    /// `manifest` judged against `lane` (the default check lane when `None`), with
    /// suggestions when `suggest`.
    async fn check(
        &self,
        lane: Option<&str>,
        manifest: &Read,
        suggest: bool,
    ) -> Result<CheckReport>;
    /// What `lane` serves (at `at`: a date, an RFC 3339 instant or a snapshot's name) as a
    /// CycloneDX document.
    async fn sbom(&self, lane: &str, at: Option<&str>) -> Result<Bom>;
    async fn promote(
        &self,
        from: &str,
        to: &str,
        at: Option<&str>,
        dry_run: bool,
    ) -> Result<Promotion>;
    /// A new request; its view as the API answers it.
    async fn create_request(
        &self,
        lane: &str,
        reason: &str,
        items: RequestItems<'_>,
    ) -> Result<Value>;
    /// `{"requests": [...]}`, newest first.
    async fn requests(&self, lane: Option<&str>, state: Option<&str>) -> Result<Value>;
    async fn request(&self, id: i64) -> Result<Value>;
    /// Approves every entry when `only` is empty.
    async fn approve(&self, id: i64, only: &[String]) -> Result<Value>;
    async fn reject(&self, id: i64, reason: &str) -> Result<Value>;
    /// `{"waivers": [...]}`, newest first.
    async fn waivers(&self, lane: Option<&str>) -> Result<Value>;
    /// Waives one content-scan rule for an exact version in a lane.
    async fn waive(&self, waiver: &NewWaiver<'_>) -> Result<Value>;
    async fn unwaive(&self, id: i64) -> Result<Value>;
    /// Binary R package builds, as `GET /api/v1/builds` lists them.
    async fn builds(&self, query: &airlock_service::BuildQuery) -> Result<Value>;
    /// The end of a build's log.
    async fn build_log(&self, distro: &str, package: &str, version: &str) -> Result<String>;
    /// Builds a failed binary again.
    async fn retry_build(&self, distro: &str, package: &str, version: &str) -> Result<Value>;
    /// The changes `config` (named `origin`) would make.
    async fn plan(&self, config: &str, origin: &str) -> Result<Vec<String>>;
    async fn apply(&self, config: &str, origin: &str) -> Result<ConfigChange>;
    /// The managed configuration in force, as TOML.
    async fn export(&self) -> Result<String>;
    /// Names an instant of `lane`: now, or `at` (an RFC 3339 instant or a date); returns it.
    async fn create_snapshot(&self, lane: &str, name: &str, at: Option<&str>) -> Result<Snapshot>;
    async fn snapshots(&self, lane: &str) -> Result<Vec<Snapshot>>;
    /// Archives a project of a hosted source (PEP 792: no uploads, downloads continue), or
    /// with `archived: false` undoes it.
    async fn set_project_status(
        &self,
        source: &str,
        project: &str,
        archived: bool,
        reason: Option<&str>,
    ) -> Result<ProjectStatus>;
    /// Audit entries after sequence number `since`.
    async fn audit(&self, since: i64) -> Result<Vec<AuditRecord>>;
    async fn verify_audit(&self) -> Result<AuditVerdict>;
}

type Opener<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Arc<Airlock>>> + 'a>> + 'a>;

/// The data directory, opened on first use (so that a command's own input is read, and refused,
/// first) and closed by [`Local::close`].
pub struct Local<'a> {
    open: Opener<'a>,
    app: tokio::sync::OnceCell<Arc<Airlock>>,
}

impl<'a> Local<'a> {
    pub fn new<F>(open: impl Fn() -> F + 'a) -> Self
    where
        F: Future<Output = Result<Arc<Airlock>>> + 'a,
    {
        Local {
            open: Box::new(move || Box::pin(open())),
            app: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn app(&self) -> Result<&Arc<Airlock>> {
        self.app.get_or_try_init(|| (self.open)()).await
    }

    /// Closes the database if it was opened.
    pub async fn close(self) {
        if let Some(app) = self.app.get() {
            app.close().await;
        }
    }
}

fn as_json(value: impl serde::Serialize) -> Result<Value> {
    Ok(serde_json::to_value(value)?)
}

impl Client for Local<'_> {
    async fn why(
        &self,
        lane: Option<&str>,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Result<Value> {
        let app = self.app().await?;
        let lane = match lane {
            Some(lane) => lane.to_string(),
            None => app.checks().default_check_lane()?,
        };
        let lane = app.open_lane(&lane, Some(&Principal::local_admin()))?;
        Ok(app.checks().why(&lane, ecosystem, name, version).await?)
    }

    async fn check(
        &self,
        lane: Option<&str>,
        manifest: &Read,
        suggest: bool,
    ) -> Result<CheckReport> {
        let app = self.app().await?;
        let lane = match lane {
            Some(lane) => lane.to_string(),
            None => app.checks().default_check_lane()?,
        };
        let lane = app.open_lane(&lane, Some(&Principal::local_admin()))?;
        let checks = app.checks();
        Ok(if suggest {
            checks
                .check_suggesting(&lane, &manifest.name, &manifest.manifest)
                .await?
        } else {
            checks
                .check(&lane, &manifest.name, &manifest.manifest)
                .await?
        })
    }

    async fn sbom(&self, lane: &str, at: Option<&str>) -> Result<Bom> {
        let app = self.app().await?;
        let mut read = app.open_lane(lane, Some(&Principal::local_admin()))?;
        if let Some(at) = at {
            read = read.at(at)?;
        }
        Ok(app.sboms().lane(&read).await?)
    }

    async fn promote(
        &self,
        from: &str,
        to: &str,
        at: Option<&str>,
        dry_run: bool,
    ) -> Result<Promotion> {
        let app = self.app().await?;
        Ok(app
            .promotions()
            .promote(&Principal::local_admin(), from, to, at, dry_run)
            .await?)
    }

    async fn create_request(
        &self,
        lane: &str,
        reason: &str,
        items: RequestItems<'_>,
    ) -> Result<Value> {
        use airlock_service::{ManifestInput, RequestInput};
        let input = match items {
            RequestItems::Manifest { file, kind } => {
                let read = manifest::read(file, kind)?;
                RequestInput::Manifest(if read.includes.is_empty() {
                    ManifestInput::File {
                        name: Some(manifest::file_name(&read.name)),
                        kind: Some(read.manifest.kind.as_str().to_string()),
                        text: read.text,
                    }
                } else {
                    ManifestInput::Bundle(manifest::bundle(&read)?.to_string())
                })
            }
            RequestItems::Packages(items) => RequestInput::Packages(items),
        };
        let app = self.app().await?;
        as_json(
            app.requests()
                .create(&Principal::local_admin(), lane, reason, input)
                .await?,
        )
    }

    async fn requests(&self, lane: Option<&str>, state: Option<&str>) -> Result<Value> {
        let app = self.app().await?;
        let list = app
            .requests()
            .list(&Principal::local_admin(), lane, state)
            .await?;
        Ok(json!({ "requests": as_json(list)? }))
    }

    async fn request(&self, id: i64) -> Result<Value> {
        let app = self.app().await?;
        as_json(
            app.requests()
                .request_for(&Principal::local_admin(), id)
                .await?,
        )
    }

    async fn approve(&self, id: i64, only: &[String]) -> Result<Value> {
        let app = self.app().await?;
        as_json(
            app.requests()
                .approve(&Principal::local_admin(), id, only)
                .await?,
        )
    }

    async fn reject(&self, id: i64, reason: &str) -> Result<Value> {
        let app = self.app().await?;
        as_json(
            app.requests()
                .reject(&Principal::local_admin(), id, reason)
                .await?,
        )
    }

    async fn waivers(&self, lane: Option<&str>) -> Result<Value> {
        let app = self.app().await?;
        let list = app.waivers().list(&Principal::local_admin(), lane).await?;
        Ok(json!({ "waivers": as_json(list)? }))
    }

    async fn waive(&self, waiver: &NewWaiver<'_>) -> Result<Value> {
        let app = self.app().await?;
        as_json(
            app.waivers()
                .create(&Principal::local_admin(), waiver)
                .await?,
        )
    }

    async fn unwaive(&self, id: i64) -> Result<Value> {
        let app = self.app().await?;
        as_json(app.waivers().revoke(&Principal::local_admin(), id).await?)
    }

    async fn builds(&self, query: &airlock_service::BuildQuery) -> Result<Value> {
        let app = self.app().await?;
        let list = app.rbuilds().list(&Principal::local_admin(), query).await?;
        Ok(json!({ "builds": as_json(list)? }))
    }

    async fn build_log(&self, distro: &str, package: &str, version: &str) -> Result<String> {
        let app = self.app().await?;
        let log = app
            .rbuilds()
            .log(&Principal::local_admin(), distro, package, version)
            .await?;
        Ok(String::from_utf8_lossy(&log).into_owned())
    }

    async fn retry_build(&self, distro: &str, package: &str, version: &str) -> Result<Value> {
        let app = self.app().await?;
        as_json(
            app.rbuilds()
                .retry(&Principal::local_admin(), distro, package, version)
                .await?,
        )
    }

    async fn plan(&self, config: &str, origin: &str) -> Result<Vec<String>> {
        Ok(self
            .app()
            .await?
            .settings()
            .plan(&Principal::local_admin(), config, origin)?)
    }

    async fn apply(&self, config: &str, origin: &str) -> Result<ConfigChange> {
        let app = self.app().await?;
        Ok(app
            .settings()
            .apply(&Principal::local_admin(), config, origin)
            .await?)
    }

    async fn export(&self) -> Result<String> {
        Ok(self
            .app()
            .await?
            .settings()
            .export(&Principal::local_admin())?)
    }

    async fn create_snapshot(&self, lane: &str, name: &str, at: Option<&str>) -> Result<Snapshot> {
        let at = match at {
            Some(text) => Some(airlock_service::parse_instant(text).with_context(|| {
                format!("{text:?} is neither an RFC 3339 instant nor a date (YYYY-MM-DD)")
            })?),
            None => None,
        };
        let app = self.app().await?;
        let who = Principal::local_admin();
        let at = app.snapshots().create(&who, lane, name, at).await?;
        Ok(Snapshot {
            name: name.to_string(),
            at: airlock_service::format_rfc3339(at),
            created_by: who.name,
        })
    }

    async fn set_project_status(
        &self,
        source: &str,
        project: &str,
        archived: bool,
        reason: Option<&str>,
    ) -> Result<ProjectStatus> {
        let app = self.app().await?;
        let done = app
            .publishing()
            .set_archived(&Principal::local_admin(), source, project, archived, reason)
            .await?;
        Ok(ProjectStatus {
            source: done.source,
            project: done.project,
            status: if done.archived { "archived" } else { "active" }.to_owned(),
            changed: done.changed,
        })
    }

    async fn snapshots(&self, lane: &str) -> Result<Vec<Snapshot>> {
        let app = self.app().await?;
        Ok(app
            .snapshots()
            .list(&Principal::local_admin(), lane)
            .await?
            .into_iter()
            .map(|s| Snapshot {
                name: s.name,
                at: airlock_service::format_rfc3339(s.at),
                created_by: s.created_by,
            })
            .collect())
    }

    async fn audit(&self, since: i64) -> Result<Vec<AuditRecord>> {
        let app = self.app().await?;
        Ok(app
            .audit()
            .entries(&Principal::local_admin(), since)
            .await?)
    }

    async fn verify_audit(&self) -> Result<AuditVerdict> {
        Ok(self
            .app()
            .await?
            .audit()
            .verify(&Principal::local_admin())
            .await?)
    }
}

/// A running server and the token to use with it (none: anonymous, where the server allows it).
pub struct Remote {
    pub server: String,
    pub token: Option<String>,
}

impl Remote {
    /// `METHOD /api/v1/{path}?query` with a JSON body, its answer read as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<T> {
        let url = api::url(&self.server, path);
        let mut request = api::request(method, &url, self.token.as_deref());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let text = api::send(request, &url).await?;
        serde_json::from_str(&text).context("the server's answer is not what was expected")
    }
}

impl Client for Remote {
    async fn why(
        &self,
        lane: Option<&str>,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Result<Value> {
        let lane = lane.context("which lane? give --lane with --server")?;
        let query = [
            ("ecosystem", ecosystem),
            ("name", name),
            ("version", version),
        ];
        self.call(Method::GET, &format!("lanes/{lane}/why"), &query, None)
            .await
    }

    async fn check(&self, lane: Option<&str>, read: &Read, suggest: bool) -> Result<CheckReport> {
        let url = api::url(&self.server, "check");
        let mut request = api::request(Method::POST, &url, self.token.as_deref());
        if let Some(lane) = lane {
            request = request.query(&[("lane", lane)]);
        }
        if suggest {
            request = request.query(&[("suggest", "true")]);
        }
        request = if read.includes.is_empty() {
            request
                .header("content-type", "text/plain; charset=utf-8")
                .header("x-airlock-manifest-kind", read.manifest.kind.as_str())
                .header("x-airlock-manifest-name", manifest::file_name(&read.name))
                .body(read.text.clone())
        } else {
            request
                .header("content-type", airlock_service::BUNDLE_CONTENT_TYPE)
                .body(serde_json::to_string(&manifest::bundle(read)?)?)
        };
        let body = api::send(request, &url).await?;
        serde_json::from_str(&body).context("the server's answer is not a check report")
    }

    async fn sbom(&self, lane: &str, at: Option<&str>) -> Result<Bom> {
        let query: Vec<(&str, &str)> = at.map(|at| ("at", at)).into_iter().collect();
        self.call(Method::GET, &format!("lanes/{lane}/sbom"), &query, None)
            .await
    }

    async fn promote(
        &self,
        from: &str,
        to: &str,
        at: Option<&str>,
        dry_run: bool,
    ) -> Result<Promotion> {
        let body = json!({ "from": from, "to": to, "at": at, "dry_run": dry_run });
        self.call(Method::POST, "promote", &[], Some(body)).await
    }

    async fn create_request(
        &self,
        lane: &str,
        reason: &str,
        items: RequestItems<'_>,
    ) -> Result<Value> {
        let mut body = json!({ "lane": lane, "reason": reason });
        match items {
            RequestItems::Manifest { file, kind } => {
                body["manifest"] = manifest::manifest_json(file, kind)?;
            }
            RequestItems::Packages(items) => body["packages"] = json!(items),
        }
        self.call(Method::POST, "requests", &[], Some(body)).await
    }

    async fn requests(&self, lane: Option<&str>, state: Option<&str>) -> Result<Value> {
        let query: Vec<(&str, &str)> = [("lane", lane), ("state", state)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        self.call(Method::GET, "requests", &query, None).await
    }

    async fn request(&self, id: i64) -> Result<Value> {
        self.call(Method::GET, &format!("requests/{id}"), &[], None)
            .await
    }

    async fn approve(&self, id: i64, only: &[String]) -> Result<Value> {
        let body = if only.is_empty() {
            json!({ "all": true })
        } else {
            json!({ "only": only })
        };
        self.call(
            Method::POST,
            &format!("requests/{id}/approve"),
            &[],
            Some(body),
        )
        .await
    }

    async fn reject(&self, id: i64, reason: &str) -> Result<Value> {
        let body = json!({ "reason": reason });
        self.call(
            Method::POST,
            &format!("requests/{id}/reject"),
            &[],
            Some(body),
        )
        .await
    }

    async fn waivers(&self, lane: Option<&str>) -> Result<Value> {
        let query: Vec<(&str, &str)> = lane.map(|l| ("lane", l)).into_iter().collect();
        self.call(Method::GET, "waivers", &query, None).await
    }

    async fn waive(&self, waiver: &NewWaiver<'_>) -> Result<Value> {
        let body = json!({
            "lane": waiver.lane,
            "package": waiver.package,
            "rule": waiver.rule,
            "justification": waiver.justification,
            "expires": waiver.expires,
        });
        self.call(Method::POST, "waivers", &[], Some(body)).await
    }

    async fn unwaive(&self, id: i64) -> Result<Value> {
        self.call(Method::POST, &format!("waivers/{id}/revoke"), &[], None)
            .await
    }

    async fn builds(&self, query: &airlock_service::BuildQuery) -> Result<Value> {
        let pairs: Vec<(&str, &str)> = [
            ("package", query.package.as_deref()),
            ("distro", query.distro.as_deref()),
            ("state", query.state.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
        self.call(Method::GET, "builds", &pairs, None).await
    }

    async fn build_log(&self, distro: &str, package: &str, version: &str) -> Result<String> {
        let path = format!("builds/{distro}/{package}/{version}/log");
        let url = api::url(&self.server, &path);
        api::send(api::request(Method::GET, &url, self.token.as_deref()), &url).await
    }

    async fn retry_build(&self, distro: &str, package: &str, version: &str) -> Result<Value> {
        let path = format!("builds/{distro}/{package}/{version}/retry");
        self.call(Method::POST, &path, &[], None).await
    }

    async fn plan(&self, config: &str, origin: &str) -> Result<Vec<String>> {
        let body = json!({ "config": config, "origin": origin });
        let planned: ConfigChange = self
            .call(Method::POST, "config/plan", &[], Some(body))
            .await?;
        Ok(planned.changes)
    }

    async fn apply(&self, config: &str, origin: &str) -> Result<ConfigChange> {
        let body = json!({ "config": config, "origin": origin });
        self.call(Method::POST, "config/apply", &[], Some(body))
            .await
    }

    async fn export(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Exported {
            config: String,
        }
        let exported: Exported = self.call(Method::GET, "config", &[], None).await?;
        Ok(exported.config)
    }

    async fn create_snapshot(&self, lane: &str, name: &str, at: Option<&str>) -> Result<Snapshot> {
        let body = json!({ "name": name, "at": at });
        self.call(
            Method::POST,
            &format!("lanes/{lane}/snapshots"),
            &[],
            Some(body),
        )
        .await
    }

    async fn set_project_status(
        &self,
        source: &str,
        project: &str,
        archived: bool,
        reason: Option<&str>,
    ) -> Result<ProjectStatus> {
        let status = if archived { "archived" } else { "active" };
        let body = json!({ "status": status, "reason": reason });
        self.call(
            Method::POST,
            &format!("sources/{source}/projects/{project}/status"),
            &[],
            Some(body),
        )
        .await
    }

    async fn snapshots(&self, lane: &str) -> Result<Vec<Snapshot>> {
        #[derive(Deserialize)]
        struct Listed {
            snapshots: Vec<Snapshot>,
        }
        let listed: Listed = self
            .call(Method::GET, &format!("lanes/{lane}/snapshots"), &[], None)
            .await?;
        Ok(listed.snapshots)
    }

    async fn audit(&self, since: i64) -> Result<Vec<AuditRecord>> {
        #[derive(Deserialize)]
        struct Entries {
            entries: Vec<AuditRecord>,
        }
        let since = since.to_string();
        let listed: Entries = self
            .call(Method::GET, "audit", &[("since", &since)], None)
            .await?;
        Ok(listed.entries)
    }

    async fn verify_audit(&self) -> Result<AuditVerdict> {
        self.call(Method::GET, "audit/verify", &[], None).await
    }
}
