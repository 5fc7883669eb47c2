//! Single sign-on with an OpenID Connect provider (`[auth.oidc]`): the authorization code flow
//! with PKCE, a nonce and a state. `begin` gives the provider's URL to send the browser to and
//! what the browser must bring back (kept in a short-lived cookie by the server); `finish` trades
//! the code for tokens, checks the ID token (signature from the provider's keys, issuer,
//! audience, expiry, nonce), reads the user's name and groups, maps the groups to a role and opens
//! a session acting as that user. The protocol is the `openidconnect` crate's; the network is
//! `airlock-upstream`'s [`IdentityClient`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_config::OidcConfig;
use airlock_upstream::IdentityClient;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

use crate::core::Core;
use crate::error::ServiceError;
use crate::principal::Principal;
use crate::sessions::{Session, Sessions};

/// How long a provider's discovery document is kept before it is read again.
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

/// Claims besides the standard ones (the groups), from the user info endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims(HashMap<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

/// Single sign-on, when configured.
pub struct SingleSignOn {
    core: Arc<Core>,
    sessions: Arc<Sessions>,
    http: IdentityClient,
    metadata: Mutex<Option<(String, Instant, CoreProviderMetadata)>>,
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
            metadata: Mutex::new(None),
        })
    }

    /// The provider calls as the `openidconnect` crate makes them; each future owns its client.
    fn http_client(
        &self,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<openidconnect::HttpResponse, airlock_upstream::UpstreamError>,
                > + Send,
        >,
    > + use<> {
        let client = self.http.clone();
        move |request| {
            let client = client.clone();
            Box::pin(async move { client.send(request).await })
        }
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

    /// The provider's discovery document, read again after [`METADATA_TTL`].
    async fn metadata(&self, c: &OidcConfig) -> Result<CoreProviderMetadata, ServiceError> {
        if let Ok(kept) = self.metadata.lock()
            && let Some((issuer, at, m)) = kept.as_ref()
            && *issuer == c.issuer
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(c.issuer.clone())
            .map_err(|e| ServiceError::internal("auth.oidc.issuer is not a URL", e))?;
        let http = self.http_client();
        let m = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| provider_error("discovery document could not be read", e))?;
        if let Ok(mut kept) = self.metadata.lock() {
            *kept = Some((c.issuer.clone(), Instant::now(), m.clone()));
        }
        Ok(m)
    }

    async fn client(
        &self,
        c: &OidcConfig,
        seen: &str,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        ServiceError,
    > {
        let secret = std::env::var(&c.client_secret_env).map_err(|_| {
            ServiceError::internal(
                format!(
                    "single sign-on: environment variable {} (auth.oidc.client_secret_env) is not set",
                    c.client_secret_env
                ),
                std::fmt::Error,
            )
        })?;
        let redirect = RedirectUrl::new(c.redirect_uri(seen))
            .map_err(|e| ServiceError::internal("auth.oidc.public_url is not a URL", e))?;
        Ok(CoreClient::from_provider_metadata(
            self.metadata(c).await?,
            ClientId::new(c.client_id.clone()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser, and what it must bring back; `seen` is airlock's address as
    /// the browser uses it (for the redirect URI when `public_url` is not set).
    pub async fn begin(&self, seen: &str, next: &str) -> Result<(String, Pending), ServiceError> {
        let c = self.configured()?;
        let client = self.client(&c, seen).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &c.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok((
            url.to_string(),
            Pending {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                next: next.to_string(),
            },
        ))
    }

    /// Completes a login the provider sent back with `state` and `code`: a session acting as the
    /// user, with the role their groups give.
    pub async fn finish(
        &self,
        seen: &str,
        pending: &Pending,
        state: &str,
        code: &str,
    ) -> Result<(String, Session), ServiceError> {
        let c = self.configured()?;
        if pending.state.is_empty() || !constant_time_eq(&pending.state, state) {
            return Err(refused("the answer does not belong to this login (state)"));
        }
        let client = self.client(&c, seen).await?;
        let http = self.http_client();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| provider_error("has no token endpoint", e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| refused(format!("the code was not accepted ({e})")))?;
        let id_token = tokens
            .extra_fields()
            .id_token()
            .ok_or_else(|| refused("the provider sent no ID token"))?;
        let claims = id_token
            .claims(
                &client.id_token_verifier(),
                &Nonce::new(pending.nonce.clone()),
            )
            .map_err(|e| refused(format!("the ID token is not valid ({e})")))?;
        let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = client
            .user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
            .map_err(|e| provider_error("has no user info endpoint", e))?
            .request_async(&http)
            .await
            .map_err(|e| provider_error("user info could not be read", e))?;
        let subject = claims.subject().as_str().to_string();
        let name = match c.name_claim.as_str() {
            "sub" => Some(subject.clone()),
            "preferred_username" => info
                .preferred_username()
                .or(claims.preferred_username())
                .map(|u| u.as_str().to_string()),
            "email" => info
                .email()
                .or(claims.email())
                .map(|e| e.as_str().to_string()),
            other => info
                .additional_claims()
                .0
                .get(other)
                .and_then(|v| v.as_str().map(str::to_string)),
        }
        .filter(|n| !n.is_empty() && n.len() <= 100 && !n.chars().any(char::is_control))
        .ok_or_else(|| {
            refused(format!(
                "the provider did not say the user's {}",
                c.name_claim
            ))
        })?;
        let groups: Vec<String> = match info.additional_claims().0.get(&c.groups_claim) {
            Some(serde_json::Value::Array(list)) => list
                .iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect(),
            Some(serde_json::Value::String(one)) => vec![one.clone()],
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
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
