# The S3-compatible server of the tests and benchmarks: s3s-fs from crates.io, built once into
# .tmp/tools/s3s-fs-VERSION/ (sourced by scripts/test and bench/scale.sh, not run).
#
# s3s-fs rather than Garage: one small crate that builds in about three CPU-minutes (Garage is a
# whole distributed system, its build alone would take most of CI's budget here), speaking the S3
# API airlock uses (put, multipart, ranged get, list, delete) over plain files, one directory per
# bucket, which the tests also read to see what was stored.
S3S_FS_VERSION=0.14.1

# Prints the path of the s3s-fs binary under repository $1, building it first if missing.
s3s_fs_binary() {
    local root="$1"
    local bin="$root/.tmp/tools/s3s-fs-$S3S_FS_VERSION/bin/s3s-fs"
    if [[ ! -x "$bin" ]]; then
        echo "  installing s3s-fs $S3S_FS_VERSION (cargo install, a few minutes once)" >&2
        cargo install --quiet --locked s3s-fs --version "$S3S_FS_VERSION" --features binary \
            --root "$root/.tmp/tools/s3s-fs-$S3S_FS_VERSION" >&2
    fi
    echo "$bin"
}
