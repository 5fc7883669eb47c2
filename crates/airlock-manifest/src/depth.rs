//! How deep a TOML, JSON or YAML text nests, measured in one pass before it is parsed.
//!
//! The parsers recurse per level (and YAML's loads every event before its own recursion limit
//! is seen), so `[[[[…` of a few hundred kilobytes costs them seconds. These scans are not
//! parsers: they skip strings and comments and count what opens a level, erring towards more
//! depth, never less. Each returns the 1-based line where `max` is first exceeded.

/// JSON: `[` and `{` outside strings.
pub(crate) fn json(text: &str, max: usize) -> Option<usize> {
    airlock_types::json_depth::exceeds(text.as_bytes(), max)
}

/// TOML: open arrays and tables (`[`, `{`, headers included) plus the dots of the keys of the
/// statement (`a.b.c = 1` and `[a.b.c]` nest tables too), outside strings and comments.
pub(crate) fn toml(text: &str, max: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut open: Vec<u8> = Vec::new();
    let (mut key_dots, mut in_key, mut line) = (0usize, true, 1usize);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                if open.is_empty() {
                    in_key = true;
                    key_dots = 0;
                }
            }
            b'#' => {
                while i + 1 < b.len() && b[i + 1] != b'\n' {
                    i += 1;
                }
            }
            quote @ (b'"' | b'\'') => {
                let triple: &[u8] = if quote == b'"' { b"\"\"\"" } else { b"'''" };
                if b[i..].starts_with(triple) {
                    i += 3;
                    while i < b.len() && !b[i..].starts_with(triple) {
                        if b[i] == b'\n' {
                            line += 1;
                        }
                        i += if quote == b'"' && b[i] == b'\\' { 2 } else { 1 };
                    }
                    // Up to two quotes may end the string's content before the closing three.
                    i += 2;
                    while i + 1 < b.len() && b[i + 1] == quote {
                        i += 1;
                    }
                } else {
                    i += 1;
                    while i < b.len() && b[i] != quote && b[i] != b'\n' {
                        i += if quote == b'"' && b[i] == b'\\' { 2 } else { 1 };
                    }
                    if i < b.len() && b[i] == b'\n' {
                        // Unterminated: let the parser say so; the line is still counted.
                        continue;
                    }
                }
            }
            open_char @ (b'[' | b'{') => {
                open.push(open_char);
                // `[` in a key position opens a table header, whose dots are keys.
                if open_char == b'{' {
                    in_key = true;
                }
            }
            b']' | b'}' => {
                // After an inline table closes, a value has ended: no key until `,`.
                let closed = open.pop();
                in_key &= closed != Some(b'{');
            }
            b',' if open.last() == Some(&b'{') => in_key = true,
            b'=' => in_key = false,
            b'.' if in_key => key_dots += 1,
            _ => {}
        }
        if open.len() + key_dots > max {
            return Some(line);
        }
        i += 1;
    }
    None
}

/// YAML: block levels (indentation, and `- `/`? ` indicators that open a level on the same
/// line, as in `- - - x`) plus open flow collections, outside quoted scalars and comments.
/// Flow indicators and quotes count only where a node may start (after `- `, `: `, `,`, `[`,
/// `{` or at the start of a line), so `numpy[extra]` and `don't` stay plain text.
pub(crate) fn yaml(text: &str, max: usize) -> Option<usize> {
    let mut flow = 0usize;
    let mut quote: Option<u8> = None;
    let mut block: Vec<usize> = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        if flow == 0 && quote.is_none() {
            let indent = b.iter().take_while(|&&c| c == b' ').count();
            let rest = line[indent..].trim();
            if rest.is_empty() || rest.starts_with('#') {
                continue;
            }
            while block.last().is_some_and(|&top| top >= indent) {
                block.pop();
            }
            block.push(indent);
            i = indent;
            while i < b.len()
                && matches!(b[i], b'-' | b'?')
                && b.get(i + 1)
                    .is_none_or(|&c| c == b' ' || c == b'\t' || c == b'\r')
            {
                i += 1;
                while i < b.len() && matches!(b[i], b' ' | b'\t') {
                    i += 1;
                }
                block.push(i);
            }
            if block.len() > max {
                return Some(index + 1);
            }
        }
        // The last byte that was not blank on this line after the indicators, if any.
        let mut last: Option<u8> = None;
        while i < b.len() {
            let c = b[i];
            if let Some(q) = quote {
                if q == b'"' && c == b'\\' {
                    i += 1;
                } else if c == q {
                    if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        quote = None;
                        last = Some(c);
                    }
                }
                i += 1;
                continue;
            }
            let after_blank = i == 0 || matches!(b[i - 1], b' ' | b'\t');
            let node_start = match last {
                None => true,
                Some(b'[' | b'{' | b',') => true,
                Some(b'-' | b':' | b'?') => after_blank,
                Some(_) => false,
            };
            match c {
                b'#' if after_blank => break,
                b'"' | b'\'' if node_start => quote = Some(c),
                b'[' | b'{' if flow > 0 || node_start => {
                    flow += 1;
                    if flow + block.len() > max {
                        return Some(index + 1);
                    }
                }
                b']' | b'}' if flow > 0 => flow -= 1,
                _ => {}
            }
            if !matches!(c, b' ' | b'\t' | b'\r') {
                last = Some(c);
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_counts_brackets_outside_strings() {
        assert_eq!(json(r#"{"a": [1, {"b": "[[[[["}]}"#, 3), None);
        assert_eq!(json(r#"{"a": [1, {"b": 2}]}"#, 2), Some(1));
        assert_eq!(json("{\"a\\\"[[\": 1}", 1), None);
        assert_eq!(json(&"[".repeat(100_000), 64), Some(1));
    }

    #[test]
    fn toml_counts_tables_arrays_and_dotted_keys() {
        let uv = "version = 1\n\n[[package]]\nname = \"a\"\nwheels = [\n  { url = \"x.whl\", hash = \"sha256:0\" },\n]\n[package.metadata]\nrequires-dist = [{ name = \"b\", marker = \"python_version >= '3.8'\" }]\n";
        assert_eq!(toml(uv, 2), None);
        assert_eq!(toml(uv, 1), Some(3));
        assert_eq!(toml("a = \"[[[[\" # [[[[\nb = '''\n[[[['''\n", 1), None);
        assert_eq!(toml("a.b.c = 1\n", 1), Some(1));
        assert_eq!(toml("[a.b.c]\n", 2), Some(1));
        assert_eq!(toml("x = 1.5\ny = [1.5, 2.5, 3.5]\n", 1), None);
        assert_eq!(toml(&format!("a = {}", "[".repeat(100_000)), 64), Some(1));
        assert_eq!(toml(&format!("a = {}", "{a=".repeat(100_000)), 64), Some(1));
        assert_eq!(
            toml(&format!("{} = 1", vec!["a"; 100_000].join(".")), 64),
            Some(1)
        );
    }

    #[test]
    fn yaml_counts_block_and_flow_levels() {
        let env = "name: x\ndependencies:\n  - python=3.11\n  - pip:\n    - requests[socks]==2.0 # it's\n    - \"don't[\"\n    - it's[\n";
        assert_eq!(yaml(env, 4), None);
        assert_eq!(yaml(env, 3), Some(5));
        assert_eq!(yaml("a: [b, {c: [d]}]\n", 4), None);
        assert_eq!(yaml("a: [b, {c: [d]}]\n", 3), Some(1));
        assert_eq!(yaml(&"[".repeat(100_000), 64), Some(1));
        assert_eq!(yaml(&"{".repeat(100_000), 64), Some(1));
        assert_eq!(yaml(&"- ".repeat(100_000), 64), Some(1));
        assert_eq!(yaml(&format!("a: 'x\n{}", "[".repeat(1000)), 64), None);
        assert_eq!(yaml(&format!("a: b 'x\n{}", "[".repeat(1000)), 64), Some(2));
    }
}
