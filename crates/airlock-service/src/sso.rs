//! Single sign-on with an OpenID Connect provider (`[auth.oidc]`): the authorization code flow
//! with PKCE (RFC 7636, S256), a nonce and a state. `begin` gives the provider's URL to send the
//! browser to and what the browser must bring back (kept in a short-lived cookie by the server);
//! `finish` trades the code for tokens at the token endpoint (the client authenticated with HTTP
//! Basic, or in the form when the provider takes only that), checks the ID token ([`id_token`]:
//! signature from the provider's keys, issuer, audience, expiry, nonce), reads the user info
//! (whose subject must be the token's), maps the user's groups to a role and opens a session acting
//! as that user. The provider's discovery document and keys are read through `airlock-upstream`'s
//! [`IdentityClient`] and kept for [`METADATA_TTL`]; a token signed with a key not yet seen makes
//! the keys be read again (the provider rotated them).

mod id_token;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_config::OidcConfig;
use airlock_upstream::IdentityClient;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::core::Core;
use crate::error::ServiceError;
use crate::principal::Principal;
use crate::sessions::{Session, Sessions};
use futures::future::BoxFuture;

/// How long a provider's discovery document and keys are kept before they are read again.
const METADATA_TTL: Duration = Duration::from_secs(15 * 60);

/// What the browser brings back from the provider, kept by the server in a short-lived cookie.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where to go once logged in (a local path).
    pub next: String,
}

/// The members of the discovery document (OpenID Connect Discovery 1.0, §3) that the flow uses.
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// A provider as last read: its metadata and keys.
struct Provider {
    issuer: String,
    read_at: Instant,
    metadata: Metadata,
    keys: id_token::KeySet,
}

/// The token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Deserialize)]
struct Tokens {
    access_token: String,
    token_type: String,
    #[serde(default)]
    id_token: Option<String>,
}

/// Single sign-on, when configured.
pub struct SingleSignOn {
    core: Arc<Core>,
    sessions: Arc<Sessions>,
    http: IdentityClient,
    provider: Mutex<Option<Arc<Provider>>>,
}

fn refused(why: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unauthorized(format!("single sign-on failed: {why}"))
}

fn provider_error(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Upstream {
        timeout: false,
        message: format!("the identity provider {what}: {e}"),
    }
}

/// 32 random bytes, base64url: a state, a nonce or a PKCE verifier (43 characters, RFC 7636 §4.1).
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn form_encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The message of an OAuth error answer (RFC 6749 §5.2), else the answer's status.
fn error_of(status: http::StatusCode, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) => match e.error_description {
            Some(d) => format!("{}: {d}", e.error),
            None => e.error,
        },
        Err(_) => format!("HTTP {status}"),
    }
}

impl SingleSignOn {
    pub(crate) fn new(
        core: Arc<Core>,
        sessions: Arc<Sessions>,
    ) -> Result<SingleSignOn, ServiceError> {
        Ok(SingleSignOn {
            core,
            sessions,
            http: IdentityClient::new()
                .map_err(|e| ServiceError::internal("cannot build the identity client", e))?,
            provider: Mutex::new(None),
        })
    }

    /// Sends `request`; the answer's status and body, an error for a failed exchange.
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<(http::StatusCode, Vec<u8>), airlock_upstream::UpstreamError> {
        let answer = self.http.send(request).await?;
        Ok((answer.status(), answer.into_body()))
    }

    /// A JSON document the provider serves at `url`, asked for with `bearer` when given.
    async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        bearer: Option<&str>,
        what: &str,
    ) -> Result<T, ServiceError> {
        let mut request = http::Request::get(url).header(http::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Vec::new())
            .map_err(|e| provider_error(&format!("{what} has no usable address"), e))?;
        let (status, body) = self
            .send(request)
            .await
            .map_err(|e| provider_error(&format!("{what} could not be read"), e))?;
        if !status.is_success() {
            return Err(provider_error(
                &format!("{what} could not be read"),
                error_of(status, &body),
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| provider_error(&format!("{what} is not valid"), e))
    }

    /// The provider's discovery document and keys, read again after [`METADATA_TTL`] or when
    /// `stale` (a token named a key they lack).
    async fn provider(
        &self,
        c: &OidcConfig,
        stale: Option<&Arc<Provider>>,
    ) -> Result<Arc<Provider>, ServiceError> {
        if let Ok(kept) = self.provider.lock()
            && let Some(p) = kept.as_ref()
            && p.issuer == c.issuer
            && p.read_at.elapsed() < METADATA_TTL
            && !stale.is_some_and(|s| Arc::ptr_eq(s, p))
        {
            return Ok(p.clone());
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            c.issuer.trim_end_matches('/')
        );
        let metadata: Metadata = self
            .get_json(&discovery, None, "discovery document")
            .await?;
        if metadata.issuer != c.issuer {
            return Err(provider_error(
                "discovery document is not valid",
                format!(
                    "it names the issuer {:?}, not {:?}",
                    metadata.issuer, c.issuer
                ),
            ));
        }
        let keys = self
            .get_json(&metadata.jwks_uri, None, "key set (jwks_uri)")
            .await?;
        let provider = Arc::new(Provider {
            issuer: c.issuer.clone(),
            read_at: Instant::now(),
            metadata,
            keys,
        });
        if let Ok(mut kept) = self.provider.lock() {
            *kept = Some(provider.clone());
        }
        Ok(provider)
    }

    /// The configuration, if single sign-on is on.
    fn config(&self) -> Option<OidcConfig> {
        self.core.config().auth.oidc.clone()
    }

    /// The login button's label, when single sign-on is on.
    pub fn label(&self) -> Option<String> {
        self.config().map(|c| c.label)
    }

    fn configured(&self) -> Result<OidcConfig, ServiceError> {
        self.config()
            .ok_or_else(|| ServiceError::NotFound("single sign-on is not configured".into()))
    }

    fn secret(c: &OidcConfig) -> Result<String, ServiceError> {
        std::env::var(&c.client_secret_env).map_err(|_| {
            ServiceError::internal(
                format!(
                    "single sign-on: environment variable {} (auth.oidc.client_secret_env) is not set",
                    c.client_secret_env
                ),
                std::fmt::Error,
            )
        })
    }

    /// Where to send the browser, and what it must bring back; `seen` is airlock's address as
    /// the browser uses it (for the redirect URI when `public_url` is not set).
    pub fn begin<'a>(
        &'a self,
        seen: &'a str,
        next: &'a str,
    ) -> BoxFuture<'a, Result<(String, Pending), ServiceError>> {
        Box::pin(async move {
            let c = self.configured()?;
            let provider = self.provider(&c, None).await?;
            let pending = Pending {
                state: random_secret(),
                nonce: random_secret(),
                verifier: random_secret(),
                next: next.to_string(),
            };
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
            let mut scopes = vec!["openid"];
            for scope in &c.scopes {
                if !scopes.contains(&scope.as_str()) {
                    scopes.push(scope);
                }
            }
            let mut url = url::Url::parse(&provider.metadata.authorization_endpoint)
                .map_err(|e| provider_error("authorization endpoint is not a URL", e))?;
            url.query_pairs_mut()
                .append_pair("response_type", "code")
                .append_pair("client_id", &c.client_id)
                .append_pair("redirect_uri", &c.redirect_uri(seen))
                .append_pair("scope", &scopes.join(" "))
                .append_pair("state", &pending.state)
                .append_pair("nonce", &pending.nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            Ok((url.into(), pending))
        })
    }

    /// Trades `code` at the token endpoint (RFC 6749 §4.1.3, with the PKCE verifier).
    async fn exchange(
        &self,
        c: &OidcConfig,
        metadata: &Metadata,
        seen: &str,
        pending: &Pending,
        code: &str,
    ) -> Result<Tokens, ServiceError> {
        let endpoint = metadata
            .token_endpoint
            .as_deref()
            .ok_or_else(|| provider_error("has no token endpoint", "see its discovery document"))?;
        let secret = Self::secret(c)?;
        // HTTP Basic unless the provider takes the secret only in the form (RFC 6749 §2.3.1).
        let in_form = metadata
            .token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|m| {
                !m.iter().any(|m| m == "client_secret_basic")
                    && m.iter().any(|m| m == "client_secret_post")
            });
        let request = token_request(
            endpoint,
            &c.client_id,
            &secret,
            in_form,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &c.redirect_uri(seen)),
                ("code_verifier", &pending.verifier),
            ],
        )?;
        let (status, body) = self
            .send(request)
            .await
            .map_err(|e| provider_error("token endpoint could not be reached", e))?;
        if !status.is_success() {
            return Err(refused(format!(
                "the code was not accepted ({})",
                error_of(status, &body)
            )));
        }
        let tokens: Tokens = serde_json::from_slice(&body)
            .map_err(|e| provider_error("token endpoint answered no tokens", e))?;
        if !tokens.token_type.eq_ignore_ascii_case("bearer") {
            return Err(provider_error(
                "token endpoint answered an unknown token type",
                &tokens.token_type,
            ));
        }
        Ok(tokens)
    }

    /// The ID token's claims, once it holds; the keys are read again once when it names a key
    /// they lack.
    async fn id_claims(
        &self,
        c: &OidcConfig,
        mut provider: Arc<Provider>,
        token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, ServiceError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let expected = id_token::Expected {
            issuer: &c.issuer,
            client_id: &c.client_id,
            nonce,
            now,
        };
        let mut reread = false;
        loop {
            match id_token::verify(token, &provider.keys, &expected) {
                Ok(claims) => return Ok(claims),
                Err(id_token::Invalid::UnknownKey(_)) if !reread => {
                    reread = true;
                    provider = self.provider(c, Some(&provider)).await?;
                }
                Err(e) => return Err(refused(format!("the ID token is not valid ({e})"))),
            }
        }
    }

    /// The user info (OpenID Connect Core §5.3), whose subject must be the ID token's.
    async fn user_info(
        &self,
        endpoint: &str,
        access_token: &str,
        subject: &str,
    ) -> Result<Map<String, Value>, ServiceError> {
        let info: Map<String, Value> = self
            .get_json(endpoint, Some(access_token), "user info")
            .await?;
        if info.get("sub").and_then(Value::as_str) != Some(subject) {
            return Err(refused(
                "the user info is about another subject than the ID token",
            ));
        }
        Ok(info)
    }

    /// Completes a login the provider sent back with `state` and `code`: a session acting as the
    /// user, with the role their groups give.
    pub fn finish<'a>(
        &'a self,
        seen: &'a str,
        pending: &'a Pending,
        state: &'a str,
        code: &'a str,
    ) -> BoxFuture<'a, Result<(String, Session), ServiceError>> {
        Box::pin(async move {
            let c = self.configured()?;
            if pending.state.is_empty() || !constant_time_eq(&pending.state, state) {
                return Err(refused("the answer does not belong to this login (state)"));
            }
            let provider = self.provider(&c, None).await?;
            let tokens = self
                .exchange(&c, &provider.metadata, seen, pending, code)
                .await?;
            let id_token = tokens
                .id_token
                .as_deref()
                .ok_or_else(|| refused("the provider sent no ID token"))?;
            let userinfo = provider.metadata.userinfo_endpoint.clone();
            let claims = self
                .id_claims(&c, provider, id_token, &pending.nonce)
                .await?;
            let subject = claims
                .get("sub")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let info = match userinfo {
                Some(endpoint) => {
                    self.user_info(&endpoint, &tokens.access_token, &subject)
                        .await?
                }
                None => Map::new(),
            };
            // A claim of the ID token, else of the user info.
            let claim = |name: &str| claims.get(name).or_else(|| info.get(name));
            let name = match c.name_claim.as_str() {
                "sub" => Some(subject.clone()),
                other => claim(other).and_then(Value::as_str).map(str::to_string),
            }
            .filter(|n| !n.is_empty() && n.len() <= 100 && !n.chars().any(char::is_control))
            .ok_or_else(|| {
                refused(format!(
                    "the provider did not say the user's {}",
                    c.name_claim
                ))
            })?;
            let groups: Vec<String> = match claim(&c.groups_claim) {
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(|g| g.as_str().map(str::to_string))
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            };
            let Some((role, lanes)) = c.role_of(&groups) else {
                return Err(ServiceError::Forbidden(format!(
                    "{name} is in no group that airlock gives a role to (groups: {})",
                    if groups.is_empty() {
                        "none".to_string()
                    } else {
                        groups.join(", ")
                    }
                )));
            };
            let details = serde_json::json!({
                "with": "oidc", "issuer": c.issuer, "subject": subject, "groups": groups,
                "role": role.as_str(), "lanes": lanes,
            });
            self.sessions
                .open(Principal { name, role, lanes }, None, details)
                .await
        })
    }
}

/// A POST to the token endpoint: `fields`, and the client's credentials in the form or as HTTP Basic
/// (each part form-encoded first, RFC 6749 §2.3.1).
fn token_request(
    endpoint: &str,
    client_id: &str,
    secret: &str,
    in_form: bool,
    fields: &[(&str, &str)],
) -> Result<http::Request<Vec<u8>>, ServiceError> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(fields);
    let mut request = http::Request::post(endpoint)
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    if in_form {
        form.append_pair("client_id", client_id)
            .append_pair("client_secret", secret);
    } else {
        let basic = format!("{}:{}", form_encoded(client_id), form_encoded(secret));
        request = request.header(
            http::header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(basic)),
        );
    }
    request
        .body(form.finish().into_bytes())
        .map_err(|e| provider_error("token endpoint is not a URL", e))
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
