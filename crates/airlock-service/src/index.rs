//! The simple index of a lane: for each project the first of the lane's sources that has the name
//! (never a mix), the versions the lane admits, rendered once per revision and kept as bytes.

use std::sync::Arc;

use airlock_config::{Ecosystem, LaneConfig};
use airlock_pypi::simple::{self, FileEntry, Format, ProjectPage};
use airlock_store::ArtifactRow;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::policy::{self, Verdict};
use crate::{Airlock, ServiceError, format_rfc3339};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    lane: String,
    project: Option<String>,
    content_type: &'static str,
}

/// A rendered page.
#[derive(Debug)]
pub struct Page {
    pub body: Bytes,
    /// A strong ETag, quoted.
    pub etag: String,
    pub content_type: &'static str,
}

impl Page {
    fn new(body: String, format: Format) -> Page {
        let digest = Sha256::digest(body.as_bytes());
        Page {
            etag: format!("\"{}\"", &hex::encode(digest)[..32]),
            body: Bytes::from(body),
            content_type: format.content_type(),
        }
    }
}

/// Files of `project` in the lane: the owning source and its admitted files.
pub(crate) struct LaneProject {
    pub source: String,
    pub files: Vec<ArtifactRow>,
    /// Why versions were left out (for the 404 of a page left empty).
    pub refusals: Vec<String>,
}

impl Airlock {
    pub(crate) fn lane(&self, lane: &str) -> Result<&LaneConfig, ServiceError> {
        self.config
            .lane(lane)
            .ok_or_else(|| ServiceError::NotFound(format!("no lane named {lane:?}")))
    }

    /// The lane's sources of one ecosystem, in priority order.
    pub(crate) fn lane_sources<'a>(
        &'a self,
        lane: &'a LaneConfig,
        eco: Ecosystem,
    ) -> impl Iterator<Item = &'a str> {
        lane.sources
            .iter()
            .filter(move |s| self.config.source(s).is_some_and(|c| c.ecosystem == eco))
            .map(String::as_str)
    }

    /// Name ownership: the first source of the lane that has `project`, with what the lane admits of it.
    pub(crate) async fn lane_project(
        &self,
        lane: &LaneConfig,
        project: &str,
    ) -> Result<Option<LaneProject>, ServiceError> {
        for source in self.lane_sources(lane, Ecosystem::Pypi) {
            let rows = self.db.project_artifacts(source, project).await?;
            if rows.is_empty() {
                continue;
            }
            let mut files = Vec::with_capacity(rows.len());
            let mut refusals = Vec::new();
            for row in rows {
                match policy::decide(lane, Ecosystem::Pypi, project, &row.version) {
                    Verdict::Allow => files.push(row),
                    Verdict::Deny(reason) => refusals.push(reason),
                }
            }
            return Ok(Some(LaneProject {
                source: source.to_string(),
                files,
                refusals,
            }));
        }
        Ok(None)
    }

    /// `/{lane}/pypi/simple/{project}/`; `project` is already normalised.
    pub async fn project_page(
        &self,
        lane: &str,
        project: &str,
        format: Format,
    ) -> Result<Arc<Page>, ServiceError> {
        let key = PageKey {
            lane: lane.to_string(),
            project: Some(project.to_string()),
            content_type: format.content_type(),
        };
        let generation = match self.pages.get(&key) {
            Ok(Some(page)) => return Ok(page),
            Ok(None) => return Err(not_found(lane, project)),
            Err(generation) => generation,
        };
        let lane_cfg = self.lane(lane)?;
        let found = self.lane_project(lane_cfg, project).await?;
        let page = match found {
            Some(p) if !p.files.is_empty() => Some(Arc::new(Page::new(
                render_project(project, &p.files, format),
                format,
            ))),
            Some(p) => {
                // Not cached: the reason is worth its query, and refusals are rare.
                let reason = p.refusals.into_iter().next().unwrap_or_default();
                return Err(ServiceError::NotFound(format!(
                    "{}: {reason}",
                    not_found(lane, project)
                )));
            }
            None => None,
        };
        self.pages.insert(generation, key, page.clone());
        page.ok_or_else(|| not_found(lane, project))
    }

    /// `/{lane}/pypi/simple/`.
    pub async fn root_page(&self, lane: &str, format: Format) -> Result<Arc<Page>, ServiceError> {
        let key = PageKey {
            lane: lane.to_string(),
            project: None,
            content_type: format.content_type(),
        };
        let generation = match self.pages.get(&key) {
            Ok(Some(page)) => return Ok(page),
            Ok(None) => return Err(ServiceError::NotFound(format!("no lane named {lane:?}"))),
            Err(generation) => generation,
        };
        let lane_cfg = self.lane(lane)?;
        let mut names = std::collections::BTreeSet::new();
        for source in self.lane_sources(lane_cfg, Ecosystem::Pypi) {
            for (project, _) in self.db.projects(source).await? {
                if policy::may_admit_name(lane_cfg, Ecosystem::Pypi, &project) {
                    names.insert(project);
                }
            }
        }
        if lane_cfg.mode == airlock_config::LaneMode::Allowlist {
            // A name on the allow list may still have none of its versions admitted.
            let mut admitted = std::collections::BTreeSet::new();
            for name in names {
                if self
                    .lane_project(lane_cfg, &name)
                    .await?
                    .is_some_and(|p| !p.files.is_empty())
                {
                    admitted.insert(name);
                }
            }
            names = admitted;
        }
        let names: Vec<String> = names.into_iter().collect();
        let body = match format {
            Format::Json => simple::root_json(&names),
            _ => simple::root_html(&names),
        };
        let page = Arc::new(Page::new(body, format));
        self.pages.insert(generation, key, Some(page.clone()));
        Ok(page)
    }
}

fn not_found(lane: &str, project: &str) -> ServiceError {
    ServiceError::NotFound(format!("no project {project:?} in lane {lane:?}"))
}

fn render_project(project: &str, rows: &[ArtifactRow], format: Format) -> String {
    let mut versions: Vec<String> = Vec::new();
    for r in rows {
        if !versions.contains(&r.version) {
            versions.push(r.version.clone());
        }
    }
    versions.sort_by(|a, b| airlock_pypi::version::compare(a, b).unwrap_or_else(|_| a.cmp(b)));
    let files = rows
        .iter()
        .map(|r| FileEntry {
            filename: r.filename.clone(),
            // Relative to the page `/{lane}/pypi/simple/{project}/`, so snapshots and proxies in front keep working.
            url: format!("../../files/{}/{}", r.sha256, r.filename),
            sha256: r.sha256.clone(),
            size: r.size as u64,
            requires_python: r.requires_python.clone(),
            yanked: r.yanked_reason.clone(),
            core_metadata_sha256: r.metadata_sha256.clone(),
            upload_time: r.upload_time.map(format_rfc3339),
        })
        .collect();
    let page = ProjectPage {
        name: project.to_string(),
        files,
        versions,
    };
    match format {
        Format::Json => simple::project_json(&page),
        _ => simple::project_html(&page),
    }
}
