//! The project tools data scientists use besides pip and uv, each against hosted, proxied,
//! snapshot and private lanes, and as publishers: poetry, pdm and pipenv lock and install; poetry,
//! pdm, hatch and flit publish. Each assertion is what the tool itself did: the versions it locked
//! and installed, the hashes it wrote, the messages it printed.

use serde_json::Value;

use crate::support::clients::{ClientProject, stage_dists};
use crate::support::cmd::run;
use crate::support::env::real_dists;
use crate::support::fixtures::demo_dep;
use crate::support::r::{R, RLib, pkg_a, r_str};
use crate::support::server::{ServerConfig, TestServer};
use crate::support::upstream::FakeUpstream;

/// A server with the hosted `internal-pypi` and the proxy `pypi` of a fake upstream holding six,
/// behind the open lane `dev`; `secret`, a private lane over `internal-pypi`. airlock-demo-dep 1.0
/// is uploaded, the snapshot `before` named, then 2.0 uploaded.
struct World {
    server: TestServer,
    _upstream: FakeUpstream,
    /// A reader token of the lane `secret`.
    secret_reader: String,
    dep_v1_sha256: String,
    dep_v2_sha256: String,
}

impl World {
    fn new() -> World {
        let upstream = FakeUpstream::start();
        upstream.add(&real_dists().join("six-1.16.0-py2.py3-none-any.whl"));
        let toml = format!(
            "[[source]]\nname = \"internal-pypi\"\nkind = \"hosted\"\necosystem = \"pypi\"\n\n\
             [[source]]\nname = \"pypi\"\nkind = \"proxy\"\necosystem = \"pypi\"\nurl = {:?}\n\n\
             [[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"internal-pypi\", \"pypi\"]\n\n\
             [[lane]]\nname = \"secret\"\nmode = \"open\"\nprivate = true\nsources = [\"internal-pypi\"]\n",
            upstream.url()
        );
        // The request log, to see what each client asks for.
        let server = TestServer::builder()
            .config(ServerConfig::from_toml(toml))
            .env("AIRLOCK_LOG", "info,airlock_server=debug")
            .start();
        let v1 = demo_dep("1.0").build();
        server.publish(&v1.both());
        run(&mut server.airlock(&["snapshot", "create", "dev", "--name", "before"])).success();
        let v2 = demo_dep("2.0").build();
        server.publish(&v2.both());
        let secret_reader = server.token_in_lanes("secret-reader", "reader", &["secret"]);
        World {
            secret_reader,
            dep_v1_sha256: sha256_of(&v1.wheel),
            dep_v2_sha256: sha256_of(&v2.wheel),
            server,
            _upstream: upstream,
        }
    }

    fn index(&self, lane: &str) -> String {
        self.server.url(&format!("/{lane}/pypi/simple/"))
    }

    /// The paths the server was asked for so far, in order.
    fn requested(&self) -> Vec<String> {
        self.server
            .log_text()
            .lines()
            .filter_map(|l| l.split("http.path=").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    /// The client locked airlock-demo-dep 2.0 from its PEP 658 metadata, without the wheel.
    fn assert_locked_from_metadata(&self) {
        let asked = self.requested();
        let wheel = "airlock_demo_dep-2.0-py3-none-any.whl";
        assert!(
            asked
                .iter()
                .any(|p| p.ends_with(&format!("{wheel}.metadata"))),
            "no PEP 658 metadata read: {asked:#?}"
        );
        assert!(
            !asked.iter().any(|p| p.ends_with(wheel)),
            "the wheel was downloaded to lock: {asked:#?}"
        );
    }

    /// A TOML lock file (poetry, pdm) that names airlock-demo-dep 2.0 with the hash airlock serves.
    fn assert_locks_v2(&self, lock: &str) {
        assert!(
            lock.contains("name = \"airlock-demo-dep\"\nversion = \"2.0\""),
            "{lock}"
        );
        assert!(
            lock.contains(&format!("sha256:{}", self.dep_v2_sha256)),
            "{lock}"
        );
    }

    /// The versions the lane `dev` lists for `project`, through its PEP 691 page.
    fn dev_versions(&self, project: &str) -> Vec<String> {
        let page: Value = self
            .server
            .http()
            .get(self.server.url(&format!("/dev/pypi/simple/{project}/")))
            .header("Accept", "application/vnd.pypi.simple.v1+json")
            .send()
            .expect("GET")
            .json()
            .expect("JSON page");
        page["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v.as_str().expect("version").to_string())
            .collect()
    }
}

fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        std::fs::read(path).expect("read dist"),
    ))
}

const DEPS: &[&str] = &["airlock-demo-dep", "six"];

fn dependencies(deps: &[&str]) -> String {
    deps.iter()
        .map(|d| format!("{d:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A project that depends on `deps` and is not itself a package, with `tool` (the client's own
/// tables) after its `[project]` table.
fn consumer(deps: &[&str], tool: &str) -> ClientProject {
    ClientProject::new(&[(
        "pyproject.toml",
        &format!(
            "[project]\nname = \"consumer\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\
             dependencies = [{}]\n\n{tool}",
            dependencies(deps)
        ),
    )])
}

fn poetry_project(index: &str, deps: &[&str]) -> ClientProject {
    consumer(
        deps,
        &format!(
            "[tool.poetry]\npackage-mode = false\n\n\
             [[tool.poetry.source]]\nname = \"airlock\"\nurl = {index:?}\npriority = \"primary\"\n"
        ),
    )
}

#[test]
fn clients_poetry_locks_and_installs_from_every_kind_of_lane_and_publishes() {
    let w = World::new();

    // An open lane: hosted and proxied packages, with the hashes airlock serves.
    let p = poetry_project(&w.index("dev"), DEPS);
    p.run("poetry", &["lock"]).success();
    let lock = p.read("poetry.lock");
    w.assert_locks_v2(&lock);
    w.assert_locked_from_metadata();
    assert!(
        lock.contains("name = \"six\"\nversion = \"1.16.0\""),
        "{lock}"
    );
    p.run("poetry", &["install"]).success();
    assert_eq!(p.installed("airlock-demo-dep").as_deref(), Some("2.0"));
    assert_eq!(p.installed("six").as_deref(), Some("1.16.0"));

    // A snapshot: the lane as it was before 2.0.
    let p = poetry_project(&w.index("dev/before"), &["airlock-demo-dep"]);
    p.run("poetry", &["lock"]).success();
    let lock = p.read("poetry.lock");
    assert!(
        lock.contains("name = \"airlock-demo-dep\"\nversion = \"1.0\""),
        "{lock}"
    );
    assert!(
        lock.contains(&format!("sha256:{}", w.dep_v1_sha256)),
        "{lock}"
    );

    // A private lane: refused without the token, served with it (poetry's http-basic settings).
    let p = poetry_project(&w.index("secret"), &["airlock-demo-dep"]);
    let refused = p.run("poetry", &["lock"]).failure();
    assert!(
        refused.output().contains("Authorization error accessing"),
        "{refused}"
    );
    let done = run(p
        .command("poetry")
        .arg("lock")
        .env("POETRY_HTTP_BASIC_AIRLOCK_USERNAME", "__token__")
        .env("POETRY_HTTP_BASIC_AIRLOCK_PASSWORD", &w.secret_reader))
    .success();
    assert!(
        p.read("poetry.lock").contains("version = \"2.0\""),
        "{done}"
    );

    // A yanked version pinned: poetry locks it and prints the reason airlock serves.
    run(&mut w.server.airlock(&[
        "yank",
        "airlock-demo-dep",
        "1.0",
        "--reason",
        "broken build",
    ]))
    .success();
    // The yank was written by another process: the server learns of it at its next look at
    // the database (`revision_poll_ms`), which the lock must come after.
    crate::support::wait_until(
        std::time::Duration::from_secs(10),
        "the server serves the yank",
        || {
            w.server
                .http()
                .get(w.server.url("/dev/pypi/simple/airlock-demo-dep/"))
                .header("Accept", "application/vnd.pypi.simple.v1+json")
                .send()
                .and_then(|r| r.text())
                .is_ok_and(|page| page.contains("broken build"))
        },
    );
    let p = poetry_project(&w.index("dev"), &["airlock-demo-dep==1.0"]);
    let locked = p.run("poetry", &["lock"]).success();
    assert!(
        locked
            .output()
            .contains("is a yanked version. Reason for being yanked: broken build"),
        "{locked}"
    );

    // Publishing: `poetry publish` of the built files to the hosted source.
    let v3 = demo_dep("3.0").build();
    let p = ClientProject::new(&[(
        "pyproject.toml",
        "[project]\nname = \"airlock-demo-dep\"\nversion = \"3.0\"\n",
    )]);
    stage_dists(&p.dir, &v3.both());
    p.run(
        "poetry",
        &["config", "repositories.airlock", &w.server.upload_url()],
    )
    .success();
    run(p
        .command("poetry")
        .args(["publish", "-r", "airlock"])
        .env("POETRY_HTTP_BASIC_AIRLOCK_USERNAME", "__token__")
        .env(
            "POETRY_HTTP_BASIC_AIRLOCK_PASSWORD",
            w.server.publisher_token(),
        ))
    .success();
    assert!(
        w.dev_versions("airlock-demo-dep")
            .contains(&"3.0".to_string())
    );
}

fn pdm_project(index: &str, deps: &[&str]) -> ClientProject {
    consumer(
        deps,
        &format!(
            "[tool.pdm]\ndistribution = false\n\n\
             [[tool.pdm.source]]\nname = \"pypi\"\nurl = {index:?}\n"
        ),
    )
}

#[test]
fn clients_pdm_locks_and_installs_from_every_kind_of_lane_and_publishes() {
    let w = World::new();

    let p = pdm_project(&w.index("dev"), DEPS);
    p.run("pdm", &["lock"]).success();
    let lock = p.read("pdm.lock");
    w.assert_locks_v2(&lock);
    w.assert_locked_from_metadata();
    p.run("pdm", &["install"]).success();
    assert_eq!(p.installed("airlock-demo-dep").as_deref(), Some("2.0"));
    assert_eq!(p.installed("six").as_deref(), Some("1.16.0"));

    let p = pdm_project(&w.index("dev/before"), &["airlock-demo-dep"]);
    p.run("pdm", &["lock"]).success();
    assert!(
        p.read("pdm.lock")
            .contains(&format!("sha256:{}", w.dep_v1_sha256))
    );

    // Private: pdm expands environment variables in a source's URL (not in its password).
    let private = w
        .index("secret")
        .replacen("http://", "http://__token__:${AIRLOCK_TOKEN}@", 1);
    let p = pdm_project(&private, &["airlock-demo-dep"]);
    let refused = run(p
        .command("pdm")
        .arg("lock")
        .env("AIRLOCK_TOKEN", "not-a-token"))
    .failure();
    // pdm reports a refused index as a package it cannot find.
    assert!(
        refused
            .output()
            .contains("Unable to find candidates for airlock-demo-dep"),
        "{refused}"
    );
    run(p
        .command("pdm")
        .arg("lock")
        .env("AIRLOCK_TOKEN", &w.secret_reader))
    .success();
    let lock = p.read("pdm.lock");
    assert!(lock.contains("version = \"2.0\""), "{lock}");
    assert!(!lock.contains(&w.secret_reader), "{lock}");

    let v3 = demo_dep("3.0").build();
    let p = ClientProject::new(&[(
        "pyproject.toml",
        "[project]\nname = \"airlock-demo-dep\"\nversion = \"3.0\"\n",
    )]);
    stage_dists(&p.dir, &v3.both());
    p.run(
        "pdm",
        &[
            "publish",
            "--no-build",
            "--repository",
            &w.server.upload_url(),
            "--username",
            "__token__",
            "--password",
            w.server.publisher_token(),
        ],
    )
    .success();
    assert!(
        w.dev_versions("airlock-demo-dep")
            .contains(&"3.0".to_string())
    );
}

fn pipfile(index: &str, packages: &str) -> ClientProject {
    ClientProject::new(&[(
        "Pipfile",
        &format!(
            "[[source]]\nurl = {index:?}\nverify_ssl = false\nname = \"airlock\"\n\n[packages]\n{packages}"
        ),
    )])
}

fn pipfile_lock(p: &ClientProject) -> Value {
    serde_json::from_str(&p.read("Pipfile.lock")).expect("Pipfile.lock is JSON")
}

#[test]
fn clients_pipenv_locks_with_hashes_and_installs_from_every_kind_of_lane() {
    let w = World::new();

    // pipenv looks hashes up on the index page with `Accept: */*` and reads HTML: the lock gets
    // airlock's hashes, not none.
    let p = pipfile(&w.index("dev"), "airlock-demo-dep = \"*\"\nsix = \"*\"\n");
    p.run("pipenv", &["lock"]).success();
    let lock = pipfile_lock(&p);
    assert_eq!(lock["default"]["airlock-demo-dep"]["version"], "==2.0");
    let hashes = lock["default"]["airlock-demo-dep"]["hashes"].to_string();
    assert!(hashes.contains(&w.dep_v2_sha256), "{hashes}");
    assert_eq!(lock["default"]["six"]["version"], "==1.16.0");
    p.run("pipenv", &["sync"]).success();
    assert_eq!(p.installed("airlock-demo-dep").as_deref(), Some("2.0"));
    assert_eq!(p.installed("six").as_deref(), Some("1.16.0"));

    let p = pipfile(&w.index("dev/before"), "airlock-demo-dep = \"*\"\n");
    p.run("pipenv", &["lock"]).success();
    assert_eq!(
        pipfile_lock(&p)["default"]["airlock-demo-dep"]["version"],
        "==1.0"
    );

    // Private: the token in the source URL, from the environment (pipenv expands ${VAR}).
    let private = w
        .index("secret")
        .replacen("http://", "http://__token__:${AIRLOCK_TOKEN}@", 1);
    let p = pipfile(&private, "airlock-demo-dep = \"*\"\n");
    run(p
        .command("pipenv")
        .arg("lock")
        .env("AIRLOCK_TOKEN", "not-a-token"))
    .failure();
    run(p
        .command("pipenv")
        .arg("lock")
        .env("AIRLOCK_TOKEN", &w.secret_reader))
    .success();
    assert_eq!(
        pipfile_lock(&p)["default"]["airlock-demo-dep"]["version"],
        "==2.0"
    );
}

#[test]
fn clients_hatch_publishes_and_skips_what_is_already_there() {
    let w = World::new();
    let v3 = demo_dep("3.0").build();
    let p = ClientProject::new(&[("hatch.toml", "")]);
    let files = stage_dists(&p.dir, &v3.both());
    let publish = || {
        let mut args = vec![
            "publish".to_string(),
            "--no-prompt".into(),
            "-r".into(),
            w.server.upload_url(),
            "-u".into(),
            "__token__".into(),
            "-a".into(),
            w.server.publisher_token().to_string(),
        ];
        args.extend(files.iter().map(|f| f.display().to_string()));
        run(p
            .command("hatch")
            .env("HATCH_CONFIG", p.path("hatch.toml"))
            .args(&args))
    };
    let first = publish().success();
    assert!(!first.output().contains("already exists"), "{first}");
    assert!(
        w.dev_versions("airlock-demo-dep")
            .contains(&"3.0".to_string())
    );
    // Again: hatch asks `{upload URL}/+simple/airlock-demo-dep/`, sees both files and skips them.
    let again = publish().success();
    assert_eq!(
        again.output().matches("already exists").count(),
        2,
        "{again}"
    );
}

#[test]
fn clients_flit_builds_and_publishes_and_pip_installs_it() {
    let w = World::new();
    let p = ClientProject::new(&[
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\n\
             [project]\nname = \"airlock-flit-demo\"\nversion = \"0.3\"\ndescription = \"flit's own build\"\n",
        ),
        (
            "airlock_flit_demo/__init__.py",
            "\"\"\"A module flit builds.\"\"\"\n",
        ),
    ]);
    // flit reads the files to include from version control.
    let git = |args: &[&str]| {
        run(std::process::Command::new("git")
            .current_dir(&p.dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args))
        .success()
    };
    git(&["init", "-q", "."]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "src"]);
    run(p
        .command("flit")
        .arg("publish")
        .env("FLIT_INDEX_URL", w.server.upload_url())
        .env("FLIT_USERNAME", "__token__")
        .env("FLIT_PASSWORD", w.server.publisher_token()))
    .success();
    assert_eq!(w.dev_versions("airlock-flit-demo"), ["0.3"]);
    let target = crate::support::python::TargetEnv::new();
    target
        .pip_install(&w.index("dev"), &["airlock-flit-demo"])
        .success();
    assert_eq!(
        target.version_of("airlock-flit-demo").as_deref(),
        Some("0.3")
    );
}

/// R's libcurl ignores `~/.netrc`; a token written into the repository URL shows in R's messages.
/// `install.packages(..., headers = )` (passed on to `download.file`) sends it as a header instead,
/// for the index and the tarballs alike.
#[test]
fn clients_r_reads_a_private_lane_with_an_authorization_header() {
    let Some(r) = R::find() else { return };
    let toml = "[[source]]\nname = \"internal-cran\"\nkind = \"hosted\"\necosystem = \"cran\"\n\n\
                [[lane]]\nname = \"secret\"\nmode = \"open\"\nprivate = true\nsources = [\"internal-cran\"]\n";
    let server = TestServer::builder()
        .config(ServerConfig::from_toml(toml.to_string()))
        .start();
    server.publish_to("internal-cran", &[&pkg_a("0.1.0").build(&r)]);
    let token = server.token_in_lanes("r-reader", "reader", &["secret"]);
    let repos = server.url("/secret/cran");
    let install = |headers: &str| {
        RLib::new(&r).eval(&format!(
            "install.packages(\"pkgA\", repos = {}, lib = lib, type = \"source\"{headers})\n\
             if (!requireNamespace(\"pkgA\", lib.loc = lib, quietly = TRUE)) quit(status = 1)",
            r_str(&repos)
        ))
    };
    // Without the header the index is refused (R says only that it cannot read it).
    let refused = install("").failure();
    assert!(
        refused
            .output()
            .contains("unable to access index for repository"),
        "{refused}"
    );
    let done = install(&format!(
        ", headers = c(Authorization = {})",
        r_str(&format!("Bearer {token}"))
    ))
    .success();
    assert!(!done.output().contains(&token), "{done}");
}
