//! Cached views are kept until what they show changes: a new upload of one project leaves the
//! cached pages of every other project (and the other ecosystem's indexes) as they were, and
//! the changed ones are built again.

use std::sync::Arc;

use airlock_pypi::simple::Format;
use airlock_service::CranIndex;

use crate::support::{TestApp, dists};

#[tokio::test]
async fn an_upload_rebuilds_only_the_views_it_changes() {
    let app = TestApp::start().await;
    let token = app.token("ci", airlock_service::Role::Publisher, &[]).await;
    app.publish(&token, "internal-pypi", &dists::wheel("alpha", "1.0", &[]))
        .await;
    app.publish(&token, "internal-pypi", &dists::wheel("beta", "1.0", &[]))
        .await;
    app.publish(
        &token,
        "internal-cran",
        &dists::r_source("gamma", "1.0", &[]),
    )
    .await;
    let service = app.service();
    let dev = service.open_lane("dev", None).expect("dev");
    let page = |name: &'static str| {
        let dev = dev.clone();
        async move {
            service
                .index()
                .project_page(&dev, name, Format::Json)
                .await
                .expect("page")
        }
    };
    let alpha = page("alpha").await;
    let beta = page("beta").await;
    let root = service
        .index()
        .root_page(&dev, Format::Json)
        .await
        .expect("root");
    let packages = service
        .cran()
        .index(&dev, CranIndex::Packages)
        .await
        .expect("PACKAGES");
    assert!(
        Arc::ptr_eq(&alpha, &page("alpha").await),
        "served from the cache"
    );

    app.publish(&token, "internal-pypi", &dists::wheel("alpha", "2.0", &[]))
        .await;
    let alpha_after = page("alpha").await;
    assert!(
        !Arc::ptr_eq(&alpha, &alpha_after),
        "alpha's page is built again"
    );
    assert!(
        String::from_utf8_lossy(&alpha_after.body).contains("alpha-2.0-"),
        "and shows the new version"
    );
    assert!(
        Arc::ptr_eq(&beta, &page("beta").await),
        "beta's page is the one cached before"
    );
    let cran_after = service
        .cran()
        .index(&dev, CranIndex::Packages)
        .await
        .expect("PACKAGES");
    assert!(
        Arc::ptr_eq(&packages, &cran_after),
        "a Python upload leaves the CRAN indexes alone"
    );
    let root_after = service
        .index()
        .root_page(&dev, Format::Json)
        .await
        .expect("root");
    assert!(
        Arc::ptr_eq(&root, &root_after),
        "a new version of a listed project leaves the root list as it is"
    );
    app.publish(
        &token,
        "internal-pypi",
        &dists::wheel("epsilon", "1.0", &[]),
    )
    .await;
    let root_new = service
        .index()
        .root_page(&dev, Format::Json)
        .await
        .expect("root");
    assert!(
        String::from_utf8_lossy(&root_new.body).contains("\"epsilon\""),
        "a new project is listed at once"
    );
    assert!(
        Arc::ptr_eq(&beta, &page("beta").await),
        "and leaves the other pages alone"
    );

    app.publish(
        &token,
        "internal-cran",
        &dists::r_source("delta", "1.0", &[]),
    )
    .await;
    let cran_new = service
        .cran()
        .index(&dev, CranIndex::Packages)
        .await
        .expect("PACKAGES");
    assert!(String::from_utf8_lossy(&cran_new.body).contains("Package: delta"));
    assert!(
        Arc::ptr_eq(&beta, &page("beta").await),
        "an R upload leaves Python pages alone"
    );
}
