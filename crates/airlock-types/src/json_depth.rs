//! How deep JSON text nests, measured in one pass before it is parsed: parsers recurse per
//! level, so `[[[[…` must be refused before it reaches them. Not a parser: it skips strings and
//! counts `[` and `{` outside them, erring towards more depth, never less.

/// The 1-based line where the nesting of `text` first exceeds `max`; `None` when it never does.
pub fn exceeds(text: &[u8], max: usize) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if b == b'\n' {
            line += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::exceeds;

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = br#"["[[[[[[", {"a": "]]]{{{\"[["}]"#;
        assert_eq!(exceeds(text, 2), None);
        assert_eq!(exceeds(text, 1), Some(1));
        assert_eq!(exceeds(b"[\n[\n[", 2), Some(3));
    }
}
