#![no_main]

use airlock_pypi::listing::parse_project;
use libfuzzer_sys::fuzz_target;

// An upstream's project page is untrusted: any bytes, under either content type, must give a
// listing or an error, and every listed URL must be absolute without a fragment.
fuzz_target!(|input: &[u8]| {
    let base = url::Url::parse("https://upstream.example/simple/demo/").expect("static URL");
    let content_type = if input.first().is_some_and(|b| b % 2 == 0) {
        "application/vnd.pypi.simple.v1+json"
    } else {
        "text/html"
    };
    if let Ok(listing) = parse_project(input.get(1..).unwrap_or_default(), content_type, &base) {
        for f in listing.files {
            let u = url::Url::parse(&f.url).expect("listed URLs are absolute");
            assert!(u.fragment().is_none());
        }
    }
});
