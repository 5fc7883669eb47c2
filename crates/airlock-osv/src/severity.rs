//! Severity: CVSS vectors scored to a qualitative level.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Advisory, Severity};

/// A qualitative severity.
///
/// Ordered `Unscored < None < Low < Medium < High < Critical`. `Unscored` (the record
/// carries no score or rating at all, as most PyPA records) sorts lowest so that a
/// threshold such as `level >= High` never matches it by accident: a policy that wants
/// to treat unscored advisories as blocking must say so explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Unscored,
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// The CVSS v3/v4 qualitative rating scale: 0.0 none, 0.1-3.9 low, 4.0-6.9 medium,
    /// 7.0-8.9 high, 9.0-10.0 critical. Not a number: `Unscored`.
    pub fn from_score(score: f64) -> Level {
        if score.is_nan() {
            Level::Unscored
        } else if score < 0.1 {
            Level::None
        } else if score < 4.0 {
            Level::Low
        } else if score < 7.0 {
            Level::Medium
        } else if score < 9.0 {
            Level::High
        } else {
            Level::Critical
        }
    }

    /// A database's own rating word: GitHub's `LOW|MODERATE|HIGH|CRITICAL`, Ubuntu's and
    /// Red Hat's `negligible|low|medium|important|high|critical`, case-insensitive.
    pub fn from_rating(rating: &str) -> Option<Level> {
        match rating.trim().to_ascii_lowercase().as_str() {
            "none" | "negligible" | "informational" => Some(Level::None),
            "low" => Some(Level::Low),
            "medium" | "moderate" => Some(Level::Medium),
            "high" | "important" => Some(Level::High),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unscored => "unscored",
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a severity level.
#[derive(Debug, thiserror::Error)]
#[error("unknown severity level {0:?} (expected none, low, medium, high, critical or unscored)")]
pub struct LevelError(String);

impl FromStr for Level {
    type Err = LevelError;

    /// The configuration words `none|low|medium|high|critical` (and `unscored`),
    /// case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "unscored" => Ok(Level::Unscored),
            "none" => Ok(Level::None),
            "low" => Ok(Level::Low),
            "medium" => Ok(Level::Medium),
            "high" => Ok(Level::High),
            "critical" => Ok(Level::Critical),
            _ => Err(LevelError(s.to_owned())),
        }
    }
}

/// Where a severity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeveritySource {
    CvssV4,
    CvssV3,
    CvssV2,
    /// A rating word: `database_specific.severity`, `ecosystem_specific.severity`, or a
    /// `severity[]` entry of a non-CVSS type (`Ubuntu`).
    Rating,
    None,
}

/// The severity of one advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityInfo {
    pub level: Level,
    /// The CVSS base score, when a vector was scored.
    pub score: Option<f64>,
    /// The vector (or rating) that decided.
    pub vector: Option<String>,
    pub source: SeveritySource,
}

impl Severity {
    /// The advisory's severity. Precedence: the highest-scoring CVSS v4 vector, else v3.x,
    /// else v2 (top-level `severity[]` and every `affected[].severity[]`); else the highest
    /// rating word found in `database_specific.severity` (top level or per package),
    /// `ecosystem_specific.severity` or a non-CVSS `severity[]` entry; else `Unscored`.
    /// Vectors that do not parse are skipped.
    pub fn from_advisory(advisory: &Advisory) -> SeverityInfo {
        let entries: Vec<&Severity> = advisory
            .severity
            .iter()
            .chain(advisory.affected.iter().flat_map(|a| a.severity.iter()))
            .collect();

        for (kind, source) in [
            ("CVSS_V4", SeveritySource::CvssV4),
            ("CVSS_V3", SeveritySource::CvssV3),
            ("CVSS_V2", SeveritySource::CvssV2),
        ] {
            let best = entries
                .iter()
                .filter(|e| e.kind.eq_ignore_ascii_case(kind))
                .filter_map(|e| score_vector(source, &e.score).map(|s| (s, e.score.as_str())))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((score, vector)) = best {
                let level = if source == SeveritySource::CvssV2 {
                    v2_level(score)
                } else {
                    Level::from_score(score)
                };
                return SeverityInfo {
                    level,
                    score: Some(score),
                    vector: Some(vector.to_owned()),
                    source,
                };
            }
        }

        let ratings = entries
            .iter()
            .filter(|e| !e.kind.to_ascii_uppercase().starts_with("CVSS_"))
            .map(|e| e.score.as_str())
            .chain(rating_in(advisory.database_specific.as_ref()))
            .chain(advisory.affected.iter().flat_map(|a| {
                rating_in(a.database_specific.as_ref())
                    .chain(rating_in(a.ecosystem_specific.as_ref()))
            }));
        let best = ratings
            .filter_map(|r| Level::from_rating(r).map(|l| (l, r)))
            .max_by_key(|(l, _)| *l);
        match best {
            Some((level, rating)) => SeverityInfo {
                level,
                score: None,
                vector: Some(rating.to_owned()),
                source: SeveritySource::Rating,
            },
            None => SeverityInfo {
                level: Level::Unscored,
                score: None,
                vector: None,
                source: SeveritySource::None,
            },
        }
    }
}

impl Advisory {
    /// Shorthand for [`Severity::from_advisory`].
    pub fn severity_info(&self) -> SeverityInfo {
        Severity::from_advisory(self)
    }
}

/// `{"severity": "HIGH"}` inside a free-form object.
fn rating_in(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value
        .and_then(|v| v.get("severity"))
        .and_then(Value::as_str)
        .into_iter()
}

/// The base score of a vector (v4: the CVSS-B/BT/BE/BTE score of the metrics given).
fn score_vector(source: SeveritySource, vector: &str) -> Option<f64> {
    let vector = vector.trim();
    let score = match source {
        SeveritySource::CvssV4 => vector.parse::<cvss::v4::Vector>().ok()?.score().value(),
        SeveritySource::CvssV3 => vector
            .parse::<cvss::v3::Vector>()
            .ok()?
            .base_score()
            .value(),
        SeveritySource::CvssV2 => {
            let bare = vector.strip_prefix("CVSS:2.0/").unwrap_or(vector);
            bare.parse::<cvss::v2::Vector>().ok()?.score().value()
        }
        SeveritySource::Rating | SeveritySource::None => return None,
    };
    score.is_finite().then_some(score)
}

/// CVSS v2 has no "critical" band (NVD: 0-3.9 low, 4.0-6.9 medium, 7.0-10 high).
fn v2_level(score: f64) -> Level {
    match Level::from_score(score) {
        Level::Critical => Level::High,
        Level::None => Level::Low,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_json;
    use proptest::prelude::*;

    fn info(json: &str) -> SeverityInfo {
        Severity::from_advisory(&parse_json(json.as_bytes()).unwrap())
    }

    #[test]
    fn bands() {
        assert_eq!(Level::from_score(0.0), Level::None);
        assert_eq!(Level::from_score(0.1), Level::Low);
        assert_eq!(Level::from_score(3.9), Level::Low);
        assert_eq!(Level::from_score(4.0), Level::Medium);
        assert_eq!(Level::from_score(6.9), Level::Medium);
        assert_eq!(Level::from_score(7.0), Level::High);
        assert_eq!(Level::from_score(8.9), Level::High);
        assert_eq!(Level::from_score(9.0), Level::Critical);
        assert_eq!(Level::from_score(10.0), Level::Critical);
        assert_eq!(Level::from_score(f64::NAN), Level::Unscored);
    }

    #[test]
    fn level_parses_and_orders() {
        for (s, l) in [
            ("none", Level::None),
            ("Low", Level::Low),
            ("medium", Level::Medium),
            ("HIGH", Level::High),
            ("critical", Level::Critical),
            ("unscored", Level::Unscored),
        ] {
            assert_eq!(s.parse::<Level>().unwrap(), l);
            assert_eq!(l.to_string().parse::<Level>().unwrap(), l);
        }
        assert!("moderate".parse::<Level>().is_err());
        assert!(Level::Unscored < Level::None && Level::None < Level::Low);
        assert!(Level::High < Level::Critical);
        assert_eq!(serde_json::to_string(&Level::High).unwrap(), "\"high\"");
    }

    #[test]
    fn cvss_v3_v4_and_fallbacks() {
        let v31 = info(
            r#"{"id":"A","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N"}]}"#,
        );
        assert_eq!((v31.level, v31.score), (Level::High, Some(8.1)));
        assert_eq!(v31.source, SeveritySource::CvssV3);

        let v30 = info(
            r#"{"id":"A","severity":[{"type":"CVSS_V3","score":"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}"#,
        );
        assert_eq!((v30.level, v30.score), (Level::Critical, Some(9.8)));

        // v4 wins over v3 when both are present.
        let v4 = info(
            r#"{"id":"A","severity":[
                {"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
                {"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}"#,
        );
        assert_eq!(v4.source, SeveritySource::CvssV4);
        assert_eq!((v4.level, v4.score), (Level::Critical, Some(9.3)));

        let v4_low = info(
            r#"{"id":"A","affected":[{"severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"}]}]}"#,
        );
        assert_eq!(v4_low.level, Level::Low);

        let v2 = info(
            r#"{"id":"A","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:C/I:C/A:C"}]}"#,
        );
        assert_eq!((v2.level, v2.score), (Level::High, Some(10.0)));

        let ghsa = info(r#"{"id":"A","database_specific":{"severity":"MODERATE"}}"#);
        assert_eq!(ghsa.level, Level::Medium);
        assert_eq!(ghsa.source, SeveritySource::Rating);

        let eco = info(r#"{"id":"A","affected":[{"ecosystem_specific":{"severity":"HIGH"}}]}"#);
        assert_eq!(eco.level, Level::High);

        // A broken vector falls through to the rating.
        let broken = info(
            r#"{"id":"A","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:Q"}],"database_specific":{"severity":"LOW"}}"#,
        );
        assert_eq!(broken.level, Level::Low);

        let none = info(r#"{"id":"A","database_specific":{"severity":"whatever"}}"#);
        assert_eq!(none.level, Level::Unscored);
        assert_eq!(none.source, SeveritySource::None);
    }

    proptest! {
        #[test]
        fn scoring_never_panics(parts in prop::collection::vec(
            prop_oneof![
                Just("CVSS:3.1".to_owned()), Just("CVSS:4.0".to_owned()), Just("CVSS:3.0".to_owned()),
                "(AV|AC|PR|UI|S|C|I|A|AT|VC|VI|VA|SC|SI|SA|E|MAV|Au|RL|RC|CR|IR|AR|U|R):[NLHPAUCRXSDMF]",
                "[A-Z:/.0-9]{0,6}",
            ], 0..14),
            kind in prop_oneof![Just("CVSS_V2"), Just("CVSS_V3"), Just("CVSS_V4"), Just("Ubuntu")],
        ) {
            let vector = parts.join("/");
            let json = serde_json::json!({"id": "A", "severity": [{"type": kind, "score": vector}]});
            let adv = parse_json(json.to_string().as_bytes()).unwrap();
            let info = Severity::from_advisory(&adv);
            if let Some(score) = info.score {
                prop_assert!((0.0..=10.0).contains(&score));
            }
        }
    }
}
