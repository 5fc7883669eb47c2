//! PEP 508 environment markers evaluated for the environments a lane serves (a dependency
//! that applies to none of them is not needed there).

use std::str::FromStr;

use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree};

use crate::requirements::{MAX_MARKER_DEPTH, paren_depth};

/// An operating system, as markers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    Windows,
    Macos,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Linux, Platform::Windows, Platform::Macos];

    /// `linux`, `windows`, `macos`.
    pub fn parse(word: &str) -> Option<Platform> {
        match word {
            "linux" => Some(Platform::Linux),
            "windows" => Some(Platform::Windows),
            "macos" => Some(Platform::Macos),
            _ => None,
        }
    }

    /// `(sys_platform, platform_system, os_name, platform_machine)`.
    fn values(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Platform::Linux => ("linux", "Linux", "posix", "x86_64"),
            Platform::Windows => ("win32", "Windows", "nt", "AMD64"),
            Platform::Macos => ("darwin", "Darwin", "posix", "arm64"),
        }
    }
}

/// Whether `marker` holds in at least one environment of CPython `pythons` (`3.11`) on
/// `platforms`, with no extra requested. `None` when the marker does not parse.
pub fn marker_applies(marker: &str, pythons: &[String], platforms: &[Platform]) -> Option<bool> {
    // The guards pep508_rs 0.9 needs (see `requirements`).
    if !marker.is_ascii() || paren_depth(marker) > MAX_MARKER_DEPTH {
        return None;
    }
    let tree = MarkerTree::from_str(marker).ok()?;
    for python in pythons {
        let full = if python.matches('.').count() >= 2 {
            python.clone()
        } else {
            format!("{python}.0")
        };
        for platform in platforms {
            let (sys_platform, system, os_name, machine) = platform.values();
            let env = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
                implementation_name: "cpython",
                implementation_version: &full,
                os_name,
                platform_machine: machine,
                platform_python_implementation: "CPython",
                platform_release: "",
                platform_system: system,
                platform_version: "",
                python_full_version: &full,
                python_version: python,
                sys_platform,
            })
            .ok()?;
            if tree.evaluate(&env, &[]) {
                return Some(true);
            }
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(marker: &str, pythons: &[&str], platforms: &[Platform], expected: Option<bool>) {
        let pythons: Vec<String> = pythons.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            marker_applies(marker, &pythons, platforms),
            expected,
            "{marker:?} for {pythons:?} {platforms:?}"
        );
    }

    #[test]
    fn markers_for_lane_environments() {
        let linux = [Platform::Linux];
        check(
            "python_version < \"3.8\"",
            &["3.11", "3.12"],
            &linux,
            Some(false),
        );
        check(
            "python_version >= \"3.11\"",
            &["3.10", "3.11"],
            &linux,
            Some(true),
        );
        check("sys_platform == \"win32\"", &["3.11"], &linux, Some(false));
        check(
            "sys_platform == \"win32\"",
            &["3.11"],
            &Platform::ALL,
            Some(true),
        );
        check(
            "platform_system == \"Darwin\" and python_version >= \"3.9\"",
            &["3.12"],
            &[Platform::Macos],
            Some(true),
        );
        check("extra == \"test\"", &["3.11"], &linux, Some(false));
        check("python_version >= ", &["3.11"], &linux, None);
        check("os_name == \"é\"", &["3.11"], &linux, None);
    }
}
