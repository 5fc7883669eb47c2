//! Project tools data scientists use besides pip and uv (poetry, pdm, pipenv, hatch, flit), each
//! run in a scratch home of its own: no user configuration, cache or keyring reaches them.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::cmd::{Finished, run};
use super::env::{client_bin, venv_bin};
use super::python::{FOREIGN_ENV, installed_version};

/// A project directory and a home for one client.
pub struct ClientProject {
    home: TempDir,
    pub dir: PathBuf,
}

impl ClientProject {
    /// An empty project directory, with `files` (relative path, text) written into it.
    pub fn new(files: &[(&str, &str)]) -> Self {
        let home = tempfile::Builder::new()
            .prefix("airlock-client-")
            .tempdir()
            .expect("temp dir");
        let dir = home.path().join("project");
        for (rel, text) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write project file");
        }
        std::fs::create_dir_all(&dir).expect("mkdir");
        ClientProject { home, dir }
    }

    /// `tool` with `args` in the project directory.
    pub fn command(&self, tool: &str) -> Command {
        let home = self.home.path();
        let mut cmd = Command::new(client_bin(tool));
        for var in FOREIGN_ENV {
            cmd.env_remove(var);
        }
        cmd.current_dir(&self.dir)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1")
            .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
            .env("NO_COLOR", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // Virtual environments inside the project, made from the test venv's Python.
            .env("POETRY_VIRTUALENVS_IN_PROJECT", "true")
            .env("POETRY_NO_INTERACTION", "1")
            .env("PDM_CHECK_UPDATE", "false")
            .env("PDM_USE_VENV", "true")
            .env("PIPENV_VENV_IN_PROJECT", "1")
            .env("PIPENV_NOSPIN", "1")
            .env("PIPENV_YES", "1")
            .env("PIPENV_PYTHON", venv_bin("python"))
            .env("CI", "1");
        cmd
    }

    /// Runs `tool args…` in the project directory.
    pub fn run(&self, tool: &str, args: &[&str]) -> Finished {
        run(self.command(tool).args(args))
    }

    /// The project's own virtual environment's Python (`.venv/bin/python`).
    pub fn venv_python(&self) -> PathBuf {
        self.dir.join(".venv/bin/python")
    }

    /// The version of `name` installed in the project's `.venv`, if any.
    pub fn installed(&self, name: &str) -> Option<String> {
        installed_version(&self.venv_python(), name)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel))
            .unwrap_or_else(|e| panic!("{rel} in {}: {e}", self.dir.display()))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

/// Copies `files` into `dir/dist/`, for publishing tools that take what is there.
pub fn stage_dists(dir: &Path, files: &[&Path]) -> Vec<PathBuf> {
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).expect("mkdir dist");
    files
        .iter()
        .map(|f| {
            let to = dist.join(f.file_name().expect("file name"));
            std::fs::copy(f, &to).expect("copy dist");
            to
        })
        .collect()
}
