//! Upstream credentials never show in debug output, whether given apart or written into the URL.

use std::time::Duration;

use airlock_upstream::{Secret, Upstream, UpstreamConfig};

fn config(url: &str, password: Option<&str>) -> UpstreamConfig {
    UpstreamConfig {
        source: "mirror".into(),
        url: url.into(),
        username: Some("alice".into()),
        password: password.map(Into::into),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        retries: 0,
        backoff: Duration::from_millis(10),
    }
}

#[test]
fn a_configured_password_is_not_in_debug_output() {
    let cfg = config("https://mirror.example/simple/", Some("hunter2-Secret"));
    assert!(!format!("{cfg:?}").contains("hunter2"), "{cfg:?}");
    let upstream = Upstream::new(cfg).unwrap();
    assert!(!format!("{upstream:?}").contains("hunter2"), "{upstream:?}");
}

#[test]
fn a_password_written_into_the_url_is_not_in_debug_output() {
    let cfg = UpstreamConfig {
        username: None,
        ..config("https://bob:url-Secret-77@mirror.example/simple/", None)
    };
    let upstream = Upstream::new(cfg).unwrap();
    let shown = format!("{upstream:?}");
    assert!(!shown.contains("url-Secret-77"), "{shown}");
    assert!(shown.contains("mirror.example"), "{shown}");
}
#[test]
fn a_secret_prints_as_stars_and_keeps_its_value() {
    let secret = Secret::from("s3cr3t");
    assert_eq!(format!("{secret}"), "***");
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(secret.expose(), "s3cr3t");
}
