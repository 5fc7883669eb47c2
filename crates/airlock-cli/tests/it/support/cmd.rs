//! Running external programs with a time limit and their whole output kept for the failure message.

use std::fmt;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Longest any one command may run (a pip install against a hung server must not hang the suite).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// A command that ran to its end.
pub struct Finished {
    pub cmdline: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Panics with the whole output unless the command exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert!(self.status.success(), "command failed\n{self}");
        self
    }

    /// Panics with the whole output if the command exited 0.
    #[track_caller]
    pub fn failure(self) -> Self {
        assert!(!self.status.success(), "command should have failed\n{self}");
        self
    }

    /// stdout and stderr together, for searching messages that a tool may print on either.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.status, self.stdout, self.stderr
        )
    }
}

fn read_to_string_in_thread(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `cmd` with no stdin, capturing its output; kills it after [`COMMAND_TIMEOUT`].
#[track_caller]
pub fn run(cmd: &mut Command) -> Finished {
    let cmdline = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmdline}: {e}"));
    let stdout = read_to_string_in_thread(child.stdout.take().expect("piped stdout"));
    let stderr = read_to_string_in_thread(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break (status, false);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break (child.wait().expect("wait for killed child"), true);
        }
        thread::sleep(Duration::from_millis(20));
    };
    let finished = Finished {
        cmdline,
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    assert!(
        !timed_out,
        "command killed after {COMMAND_TIMEOUT:?}\n{finished}"
    );
    finished
}
