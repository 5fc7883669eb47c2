//! pip, uv and twine from the test venv, isolated from the user's configuration, and fresh target venvs.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::cmd::{Finished, run};
use super::env::venv_bin;
use super::server::TestServer;

/// Variables by which the machine's configuration could send a tool elsewhere than the test server.
pub const FOREIGN_ENV: &[&str] = &[
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_FIND_LINKS",
    "UV_PUBLISH_URL",
    "UV_PUBLISH_TOKEN",
    "UV_PUBLISH_USERNAME",
    "UV_PUBLISH_PASSWORD",
    "TWINE_REPOSITORY",
    "TWINE_REPOSITORY_URL",
    "TWINE_USERNAME",
    "TWINE_PASSWORD",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// A tool of the test venv (`pip`, `uv`, `twine`, `python`) with no user config, no prompts, no proxy.
/// `scratch` holds the uv cache.
pub fn tool(name: &str, scratch: &Path) -> Command {
    let mut cmd = Command::new(venv_bin(name));
    for var in FOREIGN_ENV {
        cmd.env_remove(var);
    }
    cmd.env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_NO_INPUT", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("UV_NO_CONFIG", "1")
        .env("UV_CACHE_DIR", scratch.join("uv-cache"))
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("UV_NO_PROGRESS", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// `twine upload` of `files` to the server's hosted source with `token`.
pub fn twine_upload(server: &TestServer, token: &str, files: &[&Path], extra: &[&str]) -> Finished {
    let scratch = TempDir::new().expect("temp dir");
    run(tool("twine", scratch.path())
        .args([
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--verbose",
        ])
        .args(["--repository-url", &server.upload_url()])
        .args(["-u", "__token__", "-p", token])
        .args(extra)
        .args(files))
}

/// `uv publish` of `files` to the server's hosted source with `token`.
pub fn uv_publish(server: &TestServer, token: &str, files: &[&Path], extra: &[&str]) -> Finished {
    let scratch = TempDir::new().expect("temp dir");
    run(tool("uv", scratch.path())
        .args(["publish", "--trusted-publishing", "never"])
        .args(["--publish-url", &server.upload_url()])
        .args(["--token", token])
        .args(extra)
        .args(files))
}

/// A fresh, empty venv to install into.
pub struct TargetEnv {
    dir: TempDir,
    python: PathBuf,
}

impl TargetEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("airlock-target-")
            .tempdir()
            .expect("temp dir");
        let venv = dir.path().join("venv");
        // No pip inside: the test venv's pip installs into it with `--python`.
        run(Command::new(venv_bin("python"))
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv))
        .success();
        TargetEnv {
            python: venv.join("bin").join("python"),
            dir,
        }
    }

    /// `pip install --index-url {index_url} {args}` into this venv, without caches.
    pub fn pip_install(&self, index_url: &str, args: &[&str]) -> Finished {
        run(tool("pip", self.dir.path())
            .arg("--python")
            .arg(&self.python)
            .args(["install", "--no-cache-dir", "--disable-pip-version-check"])
            .args(["--index-url", index_url])
            .args(args))
    }

    /// `uv pip install --index-url {index_url} {args}` into this venv, with a cache of its own.
    pub fn uv_pip_install(&self, index_url: &str, args: &[&str]) -> Finished {
        self.uv_pip_install_with_env(index_url, args, &[])
    }

    /// [`Self::uv_pip_install`] with more environment variables (e.g. `UV_HTTP_RETRIES`).
    pub fn uv_pip_install_with_env(
        &self,
        index_url: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Finished {
        run(tool("uv", self.dir.path())
            .args(["pip", "install", "--python"])
            .arg(&self.python)
            .args(["--index-url", index_url])
            .args(args)
            .envs(env.iter().copied()))
    }

    /// The installed version of distribution `name`, if any.
    pub fn version_of(&self, name: &str) -> Option<String> {
        installed_version(&self.python, name)
    }

    /// Runs Python code in this venv and returns its stdout.
    pub fn python(&self, code: &str) -> String {
        run(Command::new(&self.python).args(["-c", code]))
            .success()
            .stdout
    }
}

/// The version of distribution `name` installed for the interpreter `python`, if any.
pub fn installed_version(python: &Path, name: &str) -> Option<String> {
    let done = run(Command::new(python).args([
        "-c",
        "import sys, importlib.metadata as m\n\
         try: print(m.version(sys.argv[1]))\n\
         except m.PackageNotFoundError: pass",
        name,
    ]))
    .success();
    let version = done.stdout.trim();
    (!version.is_empty()).then(|| version.to_string())
}
