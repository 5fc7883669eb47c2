use airlock_store::{
    ArtifactMetadata, ArtifactRow, AuditEntry, DbError, ProjectName, ProvenanceRow, TokenRow,
    WebhookDeliveryRow,
};
use airlock_types::{ArtifactKind, PageStatus, RequestState, Role, Timestamp};

use crate::Backends;

fn artifact(filename: &str, version: &str) -> ArtifactRow {
    ArtifactRow {
        source: "internal-pypi".into(),
        filename: filename.into(),
        project: "demo".into(),
        display_name: "Demo".into(),
        version: version.into(),
        kind: ArtifactKind::BdistWheel,
        sha256: "ab".repeat(32),
        size: 10,
        requires_python: Some(">=3.8".into()),
        metadata_sha256: None,
        metadata: ArtifactMetadata::default(),
        yanked_reason: None,
        upload_time: Some(Timestamp::from_micros(1_700_000_000_000_000)),
        first_seen: Timestamp::from_micros(1_700_000_000_000_000),
        uploaded_by: Some("ci".into()),
        upstream_url: None,
        delisted_at: None,
        scan: None,
        provenance_url: None,
    }
}

fn audit(action: &str) -> AuditEntry {
    AuditEntry {
        at: Timestamp::from_micros(1),
        actor: "tester".into(),
        action: action.into(),
        subject: "s".into(),
        details: "{}".into(),
    }
}

#[tokio::test]
async fn artifacts_round_trip_conflict_and_yank() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let before = db.revision().await.unwrap();
        let a = artifact("demo-1.0-py3-none-any.whl", "1.0");
        let mut tx = db.write().await.unwrap();
        tx.insert_artifact(&a).await.unwrap();
        assert_eq!(tx.revision(), before + 1, "{backend}");
        tx.commit(&audit("upload")).await.unwrap();
        // The write and its audit entry landed together.
        let entries = db.audit_entries(0).await.unwrap();
        assert_eq!(entries.len(), 1, "{backend}");
        assert_eq!(entries[0].action, "upload", "{backend}");

        let got = db.artifact("internal-pypi", &a.filename).await.unwrap();
        assert_eq!(got.as_ref(), Some(&a), "{backend}");
        assert_eq!(
            db.projects("internal-pypi").await.unwrap(),
            vec![ProjectName {
                project: "demo".to_string(),
                display_name: "Demo".to_string()
            }]
        );
        assert!(db.blob_referenced(&a.sha256).await.unwrap());

        let mut tx = db.write().await.unwrap();
        let err = tx.insert_artifact(&a).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict(_)), "{backend}: {err:?}");
        drop(tx);

        let mut tx = db.write().await.unwrap();
        assert_eq!(
            tx.set_yanked(
                "internal-pypi",
                "demo",
                "1.0",
                Some("broken"),
                Timestamp::from_micros(10)
            )
            .await
            .unwrap(),
            1
        );
        tx.set_yanked(
            "internal-pypi",
            "demo",
            "1.0",
            None,
            Timestamp::from_micros(20),
        )
        .await
        .unwrap();
        tx.set_yanked(
            "internal-pypi",
            "demo",
            "1.0",
            Some("again"),
            Timestamp::from_micros(30),
        )
        .await
        .unwrap();
        tx.commit(&audit("write")).await.unwrap();
        let rows = db.project_artifacts("internal-pypi", "demo").await.unwrap();
        assert_eq!(rows[0].yanked_reason.as_deref(), Some("again"), "{backend}");
        // Every yank and un-yank is kept, in order, for snapshots.
        let events = db.yank_events("internal-pypi", &["demo"]).await.unwrap();
        let states: Vec<(i64, Option<&str>)> = events
            .iter()
            .map(|e| (e.at.as_micros(), e.reason.as_deref()))
            .collect();
        assert_eq!(
            states,
            [(10, Some("broken")), (20, None), (30, Some("again"))],
            "{backend}"
        );
        assert!(db.revision().await.unwrap() > before + 1);
    }
    b.drop_all().await;
}

#[tokio::test]
async fn provenance_is_kept_once_with_its_file_and_read_as_at_an_instant() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let mut a = artifact("demo-1.0-py3-none-any.whl", "1.0");
        a.provenance_url = Some("https://up.example/integrity/demo/1.0/x/provenance".into());
        let p = ProvenanceRow {
            source: a.source.clone(),
            filename: a.filename.clone(),
            project: a.project.clone(),
            sha256: a.sha256.clone(),
            provenance_json: r#"{"version":1,"attestation_bundles":[]}"#.into(),
            stored_at: Timestamp::from_micros(1_700_000_000_000_000),
        };
        // Rolled back with its file: neither is kept.
        let mut tx = db.write().await.unwrap();
        tx.insert_artifact(&a).await.unwrap();
        assert!(tx.insert_provenance(&p).await.unwrap());
        drop(tx);
        let none = db.provenance(&a.source, &a.filename, &a.sha256, None);
        assert_eq!(none.await.unwrap(), None, "{backend}");

        let mut tx = db.write().await.unwrap();
        tx.insert_artifact(&a).await.unwrap();
        tx.insert_provenance(&p).await.unwrap();
        let scope = tx.commit(&audit("upload")).await.unwrap();
        assert!(
            scope
                .projects
                .contains(&(a.source.clone(), a.project.clone()))
        );
        let got = db.artifact(&a.source, &a.filename).await.unwrap();
        assert_eq!(
            got.as_ref(),
            Some(&a),
            "{backend}: the upstream's link reads back"
        );
        let now = db.provenance(&a.source, &a.filename, &a.sha256, None);
        assert_eq!(now.await.unwrap().as_ref(), Some(&p), "{backend}");
        // Not for other bytes under the name, nor before it was stored.
        let other_bytes = "cd".repeat(32);
        let other = db.provenance(&a.source, &a.filename, &other_bytes, None);
        assert_eq!(other.await.unwrap(), None, "{backend}");
        let before = Some(Timestamp::from_micros(p.stored_at.as_micros() - 1));
        let then = db.provenance(&a.source, &a.filename, &a.sha256, before);
        assert_eq!(then.await.unwrap(), None, "{backend}");
        let files = db.provenance_files(&a.source, "demo", None).await.unwrap();
        assert!(
            files.contains(&(a.filename.clone(), a.sha256.clone())),
            "{backend}"
        );
        let files = db
            .provenance_files(&a.source, "demo", before)
            .await
            .unwrap();
        assert!(files.is_empty(), "{backend}");
        // Kept once: a second is not kept, and the transaction goes on.
        let mut tx = db.write().await.unwrap();
        let second = ProvenanceRow {
            provenance_json: "{}".into(),
            ..p.clone()
        };
        assert!(!tx.insert_provenance(&second).await.unwrap(), "{backend}");
        tx.commit(&audit("proxy.fetch")).await.unwrap();
        let kept = db.provenance(&a.source, &a.filename, &a.sha256, None);
        assert_eq!(kept.await.unwrap().as_ref(), Some(&p), "{backend}");
    }
    b.drop_all().await;
}

#[tokio::test]
async fn an_uncommitted_write_leaves_nothing() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let rev = db.revision().await.unwrap();
        {
            let mut tx = db.write().await.unwrap();
            tx.insert_artifact(&artifact("x-1-py3-none-any.whl", "1"))
                .await
                .unwrap();
        }
        assert!(
            db.artifact("internal-pypi", "x-1-py3-none-any.whl")
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert!(db.audit_entries(0).await.unwrap().is_empty(), "{backend}");
        assert_eq!(db.revision().await.unwrap(), rev, "{backend}");
    }
    b.drop_all().await;
}

#[tokio::test]
async fn tokens_names_are_unique_among_active_tokens() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let t = |id: &str| TokenRow {
            id: id.into(),
            name: "ci".into(),
            role: Role::Publisher,
            secret_sha256: "00".repeat(32),
            created_at: Timestamp::from_micros(5),
            revoked_at: None,
            lanes: vec!["prod".into(), "test".into()],
            owner: String::new(),
        };
        let mut tx = db.write().await.unwrap();
        tx.insert_token(&t("a")).await.unwrap();
        assert!(
            matches!(tx.insert_token(&t("b")).await, Err(DbError::Conflict(_))),
            "{backend}"
        );
        drop(tx);
        let mut tx = db.write().await.unwrap();
        tx.insert_token(&t("a")).await.unwrap();
        tx.commit(&audit("write")).await.unwrap();
        let mut tx = db.write().await.unwrap();
        assert!(
            tx.revoke_token("ci", Timestamp::from_micros(9))
                .await
                .unwrap()
        );
        assert!(
            !tx.revoke_token("ci", Timestamp::from_micros(9))
                .await
                .unwrap()
        );
        tx.insert_token(&t("b")).await.unwrap();
        tx.commit(&audit("write")).await.unwrap();
        let all = db.tokens().await.unwrap();
        assert_eq!(all.len(), 2, "{backend}");
        assert_eq!(
            db.token_by_id("a").await.unwrap().unwrap().revoked_at,
            Some(Timestamp::from_micros(9))
        );
        assert_eq!(db.token_by_id("b").await.unwrap().unwrap().revoked_at, None);
        assert_eq!(
            db.token_by_id("b").await.unwrap().unwrap().lanes,
            ["prod", "test"],
            "{backend}"
        );
        // Personal tokens: names are unique per owner; revoking by name leaves them alone.
        let personal = |id: &str, owner: &str| TokenRow {
            owner: owner.into(),
            ..t(id)
        };
        let mut tx = db.write().await.unwrap();
        tx.insert_token(&personal("c", "alice")).await.unwrap();
        tx.insert_token(&personal("d", "bob")).await.unwrap();
        assert!(
            matches!(
                tx.insert_token(&personal("e", "alice")).await,
                Err(DbError::Conflict(_))
            ),
            "{backend}"
        );
        drop(tx);
        let mut tx = db.write().await.unwrap();
        tx.insert_token(&personal("c", "alice")).await.unwrap();
        tx.insert_token(&personal("d", "bob")).await.unwrap();
        assert!(
            tx.revoke_token("ci", Timestamp::from_micros(10))
                .await
                .unwrap()
        );
        assert!(
            !tx.revoke_token("ci", Timestamp::from_micros(10))
                .await
                .unwrap()
        );
        assert!(
            tx.revoke_token_id("c", Timestamp::from_micros(11))
                .await
                .unwrap()
        );
        assert!(
            !tx.revoke_token_id("c", Timestamp::from_micros(11))
                .await
                .unwrap()
        );
        tx.commit(&audit("write")).await.unwrap();
        let alice = db.tokens_of("alice").await.unwrap();
        assert_eq!(alice.len(), 1, "{backend}");
        assert_eq!(alice[0].revoked_at, Some(Timestamp::from_micros(11)));
        assert_eq!(alice[0].owner, "alice");
        assert_eq!(db.tokens_of("bob").await.unwrap()[0].revoked_at, None);
    }
    b.drop_all().await;
}

#[tokio::test]
async fn webhook_deliveries_are_recorded_and_listed_newest_first() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let row = |id: &str, at: i64| WebhookDeliveryRow {
            id: id.into(),
            url: "http://127.0.0.1:1/hook".into(),
            event: "request.created".into(),
            body: "{}".into(),
            state: "pending".into(),
            attempts: 0,
            last_status: None,
            last_error: None,
            created_at: Timestamp::from_micros(at),
            updated_at: Timestamp::from_micros(at),
        };
        db.insert_webhook_delivery(&row("old", 1)).await.unwrap();
        db.insert_webhook_delivery(&row("new", 2)).await.unwrap();
        let mut done = row("old", 1);
        done.state = "delivered".into();
        done.attempts = 2;
        done.last_status = Some(200);
        done.updated_at = Timestamp::from_micros(3);
        db.update_webhook_delivery(&done).await.unwrap();
        let (rows, total) = db.webhook_deliveries(0, 10).await.unwrap();
        assert_eq!(total, 2, "{backend}");
        assert_eq!(rows[0].id, "new", "{backend}");
        assert_eq!(rows[1], done, "{backend}");
        let (rows, _) = db.webhook_deliveries(1, 10).await.unwrap();
        assert_eq!(rows.len(), 1, "{backend}");
    }
    b.drop_all().await;
}

#[tokio::test]
async fn audit_entries_are_chained_and_concurrent_writers_serialise() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let mut handles = Vec::new();
        for i in 0..16 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                let tx = db.write().await.unwrap();
                tx.commit(&audit(&format!("a{i}"))).await.unwrap();
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let entries = db.audit_entries(0).await.unwrap();
        assert_eq!(entries.len(), 16, "{backend}");
        for pair in entries.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash, "{backend}");
            assert_eq!(pair[1].seq, pair[0].seq + 1, "{backend}");
        }
    }
    b.drop_all().await;
}

#[tokio::test]
async fn proxy_pages_upsert_and_touch_without_a_revision() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let mut page = airlock_store::ProxyPageRow {
            source: "pypi".into(),
            project: "demo".into(),
            status: PageStatus::Found,
            checked_at: Timestamp::from_micros(10),
            etag: Some("\"e1\"".into()),
            last_modified: None,
        };
        let mut tx = db.write().await.unwrap();
        tx.upsert_proxy_page(&page).await.unwrap();
        let mut listed = artifact("demo-1.0.tar.gz", "1.0");
        listed.source = "pypi".into();
        listed.sha256 = String::new();
        listed.upstream_url = Some("https://up.example/demo-1.0.tar.gz".into());
        tx.insert_artifact(&listed).await.unwrap();
        tx.commit(&audit("write")).await.unwrap();

        page.status = PageStatus::Missing;
        page.etag = None;
        let mut tx = db.write().await.unwrap();
        tx.upsert_proxy_page(&page).await.unwrap();
        listed.sha256 = "cd".repeat(32);
        listed.delisted_at = Some(Timestamp::from_micros(99));
        tx.update_listed_artifact(&listed).await.unwrap();
        tx.commit(&audit("write")).await.unwrap();
        assert_eq!(
            db.proxy_page("pypi", "demo").await.unwrap().as_ref(),
            Some(&page),
            "{backend}"
        );
        assert_eq!(
            db.artifact("pypi", "demo-1.0.tar.gz")
                .await
                .unwrap()
                .as_ref(),
            Some(&listed),
            "{backend}"
        );
        assert!(db.proxy_projects("pypi").await.unwrap().is_empty());

        let rev = db.revision().await.unwrap();
        db.touch_proxy_page("pypi", "demo", Timestamp::from_micros(50))
            .await
            .unwrap();
        assert_eq!(
            db.revision().await.unwrap(),
            rev,
            "{backend}: touching is not a change"
        );
        assert_eq!(
            db.proxy_page("pypi", "demo")
                .await
                .unwrap()
                .unwrap()
                .checked_at,
            Timestamp::from_micros(50)
        );
    }
    b.drop_all().await;
}

#[tokio::test]
async fn approval_files_are_pinned_once_each() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let file = |sha256: &str, approved_at: i64| airlock_store::ApprovalFileRow {
            lane: "prod".into(),
            ecosystem: airlock_types::Ecosystem::Pypi,
            name: "ap1a".into(),
            version: "1.0".into(),
            sha256: sha256.into(),
            approved_at: Timestamp::from_micros(approved_at),
        };
        let mut tx = db.write().await.unwrap();
        tx.insert_approval_file(&file("aa", 1)).await.unwrap();
        tx.insert_approval_file(&file("aa", 2)).await.unwrap();
        tx.commit(&audit("write")).await.unwrap();
        let mut tx = db.write().await.unwrap();
        tx.insert_approval_file(&file("bb", 3)).await.unwrap();
        tx.commit(&audit("write")).await.unwrap();
        assert_eq!(
            db.approval_files().await.unwrap(),
            vec![file("aa", 1), file("bb", 3)],
            "{backend}"
        );
    }
    b.drop_all().await;
}

#[tokio::test]
async fn waivers_are_numbered_kept_and_revoked_once() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let waiver = |rule: &str, expires_at: Option<i64>| airlock_store::WaiverRow {
            id: 0,
            lane: "prod".into(),
            ecosystem: airlock_types::Ecosystem::Cran,
            name: "nettools".into(),
            version: "1.0-2".into(),
            rule: rule.into(),
            files: vec!["aa".repeat(32)],
            justification: "reviewed: it \"downloads\" the vendored test data".into(),
            created_by: "alice".into(),
            created_at: Timestamp::from_micros(10),
            expires_at: expires_at.map(Timestamp::from_micros),
            revoked_by: None,
            revoked_at: None,
        };
        let mut tx = db.write().await.unwrap();
        let first = tx
            .insert_waiver(&waiver("r-configure-download", None))
            .await
            .unwrap();
        let second = tx
            .insert_waiver(&waiver("typosquat", Some(99)))
            .await
            .unwrap();
        tx.commit(&audit("waiver.create")).await.unwrap();
        assert_eq!((first, second), (1, 2), "{backend}");
        let mut tx = db.write().await.unwrap();
        assert!(
            tx.revoke_waiver(1, "bob", Timestamp::from_micros(20))
                .await
                .unwrap()
        );
        assert!(
            !tx.revoke_waiver(1, "bob", Timestamp::from_micros(21))
                .await
                .unwrap()
        );
        assert!(
            !tx.revoke_waiver(7, "bob", Timestamp::from_micros(21))
                .await
                .unwrap()
        );
        tx.commit(&audit("waiver.revoke")).await.unwrap();
        let stored = db.waivers().await.unwrap();
        let mut revoked = waiver("r-configure-download", None);
        revoked.id = 1;
        revoked.revoked_by = Some("bob".into());
        revoked.revoked_at = Some(Timestamp::from_micros(20));
        let mut kept = waiver("typosquat", Some(99));
        kept.id = 2;
        assert_eq!(stored, vec![revoked.clone(), kept.clone()], "{backend}");
        assert!(!revoked.in_force_at(Timestamp::from_micros(9)));
        assert!(revoked.in_force_at(Timestamp::from_micros(19)));
        assert!(!revoked.in_force_at(Timestamp::from_micros(20)));
        assert!(kept.in_force_at(Timestamp::from_micros(1_000)));
    }
    b.drop_all().await;
}

/// Runs one statement on a backend as an older (or newer) version of airlock would have.
async fn raw(url: &str, sql: &str) {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn an_unknown_stored_word_is_an_error_not_a_panic() {
    let b = Backends::new().await;
    for ((backend, db), url) in b.dbs.iter().zip(&b.urls) {
        raw(
            url,
            "INSERT INTO proxy_pages (source, project, status, checked_at) \
             VALUES ('pypi', 'demo', 'gone-fishing', 1)",
        )
        .await;
        let err = db.proxy_page("pypi", "demo").await.unwrap_err();
        assert!(
            matches!(&err, DbError::Unreadable { column: "proxy_pages.status", value, .. } if value == "gone-fishing"),
            "{backend}: {err:?}"
        );
        assert!(
            err.to_string().contains("expected found or missing"),
            "{backend}: {err}"
        );
        raw(
            url,
            "INSERT INTO tokens (id, name, role, secret_sha256, created_at) \
             VALUES ('t1', 'x', 'superuser', '00', 1)",
        )
        .await;
        assert!(
            matches!(
                db.token_by_id("t1").await,
                Err(DbError::Unreadable {
                    column: "tokens.role",
                    ..
                })
            ),
            "{backend}"
        );
    }
    b.drop_all().await;
}

#[tokio::test]
async fn words_and_times_are_stored_as_before() {
    let b = Backends::new().await;
    for ((backend, db), url) in b.dbs.iter().zip(&b.urls) {
        // A row as every version so far wrote it reads back typed.
        raw(
            url,
            "INSERT INTO requests (id, lane, requester, reason, created_at, state, decided_by, decided_at, body) \
             VALUES (7, 'prod', 'ana', 'why', 1700000000000000, 'approved', 'bo', 1700000000000001, '{}')",
        )
        .await;
        let r = db.request(7).await.unwrap().unwrap();
        assert_eq!(r.state, RequestState::Approved, "{backend}");
        assert_eq!(r.created_at, Timestamp::from_micros(1_700_000_000_000_000));
        assert_eq!(
            r.decided_at,
            Some(Timestamp::from_micros(1_700_000_000_000_001))
        );
        assert_eq!(
            db.requests(None, Some(RequestState::Approved))
                .await
                .unwrap()
                .len(),
            1,
            "{backend}"
        );
        assert!(
            db.requests(None, Some(RequestState::Pending))
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
    }
    b.drop_all().await;
}

#[tokio::test]
async fn artifact_metadata_as_written_so_far_reads_back() {
    let b = Backends::new().await;
    for ((backend, db), url) in b.dbs.iter().zip(&b.urls) {
        let insert = |filename: &str, kind: &str, metadata: &str| {
            format!(
                "INSERT INTO artifacts (source, filename, project, display_name, version, kind, sha256, size, \
                 metadata_json, first_seen) VALUES ('s', '{filename}', 'p', 'p', '1.0', '{kind}', '', -1, '{metadata}', 1)"
            )
        };
        // A hosted Python upload, as publishing wrote it.
        raw(url, &insert(
            "p-1.0-py3-none-any.whl",
            "bdist_wheel",
            r#"{"metadata_version":"2.1","summary":null,"requires_dist":["idna>=2.5"],"license":null,"license_expression":"MIT","classifiers":[]}"#,
        ))
        .await;
        // An R upload, and a file a CRAN proxy listed.
        raw(
            url,
            &insert(
                "p_1.0.tar.gz",
                "r-source",
                r#"{"packages":{"Package":"p","Version":"1.0","Imports":"dep"},"title":"P"}"#,
            ),
        )
        .await;
        raw(
            url,
            &insert(
                "p_0.9.tar.gz",
                "r-source",
                r#"{"packages":{"Package":"p","Version":"0.9"},"md5":"ABCDEF"}"#,
            ),
        )
        .await;
        // A proxied file not fetched yet, and text that is no object.
        raw(url, &insert("p-1.0.tar.gz", "sdist", "{}")).await;
        raw(url, &insert("p-0.9.tar.gz", "sdist", "not json")).await;

        let get = |f: &'static str| async move { db.artifact("s", f).await.unwrap().unwrap() };
        let wheel = get("p-1.0-py3-none-any.whl").await;
        assert_eq!(wheel.kind, ArtifactKind::BdistWheel, "{backend}");
        assert_eq!(wheel.metadata.requires_dist, ["idna>=2.5"], "{backend}");
        assert_eq!(wheel.metadata.license_expression.as_deref(), Some("MIT"));
        assert_eq!(wheel.metadata.summary, None);
        let r = get("p_1.0.tar.gz").await;
        assert_eq!(r.kind, ArtifactKind::RSource, "{backend}");
        assert_eq!(r.metadata.packages["Imports"], "dep", "{backend}");
        assert_eq!(r.metadata.title.as_deref(), Some("P"));
        assert_eq!(
            get("p_0.9.tar.gz").await.metadata.md5.as_deref(),
            Some("ABCDEF")
        );
        assert!(get("p-1.0.tar.gz").await.metadata.is_empty(), "{backend}");
        assert!(get("p-0.9.tar.gz").await.metadata.is_empty(), "{backend}");

        // Written again, an empty metadata is `{}` as before, and a full one reads back equal.
        let mut tx = db.write().await.unwrap();
        let mut copy = wheel.clone();
        copy.filename = "p-1.0-py2-none-any.whl".into();
        tx.insert_artifact(&copy).await.unwrap();
        tx.commit(&audit("write")).await.unwrap();
        assert_eq!(db.artifact("s", &copy.filename).await.unwrap(), Some(copy));
    }
    b.drop_all().await;
}

#[tokio::test]
async fn archiving_is_kept_per_instant() {
    let b = Backends::new().await;
    for (backend, db) in &b.dbs {
        let at = Timestamp::from_micros;
        assert_eq!(
            db.project_archived("internal-pypi", "demo", None)
                .await
                .unwrap(),
            None,
            "{backend}"
        );
        let mut tx = db.write().await.unwrap();
        tx.set_archived(
            "internal-pypi",
            "demo",
            true,
            Some("unmaintained"),
            "ci",
            at(10),
        )
        .await
        .unwrap();
        let seen = tx.project_archived("internal-pypi", "demo").await.unwrap();
        assert_eq!(seen.map(|a| a.at), Some(at(10)), "{backend}");
        let scope = tx.commit(&audit("project.archive")).await.unwrap();
        // Only that project's pages change.
        assert!(!scope.everything, "{backend}");
        assert!(
            scope
                .projects
                .contains(&("internal-pypi".into(), "demo".into()))
        );
        let mut tx = db.write().await.unwrap();
        tx.set_archived("internal-pypi", "demo", false, None, "ci", at(20))
            .await
            .unwrap();
        tx.commit(&audit("project.unarchive")).await.unwrap();
        let archived = |t: Option<Timestamp>| db.project_archived("internal-pypi", "demo", t);
        assert_eq!(archived(Some(at(5))).await.unwrap(), None, "{backend}");
        let then = archived(Some(at(15))).await.unwrap().unwrap();
        assert_eq!(
            (then.at, then.by.as_str(), then.reason.as_deref()),
            (at(10), "ci", Some("unmaintained")),
            "{backend}"
        );
        assert_eq!(archived(None).await.unwrap(), None, "{backend}");
        assert_eq!(
            db.project_archived("other", "demo", Some(at(15)))
                .await
                .unwrap(),
            None,
            "{backend}"
        );
    }
    b.drop_all().await;
}
