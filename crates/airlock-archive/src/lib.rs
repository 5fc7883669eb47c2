//! Whether the members of an archive (tar or zip) stay inside the directory it is extracted
//! into, as a pure library: no I/O, no async.
//!
//! An extractor writes members in archive order, following the symbolic links it has already
//! created. A check of each path on its own (no `..`, not absolute) is therefore not enough:
//! `a -> ..`, then `a/b -> ..`, then `a/b/escaped.txt` writes outside the root although every
//! path and every target looks harmless alone. [`Confinement`] follows the archive in order
//! and models the links it has seen, the way a file system would:
//! - member paths are relative, without `..`, NUL, backslashes or drive letters
//!   ([`components`]);
//! - no member is written through (or over) a symbolic link seen earlier: extractors differ
//!   in whether they follow it, and no tool that builds archives writes one;
//! - link targets are resolved step by step, each `..` applying to where a symbolic link
//!   really leads (not to its lexical parent), and must never step above the floor (the
//!   extraction root, or a top-level directory the archive must stay in). Symbolic links
//!   resolve from their own directory, hard links from the root;
//! - at the end every symbolic link is resolved again against all links of the archive, as
//!   a later link can change where an earlier target leads.
//!
//! Link names are compared case-insensitively (`A` and `a` are one file on Windows and macOS),
//! which only ever refuses more. The work of resolving is bounded per archive.

use std::collections::HashMap;

/// Most symbolic links one resolution may pass through (Linux's `ELOOP` limit).
const MAX_HOPS: u32 = 40;
/// Path components all resolutions of one archive may walk through.
const MAX_STEPS: u64 = 1 << 20;

/// What a member is, with a link's target as written in the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    File,
    Dir,
    Symlink(&'a str),
    HardLink(&'a str),
}

/// Why a member would land, or a link would lead, outside the extraction root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The member would be written through or over the symbolic link at this path.
    ThroughLink(String),
    /// A symbolic link over a member written earlier (tools differ in what remains).
    OverExisting,
    /// The link's target leads outside (or is absolute, or loops).
    LinkOutside,
    /// Resolving the archive's links takes more steps than any real archive needs.
    TooComplex,
}

/// A symbolic link that leads outside once all links of the archive are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkOutside {
    /// The link's path as written in the archive.
    pub path: String,
    pub target: String,
}

/// Split a member path into its components, refusing anything that could land outside the
/// extraction directory. Empty and `.` components are dropped.
pub fn components(path: &str) -> Result<Vec<&str>, &'static str> {
    if path.is_empty() {
        Err("is empty")
    } else if path.contains('\0') {
        Err("contains a NUL byte")
    } else if path.contains('\\') {
        Err("contains a backslash")
    } else if path.starts_with('/') {
        Err("is absolute")
    } else if has_drive_letter(path) {
        Err("starts with a drive letter")
    } else if path.split('/').any(|c| c == "..") {
        Err("contains a '..' component")
    } else {
        Ok(path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect())
    }
}

fn has_drive_letter(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Whether a link target could be resolved at all from inside the root.
fn relative_target(target: &str) -> bool {
    !(target.is_empty()
        || target.starts_with('/')
        || target.contains(['\\', '\0'])
        || has_drive_letter(target))
}

/// The members of one archive seen so far, as the tree an extractor would have built.
#[derive(Debug)]
pub struct Confinement {
    floor: usize,
    /// The root is node 0; every path ever named (members, and the steps of link targets).
    nodes: Vec<Node>,
    /// (parent node, folded name) -> node.
    children: HashMap<(usize, String), usize>,
    links: Vec<Link>,
    steps_left: u64,
}

#[derive(Debug)]
struct Node {
    parent: usize,
    depth: usize,
    /// A member was written here or below.
    present: bool,
    /// Index into `links` when a symbolic link was written here.
    link: Option<usize>,
}

#[derive(Debug)]
struct Link {
    path: String,
    node: usize,
    target: String,
}

impl Confinement {
    /// Confine to the extraction root (`floor` 0), or to the top-level directory every member
    /// lies in (`floor` 1): no `..` may leave the first `floor` components.
    pub fn new(floor: usize) -> Confinement {
        Confinement {
            floor,
            nodes: vec![Node {
                parent: 0,
                depth: 0,
                present: true,
                link: None,
            }],
            children: HashMap::new(),
            links: Vec::new(),
            steps_left: MAX_STEPS,
        }
    }

    /// Take the next member, at `path` (split by [`components`] or a stricter splitter),
    /// written as `written` in the archive.
    pub fn add(&mut self, path: &[&str], written: &str, member: Member<'_>) -> Result<(), Refusal> {
        // Where the member lands: through no link, over no link.
        let mut at = 0;
        for name in path {
            at = self.child(at, name);
            if let Some(link) = self.nodes[at].link {
                return Err(Refusal::ThroughLink(self.links[link].path.clone()));
            }
        }
        match member {
            Member::File | Member::Dir => {}
            Member::Symlink(target) => {
                if self.nodes[at].present && at != 0 {
                    return Err(Refusal::OverExisting);
                }
                let parent = self.nodes[at].parent;
                self.resolve(parent, target)?;
                self.nodes[at].link = Some(self.links.len());
                self.links.push(Link {
                    path: written.to_owned(),
                    node: at,
                    target: target.to_owned(),
                });
            }
            Member::HardLink(target) => {
                self.resolve(0, target)?;
            }
        }
        self.mark_present(at);
        Ok(())
    }

    /// Resolve every symbolic link again, now that all of them are known.
    pub fn finish(&mut self) -> Result<(), LinkOutside> {
        for index in 0..self.links.len() {
            let parent = self.nodes[self.links[index].node].parent;
            let target = self.links[index].target.clone();
            if self.resolve(parent, &target).is_err() {
                let link = &self.links[index];
                return Err(LinkOutside {
                    path: link.path.clone(),
                    target: link.target.clone(),
                });
            }
        }
        Ok(())
    }

    fn mark_present(&mut self, mut at: usize) {
        while !self.nodes[at].present {
            self.nodes[at].present = true;
            at = self.nodes[at].parent;
        }
    }

    fn child(&mut self, parent: usize, name: &str) -> usize {
        let key = (parent, name.to_lowercase());
        if let Some(&node) = self.children.get(&key) {
            return node;
        }
        let node = self.nodes.len();
        self.nodes.push(Node {
            parent,
            depth: self.nodes[parent].depth + 1,
            present: false,
            link: None,
        });
        self.children.insert(key, node);
        node
    }

    /// Follow `target` from the directory `from`, through the links seen so far.
    fn resolve(&mut self, from: usize, target: &str) -> Result<usize, Refusal> {
        if !relative_target(target) {
            return Err(Refusal::LinkOutside);
        }
        let mut at = from;
        let mut hops = 0;
        // Components still to walk, the next one last.
        let mut pending: Vec<String> = target.rsplit('/').map(str::to_owned).collect();
        while let Some(step) = pending.pop() {
            self.steps_left = self.steps_left.checked_sub(1).ok_or(Refusal::TooComplex)?;
            match step.as_str() {
                "" | "." => {}
                ".." => {
                    if self.nodes[at].depth <= self.floor {
                        return Err(Refusal::LinkOutside);
                    }
                    at = self.nodes[at].parent;
                }
                name => {
                    let next = self.child(at, name);
                    match self.nodes[next].link {
                        // The link's target continues from the link's own directory, `at`.
                        Some(link) => {
                            hops += 1;
                            let target = &self.links[link].target;
                            if hops > MAX_HOPS || !relative_target(target) {
                                return Err(Refusal::LinkOutside);
                            }
                            pending.extend(target.rsplit('/').map(str::to_owned));
                        }
                        None => at = next,
                    }
                }
            }
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests;
