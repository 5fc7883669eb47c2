// An OpenID provider for airlock's single sign-on tests: the certified `oidc-provider` package
// from npm (installed by scripts/test), run with node.
// Usage: node oidc_provider.mjs PORT REDIRECT_URI CLIENT_SECRET
// Any login name is accepted with any password (the provider's development login form); a user's
// groups come from GROUPS below. Prints "issuer <url>" once it listens.
import Provider from "oidc-provider";

const [port, redirect, secret] = process.argv.slice(2);
const GROUPS = { alice: ["it-approvers", "staff"], dana: ["data-science"], mallory: ["nobody"] };

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: "airlock",
    client_secret: secret,
    redirect_uris: [redirect],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  claims: { openid: ["sub"], profile: ["preferred_username", "name"], groups: ["groups"] },
  scopes: ["openid", "profile", "groups"],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, preferred_username: id, name: id, groups: GROUPS[id] ?? [] }),
  }),
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => console.log(`issuer ${issuer}`));
