//! What the Python and R analyses share: parsing under a deadline, node text, and the
//! findings of one file (one per rule, the first seen).

use std::ops::ControlFlow;
use std::time::Instant;

use tree_sitter::{Language, Node, ParseOptions, Parser, Tree};

use crate::finding::{Finding, Kind, Severity};

/// The scan ran out of its time budget.
#[derive(Debug)]
pub(crate) struct OutOfTime;

/// Parse `source`, giving up at `deadline`. `None` when the grammar could not be loaded or
/// the parse was cancelled, `Err` when the deadline passed.
pub(crate) fn parse(
    parser: &mut Parser,
    language: &Language,
    source: &[u8],
    deadline: Instant,
) -> Result<Option<Tree>, OutOfTime> {
    if parser.set_language(language).is_err() {
        return Ok(None);
    }
    let mut late = false;
    let mut progress = |_: &tree_sitter::ParseState| {
        if Instant::now() >= deadline {
            late = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = ParseOptions::new().progress_callback(&mut progress);
    let tree = parser.parse_with_options(
        &mut |offset, _| source.get(offset..).unwrap_or_default(),
        None,
        Some(options),
    );
    if late {
        return Err(OutOfTime);
    }
    Ok(tree)
}

pub(crate) fn text<'s>(node: Node<'_>, source: &'s [u8]) -> &'s str {
    std::str::from_utf8(source.get(node.byte_range()).unwrap_or_default()).unwrap_or("")
}

pub(crate) fn line(node: Node<'_>) -> u32 {
    u32::try_from(node.start_position().row + 1).unwrap_or(u32::MAX)
}

/// The findings of one file: at most one per rule (the first), as a reader needs one place
/// to look, not every repetition.
pub(crate) struct FileFindings<'a> {
    pub path: &'a str,
    pub findings: Vec<Finding>,
}

impl<'a> FileFindings<'a> {
    pub fn new(path: &'a str) -> Self {
        Self {
            path,
            findings: Vec::new(),
        }
    }

    pub fn add(
        &mut self,
        rule: &'static str,
        severity: Severity,
        kind: Kind,
        line: Option<u32>,
        excerpt: &str,
        message: &str,
    ) {
        if self.findings.iter().any(|f| f.rule == rule) {
            return;
        }
        self.findings.push(Finding::new(
            rule, severity, kind, self.path, line, excerpt, message,
        ));
    }
}

/// Preorder walk over every node; iterative, so
/// deeply nested code cannot overflow the stack.
pub(crate) fn walk<'t>(tree: &'t Tree, mut visit: impl FnMut(Node<'t>)) {
    let mut cursor = tree.walk();
    loop {
        visit(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}
