//! `why`: the lane's decision on one package version, with everything behind it, for people
//! (`airlock why`) and programs (`GET /api/v1/lanes/{lane}/why`).

use std::sync::Arc;

use airlock_config::Ecosystem;
use serde_json::{Value, json};

use crate::policy::{facts_of, policy_ecosystem};
use crate::{Airlock, ServiceError};

impl Airlock {
    /// The decision of `lane` on `name` `version` and its reasons, as JSON:
    /// `{ visible, action, source, reasons, advisories, license }`.
    pub async fn why(
        self: &Arc<Self>,
        lane: &str,
        eco: Ecosystem,
        name: &str,
        version: &str,
    ) -> Result<Value, ServiceError> {
        let lane_cfg = self.lane(lane)?;
        let name = match eco {
            Ecosystem::Pypi => airlock_pypi::name::normalize(name),
            Ecosystem::Cran => name.to_string(),
        };
        let same = |a: &str| match eco {
            Ecosystem::Pypi => airlock_pypi::version::compare(a, version).is_ok_and(|o| o.is_eq()),
            Ecosystem::Cran => a == version,
        };
        // The owning source's file of that version, if the lane has one (name ownership).
        let decider = self.decider().await?;
        let found = match eco {
            Ecosystem::Pypi => self
                .lane_project(lane_cfg, &name, &decider)
                .await?
                .and_then(|p| {
                    p.rows
                        .into_iter()
                        .map(|(r, _)| r)
                        .find(|r| same(&r.version))
                }),
            Ecosystem::Cran => self.cran_view(lane).await?.row(&name, version),
        };
        let facts = match &found {
            Some(row) => facts_of(row, eco),
            None => airlock_policy::ArtifactFacts::new(policy_ecosystem(eco), &name, version),
        };
        let verdict = decider.decide(lane_cfg, &facts);
        let mut reasons = serde_json::to_value(&verdict.reasons).unwrap_or(Value::Array(vec![]));
        let mut action = verdict.action.as_str();
        if found.is_none()
            && let Value::Array(list) = &mut reasons
        {
            action = "deny";
            list.insert(
                0,
                json!({
                    "code": "not_in_sources",
                    "action": "deny",
                    "message": format!("lane {lane:?}: no source of the lane has {eco}:{name}=={version}"),
                }),
            );
        }
        let advisories: Vec<Value> = verdict
            .reasons
            .iter()
            .flat_map(|r| r.advisories.iter())
            .map(|f| {
                let aliases = decider
                    .advisory_db()
                    .get(&f.id)
                    .map(|a| a.aliases.clone())
                    .unwrap_or_default();
                json!({ "id": f.id, "aliases": aliases, "severity": f.level, "score": f.score, "fixed": f.fixed_in })
            })
            .collect();
        let license = facts
            .license
            .as_ref()
            .map(|l| json!({ "expression": l.expression, "class": l.class }));
        Ok(json!({
            "lane": lane,
            "ecosystem": eco.as_str(),
            "name": name,
            "version": version,
            "visible": found.is_some() && verdict.action.listed(),
            "action": action,
            "source": found.as_ref().map(|r| r.source.clone()),
            "reasons": reasons,
            "advisories": advisories,
            "license": license,
        }))
    }
}

impl Airlock {
    /// What each lane serves right now that advisories affect: for every lane, the versions it
    /// lists or still serves (hidden) with their advisories. Proxied files count once listed.
    pub async fn exposure(self: &Arc<Self>) -> Result<Value, ServiceError> {
        use airlock_policy::ReasonCode;
        let decider = self.decider().await?;
        let mut lanes = serde_json::Map::new();
        for lane in &self.config.lanes {
            let mut found = Vec::new();
            for eco in [Ecosystem::Pypi, Ecosystem::Cran] {
                let mut owner: std::collections::HashMap<String, String> =
                    std::collections::HashMap::new();
                for source in self.lane_sources(lane, eco) {
                    for row in self.db.source_artifacts(&source.name).await? {
                        if row.delisted_at.is_some() {
                            continue;
                        }
                        // Name ownership: only the first source with the name counts.
                        let first = owner
                            .entry(row.project.clone())
                            .or_insert_with(|| source.name.clone());
                        if *first != source.name {
                            continue;
                        }
                        let verdict = decider.decide_row(lane, eco, &row);
                        if !verdict.action.serves_file() {
                            continue;
                        }
                        let advisories: Vec<Value> = verdict
                            .reasons
                            .iter()
                            .filter(|r| matches!(r.code, ReasonCode::Vulnerable | ReasonCode::VulnerabilityUnscored))
                            .flat_map(|r| r.advisories.iter())
                            .map(|f| json!({ "id": f.id, "severity": f.level, "score": f.score, "fixed": f.fixed_in }))
                            .collect();
                        if !advisories.is_empty() {
                            found.push(json!({
                                "ecosystem": eco.as_str(),
                                "name": row.project,
                                "version": row.version,
                                "filename": row.filename,
                                "source": source.name,
                                "action": verdict.action,
                                "advisories": advisories,
                            }));
                        }
                    }
                }
            }
            lanes.insert(lane.name.clone(), Value::Array(found));
        }
        Ok(json!({ "lanes": lanes }))
    }
}
