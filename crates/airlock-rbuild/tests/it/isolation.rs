//! What a build cannot do: reach the network, outlive its wall-time limit, write outside `work`.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use airlock_rbuild::{FailureKind, Limits};

use crate::support::{build, expect_built, expect_failed, marker, source_package, tools};

#[test]
fn configure_cannot_reach_a_listener_on_the_hosts_loopback() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let configure = format!(
        "#!/bin/bash\n\
         if exec 3<>/dev/tcp/127.0.0.1/{port}; then echo 'configure: connected'; exit 0; fi\n\
         echo 'configure: error: no network'\nexit 1\n"
    );
    let source = source_package(
        tools,
        dir.path(),
        "airNet",
        "",
        &[("configure", &configure)],
    );
    let failed = expect_failed(build(
        tools,
        dir.path(),
        "airNet",
        &source,
        &[],
        &Limits::default(),
    ));
    assert_eq!(
        failed.reason, "configure: error: no network",
        "{}",
        failed.log
    );
    assert_eq!(failed.kind, FailureKind::Failed);
    assert!(
        !failed.log.contains("configure: connected"),
        "{}",
        failed.log
    );
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener got a connection: {other:?}"),
    }
}

/// The pids of processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            found.push(name);
        }
    }
    found
}

#[test]
fn a_build_that_loops_forever_is_killed_at_the_wall_time_limit_with_all_its_processes() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let loop_marker = marker("loop");
    let configure = format!(
        "#!/bin/sh\necho 'configure: looping'\n\
         exec /bin/sh -c 'while :; do sleep 1; done' {loop_marker}\n"
    );
    let source = source_package(
        tools,
        dir.path(),
        "airLoop",
        "",
        &[("configure", &configure)],
    );

    // Watches for the loop while the build runs, so that the check below is not vacuous.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = Arc::clone(&done);
        let loop_marker = loop_marker.clone();
        std::thread::spawn(move || {
            let mut seen = false;
            while !done.load(Ordering::SeqCst) {
                seen |= !processes_with(&loop_marker).is_empty();
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        })
    };
    let limits = Limits {
        wall: Duration::from_secs(4),
        ..Limits::default()
    };
    let started = Instant::now();
    let failed = expect_failed(build(tools, dir.path(), "airLoop", &source, &[], &limits));
    let elapsed = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let seen = watcher.join().unwrap();

    assert_eq!(
        failed.kind,
        FailureKind::TimedOut,
        "{}\n{}",
        failed.reason,
        failed.log
    );
    assert_eq!(failed.reason, "killed after the wall-time limit of 4 s");
    assert!(
        elapsed < Duration::from_secs(7),
        "returned after {elapsed:?}"
    );
    assert!(
        failed.seconds >= 4.0 && failed.seconds < 7.0,
        "{}",
        failed.seconds
    );
    assert!(failed.log.contains("configure: looping"), "{}", failed.log);
    assert!(seen, "the loop never ran");
    assert_eq!(
        processes_with(&loop_marker),
        Vec::<String>::new(),
        "left running"
    );
}

#[test]
fn a_build_cannot_write_outside_work() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    // World-writable, so that only the sandbox stands in the way.
    let in_tmp = tempfile::tempdir().unwrap();
    let in_var_tmp = tempfile::tempdir_in("/var/tmp").unwrap();
    for d in [in_tmp.path(), in_var_tmp.path()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
    }
    let name = marker("escape");
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    let targets = [
        in_tmp.path().join(&name),
        in_var_tmp.path().join(&name),
        home.join(&name),
    ];
    let mut configure = String::from("#!/bin/sh\n");
    for target in &targets {
        let target = target.display();
        configure.push_str(&format!(
            "if (echo x > '{target}') 2>/dev/null; then echo 'configure: wrote {target}'; \
             else echo 'configure: cannot write {target}'; fi\n"
        ));
    }
    configure
        .push_str("echo x > /tmp/build/input/extra 2>/dev/null && echo 'configure: wrote input'\n");
    // A directory descriptor from outside would lead back to the host's mounts.
    configure.push_str(&format!(
        "for fd in /proc/self/fd/*; do if [ -d \"$fd\" ]; then \
         (echo x > \"$fd/../{name}\") 2>/dev/null && echo \"configure: wrote through $fd\"; fi; done\n"
    ));
    configure.push_str("echo x > \"$HOME/inside\" && echo 'configure: wrote home'\nexit 0\n");
    let source = source_package(
        tools,
        dir.path(),
        "airEscape",
        "",
        &[("configure", &configure)],
    );
    let built = build(
        tools,
        dir.path(),
        "airEscape",
        &source,
        &[],
        &Limits::default(),
    );
    assert!(!dir.path().join(&name).exists(), "wrote beside work");
    for target in &targets {
        let exists = target.exists();
        let _ = fs::remove_file(target);
        assert!(!exists, "the build wrote {}", target.display());
    }
    let built = expect_built(built);
    // Under /tmp a write lands in the sandbox's own tmpfs; elsewhere the mount is read-only.
    let read_only = format!("configure: cannot write {}", targets[1].display());
    assert!(built.log.contains(&read_only), "{}", built.log);
    assert!(
        !built.log.contains("configure: wrote input"),
        "{}",
        built.log
    );
    assert!(built.log.contains("configure: wrote home"), "{}", built.log);
    assert!(
        !built.log.contains("configure: wrote through"),
        "{}",
        built.log
    );
}

#[test]
fn a_process_over_the_cpu_limit_is_killed() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let configure = "#!/bin/sh\necho 'configure: spinning'\nwhile :; do :; done\n";
    let source = source_package(
        tools,
        dir.path(),
        "airSpin",
        "",
        &[("configure", configure)],
    );
    let limits = Limits {
        cpu: Duration::from_secs(1),
        ..Limits::default()
    };
    let failed = expect_failed(build(tools, dir.path(), "airSpin", &source, &[], &limits));
    assert_eq!(
        failed.kind,
        FailureKind::CpuLimit,
        "{}\n{}",
        failed.reason,
        failed.log
    );
    assert_eq!(
        failed.reason,
        "a build process was killed at the CPU-time limit of 1 s"
    );
    assert!(failed.log.contains("configure: spinning"), "{}", failed.log);
}
