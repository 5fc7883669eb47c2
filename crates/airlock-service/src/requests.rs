//! Requests to admit package versions into a lane, and their review: a requester sends a lock
//! file or a list of versions; the request keeps each entry's findings (as `airlock check` gives
//! them) and the dependencies the lane lacks; an approver approves (adding exact-version allow
//! entries to the lane, the `approvals` table) or rejects. Everything is audited.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use airlock_config::Ecosystem;
use airlock_manifest::{Entry, Kind, Manifest};
use airlock_store::{ApprovalRow, NewRequest, RequestRow};
use airlock_types::{RequestState, Timestamp};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::check::{CheckedEntry, Checks, ManifestInput};
use crate::core::{Core, audit_entry};
use crate::ecosystems::rules;
use crate::error::ServiceError;
use crate::lanes::LaneRead;
use crate::policy::Policies;
use crate::principal::{Principal, Role};
use crate::publish::{MAX_REASON_LEN, check_text};
use crate::spec::packages_manifest;
use crate::time_fmt::format_rfc3339;
use crate::webhooks::Webhooks;
use airlock_config::WebhookEvent;
use futures::future::BoxFuture;

/// What a request is made from.
pub enum RequestInput<'a> {
    Manifest(ManifestInput),
    /// `pypi:name==version`, `cran:name==version` (a bare `name==version` is Python).
    Packages(&'a [String]),
}

/// A dependency of a requested version that the lane admits no version of.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Missing {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// The requirement as the depending package states it (`airlockDep (>= 1.0)`).
    pub requirement: String,
    /// `name==version` of the requested entry that needs it.
    pub needed_by: String,
}

/// What a request stores besides its header: the findings when it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Body {
    entries: Vec<CheckedEntry>,
    missing: Vec<Missing>,
}

/// One entry of a request, as `show` presents it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestEntry {
    #[serde(flatten)]
    pub requested: CheckedEntry,
    /// Whether an approval admits this version in the lane.
    pub approved: bool,
    /// The lane's decision on this version now (`show` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<Now>,
    /// The lane's decision once this version is approved, for a pending request (`show` only):
    /// an approval admits it past an allow-list, not past a block, an advisory or a licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_approved: Option<Now>,
}

/// The lane's decision at the time of asking.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Now {
    pub action: airlock_policy::Action,
    pub reasons: Vec<airlock_policy::Reason>,
}

/// A request with its entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestView {
    pub id: i64,
    pub lane: String,
    pub state: RequestState,
    pub requester: String,
    pub reason: String,
    pub created_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
    pub entries: Vec<RequestEntry>,
    pub missing: Vec<Missing>,
}

fn not_found(id: i64) -> ServiceError {
    ServiceError::NotFound(format!("no request {id}"))
}

/// Requests for packages and their review: a data scientist asks for what a manifest needs, an
/// approver approves (pinning the files reviewed) or rejects.
pub struct Requests {
    core: Arc<Core>,
    policies: Arc<Policies>,
    catalog: Arc<Catalog>,
    checks: Arc<Checks>,
    webhooks: Arc<Webhooks>,
}

impl Requests {
    pub(crate) fn new(
        core: Arc<Core>,
        policies: Arc<Policies>,
        catalog: Arc<Catalog>,
        checks: Arc<Checks>,
        webhooks: Arc<Webhooks>,
    ) -> Requests {
        Requests {
            core,
            policies,
            catalog,
            checks,
            webhooks,
        }
    }

    /// Files a request to admit versions into `lane`; any valid token may.
    pub fn create<'a>(
        &'a self,
        who: &'a Principal,
        lane: &'a str,
        reason: &'a str,
        input: RequestInput<'a>,
    ) -> BoxFuture<'a, Result<RequestView, ServiceError>> {
        Box::pin(async move {
            self.core.lane(lane)?;
            // A request is seen only by tokens that apply in its lane: its author among them.
            who.require_lane(lane, "requesting in")?;
            if reason.trim().is_empty() {
                return Err(ServiceError::BadRequest(
                    "a request needs a reason (--reason)".into(),
                ));
            }
            check_text("the reason", reason, MAX_REASON_LEN)?;
            let (file, mut manifest) = match input {
                RequestInput::Manifest(m) => self.checks.read_manifest(m).await?,
                RequestInput::Packages(specs) => {
                    ("packages".to_string(), packages_manifest(specs)?)
                }
            };
            // The project's own code (local paths) is not for a lane to admit.
            manifest
                .entries
                .retain(|e| !matches!(e.origin, airlock_manifest::Origin::Path { .. }));
            let unpinned: Vec<String> = manifest
                .entries
                .iter()
                .filter(|e| e.from_registry() && !e.is_pinned())
                .map(|e| {
                    format!(
                        "{}:{}{}",
                        e.ecosystem.as_str(),
                        e.name,
                        e.specifier.as_deref().unwrap_or("")
                    )
                })
                .collect();
            if !unpinned.is_empty() {
                return Err(ServiceError::BadRequest(format!(
                    "a request names exact versions; not pinned: {}",
                    unpinned.join(", ")
                )));
            }
            if manifest.entries.is_empty() {
                return Err(ServiceError::BadRequest(
                    "the request names no package".into(),
                ));
            }
            let report = self
                .checks
                .check(&LaneRead::of_service(lane), &file, &manifest)
                .await?;
            let missing = self.missing_dependencies(lane, &report.packages).await?;
            let body = serde_json::to_string(&Body {
                entries: report.packages,
                missing,
            })
            .map_err(|e| ServiceError::internal("cannot encode the request", e))?;
            let now = Timestamp::now();
            let mut tx = self.core.db.write().await?;
            let id = tx
                .insert_request(&NewRequest {
                    lane,
                    requester: &who.name,
                    reason,
                    created_at: now,
                    body: &body,
                })
                .await?;
            let details = serde_json::json!({ "lane": lane, "file": file, "entries": manifest.entries.len() });
            self.core
                .commit(
                    tx,
                    audit_entry(
                        &who.name,
                        "request.create",
                        format!("request {id}"),
                        details,
                    ),
                )
                .await?;
            let view = self.request(id, false).await?;
            self.webhooks
                .emit(WebhookEvent::RequestCreated, event_data(&view));
            Ok(view)
        })
    }

    /// Requests `who` may see (of the lanes its token applies in), newest first. A state that
    /// is none of `pending`, `approved`, `rejected` has no requests.
    pub fn list<'a>(
        &'a self,
        who: &'a Principal,
        lane: Option<&'a str>,
        state: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<RequestView>, ServiceError>> {
        Box::pin(async move {
            let state = match state.map(str::parse::<RequestState>).transpose() {
                Ok(state) => state,
                Err(_) => return Ok(Vec::new()),
            };
            let approved = self.approved_set().await?;
            self.core
                .db
                .requests(lane, state)
                .await?
                .into_iter()
                .filter(|r| who.in_lane(&r.lane))
                .map(|r| view(r, &approved))
                .collect()
        })
    }

    /// One request as `who` asks for it (`show`): refused for a token limited to other lanes.
    pub fn request_for<'a>(
        &'a self,
        who: &'a Principal,
        id: i64,
    ) -> BoxFuture<'a, Result<RequestView, ServiceError>> {
        Box::pin(async move {
            let row = self.row(id).await?;
            who.require_lane(&row.lane, "reading requests of")?;
            self.view_of(row, true).await
        })
    }

    async fn row(&self, id: i64) -> Result<RequestRow, ServiceError> {
        self.core.db.request(id).await?.ok_or_else(|| not_found(id))
    }

    /// One request; with `now`, each entry carries the lane's decision at this instant and
    /// `missing` is what the lane lacks now (else both as when the request was made).
    pub fn request<'a>(
        &'a self,
        id: i64,
        now: bool,
    ) -> BoxFuture<'a, Result<RequestView, ServiceError>> {
        Box::pin(async move { self.view_of(self.row(id).await?, now).await })
    }

    async fn view_of(&self, row: RequestRow, now: bool) -> Result<RequestView, ServiceError> {
        let mut view = view(row, &self.approved_set().await?)?;
        if now {
            let manifest = Manifest {
                kind: Kind::RequirementsTxt,
                entries: view
                    .entries
                    .iter()
                    .map(|e| {
                        let mut entry = Entry::new(e.requested.ecosystem, &e.requested.name);
                        entry.version = e.requested.version.clone();
                        entry.origin = e.requested.origin.clone();
                        entry
                    })
                    .collect(),
                not_covered: Vec::new(),
                indexes: Vec::new(),
                requires: None,
            };
            let report = self
                .checks
                .check(&LaneRead::of_service(&view.lane), "request", &manifest)
                .await?;
            let requested: Vec<CheckedEntry> =
                view.entries.iter().map(|e| e.requested.clone()).collect();
            view.missing = self.missing_dependencies(&view.lane, &requested).await?;
            for (entry, current) in view.entries.iter_mut().zip(report.packages) {
                entry.now = Some(Now {
                    action: current.action,
                    reasons: current.reasons,
                });
            }
            if view.state == RequestState::Pending {
                // What approving every version would make of each: the diff a decision makes.
                let approvals: Vec<airlock_policy::Approval> = view
                    .entries
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.requested.origin,
                            airlock_manifest::Origin::Registry { .. }
                        )
                    })
                    .filter_map(|e| {
                        let version = e.requested.version.as_deref()?;
                        let rule = airlock_policy::PackageRule::parse(&format!(
                            "{}:{}=={version}",
                            e.requested.ecosystem, e.requested.name
                        ))
                        .ok()?;
                        Some(airlock_policy::Approval {
                            rule,
                            files: Default::default(),
                        })
                    })
                    .collect();
                let after = self
                    .checks
                    .check_approving(
                        &LaneRead::of_service(&view.lane),
                        "request",
                        &manifest,
                        &approvals,
                        false,
                    )
                    .await?;
                for (entry, then) in view.entries.iter_mut().zip(after.packages) {
                    entry.if_approved = Some(Now {
                        action: then.action,
                        reasons: then.reasons,
                    });
                }
            }
        }
        Ok(view)
    }

    /// Approves a pending request: its registry entries (or those named in `only`) become
    /// exact-version allow entries of the lane.
    pub fn approve<'a>(
        &'a self,
        who: &'a Principal,
        id: i64,
        only: &'a [String],
    ) -> BoxFuture<'a, Result<RequestView, ServiceError>> {
        Box::pin(async move {
            let request = self.reviewable(who, id, "approve").await?;
            let body: Body = serde_json::from_str(&request.body)
                .map_err(|e| ServiceError::internal("a stored request does not parse", e))?;
            let wanted: HashSet<String> = only.iter().map(|n| n.to_lowercase()).collect();
            let chosen: Vec<&CheckedEntry> = body
                .entries
                .iter()
                .filter(|e| matches!(e.origin, airlock_manifest::Origin::Registry { .. }))
                .filter(|e| wanted.is_empty() || wanted.contains(&e.name.to_lowercase()))
                .collect();
            if chosen.is_empty() {
                return Err(ServiceError::BadRequest(format!(
                    "request {id} has no package version to approve{}",
                    if only.is_empty() {
                        String::new()
                    } else {
                        format!(" named {}", only.join(", "))
                    }
                )));
            }
            // Each approval is pinned to the files of its version the lane has now.
            let lane_cfg = self.core.lane(&request.lane)?;
            let decider = self.policies.decider().await?;
            let mut pins = Vec::with_capacity(chosen.len());
            for e in &chosen {
                pins.push(match &e.version {
                    Some(version) => {
                        self.catalog
                            .files_to_pin(&lane_cfg, e.ecosystem, &e.name, version, &decider)
                            .await?
                    }
                    None => Vec::new(),
                });
            }
            let now = Timestamp::now();
            let mut tx = self.core.db.write().await?;
            if !tx
                .decide_request(id, RequestState::Approved, &who.name, now, None)
                .await?
            {
                return Err(ServiceError::Conflict(format!(
                    "request {id} is no longer pending"
                )));
            }
            for (e, files) in chosen.iter().zip(&pins) {
                let Some(version) = &e.version else { continue };
                tx.insert_pinned_approval(
                    &ApprovalRow {
                        lane: request.lane.clone(),
                        ecosystem: e.ecosystem,
                        name: e.name.clone(),
                        version: version.clone(),
                        request_id: id,
                        approved_by: who.name.clone(),
                        approved_at: now,
                    },
                    files,
                )
                .await?;
            }
            let approved: Vec<String> = chosen
                .iter()
                .map(|e| {
                    format!(
                        "{}:{}=={}",
                        e.ecosystem,
                        e.name,
                        e.version.as_deref().unwrap_or("")
                    )
                })
                .collect();
            let files: usize = pins.iter().map(Vec::len).sum();
            let details =
                serde_json::json!({ "lane": request.lane, "approved": approved, "files": files });
            self.core
                .commit(
                    tx,
                    audit_entry(
                        &who.name,
                        "request.approve",
                        format!("request {id}"),
                        details,
                    ),
                )
                .await?;
            let view = self.request(id, false).await?;
            self.webhooks
                .emit(WebhookEvent::RequestApproved, event_data(&view));
            Ok(view)
        })
    }

    /// Rejects a pending request, with the reviewer's reason.
    pub fn reject<'a>(
        &'a self,
        who: &'a Principal,
        id: i64,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<RequestView, ServiceError>> {
        Box::pin(async move {
            let request = self.reviewable(who, id, "reject").await?;
            if reason.trim().is_empty() {
                return Err(ServiceError::BadRequest(
                    "a rejection needs a reason (--reason)".into(),
                ));
            }
            check_text("the reason", reason, MAX_REASON_LEN)?;
            let mut tx = self.core.db.write().await?;
            if !tx
                .decide_request(
                    id,
                    RequestState::Rejected,
                    &who.name,
                    Timestamp::now(),
                    Some(reason),
                )
                .await?
            {
                return Err(ServiceError::Conflict(format!(
                    "request {id} is no longer pending"
                )));
            }
            let details = serde_json::json!({ "lane": request.lane, "reason": reason });
            self.core
                .commit(
                    tx,
                    audit_entry(
                        &who.name,
                        "request.reject",
                        format!("request {id}"),
                        details,
                    ),
                )
                .await?;
            let view = self.request(id, false).await?;
            self.webhooks
                .emit(WebhookEvent::RequestRejected, event_data(&view));
            Ok(view)
        })
    }

    /// The request, if `who` may decide on it now.
    async fn reviewable(
        &self,
        who: &Principal,
        id: i64,
        verb: &str,
    ) -> Result<RequestRow, ServiceError> {
        who.require_role(Role::Approver, &format!("to {verb} a request"))?;
        let request = self
            .core
            .db
            .request(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        who.require_lane(&request.lane, &format!("to {verb} a request of"))?;
        if request.state != RequestState::Pending {
            return Err(ServiceError::Conflict(format!(
                "request {id} is {}, not pending",
                request.state
            )));
        }
        if request.requester == who.name && !self.core.config().allow_self_approval {
            return Err(ServiceError::Forbidden(format!(
                "token {:?} made request {id}: nobody may {verb} their own request (allow_self_approval is off)",
                who.name
            )));
        }
        Ok(request)
    }

    /// `(lane, ecosystem, name, version)` of every approval.
    async fn approved_set(
        &self,
    ) -> Result<HashSet<(String, Ecosystem, String, String)>, ServiceError> {
        Ok(self
            .core
            .db
            .approvals()
            .await?
            .into_iter()
            .map(|a| (a.lane, a.ecosystem, a.name, a.version))
            .collect())
    }

    /// Dependencies of the requested versions the lane admits no version of, and the request
    /// does not contain: R `Depends`/`Imports`/`LinkingTo` (base packages excepted), Python
    /// `Requires-Dist` whose marker applies to the lane's environments, as the stored metadata
    /// states them.
    async fn missing_dependencies(
        &self,
        lane: &str,
        entries: &[CheckedEntry],
    ) -> Result<Vec<Missing>, ServiceError> {
        let lane_ref = self.core.lane(lane)?;
        let lane_cfg: &airlock_config::LaneConfig = &lane_ref;
        let decider = self.policies.decider().await?;
        let requested: HashSet<(Ecosystem, String)> = entries
            .iter()
            .map(|e| (e.ecosystem, e.name.clone()))
            .collect();
        // The dependencies each requested version declares.
        let mut wanted: Vec<(Ecosystem, String, String, String)> = Vec::new();
        for eco in Ecosystem::ALL {
            let names: Vec<&str> = entries
                .iter()
                .filter(|e| e.ecosystem == eco)
                .map(|e| e.name.as_str())
                .collect();
            if names.is_empty() {
                continue;
            }
            let found = self
                .catalog
                .lane_lookups(lane_cfg, eco, &names, &decider)
                .await?;
            for e in entries.iter().filter(|e| e.ecosystem == eco) {
                let Some(version) = &e.version else { continue };
                let Some(project) = found.get(&e.name).and_then(|l| l.found.as_ref()) else {
                    continue;
                };
                let Some((row, _)) = project.rows.iter().find(|(r, _)| &r.version == version)
                else {
                    continue;
                };
                let needed_by = format!("{}=={version}", e.name);
                for (name, requirement) in rules(eco).dependencies(&row.metadata, lane_cfg) {
                    if !requested.contains(&(eco, name.clone())) {
                        wanted.push((eco, name, requirement, needed_by.clone()));
                    }
                }
            }
        }
        // Which of them the lane admits some version of.
        let mut admitted: HashMap<(Ecosystem, String), bool> = HashMap::new();
        for eco in Ecosystem::ALL {
            let names: Vec<&str> = wanted
                .iter()
                .filter(|w| w.0 == eco)
                .map(|w| w.1.as_str())
                .collect();
            if names.is_empty() {
                continue;
            }
            for (name, lookup) in self
                .catalog
                .lane_lookups(lane_cfg, eco, &names, &decider)
                .await?
            {
                let any = lookup
                    .found
                    .as_ref()
                    .is_some_and(|p| p.rows.iter().any(|(_, v)| v.action.listed()));
                admitted.insert((eco, name), any);
            }
        }
        let mut seen = HashSet::new();
        Ok(wanted
            .into_iter()
            .filter(|(eco, name, _, _)| {
                !admitted
                    .get(&(*eco, name.clone()))
                    .copied()
                    .unwrap_or(false)
            })
            .filter(|(eco, name, _, by)| seen.insert((*eco, name.clone(), by.clone())))
            .map(|(eco, name, requirement, needed_by)| Missing {
                ecosystem: eco,
                name,
                requirement,
                needed_by,
            })
            .collect())
    }
}

fn view(
    row: RequestRow,
    approved: &HashSet<(String, Ecosystem, String, String)>,
) -> Result<RequestView, ServiceError> {
    let body: Body = serde_json::from_str(&row.body)
        .map_err(|e| ServiceError::internal("a stored request does not parse", e))?;
    let entries = body
        .entries
        .into_iter()
        .map(|e| {
            let key = (
                row.lane.clone(),
                e.ecosystem,
                e.name.clone(),
                e.version.clone().unwrap_or_default(),
            );
            RequestEntry {
                approved: approved.contains(&key),
                requested: e,
                now: None,
                if_approved: None,
            }
        })
        .collect();
    Ok(RequestView {
        id: row.id,
        lane: row.lane,
        state: row.state,
        requester: row.requester,
        reason: row.reason,
        created_at: format_rfc3339(row.created_at),
        decided_by: row.decided_by,
        decided_at: row.decided_at.map(format_rfc3339),
        decision_reason: row.decision_reason,
        entries,
        missing: body.missing,
    })
}

/// What a request's webhook says of it: who asked for what in which lane, and how it was decided.
fn event_data(view: &RequestView) -> serde_json::Value {
    let entry = |e: &RequestEntry| {
        format!(
            "{}:{}=={}",
            e.requested.ecosystem,
            e.requested.name,
            e.requested.version.as_deref().unwrap_or("")
        )
    };
    serde_json::json!({
        "request": {
            "id": view.id,
            "lane": view.lane,
            "state": view.state,
            "requester": view.requester,
            "reason": view.reason,
            "created_at": view.created_at,
            "decided_by": view.decided_by,
            "decided_at": view.decided_at,
            "decision_reason": view.decision_reason,
        },
        "packages": view.entries.iter().map(entry).collect::<Vec<_>>(),
        "approved": view.entries.iter().filter(|e| e.approved).map(entry).collect::<Vec<_>>(),
    })
}
