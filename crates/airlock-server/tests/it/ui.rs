//! The web interface, in process: what a page shows, that what users wrote renders inert, the
//! login and logout with their forgery guards, private lanes hidden from who may not read them.
//! (The browser walks through the same pages in `airlock-cli`'s end-to-end tests.)

use airlock_service::Role;
use axum::http::{StatusCode, header};

use crate::support::{TestApp, dists};

/// The cookie pair (`name=value`) of a response's `Set-Cookie` for `name`, and its attributes.
fn set_cookie(answer: &crate::support::Answer, name: &str) -> Option<(String, String)> {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            (pair.to_string(), attributes.to_string())
        })
}

fn hidden(html: &str, field: &str) -> String {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {field} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Logs in with `token` through the form; returns the session cookie pair.
async fn log_in(app: &TestApp, token: &str) -> String {
    let form = app.get("/ui/login?next=/ui/setup").send().await.ok();
    let (nonce_cookie, _) = set_cookie(&form, "airlock_login").expect("a login nonce cookie");
    let nonce = hidden(&form.text(), "nonce");
    let body = format!("token={token}&nonce={nonce}&next=%2Fui%2Fsetup");
    let answer = post_form(app, "/ui/login", &nonce_cookie, body).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{answer:?}");
    assert_eq!(answer.headers[header::LOCATION], "/ui/setup");
    let (session, attributes) = set_cookie(&answer, "airlock_session").expect("a session cookie");
    assert!(attributes.contains("HttpOnly"), "{attributes}");
    assert!(attributes.contains("SameSite=Lax"), "{attributes}");
    session
}

/// A form POSTed by the session whose cookie pair is `session`.
async fn post_form(
    app: &TestApp,
    path: &str,
    session: &str,
    body: impl Into<String>,
) -> crate::support::Answer {
    app.post(path)
        .header("cookie", session)
        .body("application/x-www-form-urlencoded", body.into())
        .send()
        .await
}

/// The default app with these distributions published.
async fn app_with(published: &[crate::support::Dist]) -> TestApp {
    let app = TestApp::start().await;
    let publisher = app.token("ci", Role::Publisher, &[]).await;
    for dist in published {
        app.publish(&publisher, dist.source, dist).await;
    }
    app
}

/// The page at `path` as the session with cookie `session` sees it (a 200).
async fn page_as(app: &TestApp, path: &str, session: &str) -> String {
    app.get(path)
        .header("cookie", session)
        .send()
        .await
        .ok()
        .text()
}

#[tokio::test]
async fn search_finds_packages_by_prefix_and_typo_with_what_each_lane_offers() {
    let app = TestApp::start().await;
    let publisher = app.token("ci", Role::Publisher, &[]).await;
    for dist in [
        dists::wheel("requests", "2.31.0", &[]),
        dists::wheel("requests", "2.32.3", &[]),
        dists::wheel("numpy", "2.1.0", &[]),
        dists::r_source("jsonlite", "1.8.9", &[]),
    ] {
        app.publish(&publisher, dist.source, &dist).await;
    }

    let page = app.get("/ui/packages?q=req").send().await.ok().text();
    assert!(
        page.contains("href=\"/ui/packages/pypi/requests\""),
        "{page}"
    );
    assert!(!page.contains("numpy"), "{page}");
    // The latest version dev lists; prod (an allow list with nothing on it) offers none.
    assert!(
        page.contains("<span class=\"badge allow\">2.32.3</span>"),
        "{page}"
    );
    assert!(page.contains("not offered"), "{page}");

    let typo = app.get("/ui/packages?q=reqeusts").send().await.ok().text();
    assert!(
        typo.contains("/ui/packages/pypi/requests"),
        "a transposition still finds it: {typo}"
    );

    let r_only = app
        .get("/ui/packages?ecosystem=cran")
        .send()
        .await
        .ok()
        .text();
    assert!(r_only.contains("/ui/packages/cran/jsonlite"), "{r_only}");
    assert!(!r_only.contains("/ui/packages/pypi/"), "{r_only}");
}

#[tokio::test]
async fn the_package_page_shows_each_lanes_decision_with_its_reason_and_an_install_line() {
    let app = app_with(&[dists::wheel("demo", "1.0.0", &[])]).await;
    let page = app.get("/ui/packages/pypi/demo").send().await.ok().text();
    assert!(
        page.contains("<span class=\"badge allow\">allow</span>"),
        "{page}"
    );
    assert!(
        page.contains("<span class=\"badge deny\">deny</span>"),
        "{page}"
    );
    assert!(
        page.contains("is not on the allow list"),
        "the reason, as why gives it: {page}"
    );
    assert!(
        page.contains("pip install --index-url http://localhost/dev/pypi/simple/ demo==1.0.0"),
        "{page}"
    );
    let missing = app.get("/ui/packages/pypi/nothing-here").send().await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("nothing-here"), "{missing:?}");
}

#[tokio::test]
async fn what_users_wrote_renders_inert() {
    let app = TestApp::start().await;
    let publisher = app.token("ci", Role::Publisher, &[]).await;
    let summary = "<script>alert(1)</script> \"quoted\" & <img src=x onerror=alert(2)>";
    app.publish(
        &publisher,
        "internal-pypi",
        &dists::wheel_summarised("hostile", "1.0", summary),
    )
    .await;
    let who = airlock_service::Principal::local_admin();
    app.service()
        .publishing()
        .set_yanked(
            &who,
            "internal-pypi",
            "hostile",
            "1.0",
            Some("<b onmouseover=alert(3)>bad</b>"),
        )
        .await
        .expect("yank");
    let page = app.get("/ui/packages/pypi/hostile").send().await.ok();
    let html = page.text();
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(
        html.contains("&#60;img src=x onerror=alert(2)&#62;"),
        "{html}"
    );
    assert!(
        html.contains("onmouseover=alert(3)"),
        "the yank reason is shown: {html}"
    );
    assert!(!html.contains("<b onmouseover"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    // And even an injection that slipped through could not run: no inline script is allowed.
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // A query is shown back escaped too.
    let search = app
        .get("/ui/packages?q=%3Cscript%3Ealert(4)%3C%2Fscript%3E")
        .send()
        .await
        .ok()
        .text();
    assert!(!search.contains("<script>alert(4)"), "{search}");
}

#[tokio::test]
async fn login_needs_the_forms_nonce_and_redirects_only_to_local_paths() {
    let app = TestApp::start().await;
    let token = app.token("alice", Role::Reader, &[]).await;
    // A form posted from elsewhere (no nonce cookie) is refused.
    let forged = app
        .post("/ui/login")
        .body(
            "application/x-www-form-urlencoded",
            format!("token={token}&nonce=guess&next=%2Fui%2F"),
        )
        .send()
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged:?}");
    assert!(set_cookie(&forged, "airlock_session").is_none());

    let session = log_in(&app, &token).await;
    let page = page_as(&app, "/ui/", &session).await;
    assert!(
        page.contains("alice"),
        "the layout names who is logged in: {page}"
    );

    // After login, only a local path: `//evil.example` is a host, not a path.
    let form = app.get("/ui/login").send().await.ok();
    let (nonce_cookie, _) = set_cookie(&form, "airlock_login").unwrap();
    let nonce = hidden(&form.text(), "nonce");
    let answer = post_form(
        &app,
        "/ui/login",
        &nonce_cookie,
        format!("token={token}&nonce={nonce}&next=%2F%2Fevil.example%2F"),
    )
    .await;
    assert_eq!(answer.headers[header::LOCATION], "/ui/");

    // A wrong token says so, and opens nothing.
    let form = app.get("/ui/login").send().await.ok();
    let (nonce_cookie, _) = set_cookie(&form, "airlock_login").unwrap();
    let nonce = hidden(&form.text(), "nonce");
    let wrong = post_form(
        &app,
        "/ui/login",
        &nonce_cookie,
        format!("token=alk_0000000000000000_00&nonce={nonce}"),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text().contains("not valid"), "{wrong:?}");
    assert!(set_cookie(&wrong, "airlock_session").is_none());
}

#[tokio::test]
async fn logout_needs_the_sessions_csrf_token_and_a_revoked_token_ends_its_sessions() {
    let app = TestApp::start().await;
    let token = app.token("bob", Role::Approver, &[]).await;
    let session = log_in(&app, &token).await;
    let page = page_as(&app, "/ui/", &session).await;
    let csrf = hidden(&page, "csrf");

    let forged = post_form(&app, "/ui/logout", &session, "csrf=forged").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged:?}");
    let still = page_as(&app, "/ui/", &session).await;
    assert!(still.contains("bob"), "a forged logout changes nothing");

    let out = post_form(&app, "/ui/logout", &session, format!("csrf={csrf}")).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{out:?}");
    let after = page_as(&app, "/ui/", &session).await;
    assert!(
        !after.contains("bob") && after.contains("Log in"),
        "{after}"
    );

    // Revoking the token ends a session opened with it.
    let session = log_in(&app, &token).await;
    app.service()
        .tokens()
        .revoke(&airlock_service::Principal::local_admin(), "bob")
        .await
        .unwrap();
    let after = page_as(&app, "/ui/", &session).await;
    assert!(!after.contains("bob"), "{after}");

    let audit = app
        .service()
        .audit()
        .entries(&airlock_service::Principal::local_admin(), 0)
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"session.login"), "{actions:?}");
    assert!(actions.contains(&"session.logout"), "{actions:?}");
}

#[tokio::test]
async fn a_private_lane_shows_only_to_who_may_read_it() {
    let app = TestApp::builder()
        .lane("dev", "open", &["internal-pypi"], "")
        .lane("secret", "open", &["internal-pypi"], "private = true")
        .start()
        .await;
    let publisher = app.token("ci", Role::Publisher, &[]).await;
    app.publish(
        &publisher,
        "internal-pypi",
        &dists::wheel("demo", "1.0", &[]),
    )
    .await;
    let anonymous = app.get("/ui/packages/pypi/demo").send().await.ok().text();
    assert!(!anonymous.contains("secret"), "{anonymous}");
    let setup = app.get("/ui/setup?lane=secret").send().await.ok().text();
    assert!(!setup.contains("/secret/"), "{setup}");

    let reader = app.token("carol", Role::Reader, &["secret"]).await;
    let session = log_in(&app, &reader).await;
    let seen = page_as(&app, "/ui/packages/pypi/demo", &session).await;
    assert!(seen.contains("<th scope=\"col\">secret</th>"), "{seen}");
    let setup = page_as(&app, "/ui/setup?lane=secret&client=pip", &session).await;
    assert!(
        setup.contains("__token__:${AIRLOCK_TOKEN}@localhost/secret/pypi/simple/"),
        "{setup}"
    );
    assert!(setup.contains("is private"), "{setup}");
    // R prints repository URLs: its token goes in a header, never in the URL.
    let r = page_as(&app, "/ui/setup?lane=secret&client=r", &session).await;
    assert!(
        r.contains("headers = c(Authorization = paste(&#34;Bearer&#34;"),
        "{r}"
    );
    assert!(!r.contains("__token__"), "{r}");
}

#[tokio::test]
async fn setup_gives_a_frozen_url_for_a_date_and_refuses_what_is_not_one() {
    let app = TestApp::start().await;
    let uv = app
        .get("/ui/setup?lane=dev&client=uv&date=2026-01-31")
        .send()
        .await
        .ok()
        .text();
    assert!(
        uv.contains("url = &#34;http://localhost/dev/2026-01-31/pypi/simple/&#34;"),
        "{uv}"
    );
    let r = app
        .get("/ui/setup?lane=dev&client=r")
        .send()
        .await
        .ok()
        .text();
    assert!(r.contains("http://localhost/dev/cran"), "{r}");
    let bad = app.get("/ui/setup?lane=dev&date=yesterday").send().await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("is not a date"), "{bad:?}");
}

#[tokio::test]
async fn assets_are_embedded_under_their_hash_and_kept_for_ever() {
    let app = TestApp::start().await;
    let page = app.get("/ui/").send().await.ok().text();
    let css = page
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|h| h.ends_with(".css")))
        .expect("a stylesheet link")
        .to_string();
    let answer = app.get(&css).send().await.ok();
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    assert!(
        answer.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(answer.text().contains(":root"));
    let stale = app.get("/ui/assets/app.0000000000000000.css").send().await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
    // Nothing on any page comes from elsewhere.
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
}

/// A multipart form of text fields, as a browser sends one.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    const BOUNDARY: &str = "airlock-ui-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

#[tokio::test]
async fn requests_need_a_session_and_every_form_its_csrf_token() {
    let app = app_with(&[dists::wheel("demo", "1.0", &[])]).await;
    let anonymous = app.get("/ui/requests/new").send().await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.headers[header::LOCATION],
        "/ui/login?next=%2Fui%2Frequests%2Fnew"
    );

    let scientist = app.token("dana", Role::Reader, &[]).await;
    let session = log_in(&app, &scientist).await;
    let page = page_as(&app, "/ui/requests/new", &session).await;
    let csrf = hidden(&page, "csrf");

    // Check: the findings, as `airlock check` gives them; nothing is filed.
    let (content_type, body) = multipart(&[
        ("csrf", &csrf),
        ("lane", "prod"),
        ("kind", "requirements.txt"),
        ("text", "demo==1.0\n"),
        ("reason", ""),
        ("action", "check"),
    ]);
    let checked = app
        .post("/ui/requests")
        .header("cookie", &session)
        .body(&content_type, body)
        .send()
        .await
        .ok()
        .text();
    assert!(
        checked.contains("<span class=\"badge deny\">deny</span>"),
        "{checked}"
    );
    assert!(checked.contains("not on the allow list"), "{checked}");

    // A forged form files nothing.
    let (content_type, body) = multipart(&[
        ("csrf", "forged"),
        ("lane", "prod"),
        ("text", "demo==1.0\n"),
        ("reason", "needed"),
        ("action", "submit"),
    ]);
    let forged = app
        .post("/ui/requests")
        .header("cookie", &session)
        .body(&content_type, body)
        .send()
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Submitted, with a reason someone could try to inject through.
    let (content_type, body) = multipart(&[
        ("csrf", &csrf),
        ("lane", "prod"),
        ("packages", "pypi:demo==1.0"),
        ("reason", "<script>alert(5)</script>"),
        ("action", "submit"),
    ]);
    let filed = app
        .post("/ui/requests")
        .header("cookie", &session)
        .body(&content_type, body)
        .send()
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{filed:?}");
    let location = filed.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let mine = page_as(&app, &location, &session).await;
    assert!(mine.contains("pending"), "{mine}");
    assert!(!mine.contains("<script>alert(5)"), "{mine}");
    assert!(
        !mine.contains("Approve all"),
        "a reader sees no approval buttons: {mine}"
    );
    let id = location.rsplit('/').next().unwrap().to_string();

    // A reader posting the approval by hand is refused by the service, on the page.
    let refused = post_form(
        &app,
        &format!("/ui/requests/{id}/approve"),
        &session,
        format!("csrf={csrf}&scope=all"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");

    // The approver approves; without the CSRF token nothing happens.
    let approver = app.token("alex", Role::Approver, &[]).await;
    let review = log_in(&app, &approver).await;
    let page = page_as(&app, &location, &review).await;
    assert!(page.contains("Approve all"), "{page}");
    assert!(
        page.contains("What approving all would change in prod"),
        "{page}"
    );
    assert!(page.contains("+ pypi:demo==1.0"), "{page}");
    let review_csrf = hidden(&page, "csrf");
    let forged = post_form(
        &app,
        &format!("/ui/requests/{id}/approve"),
        &review,
        "csrf=forged&scope=all",
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let approved = post_form(
        &app,
        &format!("/ui/requests/{id}/approve"),
        &review,
        format!("csrf={review_csrf}&scope=selected&only=demo"),
    )
    .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{approved:?}");
    let now = page_as(&app, &location, &review).await;
    assert!(
        now.contains("<span class=\"badge allow\">approved</span>"),
        "{now}"
    );
    let simple = app.get("/prod/pypi/simple/demo/").send().await.ok().text();
    assert!(
        simple.contains("demo-1.0-py3-none-any.whl"),
        "prod serves it now: {simple}"
    );
}

/// An OSV advisory naming `package` (PyPI) `version`, fixed in `fixed`, imported as an admin.
async fn import_advisory(app: &TestApp, id: &str, package: &str, version: &str, fixed: &str) {
    let dir = tempfile::tempdir().unwrap();
    let advisory = serde_json::json!({
        "id": id,
        "modified": "2026-11-01T00:00:00Z",
        "aliases": ["CVE-2026-0001"],
        "summary": "<script>alert(6)</script> remote code execution",
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            "versions": [version]
        }],
        "references": [{"type": "WEB", "url": "javascript:alert(7)"}, {"type": "WEB", "url": "https://example.org/advisory"}],
        "database_specific": {"severity": "HIGH"}
    });
    std::fs::write(dir.path().join(format!("{id}.json")), advisory.to_string()).unwrap();
    let report = airlock_osv::load_dir(dir.path()).unwrap();
    app.service()
        .advisories()
        .import(&airlock_service::Principal::local_admin(), report, "test")
        .await
        .unwrap();
}

#[tokio::test]
async fn the_security_page_finds_advisories_and_shows_what_the_lanes_expose() {
    let app = app_with(&[dists::wheel("leaky", "1.0", &[])]).await;
    import_advisory(&app, "PYSEC-2026-1", "leaky", "1.0", "1.1").await;

    let page = app.get("/ui/security").send().await.ok().text();
    assert!(
        page.contains("/ui/packages/pypi/leaky"),
        "exposure lists it: {page}"
    );
    assert!(page.contains("PYSEC-2026-1"), "{page}");
    assert!(page.contains("fixed in 1.1"), "{page}");

    let found = app
        .get("/ui/security?advisory=CVE-2026-0001")
        .send()
        .await
        .ok()
        .text();
    assert!(
        found.contains("<h2 class=\"mono\">PYSEC-2026-1"),
        "found by alias: {found}"
    );
    assert!(!found.contains("<script>alert(6)"), "{found}");
    assert!(
        !found.contains("javascript:"),
        "only web links are links: {found}"
    );
    assert!(
        found.contains("href=\"https://example.org/advisory\""),
        "{found}"
    );
}

#[tokio::test]
async fn exposure_includes_named_snapshots_and_lists_the_newest_advisories_first() {
    let app = app_with(&[
        dists::wheel("oldbug", "1.0", &[]),
        dists::wheel("leaky", "1.0", &[]),
    ])
    .await;
    import_advisory(&app, "PYSEC-2026-1", "oldbug", "1.0", "1.1").await;
    // The snapshot is taken before the second advisory is learned.
    let admin = airlock_service::Principal::local_admin();
    app.service()
        .snapshots()
        .create(&admin, "dev", "release-1", None)
        .await
        .unwrap();
    import_advisory(&app, "PYSEC-2026-2", "leaky", "1.0", "1.1").await;

    let page = app.get("/ui/security").send().await.ok().text();
    let newest = page
        .find("<h2>Newest advisories</h2>")
        .expect("the newest advisories");
    let exposure = page.find("<h2>Exposure").expect("the exposure");
    let (listed, exposed) = (&page[newest..exposure], &page[exposure..]);
    assert!(
        listed.find("PYSEC-2026-2") < listed.find("PYSEC-2026-1"),
        "the newest first: {listed}"
    );
    assert!(!page.contains("<script>alert(6)"), "{page}");
    // The lane now and its snapshot both serve leaky 1.0; newest advisory first.
    let rows: Vec<&str> = exposed.split("<tr>").skip(2).collect();
    assert_eq!(
        rows.len(),
        4,
        "dev and dev@release-1, two packages each: {exposed}"
    );
    assert!(
        rows[0].contains("leaky") && rows[1].contains("leaky"),
        "{exposed}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("leaky") && r.contains("snapshot release-1")),
        "the snapshot served it before the advisory was learned: {exposed}"
    );
    let api = app.get("/api/v1/exposure").send().await.ok().json();
    assert_eq!(api["snapshots"]["dev"][0]["snapshot"], "release-1", "{api}");
    assert_eq!(
        api["snapshots"]["dev"][0]["found"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn the_package_page_shows_a_snapshots_decisions_its_advisories_and_who_needs_it() {
    let app = app_with(&[
        dists::wheel("leaky", "1.0", &[]),
        dists::wheel("app", "1.0", &["leaky>=1.0"]),
    ])
    .await;
    let admin = airlock_service::Principal::local_admin();
    app.service()
        .snapshots()
        .create(&admin, "dev", "before", None)
        .await
        .unwrap();
    let publisher = app.token("ci2", Role::Publisher, &[]).await;
    let newer = dists::wheel("leaky", "2.0", &[]);
    app.publish(&publisher, newer.source, &newer).await;
    import_advisory(&app, "PYSEC-2026-1", "leaky", "1.0", "1.1").await;

    let page = app.get("/ui/packages/pypi/leaky").send().await.ok().text();
    assert!(page.contains("<option value=\"dev@before\">"), "{page}");
    assert!(
        !page.contains("<th scope=\"col\">dev@before</th>"),
        "{page}"
    );
    // Who needs it, linked.
    assert!(
        page.contains("<a href=\"/ui/packages/pypi/app\">app</a>"),
        "{page}"
    );
    // The advisory: id linked to its page, alias, range, fix, the version it hits; inert.
    let advisories = &page[page.find("<h2>Advisories</h2>").expect("advisories")..];
    assert!(
        advisories.contains("href=\"/ui/security?advisory=PYSEC-2026-1\""),
        "{advisories}"
    );
    assert!(advisories.contains("CVE-2026-0001"), "{advisories}");
    assert!(
        advisories.contains("introduced 0, fixed 1.1"),
        "{advisories}"
    );
    assert!(
        advisories.contains("<dd class=\"mono\">1.0</dd>"),
        "{advisories}"
    );
    assert!(!page.contains("<script>alert(6)"), "{page}");

    // Chosen, the snapshot's column: 2.0 came after it.
    let page = app
        .get("/ui/packages/pypi/leaky?snapshot=dev%40before")
        .send()
        .await
        .ok()
        .text();
    assert!(page.contains("<th scope=\"col\">dev@before</th>"), "{page}");
    assert!(
        page.contains("<option value=\"dev@before\" selected>"),
        "{page}"
    );
    let row = |version: &str| {
        let start = page
            .find(&format!("<tr id=\"v-{version}\">"))
            .unwrap_or_else(|| panic!("no row {version}: {page}"));
        page[start..].split("</tr>").next().unwrap().to_string()
    };
    let cells =
        |row: &str| -> Vec<String> { row.split("<td>").skip(1).map(str::to_string).collect() };
    let (newer, older) = (cells(&row("2.0")), cells(&row("1.0")));
    assert_eq!(
        newer.len(),
        1 + 3,
        "files, dev, prod, the snapshot: {newer:?}"
    );
    assert!(
        newer[3].contains("not in lane"),
        "2.0 came after: {newer:?}"
    );
    assert!(
        !newer[1].contains("not in lane"),
        "dev has it now: {newer:?}"
    );
    assert!(!older[3].contains("not in lane"), "{older:?}");
    // The install line stays with the lanes now.
    let install = &page[page.find("<select id=\"lane\"").unwrap()..];
    let install = &install[..install.find("</select>").unwrap()];
    assert!(!install.contains("dev@before"), "{install}");
    // The app's page links the dependency held here.
    let app_page = app.get("/ui/packages/pypi/app").send().await.ok().text();
    assert!(
        app_page.contains("<a href=\"/ui/packages/pypi/leaky\">leaky</a>"),
        "{app_page}"
    );
    // An unknown snapshot is said so.
    let unknown = app
        .get("/ui/packages/pypi/leaky?snapshot=dev%40nope")
        .send()
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_approver_sees_what_approving_would_make_available_and_what_stays_refused() {
    let app = TestApp::builder()
        .setting("block = [{ package = \"pypi:bad\", reason = \"known malware\" }]")
        .start()
        .await;
    let publisher = app.token("ci", Role::Publisher, &[]).await;
    for dist in [
        dists::wheel("good", "1.0", &[]),
        dists::wheel("bad", "1.0", &[]),
        dists::wheel("open", "1.0", &[]),
    ] {
        app.publish(&publisher, dist.source, &dist).await;
    }
    let dana = app.token("dana", Role::Reader, &[]).await;
    let who = app.service().tokens().authenticate(&dana).await.unwrap();
    let packages: Vec<String> = ["pypi:good==1.0", "pypi:bad==1.0"]
        .map(String::from)
        .to_vec();
    let request = app
        .service()
        .requests()
        .create(
            &who,
            "prod",
            "for the model",
            airlock_service::RequestInput::Packages(&packages),
        )
        .await
        .unwrap();
    let dev = app
        .service()
        .requests()
        .create(
            &who,
            "dev",
            "already there",
            airlock_service::RequestInput::Packages(&["pypi:open==1.0".to_string()]),
        )
        .await
        .unwrap();

    let approver = app.token("alex", Role::Approver, &[]).await;
    let session = log_in(&app, &approver).await;
    let page = page_as(&app, &format!("/ui/requests/{}", request.id), &session).await;
    let diff = &page[page.find("id=\"diff\"").expect("the diff")..];
    let diff = &diff[..diff.find("</div>").unwrap()];
    assert!(diff.contains("+ pypi:good==1.0"), "{diff}");
    assert!(!diff.contains("+ pypi:bad==1.0"), "{diff}");
    assert!(diff.contains("Still refused"), "{diff}");
    assert!(diff.contains("known malware"), "{diff}");
    // Nothing was approved by looking.
    let still = app
        .service()
        .requests()
        .request(request.id, false)
        .await
        .unwrap();
    assert!(still.entries.iter().all(|e| !e.approved));

    let page = page_as(&app, &format!("/ui/requests/{}", dev.id), &session).await;
    assert!(page.contains("Already available"), "{page}");
    assert!(
        page.contains("<strong>Becomes available:</strong> <span class=\"muted\">nothing</span>"),
        "{page}"
    );

    // Decided, a request shows no diff.
    app.service()
        .requests()
        .approve(
            &app.service()
                .tokens()
                .authenticate(&approver)
                .await
                .unwrap(),
            request.id,
            &[],
        )
        .await
        .unwrap();
    let page = page_as(&app, &format!("/ui/requests/{}", request.id), &session).await;
    assert!(!page.contains("id=\"diff\""), "{page}");
}

#[tokio::test]
async fn the_audit_page_is_for_admins_with_the_chain_verified_and_filters() {
    let app = app_with(&[dists::wheel("demo", "1.0", &[])]).await;
    let reader = app.token("rita", Role::Reader, &[]).await;
    let session = log_in(&app, &reader).await;
    let refused = app.get("/ui/audit").header("cookie", &session).send().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let admin = app.token("root", Role::Admin, &[]).await;
    let session = log_in(&app, &admin).await;
    let page = page_as(&app, "/ui/audit", &session).await;
    assert!(page.contains("The chain is intact"), "{page}");
    assert!(page.contains("token.create"), "{page}");
    assert!(page.contains(">upload<"), "{page}");
    let uploads = page_as(&app, "/ui/audit?action=upload", &session).await;
    assert!(uploads.contains(">upload<"), "{uploads}");
    assert!(!uploads.contains("token.create"), "{uploads}");
    let bad = app
        .get("/ui/audit?from=yesterday")
        .header("cookie", &session)
        .send()
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn single_sign_on_refuses_an_answer_it_did_not_ask_for() {
    // A provider nobody answers at: the checks below come before any call to it.
    let app = TestApp::builder()
        .setting(
            "[auth.oidc]\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"airlock\"\n\
             client_secret_env = \"AIRLOCK_TEST_UNSET_SECRET\"\n\
             [[auth.oidc.role]]\ngroup = \"it\"\nrole = \"admin\"",
        )
        .start()
        .await;
    let login = app.get("/ui/login").send().await.ok().text();
    assert!(login.contains("href=\"/ui/login/oidc?next="), "{login}");
    assert!(login.contains("Log in with single sign-on"), "{login}");

    // Sent back without having started here (no cookie): nothing happens.
    let stray = app
        .get("/ui/login/oidc/callback?code=abc&state=xyz")
        .send()
        .await;
    assert_eq!(stray.status, StatusCode::BAD_REQUEST);
    assert!(set_cookie(&stray, "airlock_session").is_none());

    // Sent back with another login's state: refused before the code is used.
    let pending = serde_json::json!({
        "state": "the-state-we-sent", "nonce": "n", "verifier": "v", "next": "/ui/"
    });
    let cookie = format!(
        "airlock_oidc={}",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            pending.to_string()
        )
    );
    let forged = app
        .get("/ui/login/oidc/callback?code=abc&state=another-state")
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{forged:?}");
    assert!(
        forged.text().contains("does not belong to this login"),
        "{forged:?}"
    );
    assert!(set_cookie(&forged, "airlock_session").is_none());

    // The provider said no: its reason is shown.
    let denied = app
        .get("/ui/login/oidc/callback?error=access_denied&error_description=%3Cb%3Enope%3C%2Fb%3E")
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert!(denied.text().contains("access_denied"), "{denied:?}");
    assert!(!denied.text().contains("<b>nope"), "{denied:?}");
}

#[tokio::test]
async fn administration_shows_what_is_in_force_and_its_history_and_lets_admins_manage_tokens() {
    let app = TestApp::start().await;
    let admin = airlock_service::Principal::local_admin();
    let managed = app.service().settings().export(&admin).unwrap();
    let edited = managed.replace("mode = \"allowlist\"", "mode = \"open\"");
    assert_ne!(managed, edited);
    app.service()
        .settings()
        .apply(&admin, &edited, "test.toml")
        .await
        .unwrap();

    let reader = app.token("rita", Role::Reader, &[]).await;
    let session = log_in(&app, &reader).await;
    let refused = app.get("/ui/admin").header("cookie", &session).send().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let approver = app.token("alex", Role::Approver, &[]).await;
    let session = log_in(&app, &approver).await;
    let page = page_as(&app, "/ui/admin", &session).await;
    assert!(page.contains("<td>internal-pypi</td>"), "{page}");
    assert!(page.contains("Version 1"), "the applied version: {page}");
    assert!(page.contains("~ lane prod"), "and what it changed: {page}");
    assert!(
        !page.contains("Create the token"),
        "tokens are for admins: {page}"
    );

    let root = app.token("root", Role::Admin, &[]).await;
    let session = log_in(&app, &root).await;
    let page = page_as(&app, "/ui/admin", &session).await;
    let csrf = hidden(&page, "csrf");
    let forged = post_form(
        &app,
        "/ui/admin/tokens",
        &session,
        "csrf=forged&name=ci&role=publisher&lanes=",
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let made = post_form(
        &app,
        "/ui/admin/tokens",
        &session,
        format!("csrf={csrf}&name=ci&role=publisher&lanes=dev"),
    )
    .await
    .ok()
    .text();
    let start = made.find("alk_").expect("the new token is shown once");
    let token: String = made[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let who = app.service().tokens().authenticate(&token).await.unwrap();
    assert_eq!(
        (who.role, who.lanes),
        (Role::Publisher, vec!["dev".to_string()])
    );

    let id = token_id(&token);
    let revoked = post_form(
        &app,
        "/ui/admin/tokens/revoke",
        &session,
        format!("csrf={csrf}&id={id}"),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{revoked:?}");
    assert!(app.service().tokens().authenticate(&token).await.is_err());

    // The service decides, whoever calls: an approver cannot make tokens.
    let alex = app
        .service()
        .tokens()
        .authenticate(&approver)
        .await
        .unwrap();
    let refused = app
        .service()
        .tokens()
        .create(&alex, "sneaky", Role::Admin, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, airlock_service::ServiceError::Forbidden(_)),
        "{refused}"
    );
}

/// The id of a token (`alk_<id>_<secret>`): what a revoke form names.
fn token_id(token: &str) -> String {
    token["alk_".len()..].split('_').next().unwrap().to_string()
}

/// The token a page shows once, just made.
fn shown_token(page: &str) -> String {
    let start = page
        .find("alk_")
        .unwrap_or_else(|| panic!("no token in {page}"));
    page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[tokio::test]
async fn users_make_personal_tokens_that_act_as_them_no_wider_than_their_own_and_revoke_them() {
    let app = TestApp::start().await;
    // Logged out, the page sends to the login.
    let anonymous = app.get("/ui/tokens").send().await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(
        anonymous.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/ui/login?next=%2Fui%2Ftokens")
    );

    let rita = app.token("rita", Role::Publisher, &["dev"]).await;
    let session = log_in(&app, &rita).await;
    let page = page_as(&app, "/ui/tokens", &session).await;
    assert!(page.contains("You have no personal token yet"), "{page}");
    assert!(
        page.contains("<option value=\"publisher\">") && !page.contains("<option value=\"admin\">"),
        "only roles her own includes are offered: {page}"
    );
    let csrf = hidden(&page, "csrf");
    let post = |path: &'static str, body: String| {
        app.post(path)
            .header("cookie", &session)
            .body("application/x-www-form-urlencoded", body)
            .send()
    };

    // Without the session's CSRF token nothing is made.
    let forged = post("/ui/tokens", "csrf=forged&name=x&role=reader&lanes=".into()).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Wider than her own: refused by the service, said on the page.
    let wider = post(
        "/ui/tokens",
        format!("csrf={csrf}&name=x&role=approver&lanes="),
    )
    .await;
    assert_eq!(wider.status, StatusCode::BAD_REQUEST);
    assert!(
        wider.text().contains("cannot have role approver"),
        "{wider:?}"
    );
    let other_lane = post(
        "/ui/tokens",
        format!("csrf={csrf}&name=x&role=reader&lanes=prod"),
    )
    .await;
    assert!(
        other_lane
            .text()
            .contains("cannot apply in lane &#34;prod&#34;")
            || other_lane
                .text()
                .contains("cannot apply in lane &quot;prod&quot;"),
        "{other_lane:?}"
    );
    // A hostile name is shown inert.
    let made = post(
        "/ui/tokens",
        format!("csrf={csrf}&name=%3Cb%3Elaptop&role=reader&lanes="),
    )
    .await
    .ok()
    .text();
    assert!(!made.contains("<b>laptop"), "{made}");
    let token = shown_token(&made);
    let who = app.service().tokens().authenticate(&token).await.unwrap();
    assert_eq!(who.name, "rita", "a personal token acts as its owner");
    assert_eq!(
        (who.role, who.lanes.clone()),
        (Role::Reader, vec!["dev".to_string()]),
        "empty lanes: hers"
    );
    let page = page_as(&app, "/ui/tokens", &session).await;
    assert!(page.contains("&#60;b&#62;laptop"), "listed: {page}");

    // Somebody else cannot revoke it: to them it does not exist.
    let sam = app.token("sam", Role::Reader, &[]).await;
    let sam_session = log_in(&app, &sam).await;
    let sam_page = page_as(&app, "/ui/tokens", &sam_session).await;
    assert!(!sam_page.contains("laptop"), "{sam_page}");
    let sam_csrf = hidden(&sam_page, "csrf");
    let refused = post_form(
        &app,
        "/ui/tokens/revoke",
        &sam_session,
        format!("csrf={sam_csrf}&id={}", token_id(&token)),
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{refused:?}");
    assert!(app.service().tokens().authenticate(&token).await.is_ok());
    // Nor can a reader make tokens through the administration's form.
    let refused = post_form(
        &app,
        "/ui/admin/tokens",
        &sam_session,
        format!("csrf={sam_csrf}&name=mine&role=admin&lanes="),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    let all = app.service().tokens().list().await.unwrap();
    assert!(!all.iter().any(|t| t.name == "mine"), "{all:?}");

    // Admins see everyone's personal tokens, with whose they are, and revoke them.
    let root = app.token("root", Role::Admin, &[]).await;
    let root_session = log_in(&app, &root).await;
    let admin = page_as(&app, "/ui/admin", &root_session).await;
    assert!(admin.contains("<td>rita</td>"), "{admin}");
    let root_csrf = hidden(&admin, "csrf");
    let revoked = post_form(
        &app,
        "/ui/admin/tokens/revoke",
        &root_session,
        format!("csrf={root_csrf}&id={}", token_id(&token)),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{revoked:?}");
    assert!(app.service().tokens().authenticate(&token).await.is_err());

    // Her own revoke works too, and both are in the audit log by name.
    let made = post(
        "/ui/tokens",
        format!("csrf={csrf}&name=ci&role=reader&lanes=dev"),
    )
    .await
    .ok()
    .text();
    let second = shown_token(&made);
    let revoked = post(
        "/ui/tokens/revoke",
        format!("csrf={csrf}&id={}", token_id(&second)),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{revoked:?}");
    assert!(app.service().tokens().authenticate(&second).await.is_err());
    let log = app
        .service()
        .audit()
        .entries(&airlock_service::Principal::local_admin(), 0)
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| e.action.starts_with("token."))
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert!(actions.contains(&("rita", "token.create")), "{actions:?}");
    assert!(actions.contains(&("root", "token.revoke")), "{actions:?}");
    assert!(actions.contains(&("rita", "token.revoke")), "{actions:?}");
}

#[tokio::test]
async fn cookies_are_secure_when_a_trusted_proxy_says_the_browser_used_tls() {
    let secure = |answer: &crate::support::Answer| {
        let (_, attributes) = set_cookie(answer, "airlock_login").expect("a login nonce cookie");
        attributes.contains("Secure")
    };
    let app = TestApp::builder()
        .setting("trusted_proxies = [\"127.0.0.1/32\"]")
        .start()
        .await;
    let via = |peer: &'static str, proto: Option<&'static str>| {
        let mut call = app.get("/ui/login").peer(peer);
        if let Some(proto) = proto {
            call = call.header("x-forwarded-proto", proto);
        }
        call.send()
    };
    assert!(secure(&via("127.0.0.1:5000", Some("https")).await));
    assert!(secure(&via("127.0.0.1:5000", Some("https, http")).await));
    assert!(!secure(&via("127.0.0.1:5000", Some("http")).await));
    assert!(!secure(&via("127.0.0.1:5000", None).await));
    // Anyone else may claim anything: not believed.
    assert!(!secure(&via("10.1.2.3:5000", Some("https")).await));

    // The session cookie too, once logged in through the proxy.
    let token = app.token("alice", Role::Reader, &[]).await;
    let form = via("127.0.0.1:5000", Some("https")).await;
    let (nonce_cookie, _) = set_cookie(&form, "airlock_login").unwrap();
    let nonce = hidden(&form.text(), "nonce");
    let answer = app
        .post("/ui/login")
        .peer("127.0.0.1:5000")
        .header("x-forwarded-proto", "https")
        .header("cookie", &nonce_cookie)
        .body(
            "application/x-www-form-urlencoded",
            format!("token={token}&nonce={nonce}&next=%2Fui%2F"),
        )
        .send()
        .await;
    let (_, attributes) = set_cookie(&answer, "airlock_session").expect("a session cookie");
    assert!(attributes.contains("Secure"), "{attributes}");
    assert!(attributes.contains("HttpOnly"), "{attributes}");

    // Without trusted proxies, the header is never believed.
    let plain = TestApp::start().await;
    let answer = plain
        .get("/ui/login")
        .peer("127.0.0.1:5000")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert!(!secure(&answer));
}

#[tokio::test]
async fn admins_see_webhook_deliveries_and_one_without_its_secret_is_recorded_as_failed() {
    let app = TestApp::builder()
        .setting(
            "[[webhook]]\nurl = \"http://127.0.0.1:9/hook\"\nevents = [\"request.created\"]\n\
             secret_env = \"AIRLOCK_TEST_WEBHOOK_SECRET_NOT_SET\"",
        )
        .start()
        .await;
    let dana = app.token("dana", Role::Reader, &[]).await;
    let who = app.service().tokens().authenticate(&dana).await.unwrap();
    let packages = vec!["pypi:x==1.0".to_string()];
    app.service()
        .requests()
        .create(
            &who,
            "prod",
            "for the model",
            airlock_service::RequestInput::Packages(&packages),
        )
        .await
        .unwrap();
    app.service()
        .webhooks()
        .settle(std::time::Duration::from_secs(10))
        .await;

    let approver = app.token("alex", Role::Approver, &[]).await;
    let session = log_in(&app, &approver).await;
    let page = page_as(&app, "/ui/admin", &session).await;
    assert!(
        !page.contains("request.created"),
        "deliveries are for admins: {page}"
    );

    let root = app.token("root", Role::Admin, &[]).await;
    let session = log_in(&app, &root).await;
    let page = page_as(&app, "/ui/admin", &session).await;
    assert!(
        page.contains("<td class=\"mono\">http://127.0.0.1:9/hook</td>"),
        "{page}"
    );
    assert!(page.contains("<td>request.created</td>"), "{page}");
    assert!(page.contains(">failed</span>"), "{page}");
    assert!(
        page.contains("AIRLOCK_TEST_WEBHOOK_SECRET_NOT_SET is not set"),
        "{page}"
    );
}

/// A module whose import phones out: the content scan finds `py-import-network` (high).
const PHONING: &str = "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/ping')\n";

/// Uploads are kept whatever they hold; dev refuses high findings. `net-probe` 1.0 phones out,
/// 0.9 is clean.
async fn scanned_app() -> TestApp {
    let both = ["internal-pypi", "internal-cran"];
    let app = TestApp::builder()
        .setting("[scan]\nrefuse_uploads_at = \"never\"")
        .lane("dev", "open", &both, "scan = { block_at = \"high\" }")
        .lane("prod", "allowlist", &both, "")
        .start()
        .await;
    let publisher = app.token("ci", Role::Publisher, &[]).await;
    for dist in [
        dists::wheel_with("net-probe", "1.0", &[], PHONING),
        dists::wheel("net-probe", "0.9", &[]),
    ] {
        app.publish(&publisher, dist.source, &dist).await;
    }
    app
}

const PAGE: &str = "/ui/packages/pypi/net-probe";

/// The row of version `version` in the versions table.
fn version_row<'a>(page: &'a str, version: &str) -> &'a str {
    let start = page
        .find(&format!("<tr id=\"v-{version}\">"))
        .unwrap_or_else(|| panic!("no row of {version}: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// What the first lane (dev) decides on `version`, as its badge says.
fn dev_decision(page: &str, version: &str) -> String {
    let row = version_row(page, version);
    let dev = row.split("<td>").nth(2).expect("a dev cell");
    let badge = dev.split("\">").nth(1).expect("a badge");
    badge.split('<').next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_package_page_lists_each_files_scan_and_an_approver_waives_and_revokes_a_finding() {
    let app = scanned_app().await;

    // Anyone who may read the lanes sees the findings; the clean file says so; no form.
    let page = app.get(PAGE).send().await.ok().text();
    assert!(page.contains("<h2 id=\"scan\">Content scan</h2>"), "{page}");
    assert!(page.contains("id=\"scan-1.0\""), "{page}");
    assert!(
        !page.contains("id=\"scan-0.9\""),
        "a clean version is not detailed: {page}"
    );
    assert!(page.contains("py-import-network"), "{page}");
    assert!(page.contains("net_probe/__init__.py:2"), "{page}");
    assert!(page.contains("scanner "), "{page}");
    assert!(
        version_row(&page, "1.0").contains("scan: <a href=\"#scan-1.0\">1 finding, worst high</a>"),
        "{page}"
    );
    assert!(
        version_row(&page, "0.9").contains("scan: clean (scanner "),
        "{page}"
    );
    assert_eq!(dev_decision(&page, "1.0"), "deny", "{page}");
    assert_eq!(dev_decision(&page, "0.9"), "allow", "{page}");
    assert!(
        page.contains("No finding of this package is waived."),
        "{page}"
    );
    assert!(!page.contains("Waive the finding"), "{page}");

    // An approver gets the form, offering the version and the rule that have findings.
    let approver = app.token("reviewer", Role::Approver, &[]).await;
    let session = log_in(&app, &approver).await;
    let page = page_as(&app, PAGE, &session).await;
    assert!(
        page.contains("action=\"/ui/packages/pypi/net-probe/waivers\""),
        "{page}"
    );
    assert!(
        page.contains("<option value=\"py-import-network\""),
        "{page}"
    );
    assert!(page.contains("<option value=\"1.0\""), "{page}");
    assert!(
        !page.contains("<option value=\"0.9\""),
        "0.9 has nothing to waive: {page}"
    );
    let csrf = hidden(&page, "csrf");

    // The service's refusals show on the page, the form keeps what was typed.
    let waive =
        |body: String| post_form(&app, "/ui/packages/pypi/net-probe/waivers", &session, body);
    let bare = waive(format!(
        "csrf={csrf}&lane=dev&version=1.0&rule=py-import-network&justification=+&expires="
    ))
    .await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{bare:?}");
    assert!(
        bare.text().contains("a waiver needs a justification"),
        "{bare:?}"
    );
    let past = waive(format!(
        "csrf={csrf}&lane=dev&version=1.0&rule=py-import-network&justification=kept+text&expires=2020-01-01"
    ))
    .await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);
    let html = past.text();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("is not in the future"), "{html}");
    assert!(html.contains(">kept text</textarea>"), "{html}");

    // Waived, with a justification that tries to be markup: the decision is a warning.
    let given = waive(format!(
        "csrf={csrf}&lane=dev&version=1.0&rule=py-import-network&expires=\
         &justification=%3Cscript%3Ealert(5)%3C%2Fscript%3E+reviewed%3A+it+pings+the+licence+server"
    ))
    .await;
    assert_eq!(given.status, StatusCode::SEE_OTHER, "{given:?}");
    assert_eq!(given.headers[header::LOCATION], format!("{PAGE}#waivers"));
    let page = page_as(&app, PAGE, &session).await;
    assert_eq!(dev_decision(&page, "1.0"), "warn", "{page}");
    assert!(page.contains("<tr id=\"waiver-1\">"), "{page}");
    assert!(
        page.contains("waiver 1 in dev, by reviewer, until revoked"),
        "{page}"
    );
    assert!(
        page.contains(
            "&#60;script&#62;alert(5)&#60;/script&#62; reviewed: it pings the licence server"
        ),
        "{page}"
    );
    assert!(!page.contains("<script>alert(5)"), "{page}");
    assert!(page.contains("Revoke waiver 1"), "{page}");

    // Revoked: refused again, the waiver listed as revoked; revoking twice is refused.
    let revoke = |id: &str| {
        post_form(
            &app,
            "/ui/packages/pypi/net-probe/waivers/revoke",
            &session,
            format!("csrf={csrf}&id={id}"),
        )
    };
    let revoked = revoke("1").await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{revoked:?}");
    let page = page_as(&app, PAGE, &session).await;
    assert_eq!(dev_decision(&page, "1.0"), "deny", "{page}");
    assert!(
        page.contains("<span class=\"badge hide\">revoked</span>"),
        "{page}"
    );
    assert!(page.contains("by reviewer"), "{page}");
    assert!(!page.contains("Revoke waiver 1"), "{page}");
    assert!(
        !page.contains("waiver 1 in dev"),
        "no longer covers the finding: {page}"
    );
    let again = revoke("1").await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    assert!(again.text().contains("waiver 1 was already revoked"));
    let nonsense = revoke("one").await;
    assert_eq!(nonsense.status, StatusCode::BAD_REQUEST, "{nonsense:?}");
}

#[tokio::test]
async fn readers_see_the_waivers_without_the_forms_and_a_forged_or_unentitled_post_is_refused() {
    let app = scanned_app().await;
    let approver = airlock_service::Principal {
        name: "reviewer".into(),
        role: Role::Approver,
        lanes: Vec::new(),
    };
    let given = app
        .service()
        .waivers()
        .create(
            &approver,
            &airlock_service::NewWaiver {
                lane: "dev",
                package: "pypi:net-probe==1.0",
                rule: "py-import-network",
                justification: "<b onmouseover=alert(6)>checked</b>",
                expires: Some("2999-12-31"),
            },
        )
        .await
        .expect("waiver");
    let reader = app.token("dana", Role::Reader, &[]).await;
    let session = log_in(&app, &reader).await;
    let page = page_as(&app, PAGE, &session).await;
    assert!(page.contains("<tr id=\"waiver-1\">"), "{page}");
    assert!(page.contains("until 3000-01-01 00:00 UTC"), "{page}");
    assert!(
        page.contains("&#60;b onmouseover=alert(6)&#62;checked"),
        "{page}"
    );
    assert!(!page.contains("<b onmouseover"), "{page}");
    assert!(!page.contains("Waive the finding"), "{page}");
    assert!(!page.contains("Revoke waiver"), "{page}");

    // The reader's own form, with its token: the service refuses, the page says why.
    let csrf = hidden(&page, "csrf");
    let path = "/ui/packages/pypi/net-probe/waivers";
    let body = "lane=dev&version=1.0&rule=py-import-network&justification=mine&expires=";
    let refused = post_form(&app, path, &session, format!("csrf={csrf}&{body}")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert!(refused.text().contains("approver"), "{refused:?}");
    let revoke = "/ui/packages/pypi/net-probe/waivers/revoke";
    let refused = post_form(&app, revoke, &session, format!("csrf={csrf}&id=1")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");

    // An approver's session, but a form from elsewhere: without or with a wrong token.
    let token = app.token("reviewer", Role::Approver, &[]).await;
    let approving = log_in(&app, &token).await;
    for forged in [body.to_string(), format!("csrf=not-the-token&{body}")] {
        let answer = post_form(&app, path, &approving, forged).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
        assert!(
            answer
                .text()
                .contains("the form did not come from this site")
        );
    }
    let answer = post_form(&app, revoke, &approving, "id=1").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
    // No session at all: to the login.
    let anonymous = app
        .post(revoke)
        .body("application/x-www-form-urlencoded", "id=1")
        .send()
        .await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "{anonymous:?}");
    assert!(
        anonymous.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/ui/login?next=")
    );
    let who = airlock_service::Principal::local_admin();
    let listed = app
        .service()
        .waivers()
        .list(&who, None)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, given.id);
    assert_eq!(listed[0].state, "active", "nothing forged got through");
}
