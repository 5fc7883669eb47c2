//! Module cycles: module `a` uses something of `b` while `b`, directly or through other modules,
//! uses something of `a`. Such modules can be neither understood nor tested apart, which is what
//! modules are for.
//!
//! The check reads a crate's sources with `syn`, from its root file through every `mod`, and
//! collects every path that names something of the crate (`crate::…`, `super::…`, `self::…`, a
//! child module, and re-exports such as `crate::Thing` for `pub use thing::Thing`). A use of `b`'s
//! items by `a` is an edge between the two children of their closest common ancestor, so
//! `a::x -> b::y` and `b::z -> a` make a cycle between `a` and `b`. Uses between a module and its
//! own ancestors or descendants are not edges (a child using its parent's types is how a module is
//! built). Test code (`#[cfg(test)]`) is left out: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// One module cycle of one crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Module paths (`check`, `index::view`), in cycle order; the first is repeated at the end.
    pub modules: Vec<String>,
    /// For each step of the cycle, one use that makes it: `src/check.rs uses crate::requests::x`.
    pub evidence: Vec<String>,
}

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({})",
            self.modules.join(" -> "),
            self.evidence.join("; ")
        )
    }
}

struct Module {
    /// Segments from the crate root (empty for the root).
    path: Vec<String>,
    file: PathBuf,
    children: BTreeMap<String, usize>,
    /// `use` names of this module: the name brought in -> the absolute path it stands for.
    aliases: HashMap<String, Vec<String>>,
    /// Paths used in this module's own code, as written, with `crate`/`super`/`self` kept.
    uses: Vec<Vec<String>>,
}

struct Tree {
    modules: Vec<Module>,
}

/// How many steps a re-export chain may take before the resolution gives up.
const ALIAS_HOPS: usize = 8;

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        if !attr.path().is_ident("cfg") {
            return false;
        }
        let syn::Meta::List(list) = &attr.meta else {
            return false;
        };
        let tokens = list.tokens.to_string();
        let words: Vec<&str> = tokens
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        words.contains(&"test") && !words.contains(&"not")
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        if !attr.path().is_ident("path") {
            return None;
        }
        match &attr.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        }
    })
}

/// Every path of a `use` tree, with the name each brings in (`None` for globs).
fn flatten_use(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                out.push((prefix.clone(), prefix.last().cloned()));
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((path, Some(name)));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            out.push((path, Some(r.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, out);
            }
        }
    }
}

/// Collects the paths of one module's code, leaving nested modules and test-only items out.
#[derive(Default)]
struct Paths {
    uses: Vec<Vec<String>>,
    use_items: Vec<(Vec<String>, Option<String>)>,
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            self.uses
                .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if item.leading_colon.is_none() && !is_test_only(&item.attrs) {
            flatten_use(&item.tree, &mut Vec::new(), &mut self.use_items);
        }
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // A nested module is a module of its own, read by `Tree::add_items`.
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test_only(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

impl Tree {
    fn read(root: &Path) -> Result<Tree, String> {
        let mut tree = Tree {
            modules: Vec::new(),
        };
        let dir = root
            .parent()
            .ok_or_else(|| format!("{} has no directory", root.display()))?;
        tree.add_file(root, Vec::new(), dir)?;
        Ok(tree)
    }

    fn add_file(
        &mut self,
        file: &Path,
        path: Vec<String>,
        child_dir: &Path,
    ) -> Result<usize, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let parsed =
            syn::parse_file(&text).map_err(|e| format!("cannot parse {}: {e}", file.display()))?;
        let index = self.push(path, file);
        self.add_items(index, &parsed.items, file, child_dir)?;
        Ok(index)
    }

    fn push(&mut self, path: Vec<String>, file: &Path) -> usize {
        self.modules.push(Module {
            path,
            file: file.to_path_buf(),
            children: BTreeMap::new(),
            aliases: HashMap::new(),
            uses: Vec::new(),
        });
        self.modules.len() - 1
    }

    fn add_items(
        &mut self,
        index: usize,
        items: &[syn::Item],
        file: &Path,
        child_dir: &Path,
    ) -> Result<(), String> {
        let mut paths = Paths::default();
        for item in items {
            if is_test_only(item_attrs(item)) {
                continue;
            }
            let syn::Item::Mod(m) = item else {
                paths.visit_item(item);
                continue;
            };
            let name = m.ident.to_string();
            let mut path = self.modules[index].path.clone();
            path.push(name.clone());
            let child = match &m.content {
                Some((_, inner)) => {
                    let child = self.push(path, file);
                    self.add_items(child, inner, file, &child_dir.join(&name))?;
                    child
                }
                None => {
                    let (child_file, grandchild_dir) = match path_attr(&m.attrs) {
                        Some(p) => {
                            let f = file.parent().unwrap_or(child_dir).join(p);
                            let d = f.parent().unwrap_or(child_dir).to_path_buf();
                            (f, d)
                        }
                        None => {
                            let flat = child_dir.join(format!("{name}.rs"));
                            if flat.is_file() {
                                (flat, child_dir.join(&name))
                            } else {
                                let nested = child_dir.join(&name).join("mod.rs");
                                (nested, child_dir.join(&name))
                            }
                        }
                    };
                    self.add_file(&child_file, path, &grandchild_dir)?
                }
            };
            self.modules[index].children.insert(name, child);
        }
        let module_path = self.modules[index].path.clone();
        for (used, alias) in paths.use_items {
            let absolute = self.absolute(index, &module_path, &used);
            if let (Some(alias), Some(absolute)) = (alias, absolute) {
                self.modules[index].aliases.insert(alias, absolute.clone());
            }
            self.modules[index].uses.push(used);
        }
        self.modules[index].uses.extend(paths.uses);
        Ok(())
    }

    /// A path as written in module `index` made absolute (segments from the crate root), if it
    /// names something of this crate.
    fn absolute(
        &self,
        index: usize,
        module_path: &[String],
        used: &[String],
    ) -> Option<Vec<String>> {
        let first = used.first()?;
        let mut base: Vec<String> = match first.as_str() {
            "crate" => Vec::new(),
            "self" => module_path.to_vec(),
            "super" => {
                let mut base = module_path.to_vec();
                let mut rest = used;
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                return Some(base);
            }
            _ if self.modules[index].children.contains_key(first) => {
                let mut base = module_path.to_vec();
                base.push(first.clone());
                base.extend(used[1..].iter().cloned());
                return Some(base);
            }
            _ => return None,
        };
        base.extend(used[1..].iter().cloned());
        Some(base)
    }

    /// The deepest module an absolute path reaches, following re-exports.
    fn target(&self, absolute: &[String]) -> usize {
        let mut path = absolute.to_vec();
        'hops: for _ in 0..ALIAS_HOPS {
            let mut at = 0;
            for (i, segment) in path.iter().enumerate() {
                if let Some(&child) = self.modules[at].children.get(segment) {
                    at = child;
                    continue;
                }
                if let Some(alias) = self.modules[at].aliases.get(segment) {
                    let mut next = alias.clone();
                    next.extend(path[i + 1..].iter().cloned());
                    if next != path {
                        path = next;
                        continue 'hops;
                    }
                }
                return at;
            }
            return at;
        }
        0
    }
}

/// The module cycles of the crate whose root file (`lib.rs`, `main.rs`) is `root`.
pub fn module_cycles(root: &Path) -> Result<Vec<Cycle>, String> {
    let tree = Tree::read(root)?;
    let base = root.parent().unwrap_or(Path::new(""));
    // Edges between siblings, grouped by their parent's path: (from, to) -> one use that makes it.
    let mut edges: BTreeMap<Vec<String>, BTreeMap<(String, String), String>> = BTreeMap::new();
    for (index, module) in tree.modules.iter().enumerate() {
        for used in &module.uses {
            let Some(absolute) = tree.absolute(index, &module.path, used) else {
                continue;
            };
            let target = &tree.modules[tree.target(&absolute)].path;
            let common = module
                .path
                .iter()
                .zip(target.iter())
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.path.len() || common == target.len() {
                continue; // the same module, an ancestor or a descendant
            }
            let file = module.file.strip_prefix(base).unwrap_or(&module.file);
            edges
                .entry(module.path[..common].to_vec())
                .or_default()
                .entry((module.path[common].clone(), target[common].clone()))
                .or_insert_with(|| format!("{} uses {}", file.display(), used.join("::")));
        }
    }
    let mut cycles = Vec::new();
    for (parent, group) in edges {
        cycles.extend(cycles_in(&parent, &group));
    }
    Ok(cycles)
}

/// One cycle per strongly connected group of siblings that has more than one member.
fn cycles_in(parent: &[String], edges: &BTreeMap<(String, String), String>) -> Vec<Cycle> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    let reaches = |from: &str, to: &str| -> Option<Vec<String>> {
        // Breadth first, for the shortest way round.
        let mut came: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(at) = queue.pop_front() {
            for &n in next.get(at).map(Vec::as_slice).unwrap_or(&[]) {
                if n == to {
                    let mut way = vec![to.to_string(), at.to_string()];
                    let mut cur = at;
                    while let Some(&p) = came.get(cur) {
                        way.push(p.to_string());
                        cur = p;
                    }
                    way.reverse();
                    return Some(way);
                }
                if n != from && !came.contains_key(n) {
                    came.insert(n, at);
                    queue.push_back(n);
                }
            }
        }
        None
    };
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for ((from, to), _) in edges.iter() {
        if reported.contains(from) {
            continue;
        }
        let Some(way_back) = reaches(to, from) else {
            continue;
        };
        let mut way = vec![from.clone()];
        way.extend(way_back);
        let evidence = way
            .windows(2)
            .filter_map(|w| edges.get(&(w[0].clone(), w[1].clone())).cloned())
            .collect();
        reported.extend(way.iter().cloned());
        let qualify = |m: &String| {
            let mut p = parent.to_vec();
            p.push(m.clone());
            p.join("::")
        };
        out.push(Cycle {
            modules: way.iter().map(qualify).collect(),
            evidence,
        });
    }
    out
}

/// The module cycles of every library and binary target of the workspace's members, by crate.
pub fn workspace(metadata: &cargo_metadata::Metadata) -> Result<Vec<(String, Cycle)>, String> {
    let mut out = Vec::new();
    let mut roots = 0;
    for package in metadata.workspace_packages() {
        for target in &package.targets {
            let kind_ok = target.kind.iter().any(|k| {
                matches!(
                    k,
                    cargo_metadata::TargetKind::Lib | cargo_metadata::TargetKind::Bin
                )
            });
            if !kind_ok {
                continue;
            }
            roots += 1;
            for cycle in module_cycles(target.src_path.as_std_path())? {
                out.push((format!("{} ({})", package.name, target.name), cycle));
            }
        }
    }
    if roots == 0 {
        return Err("the workspace has no library or binary target: nothing was checked".into());
    }
    Ok(out)
}
