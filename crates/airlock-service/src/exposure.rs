//! Exposure: what each lane serves that advisories affect (`GET /api/v1/exposure`).

use std::sync::Arc;

use airlock_config::Ecosystem;
use serde_json::{Value, json};

use crate::{Airlock, ServiceError};

impl Airlock {
    /// What each lane serves right now that advisories affect: for every lane, the versions it
    /// lists or still serves (hidden) with their advisories. Proxied files count once listed.
    pub async fn exposure(self: &Arc<Self>) -> Result<Value, ServiceError> {
        use airlock_policy::ReasonCode;
        let decider = self.decider().await?;
        let mut lanes = serde_json::Map::new();
        for lane in &self.config().lanes {
            let mut found = Vec::new();
            for eco in Ecosystem::ALL {
                let mut owner: std::collections::HashMap<String, String> =
                    std::collections::HashMap::new();
                for source in &self.lane_sources(lane, eco) {
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
