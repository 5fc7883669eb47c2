//! The module-cycle rule, on crates made to keep and to break it.

mod rules;
mod support;

use rules::cycles::module_cycles;
use support::Fixture;

fn cycles(f: &Fixture) -> Vec<String> {
    module_cycles(&f.path("src/lib.rs"))
        .unwrap()
        .iter()
        .map(|c| c.modules.join(" -> "))
        .collect()
}

#[test]
fn two_modules_using_each_other_make_a_cycle_with_its_evidence() {
    let f = Fixture::new();
    f.file("src/lib.rs", "mod a;\nmod b;\n")
        .file(
            "src/a.rs",
            "pub struct A;\npub fn f() -> crate::b::B { crate::b::B }\n",
        )
        .file(
            "src/b.rs",
            "use super::a::A;\npub struct B;\npub fn g(_: A) {}\n",
        );
    let found = module_cycles(&f.path("src/lib.rs")).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].modules, ["a", "b", "a"]);
    assert_eq!(
        found[0].evidence,
        ["a.rs uses crate::b::B", "b.rs uses super::a::A"]
    );
}

#[test]
fn one_way_uses_are_no_cycle() {
    let f = Fixture::new();
    f.file("src/lib.rs", "mod a;\nmod b;\nmod c;\npub use a::A;\n")
        .file(
            "src/a.rs",
            "pub struct A;\npub fn f() -> crate::b::B { crate::b::B }\n",
        )
        .file(
            "src/b.rs",
            "pub struct B;\npub fn g() -> crate::c::C { crate::c::C }\n",
        )
        .file("src/c.rs", "pub struct C;\n");
    assert!(cycles(&f).is_empty());
}

#[test]
fn a_cycle_through_a_third_module_is_found() {
    let f = Fixture::new();
    f.file("src/lib.rs", "mod a;\nmod b;\nmod c;\n")
        .file("src/a.rs", "use crate::b;\npub struct A;\n")
        .file("src/b.rs", "use crate::c::C;\npub struct B;\n")
        .file("src/c.rs", "pub struct C;\nfn f(_: crate::a::A) {}\n");
    assert_eq!(cycles(&f), ["a -> b -> c -> a"]);
}

#[test]
fn uses_through_a_re_export_count() {
    // `crate::B` is `b::B`: a uses b, and b uses a.
    let f = Fixture::new();
    f.file("src/lib.rs", "mod a;\nmod b;\npub use b::B;\n")
        .file("src/a.rs", "pub struct A;\npub fn f(_: crate::B) {}\n")
        .file("src/b.rs", "pub struct B;\npub fn g(_: crate::a::A) {}\n");
    assert_eq!(cycles(&f), ["a -> b -> a"]);
}

#[test]
fn submodules_of_siblings_make_a_cycle_between_the_siblings() {
    let f = Fixture::new();
    f.file("src/lib.rs", "mod outer;\nmod inner;\n")
        .file("src/outer.rs", "pub mod x;\n")
        .file(
            "src/outer/x.rs",
            "pub struct X;\nfn f(_: crate::inner::I) {}\n",
        )
        .file(
            "src/inner/mod.rs",
            "pub struct I;\nfn g(_: crate::outer::x::X) {}\n",
        );
    assert_eq!(cycles(&f), ["inner -> outer -> inner"]);
}

#[test]
fn a_cycle_inside_a_module_is_named_by_its_path() {
    let f = Fixture::new();
    f.file("src/lib.rs", "mod m {\n  mod p { pub struct P; fn f(_: super::q::Q) {} }\n  mod q { pub struct Q; fn g(_: super::p::P) {} }\n}\n");
    assert_eq!(cycles(&f), ["m::p -> m::q -> m::p"]);
}

#[test]
fn parents_and_children_may_use_each_other() {
    let f = Fixture::new();
    f.file(
        "src/lib.rs",
        "pub struct Root;\nmod a;\npub fn f() -> a::A { a::A }\n",
    )
    .file(
        "src/a.rs",
        "pub struct A;\nmod inner;\nfn f(_: crate::Root, _: inner::I) {}\n",
    )
    .file(
        "src/a/inner.rs",
        "pub struct I;\nfn g(_: super::A, _: crate::Root) {}\n",
    );
    assert!(cycles(&f).is_empty());
}

#[test]
fn test_code_is_left_out() {
    let f = Fixture::new();
    f.file("src/lib.rs", "mod a;\nmod b;\n")
        .file("src/a.rs", "pub struct A;\npub fn f() -> crate::b::B { crate::b::B }\n")
        .file(
            "src/b.rs",
            "pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n#[cfg(test)]\nfn helper(_: crate::a::A) {}\n",
        );
    assert!(cycles(&f).is_empty());
}

#[test]
fn a_missing_module_file_is_an_error() {
    let f = Fixture::new();
    f.file("src/lib.rs", "mod gone;\n");
    let err = module_cycles(&f.path("src/lib.rs")).unwrap_err();
    assert!(err.contains("gone"), "{err}");
}
