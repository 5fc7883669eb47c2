//! What is kept of a file's own metadata with its row (the `metadata_json` column): read by
//! policy (licences), requests (declared dependencies) and the CRAN views (PACKAGES fields).

use std::collections::BTreeMap;

/// The metadata of one stored file, as the column's JSON object. Every field is optional, so
/// rows written by any version read back: `{}` (proxied files not fetched yet), the keys hosted
/// Python uploads wrote (with `null`s), the keys R uploads and CRAN proxies wrote. Absent fields
/// are left out when written, so an empty value is stored as `{}`, as before.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ArtifactMetadata {
    /// Python core metadata: `Metadata-Version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_version: Option<String>,
    /// Python core metadata: `Summary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Python core metadata: `Requires-Dist`, as written.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub requires_dist: Vec<String>,
    /// Python core metadata: `License`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Python core metadata: `License-Expression`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_expression: Option<String>,
    /// Python core metadata: `Classifier`s.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub classifiers: Vec<String>,
    /// R: the package's PACKAGES fields (`Package`, `Version`, `Depends`, `License`, ...).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub packages: BTreeMap<String, String>,
    /// R: the DESCRIPTION `Title` of an uploaded package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// R: the MD5 a CRAN upstream's PACKAGES declared for the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
}

/// `null` reads as the empty value (hosted uploads wrote `"requires_dist": null` never, but a
/// hand-edited or foreign row may).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl ArtifactMetadata {
    /// Nothing known (a proxied file whose bytes were not read).
    pub fn is_empty(&self) -> bool {
        *self == ArtifactMetadata::default()
    }

    /// The column's text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// The column's text read back; `None` when it is not such an object.
    pub fn from_json(text: &str) -> Option<ArtifactMetadata> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_as_written_so_far_read_back() {
        // A proxied file not fetched yet.
        assert_eq!(
            ArtifactMetadata::from_json("{}"),
            Some(ArtifactMetadata::default())
        );
        // A hosted Python upload.
        let python = ArtifactMetadata::from_json(
            r#"{"metadata_version":"2.1","summary":null,"requires_dist":["idna>=2.5; python_version >= \"3\""],
                "license":"MIT","license_expression":null,"classifiers":["License :: OSI Approved :: MIT License"]}"#,
        )
        .unwrap();
        assert_eq!(python.metadata_version.as_deref(), Some("2.1"));
        assert_eq!(python.summary, None);
        assert_eq!(python.requires_dist.len(), 1);
        assert_eq!(python.license.as_deref(), Some("MIT"));
        assert_eq!(python.classifiers.len(), 1);
        // An R upload and a CRAN proxy listing.
        let r = ArtifactMetadata::from_json(
            r#"{"packages":{"Package":"dep","Version":"1.0","License":"GPL-2"},"title":null}"#,
        )
        .unwrap();
        assert_eq!(r.packages.get("License").map(String::as_str), Some("GPL-2"));
        let listed = ArtifactMetadata::from_json(
            r#"{"packages":{"Package":"dep","Version":"1.0"},"md5":"ABC"}"#,
        )
        .unwrap();
        assert_eq!(listed.md5.as_deref(), Some("ABC"));
        // Keys this version does not know are ignored; a non-object is not metadata.
        assert!(
            ArtifactMetadata::from_json(r#"{"future":1}"#)
                .unwrap()
                .is_empty()
        );
        assert_eq!(ArtifactMetadata::from_json("not json"), None);
        assert_eq!(ArtifactMetadata::from_json("42"), None);
    }

    #[test]
    fn empty_metadata_is_written_as_before_and_values_round_trip() {
        assert_eq!(ArtifactMetadata::default().to_json(), "{}");
        let m = ArtifactMetadata {
            requires_dist: vec!["a".into()],
            packages: BTreeMap::from([("Package".into(), "x".into())]),
            md5: Some("00".into()),
            ..ArtifactMetadata::default()
        };
        assert_eq!(ArtifactMetadata::from_json(&m.to_json()), Some(m));
    }
}
