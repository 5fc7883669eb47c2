//! Who may log in to the web interface besides holders of API tokens: single sign-on with an
//! OpenID Connect provider (`[auth.oidc]`), and how the groups it reports become roles.

use airlock_types::Role;
use serde::{Deserialize, Serialize};

/// `[auth]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcConfig>,
}

impl AuthConfig {
    pub fn is_empty(&self) -> bool {
        self.oidc.is_none()
    }
}

/// `[auth.oidc]`: the authorization code flow with PKCE against `issuer`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// The environment variable that holds the client secret (never the secret itself).
    pub client_secret_env: String,
    /// airlock's address as browsers reach it (`https://airlock.example.com`); the provider
    /// sends them back to `{public_url}/ui/login/oidc/callback`, which must be registered there.
    /// Without it, the address the browser used (its `Host`); set it behind a proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim (of the ID token, else of the user info) that lists the user's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The claim (of the ID token, else of the user info) that names the user in airlock (the
    /// audit log, requests).
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    /// The login button's label.
    #[serde(default = "default_label")]
    pub label: String,
    /// Groups and the role each gives; a user gets the strongest role of their groups, in the
    /// lanes of those mappings (every lane when one of them names none). A user in no mapped
    /// group is not let in.
    #[serde(default, rename = "role")]
    pub roles: Vec<GroupRole>,
}

/// `[[auth.oidc.role]]`: members of `group` get `role`, in `lanes` (every lane when empty).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupRole {
    pub group: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lanes: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    ["profile", "email"].map(str::to_string).to_vec()
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_name_claim() -> String {
    "preferred_username".into()
}

fn default_label() -> String {
    "Log in with single sign-on".into()
}

impl OidcConfig {
    /// The redirect URI to register with the provider; `seen` is airlock's address as the
    /// browser used it, for when `public_url` is not set.
    pub fn redirect_uri(&self, seen: &str) -> String {
        let base = self.public_url.as_deref().unwrap_or(seen);
        format!("{}/ui/login/oidc/callback", base.trim_end_matches('/'))
    }

    /// The role and lanes `groups` give: the strongest role of the mapped groups, and the lanes
    /// of those mappings (empty: every lane); `None` when no group is mapped.
    pub fn role_of(&self, groups: &[String]) -> Option<(Role, Vec<String>)> {
        let matching: Vec<&GroupRole> = self
            .roles
            .iter()
            .filter(|m| groups.contains(&m.group))
            .collect();
        let role = matching
            .iter()
            .map(|m| m.role)
            .max_by_key(|r| Role::ALL.iter().position(|x| x == r))?;
        let strongest: Vec<&&GroupRole> = matching.iter().filter(|m| m.role == role).collect();
        let lanes = if strongest.iter().any(|m| m.lanes.is_empty()) {
            Vec::new()
        } else {
            let mut lanes: Vec<String> = strongest.iter().flat_map(|m| m.lanes.clone()).collect();
            lanes.sort();
            lanes.dedup();
            lanes
        };
        Some((role, lanes))
    }

    /// What is wrong with this section, naming the key; `lane_exists` tells known lanes.
    pub(crate) fn problem(&self, lane_exists: impl Fn(&str) -> bool) -> Option<String> {
        let web = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if !web(&self.issuer) {
            return Some(format!(
                "auth.oidc.issuer {:?} must be an http(s) URL",
                self.issuer
            ));
        }
        if let Some(url) = &self.public_url
            && !web(url)
        {
            return Some(format!(
                "auth.oidc.public_url {url:?} must be an http(s) URL"
            ));
        }
        if self.client_id.is_empty() || self.client_secret_env.is_empty() {
            return Some("auth.oidc needs client_id and client_secret_env".into());
        }
        if self.roles.is_empty() {
            return Some(
                "auth.oidc needs at least one [[auth.oidc.role]] (group = ..., role = ...): without one nobody could log in".into(),
            );
        }
        for m in &self.roles {
            if let Some(lane) = m.lanes.iter().find(|l| !lane_exists(l)) {
                return Some(format!(
                    "auth.oidc.role for group {:?} names unknown lane {lane:?}",
                    m.group
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(roles: Vec<GroupRole>) -> OidcConfig {
        OidcConfig {
            issuer: "https://idp.example".into(),
            client_id: "airlock".into(),
            client_secret_env: "SECRET".into(),
            public_url: Some("https://airlock.example/".into()),
            scopes: default_scopes(),
            groups_claim: default_groups_claim(),
            name_claim: default_name_claim(),
            label: default_label(),
            roles,
        }
    }

    fn map(group: &str, role: Role, lanes: &[&str]) -> GroupRole {
        GroupRole {
            group: group.into(),
            role,
            lanes: lanes.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn the_strongest_mapped_role_wins_with_the_lanes_of_its_mappings() {
        let c = oidc(vec![
            map("ds", Role::Reader, &[]),
            map("it", Role::Approver, &["prod"]),
            map("it-test", Role::Approver, &["test"]),
        ]);
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(c.role_of(&groups(&["ds"])), Some((Role::Reader, vec![])));
        assert_eq!(
            c.role_of(&groups(&["ds", "it", "it-test"])),
            Some((Role::Approver, vec!["prod".into(), "test".into()]))
        );
        assert_eq!(c.role_of(&groups(&["unknown"])), None);
        assert_eq!(c.role_of(&[]), None);
        assert_eq!(
            c.redirect_uri("http://seen"),
            "https://airlock.example/ui/login/oidc/callback"
        );
        let mut c = c;
        c.public_url = None;
        assert_eq!(
            c.redirect_uri("http://seen:8080"),
            "http://seen:8080/ui/login/oidc/callback"
        );
    }

    #[test]
    fn a_section_that_would_let_nobody_in_or_names_unknown_lanes_is_refused() {
        assert!(
            oidc(vec![])
                .problem(|_| true)
                .unwrap()
                .contains("at least one")
        );
        let c = oidc(vec![map("it", Role::Approver, &["nope"])]);
        assert!(
            c.problem(|l| l == "prod")
                .unwrap()
                .contains("unknown lane \"nope\"")
        );
        let mut c = oidc(vec![map("it", Role::Admin, &[])]);
        c.issuer = "idp.example".into();
        assert!(c.problem(|_| true).unwrap().contains("issuer"));
    }
}
