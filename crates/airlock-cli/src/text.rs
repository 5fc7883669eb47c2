//! Words in the command line's output.

/// `n` and the noun that goes with it: `1 entry`, `2 entries`, `0 files`.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn singular_only_for_one() {
        assert_eq!(count(1u32, "entry", "entries"), "1 entry");
        assert_eq!(count(0u32, "entry", "entries"), "0 entries");
        assert_eq!(count(2u64, "file", "files"), "2 files");
    }
}
