//! Moving pinned entries to other versions in the two manifest kinds airlock edits
//! (`airlock check --suggest --write`): pip requirement files and `renv.lock`. Everything else of
//! the file is kept byte for byte: comments, blank lines, line endings, the other entries.
//!
//! A requirement line keeps its name, extras, marker, options and comment; only the version
//! after `==` (or `===`) changes. When the line carries `--hash` options (pip's hash-checking
//! mode, which then wants a hash for every requirement), they are replaced by the sha256 of the
//! new version's files, sorted as pip-compile writes them, in the line's own layout (on the line,
//! or one per continuation line); a change without hashes for such a line is refused, as is a
//! line whose layout is not understood.
//!
//! A `renv.lock` record is rewritten whole in the layout renv writes: `Package`, the new
//! `Version`, `Source` and `Repository` as they were, and `Requirements` when the change gives
//! them (the names the new version's `Depends`, `Imports` and `LinkingTo` list, as renv records
//! them). Every other field described the old version's DESCRIPTION (`Hash`, which digests it,
//! the DESCRIPTION fields renv 1.1 copies, `Remote*`) and is left out: renv reads records
//! without them, as `renv::record()` writes them.
//!
//! Regions ([`Span`]) say where the version of an entry is written, for reports that point at
//! it (SARIF fixes).

use crate::requirements::physical_lines;

/// Where a piece of text is: 1-based lines and columns, the end column exclusive. Columns count
/// UTF-16 code units (SARIF's default `columnKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start_line: usize,
    pub start_column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// One entry moved to another version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The entry's name as the manifest writes it (compared by PEP 503 for requirement files,
    /// exactly for renv).
    pub name: String,
    /// For requirement files: the line the entry starts on (its [`crate::Location`] line).
    pub line: Option<usize>,
    /// The version written now.
    pub from: String,
    pub to: String,
    /// sha256 digests (hex) of the new version's files, for lines with `--hash` options.
    pub sha256: Vec<String>,
    /// For `renv.lock`: the new version's `Requirements`; `None` leaves the field out.
    pub requirements: Option<Vec<String>>,
}

/// A change that was not made, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub name: String,
    pub why: String,
}

/// The rewritten text and the changes that could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub text: String,
    pub refused: Vec<Refused>,
}

// ------------------------------------------------------------------------------------------
// Requirement files

/// The physical lines of `text` with their terminators, as byte ranges.
fn line_ranges(text: &str) -> Vec<(usize, usize)> {
    // Numbered as `physical_lines` numbers them (pip's `splitlines`), so that entry locations
    // match; the ranges here end before the terminator.
    let lines = physical_lines(text);
    lines
        .iter()
        .map(|(_, line)| {
            let start = line.as_ptr() as usize - text.as_ptr() as usize;
            (start, start + line.len())
        })
        .collect()
}

/// The pinned version of the requirement `name` on `line` (1-based): its byte range in `text`.
fn pinned_version(text: &str, line: usize, name: &str) -> Result<(usize, usize), String> {
    let ranges = line_ranges(text);
    let &(start, end) = ranges
        .get(line.wrapping_sub(1))
        .ok_or_else(|| format!("the file has no line {line}"))?;
    let physical = &text[start..end];
    let body = physical.trim_start();
    let offset = start + (physical.len() - body.len());
    let name_end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(body.len());
    if crate::requirements::normalize(&body[..name_end]) != crate::requirements::normalize(name) {
        return Err(format!("line {line} does not start with {name}"));
    }
    // The requirement part ends at the marker, an option, a comment or a continuation.
    let limit = [";", " -", "\t-", " #", "\t#", "\\"]
        .iter()
        .filter_map(|s| body.find(s))
        .min()
        .unwrap_or(body.len());
    let requirement = &body[..limit];
    // The specifiers start after the name and its extras.
    let after_name = &requirement[name_end..];
    let spec_start = name_end
        + match after_name.trim_start().strip_prefix('[') {
            Some(inner) => match inner.find(']') {
                Some(close) => after_name.len() - inner.len() + close + 1,
                None => return Err(format!("{name} on line {line} has unclosed extras")),
            },
            None => 0,
        };
    let at = spec_start
        + requirement[spec_start..]
            .find("==")
            .ok_or_else(|| format!("{name} on line {line} is not pinned with =="))?;
    let mut v = at + 2;
    if requirement[v..].starts_with('=') {
        v += 1;
    }
    let rest = &requirement[v..];
    let version_start = v + (rest.len() - rest.trim_start().len());
    let version_len = requirement[version_start..]
        .find(|c: char| c.is_whitespace() || c == ',')
        .unwrap_or(requirement.len() - version_start);
    if requirement[version_start + version_len..].contains("==")
        || requirement[spec_start..at].contains([',', '<', '>', '!', '~'])
        || requirement[version_start + version_len..].contains(',')
    {
        return Err(format!(
            "{name} on line {line} has more than one version clause"
        ));
    }
    if version_len == 0 {
        return Err(format!("{name} on line {line} has no version after =="));
    }
    Ok((offset + version_start, offset + version_start + version_len))
}

/// The 1-based line and UTF-16 column of byte `at` of `text`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let ranges = line_ranges(text);
    let index = ranges
        .iter()
        .rposition(|(start, _)| *start <= at)
        .unwrap_or(0);
    let start = ranges.get(index).map_or(0, |r| r.0);
    let column = text[start..at].encode_utf16().count() + 1;
    (index + 1, column)
}

fn span_of(text: &str, (start, end): (usize, usize)) -> Span {
    let (start_line, start_column) = position(text, start);
    let (end_line, end_column) = position(text, end);
    Span {
        start_line,
        start_column,
        end_line,
        end_column,
    }
}

/// Where the pinned version of `name` on `line` of a requirement file is written.
pub fn requirement_version_span(text: &str, line: usize, name: &str) -> Option<Span> {
    pinned_version(text, line, name)
        .ok()
        .map(|r| span_of(text, r))
}

/// The lines of the logical line starting at `first` (0-based): while a line ends with `\`.
fn logical_group(text: &str, ranges: &[(usize, usize)], first: usize) -> Vec<usize> {
    let mut group = vec![first];
    let mut i = first;
    while text[ranges[i].0..ranges[i].1].trim_end().ends_with('\\') && i + 1 < ranges.len() {
        let next = text[ranges[i + 1].0..ranges[i + 1].1].trim_start();
        if next.starts_with('#') {
            break;
        }
        i += 1;
        group.push(i);
    }
    group
}

/// Whether a word is a `--hash` option, and whether its value is the next word.
fn hash_word(word: &str) -> Option<bool> {
    if word == "--hash" {
        Some(true)
    } else if word.starts_with("--hash=") {
        Some(false)
    } else {
        None
    }
}

/// A physical line cut into its content (no continuation), whether it continued, and its
/// comment (with the whitespace before it).
fn cut_line(line: &str) -> (&str, bool, &str) {
    let comment_at = line
        .char_indices()
        .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))
        .map(|(i, _)| line[..i].trim_end().len());
    let (content, comment) = match comment_at {
        Some(at) => (&line[..at], &line[at..]),
        None => (line, ""),
    };
    let trimmed = content.trim_end();
    match trimmed.strip_suffix('\\') {
        Some(rest) => (rest.trim_end(), true, comment),
        None => (trimmed, false, comment),
    }
}

/// `content` cut before its first `--hash` option (trimmed), and the other words after it.
fn split_at_hashes(content: &str) -> (&str, String) {
    let at = content
        .match_indices("--hash")
        .find(|(i, _)| *i == 0 || content[..*i].ends_with([' ', '\t']))
        .map_or(content.len(), |(i, _)| i);
    let (rest, _) = without_hashes(&content[at..]);
    (content[..at].trim_end(), rest)
}

/// The words of `content` without its `--hash` options, and whether it had any.
fn without_hashes(content: &str) -> (String, bool) {
    let mut kept: Vec<&str> = Vec::new();
    let mut had = false;
    let mut words = content.split_whitespace();
    while let Some(word) = words.next() {
        match hash_word(word) {
            Some(value_follows) => {
                had = true;
                if value_follows {
                    words.next();
                }
            }
            None => kept.push(word),
        }
    }
    (kept.join(" "), had)
}

/// The logical line of `change` rewritten, as the replacement of its physical lines.
fn rewrite_requirement(text: &str, change: &Change) -> Result<(usize, usize, String), String> {
    let line = change
        .line
        .ok_or_else(|| "the entry's line is not known".to_string())?;
    let (v_start, v_end) = pinned_version(text, line, &change.name)?;
    if text[v_start..v_end] != change.from {
        return Err(format!(
            "line {line} pins {}, not {}",
            &text[v_start..v_end],
            change.from
        ));
    }
    let ranges = line_ranges(text);
    let group = logical_group(text, &ranges, line - 1);
    let first = ranges[group[0]];
    let last = ranges[group[group.len() - 1]];
    let physical: Vec<&str> = group
        .iter()
        .map(|&i| &text[ranges[i].0..ranges[i].1])
        .collect();
    let has_hashes = physical.iter().any(|l| without_hashes(cut_line(l).0).1);
    // The first line with the new version.
    let head = format!(
        "{}{}{}",
        &text[first.0..v_start],
        change.to,
        &text[v_end..first.1]
    );
    if !has_hashes {
        return Ok((v_start, v_end, change.to.clone()));
    }
    if change.sha256.is_empty() {
        return Err(format!(
            "line {line} pins {} with --hash options, and the lane has no sha256 of the files of {}=={}: pip in hash-checking mode would refuse the new line, so give its hashes by hand",
            change.from, change.name, change.to
        ));
    }
    let mut hashes: Vec<String> = change
        .sha256
        .iter()
        .map(|h| format!("--hash=sha256:{}", h.to_ascii_lowercase()))
        .collect();
    hashes.sort();
    hashes.dedup();
    if physical.len() == 1 {
        // `name==v --hash=… --hash=…  # comment`: the hashes where the first one was.
        let (content, _, comment) = cut_line(&head);
        let (prefix, rest) = split_at_hashes(content);
        let mut out = format!("{prefix} {}", hashes.join(" "));
        if !rest.is_empty() {
            out.push(' ');
            out.push_str(&rest);
        }
        out.push_str(comment);
        return Ok((first.0, last.1, rejoin(text, first.0, last.1, &out)));
    }
    // One option per continuation line: the first line without hashes, then each hash.
    let (head_content, _, head_comment) = cut_line(&head);
    if !head_comment.is_empty() {
        return Err(format!("line {line} has a comment inside a continued line"));
    }
    let (prefix, rest) = split_at_hashes(head_content);
    let mut tail_comment = "";
    let mut indent = "    ";
    for (k, l) in physical.iter().enumerate().skip(1) {
        let (content, _, comment) = cut_line(l);
        if !comment.is_empty() {
            if k + 1 != physical.len() {
                return Err(format!("line {line} has a comment inside a continued line"));
            }
            tail_comment = comment;
        }
        let (kept, had) = without_hashes(content);
        if !kept.is_empty() {
            return Err(format!(
                "line {} continues {} with options besides --hash: edit it by hand",
                line + k,
                change.name
            ));
        }
        if had && k == 1 {
            indent = leading(l);
        }
    }
    let mut head_text = prefix.to_string();
    if !rest.is_empty() {
        head_text.push(' ');
        head_text.push_str(&rest);
    }
    let mut out = head_text;
    for h in &hashes {
        out.push_str(" \\\n");
        out.push_str(indent);
        out.push_str(h);
    }
    out.push_str(tail_comment);
    Ok((first.0, last.1, rejoin(text, first.0, last.1, &out)))
}

/// The whitespace a line starts with.
fn leading(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// `out` with its `\n` joints in the line ending the replaced lines used (`\r\n` files stay so).
fn rejoin(text: &str, start: usize, end: usize, out: &str) -> String {
    if text[start..end].contains("\r\n") || text[end..].starts_with("\r\n") {
        out.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        out.to_string()
    }
}

/// `text` (a pip requirement file) with each change made where it can be.
pub fn rewrite_requirements(text: &str, changes: &[Change]) -> Rewritten {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut refused = Vec::new();
    for change in changes {
        match rewrite_requirement(text, change) {
            Ok(edit) => {
                if edits.iter().any(|(s, e, _)| *s < edit.1 && edit.0 < *e) {
                    refused.push(Refused {
                        name: change.name.clone(),
                        why: "another change rewrites the same line".into(),
                    });
                } else {
                    edits.push(edit);
                }
            }
            Err(why) => refused.push(Refused {
                name: change.name.clone(),
                why,
            }),
        }
    }
    Rewritten {
        text: apply(text, edits),
        refused,
    }
}

/// `text` with the byte ranges replaced (ranges do not overlap).
fn apply(text: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, replacement) in edits {
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

// ------------------------------------------------------------------------------------------
// renv.lock

/// A JSON value's byte range, found without building it.
struct Json<'a> {
    text: &'a str,
}

impl Json<'_> {
    fn ws(&self, mut i: usize) -> usize {
        let b = self.text.as_bytes();
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    /// The end (exclusive) of the string starting at `i`.
    fn string(&self, i: usize) -> Option<usize> {
        let b = self.text.as_bytes();
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let mut j = i + 1;
        while j < b.len() {
            match b[j] {
                b'\\' => j += 2,
                b'"' => return Some(j + 1),
                _ => j += 1,
            }
        }
        None
    }

    /// The end (exclusive) of the value starting at `i` (after whitespace).
    fn value(&self, i: usize) -> Option<usize> {
        let b = self.text.as_bytes();
        match b.get(i)? {
            b'"' => self.string(i),
            b'{' | b'[' => {
                // Nesting is bounded by the manifest reader before this runs; iterate anyway.
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    match b[j] {
                        b'"' => {
                            j = self.string(j)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                None
            }
            _ => {
                let mut j = i;
                while j < b.len()
                    && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                {
                    j += 1;
                }
                (j > i).then_some(j)
            }
        }
    }

    /// The members of the object starting at `i`: (key, key start, value start, value end).
    fn members(&self, i: usize) -> Option<Vec<(String, usize, usize, usize)>> {
        let b = self.text.as_bytes();
        if b.get(i) != Some(&b'{') {
            return None;
        }
        let mut out = Vec::new();
        let mut j = self.ws(i + 1);
        if b.get(j) == Some(&b'}') {
            return Some(out);
        }
        loop {
            let key_end = self.string(j)?;
            let key: String = serde_json::from_str(&self.text[j..key_end]).ok()?;
            let colon = self.ws(key_end);
            if b.get(colon) != Some(&b':') {
                return None;
            }
            let v = self.ws(colon + 1);
            let v_end = self.value(v)?;
            out.push((key, j, v, v_end));
            let next = self.ws(v_end);
            match b.get(next)? {
                b',' => j = self.ws(next + 1),
                b'}' => return Some(out),
                _ => return None,
            }
        }
    }

    /// The record of `package` in `Packages`: (key start, value start, value end).
    fn record(&self, package: &str) -> Option<(usize, usize, usize)> {
        let root = self.members(self.ws(0))?;
        let (_, _, start, _) = root.into_iter().find(|m| m.0 == "Packages")?;
        let records = self.members(start)?;
        let by_key = records.iter().find(|m| m.0 == package);
        let found = match by_key {
            Some(m) => m,
            None => records.iter().find(|m| {
                self.members(m.2).is_some_and(|fields| {
                    fields.iter().any(|f| {
                        f.0 == "Package"
                            && serde_json::from_str::<String>(&self.text[f.2..f.3])
                                .ok()
                                .as_deref()
                                == Some(package)
                    })
                })
            })?,
        };
        Some((found.1, found.2, found.3))
    }
}

/// Where the `Version` of `package` is written in a `renv.lock` (the string, quotes included).
pub fn renv_version_span(text: &str, package: &str) -> Option<Span> {
    let json = Json { text };
    let (_, start, _) = json.record(package)?;
    let fields = json.members(start)?;
    let (_, _, v, v_end) = fields.into_iter().find(|f| f.0 == "Version")?;
    Some(span_of(text, (v, v_end)))
}

/// The fields a rewritten record keeps from the old one.
const RENV_KEPT: [&str; 3] = ["Package", "Source", "Repository"];

/// `text` (a `renv.lock`) with each change made where it can be.
pub fn rewrite_renv(text: &str, changes: &[Change]) -> Rewritten {
    let json = Json { text };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut refused = Vec::new();
    for change in changes {
        match renv_record(&json, change) {
            Ok(edit) => edits.push(edit),
            Err(why) => refused.push(Refused {
                name: change.name.clone(),
                why,
            }),
        }
    }
    Rewritten {
        text: apply(text, edits),
        refused,
    }
}

fn renv_record(json: &Json<'_>, change: &Change) -> Result<(usize, usize, String), String> {
    let text = json.text;
    let (key_start, start, end) = json
        .record(&change.name)
        .ok_or_else(|| format!("the file has no record of {} under Packages", change.name))?;
    let fields = json
        .members(start)
        .ok_or_else(|| format!("the record of {} is not an object", change.name))?;
    let version = fields
        .iter()
        .find(|f| f.0 == "Version")
        .and_then(|f| serde_json::from_str::<String>(&text[f.2..f.3]).ok());
    if version.as_deref() != Some(change.from.as_str()) {
        return Err(format!(
            "the record of {} has Version {:?}, not {}",
            change.name,
            version.unwrap_or_default(),
            change.from
        ));
    }
    let source = fields
        .iter()
        .find(|f| f.0 == "Source")
        .and_then(|f| serde_json::from_str::<String>(&text[f.2..f.3]).ok());
    if let Some(source) = source.filter(|s| !matches!(s.as_str(), "Repository" | "CRAN")) {
        return Err(format!(
            "the record of {} comes from {source:?}, not a package repository",
            change.name
        ));
    }
    // Indentation: of the record's key, and of its first field (renv: two spaces more).
    let key_indent = indent_at(text, key_start);
    let field_indent = fields
        .first()
        .map(|f| indent_at(text, f.1))
        .filter(|i| i.len() > key_indent.len() && text[..fields[0].1].trim_end().ends_with('{'))
        .unwrap_or_else(|| format!("{key_indent}  "));
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
    let mut lines: Vec<String> = Vec::new();
    let mut wrote_requirements = false;
    for (key, _, v, v_end) in &fields {
        match key.as_str() {
            "Version" => lines.push(format!("{field_indent}\"Version\": {}", quote(&change.to))),
            "Requirements" => {
                if let Some(reqs) = &change.requirements {
                    lines.push(requirements_json(&field_indent, reqs, &quote));
                    wrote_requirements = true;
                }
            }
            k if RENV_KEPT.contains(&k) => {
                lines.push(format!("{field_indent}{}: {}", quote(k), &text[*v..*v_end]));
            }
            _ => {}
        }
    }
    if !wrote_requirements
        && let Some(reqs) = &change.requirements
        && fields.iter().any(|f| f.0 == "Requirements")
    {
        lines.push(requirements_json(&field_indent, reqs, &quote));
    }
    let out = format!("{{\n{}\n{key_indent}}}", lines.join(",\n"));
    Ok((start, end, rejoin(text, start, end, &out)))
}

fn requirements_json(indent: &str, reqs: &[String], quote: &dyn Fn(&str) -> String) -> String {
    if reqs.is_empty() {
        return format!("{indent}\"Requirements\": []");
    }
    let items: Vec<String> = reqs
        .iter()
        .map(|r| format!("{indent}  {}", quote(r)))
        .collect();
    format!(
        "{indent}\"Requirements\": [\n{}\n{indent}]",
        items.join(",\n")
    )
}

/// The whitespace before the first non-blank character of the line holding byte `at`.
fn indent_at(text: &str, at: usize) -> String {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    leading(&text[line_start..at]).to_string()
}

#[cfg(test)]
mod tests;
