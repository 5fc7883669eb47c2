//! Configuration as code: the part of the configuration `airlock apply` manages (sources, lanes
//! and global blocks), its TOML, and the difference between two versions of it.

use crate::{Config, ConfigError};

/// The top-level keys `airlock apply` manages. The others (data directory, listen address,
/// database, limits) belong to each server's own file.
pub const MANAGED_KEYS: [&str; 3] = ["source", "lane", "block"];

fn table_of(config: &Config) -> Result<toml::Table, ConfigError> {
    toml::Table::try_from(config).map_err(|e| ConfigError::Invalid(format!("cannot render: {e}")))
}

impl Config {
    /// The managed part as TOML: what `airlock export` prints and `airlock apply` takes.
    pub fn managed_toml(&self) -> Result<String, ConfigError> {
        let mut table = table_of(self)?;
        table.retain(|k, _| MANAGED_KEYS.contains(&k));
        toml::to_string(&table).map_err(|e| ConfigError::Invalid(format!("cannot render: {e}")))
    }

    /// This configuration with its managed part replaced by `text` (validated as a whole).
    pub fn with_managed(&self, text: &str, origin: &str) -> Result<Config, ConfigError> {
        let managed = crate::parse(text, origin)?;
        if let Some(other) = managed.keys().find(|k| !MANAGED_KEYS.contains(&k.as_str())) {
            return Err(ConfigError::Invalid(format!(
                "{origin}: `{other}` is not managed by apply (only [[source]], [[lane]] and block are); it belongs in each server's configuration file"
            )));
        }
        let mut table = table_of(self)?;
        table.retain(|k, _| !MANAGED_KEYS.contains(&k));
        // A key the text leaves out is the built-in default, as in a configuration file: a file
        // of `[[lane]]` tables alone keeps the built-in hosted sources.
        let defaults = crate::parse(crate::DEFAULTS, "built-in defaults")?;
        for key in MANAGED_KEYS {
            if !managed.contains_key(key)
                && let Some(value) = defaults.get(key)
            {
                table.insert(key.to_string(), value.clone());
            }
        }
        table.extend(managed);
        let config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|source| ConfigError::Parse {
                    origin: origin.to_string(),
                    source,
                })?;
        config.validate()?;
        Ok(config)
    }
}

impl crate::Loaded {
    /// What is in force once `airlock apply` stored `version`: `applied`'s managed part (sources,
    /// lanes, blocks) in place of the file's, each marked as coming from that version.
    pub fn with_applied(mut self, applied: &Config, version: i64) -> crate::Loaded {
        self.config.sources = applied.sources.clone();
        self.config.lanes = applied.lanes.clone();
        self.config.block = applied.block.clone();
        for key in MANAGED_KEYS {
            self.origins
                .insert(key.to_string(), crate::Origin::Applied(version));
        }
        self
    }
}

/// The changes from `old` to `new` (managed parts), one line each, `+` added, `-` removed,
/// `~` changed: sources and lanes by name, their settings, and rule lists element by element.
pub fn managed_diff(old: &Config, new: &Config) -> Result<Vec<String>, ConfigError> {
    let (old, new) = (table_of(old)?, table_of(new)?);
    let mut out = Vec::new();
    for (key, what) in [("source", "source"), ("lane", "lane")] {
        let named = |t: &toml::Table| -> Vec<(String, toml::Table)> {
            t.get(key)
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_table())
                .map(|t| {
                    let name = t
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                        .to_string();
                    (name, t.clone())
                })
                .collect()
        };
        let (before, after) = (named(&old), named(&new));
        for (name, table) in &after {
            match before.iter().find(|(n, _)| n == name) {
                None => out.push(format!("+ {what} {name}: {}", inline(table))),
                Some((_, was)) => diff_table(&format!("{what} {name}"), was, table, &mut out),
            }
        }
        for (name, _) in &before {
            if !after.iter().any(|(n, _)| n == name) {
                out.push(format!("- {what} {name}"));
            }
        }
    }
    let block = |t: &toml::Table| {
        t.get("block")
            .cloned()
            .unwrap_or(toml::Value::Array(vec![]))
    };
    diff_value("block (every lane)", &block(&old), &block(&new), &mut out);
    Ok(out)
}

fn diff_table(path: &str, old: &toml::Table, new: &toml::Table, out: &mut Vec<String>) {
    let empty = toml::Value::Array(Vec::new());
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        match (old.get(key), new.get(key)) {
            (Some(a), Some(b)) => diff_value(&format!("{path}: {key}"), a, b, out),
            (None, Some(toml::Value::Array(b))) => diff_value(
                &format!("{path}: {key}"),
                &empty,
                &toml::Value::Array(b.clone()),
                out,
            ),
            (Some(toml::Value::Array(a)), None) => diff_value(
                &format!("{path}: {key}"),
                &toml::Value::Array(a.clone()),
                &empty,
                out,
            ),
            (None, Some(b)) => out.push(format!("~ {path}: {key} = {}", show(b))),
            (Some(a), None) => out.push(format!("~ {path}: {key} removed (was {})", show(a))),
            (None, None) => {}
        }
    }
}

fn diff_value(path: &str, old: &toml::Value, new: &toml::Value, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    match (old, new) {
        (toml::Value::Array(a), toml::Value::Array(b)) => {
            for item in b.iter().filter(|x| !a.contains(x)) {
                out.push(format!("~ {path} + {}", show(item)));
            }
            for item in a.iter().filter(|x| !b.contains(x)) {
                out.push(format!("~ {path} - {}", show(item)));
            }
        }
        _ => out.push(format!("~ {path} = {} (was {})", show(new), show(old))),
    }
}

fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Table(t) => inline(t),
        other => other.to_string(),
    }
}

fn inline(t: &toml::Table) -> String {
    let parts: Vec<String> = t
        .iter()
        .map(|(k, v)| format!("{k} = {}", show(v)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Flags, load};

    fn base() -> Config {
        load(None, Vec::new(), &Flags::default()).unwrap().config
    }

    #[test]
    fn export_applies_unchanged() {
        let config = base();
        let text = config.managed_toml().unwrap();
        let again = config.with_managed(&text, "export").unwrap();
        assert_eq!(again, config);
        assert_eq!(managed_diff(&config, &again).unwrap(), Vec::<String>::new());
        assert_eq!(again.managed_toml().unwrap(), text);
    }

    #[test]
    fn keys_left_out_are_the_built_in_defaults() {
        let lanes_only =
            "[[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"internal-pypi\"]\n";
        let applied = base().with_managed(lanes_only, "lanes.toml").unwrap();
        let sources: Vec<&str> = applied.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(sources, ["internal-pypi", "internal-cran"]);
        let lanes: Vec<&str> = applied.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(lanes, ["dev"]);
    }

    #[test]
    fn diff_names_what_changes() {
        let config = base();
        let text = config.managed_toml().unwrap()
            + "\n[[lane]]\nname = \"staging\"\nmode = \"allowlist\"\nsources = [\"internal-pypi\"]\nallow = [\"pypi:numpy\"]\n";
        let prod = "allow = []\nblock = []\nhidden = \"yank\"\nmode = \"allowlist\"";
        assert!(text.contains(prod), "{text}");
        let text = text.replacen(
            prod,
            &prod.replace("allow = []", "allow = [\"pypi:requests\"]"),
            1,
        );
        let new = config.with_managed(&text, "test").unwrap();
        let diff = managed_diff(&config, &new).unwrap();
        assert!(
            diff.iter().any(|l| l.starts_with("+ lane staging")),
            "{diff:?}"
        );
        assert!(
            diff.contains(&"~ lane prod: allow + \"pypi:requests\"".to_string()),
            "{diff:?}"
        );
        let back = managed_diff(&new, &config).unwrap();
        assert!(back.contains(&"- lane staging".to_string()), "{back:?}");
    }

    #[test]
    fn apply_refuses_unmanaged_keys_and_bad_lanes() {
        let config = base();
        let err = config
            .with_managed("listen = \"0.0.0.0:1\"\n", "f")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not managed"), "{err}");
        let text =
            config.managed_toml().unwrap() + "\n[[lane]]\nname = \"x\"\nsources = [\"nowhere\"]\n";
        let err = config.with_managed(&text, "f").unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(_)), "{err}");
        assert!(err.to_string().contains("nowhere"), "{err}");
    }
}
