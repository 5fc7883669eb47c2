//! A target's view of a lane: the lane's CRAN repository with binaries in place of the sources
//! built by the lane's instant.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use airlock_cran::indexes::{IndexedPackage, Indexes};
use airlock_store::{RBuildRow, RBuildState};
use airlock_types::Timestamp;

use super::RBuilds;
use crate::changes::{Deps, Rebuilt};
use crate::cran::{CranIndex, render};
use crate::error::ServiceError;
use crate::files::ServedFile;
use crate::lanes::LaneRead;
use crate::page::Page;
use futures::future::BoxFuture;

/// The repository at `__linux__/{distro}` of one lane (at one instant).
pub struct BinaryView {
    /// Each package as indexed, with the source package's indexed entry it was made from and
    /// the binary it shows (so an unchanged package keeps its `Arc`, and its index chunk).
    packages: BTreeMap<String, Indexed>,
    indexes: Arc<Indexes>,
    pages: HashMap<CranIndex, Arc<Page>>,
    /// The binaries of the view's source packages, by the source's sha256.
    binaries: HashMap<String, RBuildRow>,
    expires: Option<std::time::Instant>,
}

#[derive(Clone)]
struct Indexed {
    of: Arc<IndexedPackage>,
    binary: Option<String>,
    indexed: Arc<IndexedPackage>,
}

impl RBuilds {
    /// The view of `lane` (a spec: `prod`, `prod@2026-11-24`) for `distro`, current as of
    /// this call.
    async fn binary_view(
        self: &Arc<Self>,
        lane: &str,
        distro: &str,
    ) -> Result<Arc<BinaryView>, ServiceError> {
        // An unknown target is not found before anything is built.
        self.target(distro).await?;
        let wanted = self.core.stamp();
        let key = (lane.to_string(), distro.to_string());
        let usable =
            |view: &Arc<BinaryView>| view.expires.is_none_or(|t| std::time::Instant::now() < t);
        self.views
            .get(&self.core.changes, wanted, &key, usable, || {
                let (this, key) = (self.clone(), key.clone());
                async move { this.refresh_view(&key.0, &key.1).await }
            })
            .await
    }

    fn refresh_view<'a>(
        self: &'a Arc<Self>,
        lane: &'a str,
        distro: &'a str,
    ) -> BoxFuture<'a, Rebuilt<BinaryView>> {
        Box::pin(async move {
            let stamp = self.core.stamp();
            let (_, target) = self.target(distro).await?;
            let (_, at) = self.core.view_lane(lane).await?;
            let cran = self.cran.cran_view(lane).await?;
            let config = self.core.config();
            let deps = Deps::sources(cran.sources.iter().filter_map(|s| config.source(s)));
            let at_micros = at.map_or(i64::MAX, Timestamp::as_micros);
            let binaries: HashMap<String, RBuildRow> = self
                .core
                .db
                .r_builds_in(&target.key(), RBuildState::Built)
                .await?
                .into_iter()
                .filter(|b| b.finished_at.is_some_and(|t| t.as_micros() <= at_micros))
                .map(|b| (b.source_sha256.clone(), b))
                .collect();
            let previous = self
                .views
                .last(&(lane.to_string(), distro.to_string()))
                .map(|(_, v)| v);
            let mut packages = BTreeMap::new();
            for (name, package) in &cran.packages {
                let binary = package
                    .current_row()
                    .and_then(|row| binaries.get(&row.sha256));
                let binary_sha = binary.and_then(|b| b.binary_sha256.clone());
                let kept = previous
                    .as_ref()
                    .and_then(|p| p.packages.get(name))
                    .filter(|k| Arc::ptr_eq(&k.of, &package.indexed) && k.binary == binary_sha)
                    .cloned();
                let indexed = kept.unwrap_or_else(|| {
                    let source = &package.indexed;
                    let entry = source.current().cloned().map(|mut entry| {
                        if let Some(b) = binary {
                            entry.md5sum = b.binary_md5.clone();
                            entry.built = b.built_field.clone();
                        }
                        entry
                    });
                    Indexed {
                        of: source.clone(),
                        binary: binary_sha,
                        indexed: Arc::new(IndexedPackage::new(
                            name.clone(),
                            entry,
                            source.archived().to_vec(),
                        )),
                    }
                });
                packages.insert(name.clone(), indexed);
            }
            let indexed: Vec<Arc<IndexedPackage>> =
                packages.values().map(|p| p.indexed.clone()).collect();
            let (indexes, pages) = render(previous.map(|p| p.indexes.clone()), indexed).await?;
            let view = BinaryView {
                packages,
                indexes,
                pages,
                binaries,
                expires: cran.expires,
            };
            Ok((stamp, deps, Arc::new(view)))
        })
    }

    /// One index file of `lane`'s repository for `distro`.
    pub async fn index(
        self: &Arc<Self>,
        lane: &LaneRead,
        distro: &str,
        which: CranIndex,
    ) -> Result<Arc<Page>, ServiceError> {
        let view = self.binary_view(lane.spec(), distro).await?;
        crate::cran::page(&view.pages, which)
    }

    /// A package file of `lane`'s repository for `distro`: the source package as the lane's
    /// CRAN repository resolves it (the same decision), then its binary when one was built by
    /// the lane's instant. Otherwise the source, and the binary is asked for (`on-demand`).
    pub async fn resolve_file(
        self: &Arc<Self>,
        lane: &LaneRead,
        distro: &str,
        archive_of: Option<&str>,
        filename: &str,
    ) -> Result<ServedFile, ServiceError> {
        let view = self.binary_view(lane.spec(), distro).await?;
        let served = self.cran.resolve_file(lane, archive_of, filename).await?;
        let built = view
            .binaries
            .get(&served.row().sha256)
            .and_then(|b| Some((b.binary_sha256.as_deref()?, b.binary_size?)));
        if let Some((sha, size)) = built {
            return Ok(served.binary(sha, size));
        }
        if served.row().sha256.is_empty() {
            // A proxied package never downloaded: this request downloads it; once stored,
            // its binary is asked for.
            let (this, lane, distro, row) = (
                self.clone(),
                lane.spec().to_string(),
                distro.to_string(),
                served.row().clone(),
            );
            tokio::spawn(async move {
                if let Err(e) = this.ask_once_stored(&lane, &distro, &row).await {
                    tracing::warn!(error = %crate::error::chain(&e), file = %row.filename, distro, "cannot ask for a binary build");
                }
            });
        } else if let Err(e) = self.ask(lane.spec(), distro, served.row()).await {
            tracing::warn!(error = %crate::error::chain(&e), file = filename, distro, "cannot ask for a binary build");
        }
        Ok(served)
    }
}
